/*
 * The management API over an LDAP user store (userstore.type = "ldap",
 * docs/ldap-management.md): login by a bind as the user's entry, users
 * and roles read from the directory, every change of users, roles,
 * passwords and certificates refused as the store is read-only. Except
 * wsg_mgmt_ldap_login(), these run on a management worker (directory
 * calls there are synchronous, bounded by ldap.timeout).
 */
#ifndef WSG_MGMT_LDAP_H
#define WSG_MGMT_LDAP_H

#include "mgmt_http.h"

/* The read-only answer: 405 with Allow and {"Error": "The user store is
 * read-only"}. */
#define WSG_MGMT_E_READ_ONLY "The user store is read-only"

/*
 * On the management thread, with the Basic credentials parsed (`raw`,
 * `raw_len` stolen: wiped and freed here; `pw` points into it): hands the
 * login to a worker, which finds the user with the service account and
 * binds as it; 200 with a token, the generic 401, 429 (the client has
 * security.verify_queue.max_per_client logins in progress) or 503. `r` has
 * been deferred (wsg_mgmt_defer()) and r->claimed_user set.
 */
void wsg_mgmt_ldap_login(struct wsg_mgmt_req *r, unsigned char *raw,
                         size_t raw_len, const char *pw, size_t pw_len);

/*
 * On a worker, for a token that passed its signature check: not revoked
 * (MariaDB's list when the gateway has one, else this gateway's memory),
 * its user still found in the directory, the same entry (uid), allowed to
 * log in; sets r->user, r->rec, r->admin. Answers 401 (or 503/500) and
 * returns non-zero on failure.
 */
int wsg_mgmt_ldap_token_current(struct wsg_mgmt_req *r);

/* Frees the count of LDAP logins in progress (mgmt_free()). */
void wsg_mgmt_ldap_free_inflight(struct wsg_mgmt *m);

/* Whether roles (',' separated) make an admin: ldap.admin_group. */
int wsg_mgmt_ldap_is_admin(const struct wsg_mgmt_req *r, const char *roles);

/* Revokes the caller's token where wsg_mgmt_ldap_token_current() looks. */
void wsg_mgmt_ldap_logout(struct wsg_mgmt_req *r);

/* The users and roles resources, read from the directory. */
void wsg_mgmt_ldap_users_list(struct wsg_mgmt_req *r);
void wsg_mgmt_ldap_user_show(struct wsg_mgmt_req *r);
void wsg_mgmt_ldap_user_unlock(struct wsg_mgmt_req *r);
void wsg_mgmt_ldap_user_certs_list(struct wsg_mgmt_req *r);
void wsg_mgmt_ldap_roles_list(struct wsg_mgmt_req *r);
void wsg_mgmt_ldap_role_show(struct wsg_mgmt_req *r);

/*
 * On a worker, for GET /health: NULL when the directory takes a service
 * connection (and, when the gateway has MariaDB, the database answers), else
 * what failed ("directory" or "database"), logged. Answers nothing.
 */
const char *wsg_mgmt_ldap_probe(struct wsg_mgmt_req *r);

/* Any change: the read-only answer, audited. */
void wsg_mgmt_ldap_read_only(struct wsg_mgmt_req *r);

#endif
