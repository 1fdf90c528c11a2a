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

#endif
