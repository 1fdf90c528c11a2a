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
 * a token, 401 with an empty body, or, while the store has never held an
 * admin, management.bootstrap_admin allows the peer and no browser made the
 * request for a web page, creates that user as the first admin in one
 * locked transaction.
 */
void wsg_mgmt_login(struct wsg_mgmt_req *r);

/* Revokes the caller's token (already authenticated): 200, empty body. */
void wsg_mgmt_logout(struct wsg_mgmt_req *r);

#endif
