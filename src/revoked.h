/*
 * Management tokens revoked by a logout, kept in memory: the revocation
 * list of a gateway without MariaDB (userstore.type = "ldap" with neither
 * userstore.host nor userstore.socket set). Lost at a restart and not
 * shared with other gateways (docs/ldap-management.md); with MariaDB the
 * list lives in its revoked_tokens table (token.h). Thread-safe.
 */
#ifndef WSG_REVOKED_H
#define WSG_REVOKED_H

#include <stddef.h>
#include <stdint.h>

#include "token.h"

struct wsg_revoked;

/* A list holding at most `max` tokens that have not expired yet. */
struct wsg_revoked *wsg_revoked_new(size_t max);
void wsg_revoked_free(struct wsg_revoked *l);

/*
 * Records `t` as revoked until its `exp` (idempotent), after dropping the
 * entries expired at `now` (seconds). WSG_ERR_FULL when `max` live tokens
 * are revoked already.
 */
int wsg_revoked_add(struct wsg_revoked *l, const struct wsg_token *t,
                    int64_t now);

/* 1 when `t`'s jti is in the list, else 0. */
int wsg_revoked_has(struct wsg_revoked *l, const struct wsg_token *t);

#endif
