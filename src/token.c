#include "token.h"

#include <errno.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "mem.h"
#include "userstore.h"

#define JTI_BYTES (WSG_TOKEN_JTI_LEN / 2)
#define SHA256_LEN 32
#define SIG_B64_LEN 43 /* base64url of 32 bytes, unpadded */
#define US_PER_S 1000000

static const char SCOPE_ADMIN[] = "admin";
static const char SCOPE_DEFAULT[] = "default";

void
wsg_token_clear(struct wsg_token *t)
{
	if (t == NULL)
		return;
	free(t->sub);
	memset(t, 0, sizeof(*t));
}

static int
is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* base64url without padding of `len` bytes into `out` (room for 4/3 len + 1).
 */
static void
b64url_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789-_";
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (len - i == 1) {
		v = (unsigned)in[i] << 16;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
	}
	out[o] = '\0';
}

static int
is_hex_lower(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int64_t
wsg_token_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

int
wsg_token_issue(const unsigned char *key, size_t key_len, const char *sub,
                uint64_t uid, int admin, int64_t now_us, int64_t ttl,
                char **out, struct wsg_token *claims)
{
	int64_t now = now_us / US_PER_S;
	unsigned char raw[JTI_BYTES];
	char jti[WSG_TOKEN_JTI_LEN + 1];
	jwt_t *jwt = NULL;
	char *s;
	size_t i;
	int rc = WSG_ERR_CRYPTO;

	*out = NULL;
	if (claims != NULL)
		memset(claims, 0, sizeof(*claims));
	if (key == NULL || key_len == 0 || key_len > INT32_MAX || sub == NULL ||
	    uid == 0 || uid > INT64_MAX || now_us < 0 || ttl < 1 ||
	    ttl > WSG_TOKEN_MAX_TTL)
		return WSG_ERR_INVAL;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return WSG_ERR_CRYPTO;
	for (i = 0; i < sizeof(raw); i++)
		snprintf(jti + 2 * i, 3, "%02x", raw[i]);
	if (jwt_new(&jwt) != 0)
		goto out;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)key_len) != 0 ||
	    jwt_add_grant(jwt, "iss", WSG_TOKEN_ISSUER) != 0 ||
	    jwt_add_grant(jwt, "sub", sub) != 0 ||
	    jwt_add_grant(jwt, "scope", admin ? SCOPE_ADMIN : SCOPE_DEFAULT) !=
	            0 ||
	    jwt_add_grant(jwt, "jti", jti) != 0 ||
	    jwt_add_grant_int(jwt, "uid", (long)uid) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
	    jwt_add_grant_int(jwt, "iat_us", (long)now_us) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)(now + ttl)) != 0)
		goto out;
	s = jwt_encode_str(jwt);
	if (s == NULL)
		goto out;
	*out = wsg_mem_strdup(s);
	free(s);
	if (claims != NULL) {
		claims->sub = wsg_mem_strdup(sub);
		claims->uid = uid;
		claims->admin = admin != 0;
		memcpy(claims->jti, jti, sizeof(jti));
		claims->iat = now;
		claims->iat_us = now_us;
		claims->exp = now + ttl;
	}
	rc = WSG_OK;
out:
	jwt_free(jwt);
	return rc;
}

/* An integer claim; absent or not an integer is a failure. */
static int
int_claim(jwt_t *jwt, const char *name, int64_t *v)
{
	long n;

	errno = 0;
	n = jwt_get_grant_int(jwt, name);
	if (errno != 0)
		return -1;
	*v = n;
	return 0;
}

/*
 * The signature is checked here, in constant time, before libjwt sees the
 * token: libjwt 1.10 compares HMACs with strcmp and lets the token's own
 * header pick the algorithm.
 */
static int
check_signature(const unsigned char *key, size_t key_len, const char *jwt,
                size_t signed_len, const char *sig, size_t sig_len)
{
	unsigned char mac[SHA256_LEN];
	char want[SIG_B64_LEN + 2];
	unsigned mac_len = 0;
	int ok;

	if (sig_len != SIG_B64_LEN)
		return -1;
	if (HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)jwt,
	         signed_len, mac, &mac_len) == NULL ||
	    mac_len != sizeof(mac))
		return -1;
	b64url_encode(mac, sizeof(mac), want);
	ok = CRYPTO_memcmp(want, sig, SIG_B64_LEN) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_cleanse(want, sizeof(want));
	return ok ? 0 : -1;
}

static int
fail(struct wsg_error *err, const char *why)
{
	return wsg_error_set(err, WSG_ERR_AUTH, WSG_FAULT_NONE, "token %s",
	                     why);
}

int
wsg_token_verify(const unsigned char *key, size_t key_len, const char *jwt,
                 size_t len, int64_t now, struct wsg_token *out,
                 struct wsg_error *err)
{
	const char *dot1 = NULL, *dot2 = NULL, *s, *scope, *iss, *jti;
	jwt_t *j = NULL;
	char *copy = NULL;
	int64_t uid = 0, iat = 0, iat_us = 0, exp = 0;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (key == NULL || key_len == 0 || key_len > INT32_MAX || jwt == NULL)
		return fail(err, "verification has no key");
	if (len == 0 || len > WSG_TOKEN_MAX_LEN)
		return fail(err, "is empty or too long");
	for (i = 0; i < len; i++) {
		if (jwt[i] == '.') {
			if (dot1 == NULL)
				dot1 = jwt + i;
			else if (dot2 == NULL)
				dot2 = jwt + i;
			else
				return fail(err, "has more than three parts");
		} else if (!is_b64url(jwt[i])) {
			return fail(err, "holds a character outside base64url");
		}
	}
	if (dot2 == NULL || dot1 == jwt || dot2 == dot1 + 1)
		return fail(err, "does not have three non-empty parts");
	if (check_signature(key, key_len, jwt, (size_t)(dot2 - jwt), dot2 + 1,
	                    len - (size_t)(dot2 + 1 - jwt)) != 0)
		return fail(err, "signature is not a valid HS256 signature");
	copy = wsg_mem_strndup(jwt, len);
	if (jwt_decode(&j, copy, key, (int)key_len) != 0 || j == NULL) {
		rc = fail(err, "cannot be decoded");
		goto out;
	}
	/* Pinned: whatever the header claims, only HS256 is accepted. */
	if (jwt_get_alg(j) != JWT_ALG_HS256) {
		rc = fail(err, "algorithm is not HS256");
		goto out;
	}
	iss = jwt_get_grant(j, "iss");
	s = jwt_get_grant(j, "sub");
	scope = jwt_get_grant(j, "scope");
	jti = jwt_get_grant(j, "jti");
	if (iss == NULL || strcmp(iss, WSG_TOKEN_ISSUER) != 0) {
		rc = fail(err, "issuer is not " WSG_TOKEN_ISSUER);
		goto out;
	}
	if (s == NULL || s[0] == '\0' || strlen(s) > WSG_USERSTORE_MAX_NAME) {
		rc = fail(err, "subject is missing or invalid");
		goto out;
	}
	if (scope == NULL || (strcmp(scope, SCOPE_ADMIN) != 0 &&
	                      strcmp(scope, SCOPE_DEFAULT) != 0)) {
		rc = fail(err, "scope is missing or invalid");
		goto out;
	}
	if (jti == NULL || strlen(jti) != WSG_TOKEN_JTI_LEN ||
	    !is_hex_lower(jti, WSG_TOKEN_JTI_LEN)) {
		rc = fail(err, "jti is missing or invalid");
		goto out;
	}
	if (int_claim(j, "uid", &uid) != 0 || uid <= 0) {
		rc = fail(err, "uid is missing or invalid");
		goto out;
	}
	if (int_claim(j, "iat", &iat) != 0 || int_claim(j, "exp", &exp) != 0 ||
	    iat > exp || exp - iat > WSG_TOKEN_MAX_TTL) {
		rc = fail(err, "iat or exp is missing or invalid");
		goto out;
	}
	if (now >= exp) {
		rc = fail(err, "has expired");
		goto out;
	}
	errno = 0;
	iat_us = jwt_get_grant_int(j, "iat_us");
	if (errno == ENOENT) {
		iat_us = iat * US_PER_S;
	} else if (errno != 0 || iat_us < 0 || iat_us / US_PER_S != iat) {
		rc = fail(err, "iat_us is invalid");
		goto out;
	}
	out->sub = wsg_mem_strdup(s);
	out->uid = (uint64_t)uid;
	out->admin = strcmp(scope, SCOPE_ADMIN) == 0;
	memcpy(out->jti, jti, WSG_TOKEN_JTI_LEN + 1);
	out->iat = iat;
	out->iat_us = iat_us;
	out->exp = exp;
	rc = WSG_OK;
out:
	jwt_free(j);
	free(copy);
	return rc;
}

int
wsg_token_revoke(struct wsg_db_conn *c, const struct wsg_token *t, int64_t now,
                 struct wsg_error *err)
{
	return wsg_userstore_revoke_token(c, t->jti, t->exp, now, err);
}

int
wsg_token_is_revoked(struct wsg_db_conn *c, const struct wsg_token *t,
                     int *revoked, struct wsg_error *err)
{
	return wsg_userstore_token_revoked(c, t->jti, revoked, err);
}
