/*
 * What the operator's filter templates (ldap.user_filter,
 * ldap.group_filter) say about the directory's attributes, for the
 * management plane's listings. The filters themselves are built by
 * wsg_ldapstore_filter() (RFC 4515 escaping, ldapstore.h).
 */
#ifndef WSG_LDAP_FILTER_H
#define WSG_LDAP_FILTER_H

#include <stddef.h>

/*
 * The attribute the template's one `%s` is compared with: "uid" for
 * "(&(objectClass=inetOrgPerson)(uid=%s))". Copies it into `out` (`len`
 * bytes) and returns 0, or -1 when `%s` is not the whole value of a simple
 * equality "(attr=%s)" (or the template has not exactly one `%s`).
 */
int wsg_ldap_filter_attribute(const char *tmpl, char *out, size_t len);

#endif
