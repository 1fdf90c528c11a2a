/*
 * token.c: issue/verify round trip, expiry edges, and every way a token is
 * refused (tampering, alg=none, other algorithms, wrong key, bad claims,
 * malformed compact form). Forged tokens are built here with OpenSSL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "err.h"
#include "mem.h"
#include "token.h"

static const unsigned char key[WSG_TOKEN_KEY_LEN] =
        "0123456789abcdef0123456789abcde";
static const unsigned char other_key[WSG_TOKEN_KEY_LEN] =
        "fedcba9876543210fedcba987654321";

#define NOW 1800000000LL
#define NOW_US (NOW * 1000000 + 123456) /* issue time, microseconds */

static char *
b64url(const unsigned char *in, size_t len)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789-_";
	char *out = wsg_mem_alloc(len * 4 / 3 + 4);
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = tab[v >> 6 & 63];
		if (i + 2 < len)
			out[o++] = tab[v & 63];
	}
	out[o] = '\0';
	return out;
}

/* header.payload.signature with HMAC `md` under `k` (NULL md: `sig` as given).
 */
static char *
forge(const char *header, const char *payload, const EVP_MD *md,
      const unsigned char *k, const char *sig)
{
	char *h = b64url((const unsigned char *)header, strlen(header));
	char *p = b64url((const unsigned char *)payload, strlen(payload));
	char *input = wsg_mem_printf("%s.%s", h, p), *s, *out;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;

	if (md != NULL) {
		assert_non_null(HMAC(md, k, WSG_TOKEN_KEY_LEN,
		                     (const unsigned char *)input,
		                     strlen(input), mac, &mac_len));
		s = b64url(mac, mac_len);
	} else {
		s = wsg_mem_strdup(sig);
	}
	out = wsg_mem_printf("%s.%s", input, s);
	free(h);
	free(p);
	free(input);
	free(s);
	return out;
}

static const char HS256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static char *
claims(const char *extra_or_null, const char *iss, const char *sub,
       const char *scope, const char *jti, const char *uid, const char *iat,
       const char *exp)
{
	return wsg_mem_printf(
	        "{\"iss\":%s,\"sub\":%s,\"scope\":%s,\"jti\":%s,\"uid\":%s,"
	        "\"iat\":%s,\"exp\":%s%s}",
	        iss, sub, scope, jti, uid, iat, exp,
	        extra_or_null ? extra_or_null : "");
}

static const char GOOD_JTI[] = "\"0123456789abcdef0123456789abcdef\"";

static int
verify(const char *tok, int64_t now, struct wsg_token *t, struct wsg_error *e)
{
	return wsg_token_verify(key, sizeof(key), tok, strlen(tok), now, t, e);
}

static void
test_round_trip(void **state)
{
	struct wsg_token issued, got;
	struct wsg_error e;
	char *tok = NULL, *tok2 = NULL;

	assert_int_equal(wsg_token_issue(key, sizeof(key), "jörg", 42, 1,
	                                 NOW_US, 3600, &tok, &issued),
	                 WSG_OK);
	assert_int_equal(verify(tok, NOW, &got, &e), WSG_OK);
	assert_string_equal(got.sub, "jörg");
	assert_int_equal(got.uid, 42);
	assert_int_equal(got.admin, 1);
	assert_int_equal(got.iat, NOW);
	assert_int_equal(got.iat_us, NOW_US);
	assert_int_equal(issued.iat_us, NOW_US);
	assert_int_equal(got.exp, NOW + 3600);
	assert_string_equal(got.jti, issued.jti);
	assert_int_equal(strlen(got.jti), WSG_TOKEN_JTI_LEN);
	assert_int_equal(strspn(got.jti, "0123456789abcdef"),
	                 WSG_TOKEN_JTI_LEN);
	wsg_token_clear(&got);

	/* Every token gets its own id; scope default for non-admins. */
	assert_int_equal(wsg_token_issue(key, sizeof(key), "bob", 7, 0, NOW_US,
	                                 60, &tok2, NULL),
	                 WSG_OK);
	assert_int_equal(verify(tok2, NOW + 59, &got, &e), WSG_OK);
	assert_int_equal(got.admin, 0);
	assert_string_not_equal(got.jti, issued.jti);
	wsg_token_clear(&got);
	wsg_token_clear(&issued);
	free(tok);
	free(tok2);
}

static void
test_issue_rejects_bad_arguments(void **state)
{
	char *tok = (char *)1;

	assert_int_equal(wsg_token_issue(key, sizeof(key), "a", 1, 0, NOW_US, 0,
	                                 &tok, NULL),
	                 WSG_ERR_INVAL);
	assert_null(tok);
	assert_int_equal(wsg_token_issue(key, sizeof(key), "a", 1, 0, NOW_US,
	                                 WSG_TOKEN_MAX_TTL + 1, &tok, NULL),
	                 WSG_ERR_INVAL);
	assert_int_equal(wsg_token_issue(key, sizeof(key), "a", 0, 0, NOW_US,
	                                 60, &tok, NULL),
	                 WSG_ERR_INVAL);
	assert_int_equal(wsg_token_issue(key, sizeof(key), NULL, 1, 0, NOW_US,
	                                 60, &tok, NULL),
	                 WSG_ERR_INVAL);
	assert_int_equal(
	        wsg_token_issue(key, 0, "a", 1, 0, NOW_US, 60, &tok, NULL),
	        WSG_ERR_INVAL);
}

/* Valid while now < exp; at exp it has expired. */
static void
test_expiry_edges(void **state)
{
	struct wsg_token t;
	struct wsg_error e;
	char *tok = NULL;

	assert_int_equal(wsg_token_issue(key, sizeof(key), "a", 1, 0, NOW_US,
	                                 10, &tok, NULL),
	                 WSG_OK);
	assert_int_equal(verify(tok, NOW + 9, &t, &e), WSG_OK);
	wsg_token_clear(&t);
	assert_int_equal(verify(tok, NOW + 10, &t, &e), WSG_ERR_AUTH);
	assert_non_null(strstr(e.reason, "expired"));
	assert_null(t.sub);
	assert_int_equal(verify(tok, NOW + 100000, &t, &e), WSG_ERR_AUTH);
	free(tok);
}

static void
test_tampering(void **state)
{
	struct wsg_token t;
	struct wsg_error e;
	char *tok = NULL, *dot1, *dot2, *copy;
	size_t i;

	assert_int_equal(wsg_token_issue(key, sizeof(key), "alice", 5, 0,
	                                 NOW_US, 600, &tok, NULL),
	                 WSG_OK);
	dot1 = strchr(tok, '.');
	dot2 = strchr(dot1 + 1, '.');
	/* One changed character anywhere: header, payload or signature. */
	for (i = 0; tok[i] != '\0'; i++) {
		if (tok[i] == '.')
			continue;
		copy = wsg_mem_strdup(tok);
		copy[i] = copy[i] == 'A' ? 'B' : 'A';
		assert_int_equal(verify(copy, NOW, &t, &e), WSG_ERR_AUTH);
		assert_null(strstr(e.reason, copy + (dot2 - tok) + 1));
		free(copy);
	}
	/* The payload of another (admin) token under this signature. */
	{
		char *adm = NULL, *mixed;
		char *adot1, *adot2;

		assert_int_equal(wsg_token_issue(key, sizeof(key), "alice", 5,
		                                 1, NOW_US, 600, &adm, NULL),
		                 WSG_OK);
		adot1 = strchr(adm, '.');
		adot2 = strchr(adot1 + 1, '.');
		mixed = wsg_mem_printf("%.*s%.*s%s", (int)(dot1 - tok), tok,
		                       (int)(adot2 - adot1), adot1, dot2);
		assert_int_equal(verify(mixed, NOW, &t, &e), WSG_ERR_AUTH);
		free(mixed);
		free(adm);
	}
	free(tok);
}

static void
test_wrong_key(void **state)
{
	struct wsg_token t;
	struct wsg_error e;
	char *tok = NULL;

	assert_int_equal(wsg_token_issue(other_key, sizeof(other_key), "a", 1,
	                                 1, NOW_US, 600, &tok, NULL),
	                 WSG_OK);
	assert_int_equal(verify(tok, NOW, &t, &e), WSG_ERR_AUTH);
	assert_non_null(strstr(e.reason, "signature"));
	free(tok);
}

static void
test_other_algorithms(void **state)
{
	char *body = claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"", GOOD_JTI,
	                    "1", "1800000000", "1800000600");
	struct {
		const char *header;
		const EVP_MD *md;
		const char *sig;
	} cases[] = {
	        {"{\"alg\":\"none\",\"typ\":\"JWT\"}", NULL, ""},
	        {"{\"alg\":\"none\"}", NULL, ""},
	        {"{\"alg\":\"none\"}", NULL, "AAAA"},
	        {"{\"alg\":\"HS512\",\"typ\":\"JWT\"}", EVP_sha512(), NULL},
	        {"{\"alg\":\"HS384\",\"typ\":\"JWT\"}", EVP_sha384(), NULL},
	        /* An HS256 MAC under a header that names another algorithm. */
	        {"{\"alg\":\"HS512\",\"typ\":\"JWT\"}", EVP_sha256(), NULL},
	        {"{\"alg\":\"RS256\",\"typ\":\"JWT\"}", EVP_sha256(), NULL},
	        {"{\"typ\":\"JWT\"}", EVP_sha256(), NULL},
	        {"{\"alg\":\"HS256\",\"typ\":\"JWE\"}", EVP_sha256(), NULL},
	};
	struct wsg_token t;
	struct wsg_error e;
	size_t i;
	char *tok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tok = forge(cases[i].header, body, cases[i].md, key,
		            cases[i].sig);
		if (verify(tok, NOW, &t, &e) != WSG_ERR_AUTH)
			fail_msg("case %zu (%s) accepted", i, cases[i].header);
		free(tok);
	}
	/* The same claims signed properly pass, so the cases test the header.
	 */
	tok = forge(HS256, body, EVP_sha256(), key, NULL);
	assert_int_equal(verify(tok, NOW, &t, &e), WSG_OK);
	wsg_token_clear(&t);
	free(tok);
	free(body);
}

static void
test_bad_claims(void **state)
{
	struct {
		const char *name;
		char *body;
	} cases[] = {
	        {"wrong issuer",
	         claims(NULL, "\"mi\"", "\"a\"", "\"admin\"", GOOD_JTI, "1",
	                "1800000000", "1800000600")},
	        {"no subject",
	         claims(NULL, "\"wssgate\"", "\"\"", "\"admin\"", GOOD_JTI, "1",
	                "1800000000", "1800000600")},
	        {"subject not a string",
	         claims(NULL, "\"wssgate\"", "7", "\"admin\"", GOOD_JTI, "1",
	                "1800000000", "1800000600")},
	        {"unknown scope",
	         claims(NULL, "\"wssgate\"", "\"a\"", "\"root\"", GOOD_JTI, "1",
	                "1800000000", "1800000600")},
	        {"short jti",
	         claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"", "\"0123\"",
	                "1", "1800000000", "1800000600")},
	        {"upper-case jti",
	         claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"",
	                "\"0123456789ABCDEF0123456789ABCDEF\"", "1",
	                "1800000000", "1800000600")},
	        {"jti not a string",
	         claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"", "12", "1",
	                "1800000000", "1800000600")},
	        {"uid zero", claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"",
	                            GOOD_JTI, "0", "1800000000", "1800000600")},
	        {"uid a string",
	         claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"", GOOD_JTI,
	                "\"1\"", "1800000000", "1800000600")},
	        {"exp a string",
	         claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"", GOOD_JTI,
	                "1", "1800000000", "\"1800000600\"")},
	        {"exp a float",
	         claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"", GOOD_JTI,
	                "1", "1800000000", "1800000600.5")},
	        {"iat after exp",
	         claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"", GOOD_JTI,
	                "1", "1800000700", "1800000600")},
	        {"lifetime too long",
	         claims(NULL, "\"wssgate\"", "\"a\"", "\"admin\"", GOOD_JTI,
	                "1", "1700000000", "1800000600")},
	        {"iat_us in another second",
	         claims(",\"iat_us\":1800000001000000", "\"wssgate\"", "\"a\"",
	                "\"admin\"", GOOD_JTI, "1", "1800000000",
	                "1800000600")},
	        {"iat_us a string",
	         claims(",\"iat_us\":\"1800000000000000\"", "\"wssgate\"",
	                "\"a\"", "\"admin\"", GOOD_JTI, "1", "1800000000",
	                "1800000600")},
	};
	struct wsg_token t;
	struct wsg_error e;
	size_t i;
	char *tok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tok = forge(HS256, cases[i].body, EVP_sha256(), key, NULL);
		if (verify(tok, NOW, &t, &e) != WSG_ERR_AUTH)
			fail_msg("%s: accepted", cases[i].name);
		assert_null(t.sub);
		free(tok);
		free(cases[i].body);
	}
	/* Without iat_us (an older gateway's token): the start of iat. */
	tok = forge(HS256,
	            "{\"iss\":\"wssgate\",\"sub\":\"a\",\"scope\":\"admin\","
	            "\"jti\":\"0123456789abcdef0123456789abcdef\",\"uid\":1,"
	            "\"iat\":1800000000,\"exp\":1800000600}",
	            EVP_sha256(), key, NULL);
	assert_int_equal(verify(tok, NOW, &t, &e), WSG_OK);
	assert_int_equal(t.iat_us, (int64_t)1800000000 * 1000000);
	wsg_token_clear(&t);
	free(tok);
	/* Missing claims: each one dropped from an otherwise good token. */
	{
		static const char *const full[] = {
		        "\"iss\":\"wssgate\"",
		        "\"sub\":\"a\"",
		        "\"scope\":\"admin\"",
		        "\"jti\":\"0123456789abcdef0123456789abcdef\"",
		        "\"uid\":1",
		        "\"iat\":1800000000",
		        "\"exp\":1800000600",
		};
		size_t n = sizeof(full) / sizeof(full[0]), j, skip;
		char body[512];

		for (skip = 0; skip <= n; skip++) {
			size_t o = 0;

			o += (size_t)snprintf(body + o, sizeof(body) - o, "{");
			for (j = 0; j < n; j++)
				if (j != skip)
					o += (size_t)snprintf(
					        body + o, sizeof(body) - o,
					        "%s%s", o > 1 ? "," : "",
					        full[j]);
			snprintf(body + o, sizeof(body) - o, "}");
			tok = forge(HS256, body, EVP_sha256(), key, NULL);
			if (skip == n) {
				assert_int_equal(verify(tok, NOW, &t, &e),
				                 WSG_OK);
				wsg_token_clear(&t);
			} else if (verify(tok, NOW, &t, &e) != WSG_ERR_AUTH) {
				fail_msg("accepted without %s", full[skip]);
			}
			free(tok);
		}
	}
}

static void
test_malformed(void **state)
{
	static const char *const cases[] = {
	        "",
	        "abc",
	        "abc.def",
	        "a.b.c.d",
	        "..",
	        "a..c",
	        ".b.c",
	        "a.b.",
	        "a b.c.d",
	        "a+b.c.d",
	        "a/b.c.d",
	        "a=.b.c",
	        "eyJhbGciOiJIUzI1NiJ9.e30.\n",
	};
	struct wsg_token t;
	struct wsg_error e;
	char *big;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (verify(cases[i], NOW, &t, &e) != WSG_ERR_AUTH)
			fail_msg("accepted \"%s\"", cases[i]);
	/* Not NUL-terminated where the length says it ends. */
	{
		char *tok = NULL;

		assert_int_equal(wsg_token_issue(key, sizeof(key), "a", 1, 0,
		                                 NOW_US, 60, &tok, NULL),
		                 WSG_OK);
		assert_int_equal(wsg_token_verify(key, sizeof(key), tok,
		                                  strlen(tok) - 1, NOW, &t, &e),
		                 WSG_ERR_AUTH);
		assert_int_equal(wsg_token_verify(key, sizeof(key), tok,
		                                  strlen(tok), NOW, &t, &e),
		                 WSG_OK);
		wsg_token_clear(&t);
		free(tok);
	}
	big = wsg_mem_alloc(WSG_TOKEN_MAX_LEN + 2);
	memset(big, 'a', WSG_TOKEN_MAX_LEN + 1);
	big[10] = big[20] = '.';
	big[WSG_TOKEN_MAX_LEN + 1] = '\0';
	assert_int_equal(verify(big, NOW, &t, &e), WSG_ERR_AUTH);
	assert_non_null(strstr(e.reason, "too long"));
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_issue_rejects_bad_arguments),
	        cmocka_unit_test(test_expiry_edges),
	        cmocka_unit_test(test_tampering),
	        cmocka_unit_test(test_wrong_key),
	        cmocka_unit_test(test_other_algorithms),
	        cmocka_unit_test(test_bad_claims),
	        cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
