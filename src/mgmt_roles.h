/*
 * The roles resource of the management API (WSO2 MI 4.1+ bodies, admins
 * only): GET /management/roles[?searchKey=], POST /management/roles,
 * PUT /management/roles (assign and remove roles of a user),
 * GET and DELETE /management/roles/{role}.
 */
#ifndef WSG_MGMT_ROLES_H
#define WSG_MGMT_ROLES_H

#include "mgmt_http.h"

#define WSG_MGMT_MAX_ROLE_CHANGES 64 /* entries of addedRoles, removedRoles */

/* The body of PUT /management/roles, validated; strings point into it. */
struct wsg_mgmt_roles_change {
	const char *user;
	const char *added[WSG_MGMT_MAX_ROLE_CHANGES];
	size_t nadded;
	const char *removed[WSG_MGMT_MAX_ROLE_CHANGES];
	size_t nremoved;
};

/*
 * Read and check a JSON body (an object) with MI's rules and texts:
 * POST /management/roles gives the role (`*role` points into `o`), PUT the
 * change. WSG_OK, or WSG_ERR_INVAL with the answer (400) in `f`.
 */
int wsg_mgmt_parse_role_add(json_t *o, const char **role,
                            struct wsg_mgmt_fail *f);
int wsg_mgmt_parse_roles_change(json_t *o, struct wsg_mgmt_roles_change *p,
                                struct wsg_mgmt_fail *f);

void wsg_mgmt_roles_list(struct wsg_mgmt_req *r);
void wsg_mgmt_roles_add(struct wsg_mgmt_req *r);
void wsg_mgmt_roles_update(struct wsg_mgmt_req *r);
void wsg_mgmt_role_show(struct wsg_mgmt_req *r);
void wsg_mgmt_role_delete(struct wsg_mgmt_req *r);

/*
 * The query of GET /management/roles, for either store: *search is
 * searchKey trimmed (caller frees; NULL when blank: as MI, everything).
 * WSG_OK, or WSG_ERR_INVAL once `r` is answered 400 (searchKey over
 * WSG_USERSTORE_MAX_NAME bytes).
 */
int wsg_mgmt_roles_query(struct wsg_mgmt_req *r, char **search);

#endif
