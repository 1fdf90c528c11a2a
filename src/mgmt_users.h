/*
 * The users resource of the management API, with WSO2 MI's bodies:
 * GET /management/users[?pattern=&role=&searchKey=], POST /management/users,
 * GET, DELETE and PATCH /management/users/{userId}, and our own
 * POST /management/users/{userId}/unlock. The dispatcher has authenticated
 * the caller and, except for PATCH, checked it is an admin.
 * Every change is one transaction, audit-logged with the caller, and drops
 * the user from the data plane's credential cache.
 */
#ifndef WSG_MGMT_USERS_H
#define WSG_MGMT_USERS_H

#include "mgmt_http.h"

#define WSG_MGMT_MAX_ADD_ROLES 64 /* "roles" of one POST */
#define WSG_MGMT_MAX_PATTERN 1024 /* bytes of a pattern or searchKey */

/* The body of POST /management/users, validated; strings point into it. */
struct wsg_mgmt_user_add {
	const char *user;
	const char *pw;
	size_t pw_len;
	int admin;
	int digest; /* digest-capable (default) */
	const char *roles[WSG_MGMT_MAX_ADD_ROLES];
	size_t nroles;
};

/* The body of PATCH /management/users/{userId}, validated. */
struct wsg_mgmt_password_change {
	const char *new_pw;
	const char *old_pw; /* NULL when absent */
	int digest;         /* -1: keep what the user has */
};

/*
 * Read and check a JSON body (an object) with MI's rules and texts: names,
 * the password policy of `mc`, the domain. WSG_OK, or WSG_ERR_INVAL with
 * the answer (400 and MI's text) in `f`. Nothing else is touched, so the
 * fuzzer drives them without a request.
 */
int wsg_mgmt_parse_user_add(const struct wsg_management_conf *mc, json_t *o,
                            struct wsg_mgmt_user_add *a,
                            struct wsg_mgmt_fail *f);
int wsg_mgmt_parse_password_change(const struct wsg_management_conf *mc,
                                   json_t *o,
                                   struct wsg_mgmt_password_change *p,
                                   struct wsg_mgmt_fail *f);

void wsg_mgmt_users_list(struct wsg_mgmt_req *r);
void wsg_mgmt_users_add(struct wsg_mgmt_req *r);
void wsg_mgmt_user_show(struct wsg_mgmt_req *r);
void wsg_mgmt_user_delete(struct wsg_mgmt_req *r);
void wsg_mgmt_user_password(struct wsg_mgmt_req *r);

/*
 * Ends the user's lockout (security.lockout) on this gateway and forgets
 * its failures: 200 {"userId": id, "status": "Unlocked"}, also when it was
 * not locked; 404 for a name the store does not hold.
 */
void wsg_mgmt_user_unlock(struct wsg_mgmt_req *r);

/*
 * The query of GET /management/users, for either store: *pattern and
 * *role point into `r` (NULL when absent or empty), *search is searchKey
 * trimmed (caller frees; NULL when blank). WSG_OK, or WSG_ERR_INVAL once
 * `r` is answered 400 (pattern or searchKey over WSG_MGMT_MAX_PATTERN).
 */
int wsg_mgmt_users_query(struct wsg_mgmt_req *r, const char **pattern,
                         const char **role, char **search);

/* 200 with MI's user: userId, isAdmin (`admin`), roles, createdBy (null
 * when rec has no creator). `rec` stays the caller's. */
void wsg_mgmt_reply_user(struct wsg_mgmt_req *r,
                         const struct wsg_user_record *rec, int admin);

/*
 * For the user found as `user` (the store's spelling) from the name in
 * the path (r->seg[1]): ends both planes' locks on this gateway under
 * either spelling, audits it and answers 200 {"userId": user, "status":
 * "Unlocked"}.
 * `was_locked`: the shared lockout store had a lock of `user` (0 without
 * one), for the audit line.
 */
void wsg_mgmt_unlock_reply(struct wsg_mgmt_req *r, const char *user,
                           int was_locked, int64_t now);

#endif
