/*
 * The management API's session resources: GET /management (status),
 * GET /management/login (HTTP Basic -> {"AccessToken": "<JWT>"}, with the
 * first-admin bootstrap) and GET /management/logout (revokes the token).
 */
#ifndef WSG_MGMT_LOGIN_H
#define WSG_MGMT_LOGIN_H

#include "mgmt_http.h"

/* {"wssgate": "<version>", "ManagementApi": "Active"}; no authentication. */
void wsg_mgmt_status(struct wsg_mgmt_req *r);

/*
 * GET /management/userstore, for any token holder: {"type": "mariadb" |
 * "ldap", "readOnly": false | true}, so a client (the dashboard) offers
 * only the changes the store takes.
 */
void wsg_mgmt_userstore(struct wsg_mgmt_req *r);

/*
 * Checks the Basic credentials (argon2 on the verification pool) and
 * answers 200 with a token, 401 with an empty body, or, while the store has
 * never held an admin, management.bootstrap_admin allows the peer and no
 * browser made the request for a web page, creates that user as the first
 * admin in one locked transaction (on a management worker).
 */
void wsg_mgmt_login(struct wsg_mgmt_req *r);

/*
 * 1 when a user holding `roles` (',' separated) may use the management
 * API: management.login_roles is empty, or the user holds one of them or
 * the admin role.
 */
int wsg_mgmt_login_allowed(const struct wsg_management_conf *mc,
                           const char *roles);

/* Revokes the caller's token (already authenticated): 200, empty body. */
void wsg_mgmt_logout(struct wsg_mgmt_req *r);

/*
 * A client over security.client_limit gets 429 before any password or
 * database work; the limit is per address, so this tells nothing about
 * any account. Returns 1 when it answered.
 */
int wsg_mgmt_client_refused(struct wsg_mgmt_req *r);

/*
 * 1 when `rec`'s user is locked for the management API (security.lockout),
 * after applying an offline unlock stamped on the row (unlock.h). With
 * security.lockout.store = "mariadb" on a management worker, the shared
 * store is read too, also for an unknown name (`rec` NULL: the request's
 * claimed user, never locked), so both cost the same; a store that cannot
 * be read leaves this process's lock only (audit: lockout_store_error).
 */
int wsg_mgmt_user_locked(struct wsg_mgmt_req *r,
                         const struct wsg_user_record *rec);

/*
 * A failed management authentication (login or oldPassword): counted
 * against the client address and, for a wrong password of an existing,
 * unlocked user (`guess`), against the user's management counter (never
 * the data plane's); a lock that starts is audited. Returns 1 when the
 * user's lock started. With the shared store the user's failure is counted
 * there: on a worker at once, on the management thread through the
 * non-blocking pool (the answer does not wait; 0 is returned).
 */
int wsg_mgmt_count_failure(struct wsg_mgmt_req *r, const char *user, int guess);

/*
 * On a worker: deletes `user`'s rows of the shared lockout store (both
 * planes) through `c` (NULL: the worker's connection); `*was_locked` set
 * when one was locked. WSG_OK, or the failure answered (503/500).
 */
int wsg_mgmt_shared_unlock(struct wsg_mgmt_req *r, struct wsg_db_conn *c,
                           const char *user, int *was_locked);

/*
 * The verification pool said no (`rc` WSG_ERR_FULL: 503) or the address
 * has too many jobs or was locked meanwhile (WSG_ERR_LIMIT: 429), with
 * Retry-After. Nothing about the user.
 */
void wsg_mgmt_login_busy(struct wsg_mgmt_req *r, int rc);

/*
 * A failed login with a name and password, counted (a wrong password of an
 * existing, unlocked user is a `guess`), audited with `reason` (or "user
 * locked"), then the same empty 401 as every other failure.
 */
void wsg_mgmt_login_failed(struct wsg_mgmt_req *r, const char *user, int guess,
                           int locked, const char *reason);

/* 200 {"AccessToken": ...} for `user` (uid `uid`), or 500. */
void wsg_mgmt_reply_token(struct wsg_mgmt_req *r, const char *user,
                          uint64_t uid, int admin);

#endif
