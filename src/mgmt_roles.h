/*
 * The roles resource of the management API (WSO2 MI 4.1+ bodies, admins
 * only): GET /management/roles[?searchKey=], POST /management/roles,
 * PUT /management/roles (assign and remove roles of a user),
 * GET and DELETE /management/roles/{role}.
 */
#ifndef WSG_MGMT_ROLES_H
#define WSG_MGMT_ROLES_H

#include "mgmt_http.h"

void wsg_mgmt_roles_list(struct wsg_mgmt_req *r);
void wsg_mgmt_roles_add(struct wsg_mgmt_req *r);
void wsg_mgmt_roles_update(struct wsg_mgmt_req *r);
void wsg_mgmt_role_show(struct wsg_mgmt_req *r);
void wsg_mgmt_role_delete(struct wsg_mgmt_req *r);

#endif
