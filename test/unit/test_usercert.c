/*
 * Certificates as users: usercert.c reading PEM (one certificate, no key,
 * not expired, the fingerprint of the DER) and fingerprints as operators
 * write them; accounts.c's certificate changes and the asynchronous
 * wsg_userstore_lookup_cert() on the non-blocking pool, against a real,
 * private MariaDB (test/unit/run-db). Certificates and keys are made here
 * with OpenSSL, never read from committed files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "accounts.h"
#include "db.h"
#include "dbtest.h"
#include "err.h"
#include "hex.h"
#include "mem.h"
#include "usercert.h"
#include "userstore.h"

#define ADMIN "admin"
#define HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
#define DAY 86400

static struct wsg_db_params params;
static struct wsg_db_conn *db;
static struct event_base *base;
static EVP_PKEY *key;

/* -------- certificates made here -------- */

/* A self-signed certificate for CN=`cn`, valid from `from` to `to`
 * (seconds from now), as PEM (caller frees); `fp` gets its fingerprint. */
static char *
make_cert(const char *cn, long serial, long from, long to,
          char fp[WSG_USERCERT_FP_LEN + 1])
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char md[32];
	unsigned int mdlen = 0;
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *pem;
	long n;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	                           (const unsigned char *)"Example, Test", -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_true(X509_digest(x, EVP_sha256(), md, &mdlen) && mdlen == 32);
	wsg_hex_encode(md, mdlen, fp);
	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &data);
	pem = wsg_mem_strndup(data, (size_t)n);
	BIO_free(b);
	X509_NAME_free(name);
	X509_free(x);
	return pem;
}

static char *
key_pem(void)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *pem;
	long n;

	PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &data);
	pem = wsg_mem_strndup(data, (size_t)n);
	BIO_free(b);
	return pem;
}

static int
parse(const char *pem, struct wsg_usercert *c, struct wsg_error *err)
{
	wsg_error_clear(err);
	return wsg_usercert_parse(pem, strlen(pem), (int64_t)time(NULL), c,
	                          err);
}

static void
test_parse_one_certificate(void **state)
{
	char fp[WSG_USERCERT_FP_LEN + 1], *pem, *text;
	struct wsg_usercert c;
	struct wsg_error err;
	int64_t now = (int64_t)time(NULL);

	(void)state;
	pem = make_cert("alice", 0x1234abcd, -DAY, 30 * DAY, fp);
	assert_int_equal(parse(pem, &c, &err), WSG_OK);
	assert_string_equal(c.fingerprint, fp);
	/* RFC 2253: last RDN first, ',' in a value escaped. */
	assert_string_equal(c.subject, "CN=alice,O=Example\\, Test");
	assert_string_equal(c.issuer, c.subject);
	assert_string_equal(c.serial, "1234ABCD");
	assert_true(c.not_after >= now + 30 * DAY - 5 &&
	            c.not_after <= now + 30 * DAY + 5);
	assert_true(c.not_before <= now);
	/* Text around the block is ignored. */
	text = wsg_mem_printf("subject=CN = alice\n%s\nmore text\n", pem);
	assert_int_equal(parse(text, &c, &err), WSG_OK);
	assert_string_equal(c.fingerprint, fp);
	free(text);
	free(pem);
}

static void
test_parse_refusals(void **state)
{
	char fp[WSG_USERCERT_FP_LEN + 1], *pem, *pem2, *k, *text;
	struct wsg_usercert c;
	struct wsg_error err;
	static const struct {
		const char *pem;
		int rc;
		const char *reason;
	} bad[] = {
	        {"", WSG_ERR_PARSE, "no PEM CERTIFICATE block"},
	        {"hello\n", WSG_ERR_PARSE, "no PEM CERTIFICATE block"},
	        {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
	         "\n",
	         WSG_ERR_PARSE, "not an X.509 certificate"},
	        {"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----"
	         "\n",
	         WSG_ERR_PARSE, "malformed PEM"},
	        {"-----BEGIN CERTIFICATE-----\nAAAA\n", WSG_ERR_PARSE,
	         "malformed PEM"},
	        {"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
	         WSG_ERR_PARSE, "unexpected PEM block 'X509 CRL'"},
	        {"-----BEGIN EC PRIVATE KEY-----\n", WSG_ERR_INVAL,
	         "private key"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].pem, &c, &err), bad[i].rc);
		if (strstr(err.reason, bad[i].reason) == NULL)
			fail_msg("case %zu: %s", i, err.reason);
		assert_string_equal(c.fingerprint, "");
	}
	pem = make_cert("bob", 7, -DAY, DAY, fp);
	pem2 = make_cert("carol", 8, -DAY, DAY, fp);
	k = key_pem();
	text = wsg_mem_printf("%s%s", pem, k);
	assert_int_equal(parse(text, &c, &err), WSG_ERR_INVAL);
	assert_non_null(strstr(err.reason, "private key"));
	free(text);
	text = wsg_mem_printf("%s%s", pem, pem2);
	assert_int_equal(parse(text, &c, &err), WSG_ERR_PARSE);
	assert_non_null(strstr(err.reason, "more than one certificate"));
	free(text);
	free(pem);
	/* Expired an hour ago; not yet valid is accepted (it will be). */
	pem = make_cert("old", 9, -30 * DAY, -3600, fp);
	assert_int_equal(parse(pem, &c, &err), WSG_ERR_INVAL);
	assert_non_null(strstr(err.reason, "the certificate expired on 20"));
	free(pem);
	pem = make_cert("future", 10, DAY, 30 * DAY, fp);
	assert_int_equal(parse(pem, &c, &err), WSG_OK);
	free(pem);
	/* Size is bounded before anything is read. */
	assert_int_equal(
	        wsg_usercert_parse(pem2, WSG_USERCERT_MAX_PEM + 1, 0, &c, &err),
	        WSG_ERR_LIMIT);
	free(pem2);
	free(k);
}

static void
test_fingerprint_forms(void **state)
{
	static const char lower[] = "0123456789abcdef0123456789abcdef"
	                            "0123456789abcdef0123456789abcdef";
	static const char colons[] =
	        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:"
	        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef";
	static const char *const bad[] = {
	        "",
	        "0123",
	        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	        "eg",
	        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	        "ef0",
	        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:"
	        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd-ef",
	        "0:123:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:"
	        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef",
	};
	char out[WSG_USERCERT_FP_LEN + 1];
	struct wsg_error err;
	char upper[sizeof(lower)];
	size_t i;

	(void)state;
	wsg_error_clear(&err);
	for (i = 0; i < sizeof(lower); i++)
		upper[i] = (lower[i] >= 'a' && lower[i] <= 'f')
		                   ? (char)(lower[i] - 'a' + 'A')
		                   : lower[i];
	assert_int_equal(wsg_usercert_fingerprint(lower, out, &err), WSG_OK);
	assert_string_equal(out, lower);
	assert_int_equal(wsg_usercert_fingerprint(upper, out, &err), WSG_OK);
	assert_string_equal(out, lower);
	assert_int_equal(wsg_usercert_fingerprint(colons, out, &err), WSG_OK);
	assert_string_equal(out, lower);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(wsg_usercert_fingerprint(bad[i], out, &err),
		                 WSG_ERR_INVAL);
		assert_string_equal(out, "");
	}
	assert_int_equal(wsg_usercert_fingerprint(NULL, out, &err),
	                 WSG_ERR_INVAL);
}

/* -------- the store -------- */

static void
exec_ok(const char *sql)
{
	struct wsg_error err;

	wsg_error_clear(&err);
	if (wsg_db_exec_script(db, sql, &err) != WSG_OK)
		fail_msg("%s: %s", sql, err.reason);
}

static int
group_setup(void **state)
{
	(void)state;
	key = EVP_EC_gen("P-256");
	base = event_base_new();
	if (key == NULL || base == NULL)
		return -1;
	return dbtest_open(&params, 60, &db);
}

static int
group_teardown(void **state)
{
	(void)state;
	wsg_db_close(db);
	event_base_free(base);
	EVP_PKEY_free(key);
	return 0;
}

static int
reset(void **state)
{
	(void)state;
	exec_ok("DELETE FROM user_certs; DELETE FROM user_roles; "
	        "DELETE FROM users; DELETE FROM roles");
	return 0;
}

/* `name` with roles `r1`, `r2` (NULL: fewer), as the operator adds it. */
static void
add_user(const char *name, const char *r1, const char *r2)
{
	const char *roles[2] = {r1, r2};
	struct wsg_accounts_user u = {.name = name,
	                              .password_hash = HASH,
	                              .roles = roles,
	                              .nroles = r1 == NULL   ? 0
	                                        : r2 == NULL ? 1
	                                                     : 2};
	struct wsg_accounts_result res;
	struct wsg_error err;

	wsg_error_clear(&err);
	if (wsg_accounts_add_user(db, ADMIN, NULL, &u, &res, &err) != WSG_OK)
		fail_msg("add %s: %s", name, err.reason);
}

/* Maps a new certificate to `user`; its fingerprint in `fp`. */
static int
add_cert(const char *user, long serial, char fp[WSG_USERCERT_FP_LEN + 1],
         struct wsg_accounts_result *res)
{
	struct wsg_usercert c;
	struct wsg_error err;
	char *pem = make_cert(user, serial, -DAY, DAY, fp);
	int rc;

	assert_int_equal(parse(pem, &c, &err), WSG_OK);
	free(pem);
	rc = wsg_accounts_add_cert(db, ADMIN, NULL, user, &c, res, &err);
	return rc;
}

struct found {
	int calls;
	int status;
	struct wsg_user_record *rec;
};

static void
found_cb(int status, struct wsg_user_record *rec, void *arg)
{
	struct found *f = arg;

	f->calls++;
	f->status = status;
	f->rec = rec;
}

/* wsg_userstore_lookup_cert() through a fresh pool, its loop run until
 * the one completion came. */
static struct found
lookup(const char *fp)
{
	struct wsg_db_pool *pool = wsg_db_pool_new(base, &params, 1, NULL);
	struct found f = {0, 0, NULL};

	assert_int_equal(wsg_userstore_lookup_cert(pool, fp, found_cb, &f),
	                 WSG_OK);
	/* Never called back before the function returned. */
	assert_int_equal(f.calls, 0);
	while (f.calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(f.calls, 1);
	wsg_db_pool_free(pool);
	return f;
}

static void
test_lookup_by_fingerprint(void **state)
{
	char fa[WSG_USERCERT_FP_LEN + 1], fa2[WSG_USERCERT_FP_LEN + 1];
	char fb[WSG_USERCERT_FP_LEN + 1], unknown[WSG_USERCERT_FP_LEN + 1];
	struct wsg_accounts_result res;
	struct wsg_error err;
	struct found f;

	(void)state;
	wsg_error_clear(&err);
	add_user("alice", "echo-users", "readers");
	add_user("bob", NULL, NULL);
	assert_int_equal(add_cert("alice", 1, fa, &res), WSG_OK);
	assert_int_equal(add_cert("alice", 2, fa2, &res), WSG_OK);
	assert_int_equal(add_cert("bob", 3, fb, &res), WSG_OK);
	f = lookup(fa);
	assert_int_equal(f.status, WSG_OK);
	assert_string_equal(f.rec->username, "alice");
	assert_string_equal(f.rec->roles, "echo-users,readers");
	assert_int_equal(f.rec->disabled, 0);
	wsg_userstore_record_free(f.rec);
	f = lookup(fa2);
	assert_int_equal(f.status, WSG_OK);
	assert_string_equal(f.rec->username, "alice");
	wsg_userstore_record_free(f.rec);
	exec_ok("UPDATE users SET disabled = 1 WHERE username = 'bob'");
	f = lookup(fb);
	assert_int_equal(f.status, WSG_OK);
	assert_string_equal(f.rec->username, "bob");
	assert_string_equal(f.rec->roles, "");
	assert_int_equal(f.rec->disabled, 1);
	wsg_userstore_record_free(f.rec);
	/* Unknown, and gone with its user. */
	memset(unknown, '0', WSG_USERCERT_FP_LEN);
	unknown[WSG_USERCERT_FP_LEN] = '\0';
	f = lookup(unknown);
	assert_int_equal(f.status, WSG_ERR_NOTFOUND);
	assert_null(f.rec);
	assert_int_equal(
	        wsg_accounts_delete_user(db, ADMIN, NULL, "alice", &res, &err),
	        WSG_OK);
	f = lookup(fa);
	assert_int_equal(f.status, WSG_ERR_NOTFOUND);
	f = lookup(fb);
	assert_int_equal(f.status, WSG_OK);
	wsg_userstore_record_free(f.rec);
}

static void
test_lookup_refuses_other_forms(void **state)
{
	struct wsg_db_pool *pool = wsg_db_pool_new(base, &params, 1, NULL);
	static const char *const bad[] = {
	        "",
	        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcd"
	        "ef",
	        "01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:"
	        "01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef",
	        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	        "e",
	        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	        "ef0",
	};
	struct found f = {0, 0, NULL};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		        wsg_userstore_lookup_cert(pool, bad[i], found_cb, &f),
		        WSG_ERR_INVAL);
	assert_int_equal(wsg_userstore_lookup_cert(pool, NULL, found_cb, &f),
	                 WSG_ERR_INVAL);
	assert_int_equal(f.calls, 0);
	wsg_db_pool_free(pool);
}

static void
test_one_certificate_one_user(void **state)
{
	char fp[WSG_USERCERT_FP_LEN + 1], fp2[WSG_USERCERT_FP_LEN + 1];
	struct wsg_accounts_result res;
	struct wsg_usercert c;
	struct wsg_error err;
	char *pem;

	(void)state;
	add_user("alice", NULL, NULL);
	add_user("bob", NULL, NULL);
	pem = make_cert("shared", 5, -DAY, DAY, fp);
	assert_int_equal(parse(pem, &c, &err), WSG_OK);
	free(pem);
	assert_int_equal(
	        wsg_accounts_add_cert(db, ADMIN, NULL, "alice", &c, &res, &err),
	        WSG_OK);
	assert_int_equal(
	        wsg_accounts_add_cert(db, ADMIN, NULL, "bob", &c, &res, &err),
	        WSG_ERR_EXISTS);
	assert_string_equal(res.owner, "alice");
	assert_non_null(strstr(err.reason, "already mapped to user 'alice'"));
	assert_int_equal(
	        wsg_accounts_add_cert(db, ADMIN, NULL, "alice", &c, &res, &err),
	        WSG_ERR_EXISTS);
	assert_int_equal(wsg_accounts_add_cert(db, ADMIN, NULL, "nobody", &c,
	                                       &res, &err),
	                 WSG_ERR_NOTFOUND);
	assert_string_equal(res.missing, "nobody");
	/* Removing is per user: bob does not hold it. */
	assert_int_equal(wsg_accounts_delete_cert(db, ADMIN, NULL, "bob", fp,
	                                          &res, &err),
	                 WSG_ERR_NOTFOUND);
	assert_true(res.missing_cert);
	assert_int_equal(wsg_accounts_delete_cert(db, ADMIN, NULL, "alice", fp,
	                                          &res, &err),
	                 WSG_OK);
	assert_int_equal(
	        wsg_accounts_add_cert(db, ADMIN, NULL, "bob", &c, &res, &err),
	        WSG_OK);
	assert_int_equal(add_cert("bob", 6, fp2, &res), WSG_OK);
}

/* Through the API, an admin changes non-admins' certificates and its own. */
static void
test_admin_rule(void **state)
{
	struct wsg_accounts_user u = {
	        .name = "a1", .password_hash = HASH, .admin = 1};
	struct wsg_accounts_result res;
	struct wsg_accounts_actor a1 = {"a1", 0}, n1 = {"n1", 0};
	struct wsg_user_record *rec = NULL;
	char fp[WSG_USERCERT_FP_LEN + 1];
	struct wsg_usercert c;
	struct wsg_error err;
	char *pem;
	int i;

	(void)state;
	wsg_error_clear(&err);
	assert_int_equal(wsg_accounts_add_user(db, ADMIN, NULL, &u, &res, &err),
	                 WSG_OK);
	u.name = "a2";
	assert_int_equal(wsg_accounts_add_user(db, ADMIN, NULL, &u, &res, &err),
	                 WSG_OK);
	add_user("n1", NULL, NULL);
	assert_int_equal(wsg_userstore_get(db, "a1", &rec, &err), WSG_OK);
	a1.id = rec->id;
	wsg_userstore_record_free(rec);
	for (i = 0; i < 3; i++) {
		const char *target = i == 0 ? "n1" : i == 1 ? "a1" : "a2";
		int want = i == 2 ? WSG_ERR_PERM : WSG_OK;

		pem = make_cert(target, 20 + i, -DAY, DAY, fp);
		assert_int_equal(parse(pem, &c, &err), WSG_OK);
		free(pem);
		assert_int_equal(wsg_accounts_add_cert(db, ADMIN, &a1, target,
		                                       &c, &res, &err),
		                 want);
		if (want == WSG_ERR_PERM)
			assert_int_equal(res.rule,
			                 WSG_ACCOUNTS_RULE_OTHER_ADMIN_CERT);
		/* The operator is bound by no rule. */
		if (want != WSG_OK)
			assert_int_equal(wsg_accounts_add_cert(db, ADMIN, NULL,
			                                       target, &c, &res,
			                                       &err),
			                 WSG_OK);
		assert_int_equal(wsg_accounts_delete_cert(db, ADMIN, &a1,
		                                          target, fp, &res,
		                                          &err),
		                 want);
	}
	/* A caller that is no admin (any more) changes nothing. */
	assert_int_equal(wsg_userstore_get(db, "n1", &rec, &err), WSG_OK);
	n1.id = rec->id;
	wsg_userstore_record_free(rec);
	pem = make_cert("n1", 30, -DAY, DAY, fp);
	assert_int_equal(parse(pem, &c, &err), WSG_OK);
	free(pem);
	assert_int_equal(
	        wsg_accounts_add_cert(db, ADMIN, &n1, "n1", &c, &res, &err),
	        WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_NOT_ADMIN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_one_certificate),
	        cmocka_unit_test(test_parse_refusals),
	        cmocka_unit_test(test_fingerprint_forms),
	        cmocka_unit_test_setup(test_lookup_by_fingerprint, reset),
	        cmocka_unit_test_setup(test_lookup_refuses_other_forms, reset),
	        cmocka_unit_test_setup(test_one_certificate_one_user, reset),
	        cmocka_unit_test_setup(test_admin_rule, reset),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
