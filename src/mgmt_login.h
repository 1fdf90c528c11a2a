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
 * Checks the Basic credentials (argon2 on this thread) and answers 200 with
 * a token, 401 with an empty body, or, while the store holds no admin and
 * management.bootstrap_admin allows the peer, creates that user as the
 * first admin in one locked transaction.
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

#endif
