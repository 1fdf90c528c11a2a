/*
 * The commands of wssgatectl, one function each, grouped by concern in
 * cmd_env.c (environments and sessions), cmd_users.c, cmd_roles.c and
 * cmd_certs.c.
 * Each prints its result on standard output and returns 0, or a negative
 * enum wsg_err with the reason in `err`: WSG_ERR_INVAL for wrong usage,
 * WSG_ERR_CONNECT when the server could not be reached, anything else
 * when the server refused or failed.
 */
#ifndef WSG_COMMANDS_H
#define WSG_COMMANDS_H

#include "args.h"
#include "types.h"

int wsg_cmd_add_env(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_remove_env(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_get_envs(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_login(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_logout(const struct wsg_args *a, struct wsg_error *err);

int wsg_cmd_get_users(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_add_user(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_delete_user(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_update_user(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_change_password(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_unlock_user(const struct wsg_args *a, struct wsg_error *err);

int wsg_cmd_get_roles(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_add_role(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_delete_role(const struct wsg_args *a, struct wsg_error *err);

/* cmd_certs.c: the certificates that stand for a user (wssgate's own). */
int wsg_cmd_get_certs(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_add_cert(const struct wsg_args *a, struct wsg_error *err);
int wsg_cmd_delete_cert(const struct wsg_args *a, struct wsg_error *err);

#endif
