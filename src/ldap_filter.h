/*
 * LDAP search filters built from the operator's templates (ldap.user_filter,
 * ldap.group_filter): the one `%s` is replaced by a value escaped per
 * RFC 4515, so a name or DN can never add filter syntax of its own.
 */
#ifndef WSG_LDAP_FILTER_H
#define WSG_LDAP_FILTER_H

#include <stddef.h>

/*
 * `value` escaped for an assertion value (RFC 4515 section 3): '*', '(',
 * ')', '\' and NUL as \2a, \28, \29, \5c, \00; other bytes as they are.
 * With `keep_star`, '*' stays a wildcard (substring filters). Caller frees.
 */
char *wsg_ldap_filter_escape(const char *value, int keep_star);

/*
 * `tmpl` with its `%s` replaced by `value` escaped as above (`%%` stands
 * for '%'). NULL when `tmpl` does not hold exactly one `%s`. Caller frees.
 */
char *wsg_ldap_filter_build(const char *tmpl, const char *value, int keep_star);

/*
 * The attribute the template's `%s` is compared with: "uid" for
 * "(&(objectClass=inetOrgPerson)(uid=%s))". Copies it into `out` (`len`
 * bytes) and returns 0, or -1 when `%s` is not the whole value of a simple
 * equality "(attr=%s)".
 */
int wsg_ldap_filter_attribute(const char *tmpl, char *out, size_t len);

#endif
