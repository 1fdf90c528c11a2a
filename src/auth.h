/*
 * Authentication and authorization of one request: UsernameToken ->
 * credential cache or database -> verify (argon2 on the pool, digests in
 * place) -> role policy -> replay check-and-insert. One async completion.
 */
#ifndef WSG_AUTH_H
#define WSG_AUTH_H

#include "request.h"

/*
 * `status` WSG_OK: r->user and r->roles are set. Otherwise r->err holds the
 * fault for the client and the precise reason (already audit-logged).
 */
typedef void (*wsg_auth_done_cb)(struct wsg_request *r, int status);

/*
 * Authenticates r (whose msg is parsed) against its route. `done` runs
 * exactly once, possibly before this returns when no I/O is needed.
 */
void wsg_auth_start(struct wsg_request *r, wsg_auth_done_cb done);

/*
 * Authenticates r from its `Authorization: Basic` header, with the same
 * user store, caches, argon2 verification, disabled-user and role rules as
 * a PasswordText token (password_types do not apply, there is no nonce).
 * On a require_tls route a request over plain HTTP is refused with
 * WSG_FAULT_INVALID_SECURITY before anything else; missing or malformed
 * credentials are WSG_FAULT_FAILED_AUTHENTICATION. `done` as above.
 */
void wsg_auth_start_basic(struct wsg_request *r, wsg_auth_done_cb done);

#endif
