/*
 * Directory reads of the management plane with an LDAP user store
 * (userstore.type = "ldap"): finding a user and its roles, a user's own
 * bind (login), and the listings of users and roles. These use libldap's
 * synchronous calls, bounded by ldap.timeout, and therefore run only on
 * the management workers' threads (mgmt_work.h) and in the offline
 * command line, never on an event loop: the data plane's lookups are
 * asynchronous on the workers' loops instead (the other LDAP module).
 */
#ifndef WSG_LDAP_DIR_H
#define WSG_LDAP_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "types.h"
#include "userstore.h"

/* Entries the users and roles listings return at most; beyond, they fail
 * (WSG_ERR_LIMIT) rather than hold an unbounded answer. */
#define WSG_LDAP_DIR_MAX_ENTRIES 100000
/* Entries per page of the Simple Paged Results control (RFC 2696). */
#define WSG_LDAP_DIR_PAGE_SIZE 100

struct wsg_ldap_dir;

/* A listing: `n` malloc'ed names, sorted (strcmp), freed with
 * wsg_ldap_dir_names_free(). */
struct wsg_ldap_names {
	char **names;
	size_t n;
};

void wsg_ldap_dir_names_free(struct wsg_ldap_names *l);

/*
 * Connects to ldap.uri (StartTLS when ldap.starttls; ldap.ca_file for
 * ldaps:// and StartTLS) and binds as the service account (ldap.bind_dn
 * with the password of ldap.bind_password_file; anonymous without
 * bind_dn), as the data plane's wsg_ldapstore_open() does. `admin_role`
 * (management.admin_role, kept by the caller) is a role of admin_group's
 * members, as on the data plane. `*out` (close with wsg_ldap_dir_close())
 * on WSG_OK; else WSG_ERR_CONNECT (unreachable, TLS, timeout, the service
 * bind refused) with the reason in `err`.
 */
int wsg_ldap_dir_open(const struct wsg_ldap_conf *conf, const char *admin_role,
                      struct wsg_ldap_dir **out, struct wsg_error *err);

void wsg_ldap_dir_close(struct wsg_ldap_dir *d);

/*
 * The user `name` (exactly one entry under ldap.user_base matching
 * ldap.user_filter) as a record: username, roles (the ldap.role_attribute
 * values of the groups under ldap.group_base matching ldap.group_filter
 * with its DN, and the admin role for admin_group's members; ','
 * separated, sorted) and `id`, a stable
 * non-zero 63-bit number taken from the entry's entryUUID (its DN when
 * the directory has none), so that a token outlives neither the entry nor
 * a re-created one. `*dn` (may be NULL) receives the DN (caller frees).
 * WSG_ERR_NOTFOUND when no or several entries match (after a group search
 * as for a found user: an unknown name costs the same work).
 */
int wsg_ldap_dir_find_user(struct wsg_ldap_dir *d, const char *name,
                           struct wsg_user_record **rec, char **dn,
                           struct wsg_error *err);

/*
 * A simple bind as `dn` with the password (`len` bytes) on a connection
 * of its own, closed at once. WSG_OK, WSG_ERR_AUTH (invalidCredentials or
 * another refusal of the bind), else WSG_ERR_CONNECT with `err`. `dn` NULL
 * binds to a DN that does not exist under ldap.user_base, so that an
 * unknown name costs the directory the same round trips as a wrong
 * password (always WSG_ERR_AUTH when the directory answers). Plain
 * ldap:// to a non-loopback host was refused by the config check unless
 * ldap.allow_plaintext_passwords.
 */
int wsg_ldap_dir_bind(const struct wsg_ldap_conf *conf, const char *dn,
                      const char *pw, size_t len, struct wsg_error *err);

/*
 * The names of the users that match: `glob` (MI's pattern: '*' any run,
 * '?' one character; NULL: all), `search` (a substring of the name; NULL:
 * any) and `role` (members of the groups of that name, and of
 * admin_group for the admin role; NULL: any).
 * Paged searches. WSG_ERR_NOTFOUND when no group has the name `role`,
 * WSG_ERR_LIMIT beyond WSG_LDAP_DIR_MAX_ENTRIES.
 */
int wsg_ldap_dir_list_users(struct wsg_ldap_dir *d, const char *glob,
                            const char *search, const char *role,
                            struct wsg_ldap_names *out, struct wsg_error *err);

/* The role names (ldap.role_attribute of the groups under group_base that
 * ldap.group_filter can match), those holding `search` when not NULL. */
int wsg_ldap_dir_list_roles(struct wsg_ldap_dir *d, const char *search,
                            struct wsg_ldap_names *out, struct wsg_error *err);

/* Whether `name` is a role name of ldap.role_attribute a listing shows:
 * not empty and without ',' (roles travel ','-separated). */
int wsg_ldap_dir_role_ok(const char *name);

#endif
