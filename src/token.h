/*
 * Management access tokens: compact JWS (HS256) made and parsed with
 * libjwt 1.10, with the checks that version leaves to its caller done here
 * (the algorithm is pinned, the signature compared in constant time, `exp`,
 * `jti` and every other claim checked explicitly). Revocation lives in
 * MariaDB (revoked_tokens), so a logout holds across restarts and gateways.
 */
#ifndef WSG_TOKEN_H
#define WSG_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "types.h"

#define WSG_TOKEN_KEY_LEN 32    /* bytes of the HS256 key (jwt_secret_file) */
#define WSG_TOKEN_JTI_LEN 32    /* hex characters of a token id */
#define WSG_TOKEN_MAX_LEN 4096  /* longer strings are refused unparsed */
#define WSG_TOKEN_MAX_TTL 86400 /* seconds; longer lifetimes are refused */
#define WSG_TOKEN_ISSUER "wssgate"

/* The claims of a token. `sub` is malloc'ed; free with wsg_token_clear(). */
struct wsg_token {
	char *sub;    /* username */
	uint64_t uid; /* users.id when issued: a re-created name differs */
	int admin;    /* scope "admin" (else "default") when issued */
	char jti[WSG_TOKEN_JTI_LEN + 1];
	int64_t iat;    /* seconds since the epoch */
	int64_t iat_us; /* microseconds: the private claim iat_us */
	int64_t exp;
};

void wsg_token_clear(struct wsg_token *t);

/* CLOCK_REALTIME in microseconds since the epoch: token issue times and
 * the users.tokens_valid_after they are compared with. */
int64_t wsg_token_now_us(void);

/*
 * Issues a token for `sub` valid for `ttl` seconds (1..WSG_TOKEN_MAX_TTL)
 * from `now_us` (microseconds; iat is its second, the private claim iat_us
 * the exact value, so a password change in the same second can tell the
 * tokens issued before it from those after), with a fresh random jti. `*out` is
 * the compact JWS, malloc'ed (caller frees); `claims` (may be NULL) receives
 * what was signed.
 */
int wsg_token_issue(const unsigned char *key, size_t key_len, const char *sub,
                    uint64_t uid, int admin, int64_t now_us, int64_t ttl,
                    char **out, struct wsg_token *claims);

/*
 * Verifies `jwt` (`len` bytes, need not be NUL-terminated): exactly three
 * base64url parts, header algorithm HS256 and nothing else, HMAC-SHA256
 * under `key` equal in constant time, issuer, subject, uid, scope, a
 * 32-hex-digit jti, iat <= exp, a lifetime within WSG_TOKEN_MAX_TTL, and
 * now < exp; iat_us, if present, within the second iat (absent, from an
 * older gateway, it is taken as the start of that second, so such a token
 * counts as issued before a change in its second). WSG_OK fills `out`;
 * otherwise WSG_ERR_AUTH with the reason in `err` (never the token itself) and
 * `out` cleared.
 */
int wsg_token_verify(const unsigned char *key, size_t key_len, const char *jwt,
                     size_t len, int64_t now, struct wsg_token *out,
                     struct wsg_error *err);

/*
 * Records `t` as revoked until its expiry (idempotent) and purges rows of
 * tokens that expired before `now`. WSG_ERR_DB on failure.
 */
int wsg_token_revoke(struct wsg_db_conn *c, const struct wsg_token *t,
                     int64_t now, struct wsg_error *err);

/* `*revoked` is 1 when `t`'s jti was revoked by any gateway, else 0. */
int wsg_token_is_revoked(struct wsg_db_conn *c, const struct wsg_token *t,
                         int *revoked, struct wsg_error *err);

#endif
