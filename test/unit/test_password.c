#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyfile.h"
#include "mem.h"
#include "password.h"

static const unsigned char key1[WSG_PASSWORD_KEY_LEN] = {1, 2, 3, 4, 5};
static const unsigned char key2[WSG_PASSWORD_KEY_LEN] = {1, 2, 3, 4, 6};

/* Whether `needle` occurs in `hay` (the clear password must not). */
static int
contains(const unsigned char *hay, size_t hay_len, const char *needle,
         size_t len)
{
	size_t i;

	for (i = 0; len > 0 && i + len <= hay_len; i++)
		if (memcmp(hay + i, needle, len) == 0)
			return 1;
	return 0;
}

static char *
hash_of(const char *pw)
{
	char *enc = NULL;

	assert_int_equal(wsg_password_hash(pw, strlen(pw), &enc), WSG_OK);
	assert_non_null(enc);
	return enc;
}

static void
test_hash_verify(void **state)
{
	char *enc = hash_of("correct horse");

	assert_true(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	assert_int_equal(wsg_password_verify(enc, "correct horse", 13), WSG_OK);
	assert_int_equal(wsg_password_verify(enc, "correct hors", 12),
	                 WSG_ERR_AUTH);
	assert_int_equal(wsg_password_verify(enc, "correct horsE", 13),
	                 WSG_ERR_AUTH);
	assert_int_equal(wsg_password_verify(enc, "", 0), WSG_ERR_AUTH);
	free(enc);
}

static void
test_hash_salted(void **state)
{
	char *a = hash_of("same"), *b = hash_of("same");

	assert_string_not_equal(a, b);
	assert_int_equal(wsg_password_verify(a, "same", 4), WSG_OK);
	assert_int_equal(wsg_password_verify(b, "same", 4), WSG_OK);
	free(a);
	free(b);
}

static void
test_hash_empty_password(void **state)
{
	char *enc = NULL;

	assert_int_equal(wsg_password_hash("", 0, &enc), WSG_OK);
	assert_int_equal(wsg_password_verify(enc, "", 0), WSG_OK);
	assert_int_equal(wsg_password_verify(enc, "x", 1), WSG_ERR_AUTH);
	free(enc);
}

static void
test_verify_not_argon2id(void **state)
{
	static const char *const bad[] = {
	        "",
	        "secret",
	        "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$"
	        "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	        "$argon2d$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$"
	        "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	        "$2b$12$abcdefghijklmnopqrstuu1234567890123456789012345678",
	        "$ARGON2ID$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
	        "$argon2id$",
	        "$argon2id$v=19$m=19456,t=2,p=1$!!!$???",
	        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(wsg_password_verify(bad[i], "secret", 6),
		                 WSG_ERR_PARSE);
	assert_int_equal(wsg_password_verify(NULL, "secret", 6), WSG_ERR_PARSE);
}

static void *
dummy_thread(void *arg)
{
	return (void *)wsg_password_dummy_hash();
}

static void
test_dummy_hash(void **state)
{
	pthread_t t[4];
	void *got[4];
	const char *d;
	size_t i;

	for (i = 0; i < 4; i++)
		assert_int_equal(
		        pthread_create(&t[i], NULL, dummy_thread, NULL), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], &got[i]), 0);
	d = wsg_password_dummy_hash();
	for (i = 0; i < 4; i++)
		assert_ptr_equal(got[i], d);
	assert_true(strncmp(d, "$argon2id$", 10) == 0);
	assert_int_equal(wsg_password_verify(d, "guess", 5), WSG_ERR_AUTH);
	assert_int_equal(wsg_password_verify(d, "", 0), WSG_ERR_AUTH);
}

static void
test_seal_round_trip(void **state)
{
	static const struct {
		const char *user;
		const char *pw;
		size_t len;
	} cases[] = {
	        {"alice", "s3cret", 6},
	        {"alice", "", 0},
	        {"bob", "p\xc3\xa4ssw\xc3\xb6rd \xe2\x9c\x93", 14},
	        {"\xe5\xb1\xb1\xe7\x94\xb0", "with\0nul", 8},
	        {"", "no user name", 12},
	};
	unsigned char *sealed;
	size_t i, sealed_len, pw_len;
	char *pw;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(wsg_password_seal(key1, cases[i].user,
		                                   cases[i].pw, cases[i].len,
		                                   &sealed, &sealed_len),
		                 WSG_OK);
		assert_int_equal(sealed_len, 1 + 12 + cases[i].len + 16);
		assert_int_equal(sealed[0], 0x01);
		assert_false(contains(sealed, sealed_len, cases[i].pw,
		                      cases[i].len));
		assert_int_equal(wsg_password_unseal(key1, cases[i].user,
		                                     sealed, sealed_len, &pw,
		                                     &pw_len),
		                 WSG_OK);
		assert_int_equal(pw_len, cases[i].len);
		assert_memory_equal(pw, cases[i].pw, cases[i].len);
		assert_int_equal(pw[pw_len], '\0');
		wsg_mem_free_secret(pw, pw_len);
		free(sealed);
	}
}

static void
test_seal_differs(void **state)
{
	unsigned char *a, *b;
	size_t alen, blen;

	assert_int_equal(wsg_password_seal(key1, "alice", "pw", 2, &a, &alen),
	                 WSG_OK);
	assert_int_equal(wsg_password_seal(key1, "alice", "pw", 2, &b, &blen),
	                 WSG_OK);
	assert_int_equal(alen, blen);
	assert_memory_not_equal(a, b, alen);
	free(a);
	free(b);
}

/* Each case damages a fresh sealed copy; all must fail with WSG_ERR_CRYPTO. */
enum damage {
	DAMAGE_VERSION,
	DAMAGE_IV,
	DAMAGE_CIPHERTEXT,
	DAMAGE_TAG,
	DAMAGE_TRUNCATE,
	DAMAGE_EXTEND,
	DAMAGE_SHORT,
	DAMAGE_USER,
	DAMAGE_USER_PREFIX,
	DAMAGE_KEY,
};

static void
test_unseal_tampered(void **state)
{
	static const enum damage cases[] = {
	        DAMAGE_VERSION, DAMAGE_IV,       DAMAGE_CIPHERTEXT,
	        DAMAGE_TAG,     DAMAGE_TRUNCATE, DAMAGE_EXTEND,
	        DAMAGE_SHORT,   DAMAGE_USER,     DAMAGE_USER_PREFIX,
	        DAMAGE_KEY,
	};
	const unsigned char *key;
	const char *user;
	unsigned char *sealed, *in;
	size_t i, sealed_len, in_len, pw_len;
	char *pw;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(wsg_password_seal(key1, "alice", "hunter2", 7,
		                                   &sealed, &sealed_len),
		                 WSG_OK);
		in = wsg_mem_calloc(1, sealed_len + 1);
		memcpy(in, sealed, sealed_len);
		in_len = sealed_len;
		key = key1;
		user = "alice";
		switch (cases[i]) {
		case DAMAGE_VERSION: in[0] = 0x02; break;
		case DAMAGE_IV: in[1] ^= 0x01; break;
		case DAMAGE_CIPHERTEXT: in[13] ^= 0x80; break;
		case DAMAGE_TAG: in[in_len - 1] ^= 0x01; break;
		case DAMAGE_TRUNCATE: in_len--; break;
		case DAMAGE_EXTEND: in_len++; break;
		case DAMAGE_SHORT: in_len = 28; break;
		case DAMAGE_USER: user = "mallory"; break;
		case DAMAGE_USER_PREFIX: user = "alic"; break;
		case DAMAGE_KEY: key = key2; break;
		}
		pw = (char *)"untouched";
		pw_len = 99;
		assert_int_equal(wsg_password_unseal(key, user, in, in_len, &pw,
		                                     &pw_len),
		                 WSG_ERR_CRYPTO);
		assert_null(pw);
		assert_int_equal(pw_len, 0);
		free(in);
		free(sealed);
	}
}

/* ---- known answers: vectors made once outside this code ---- */

/*
 * A digest secret as a store holds it: "pässwörd€" for user "jörg", sealed
 * under the master key file below with a fixed IV by Python's
 * cryptography (AESGCM, AAD = 0x01 ‖ username), independently of
 * password.c. Every stored secret has this layout: if this stops opening,
 * a change of the seal or of the key file format would lock out every
 * PasswordDigest user.
 */
#define KAT_KEY_FILE                                                           \
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f\n"
#define KAT_USER "j\xc3\xb6rg"
#define KAT_PW "p\xc3\xa4ssw\xc3\xb6rd\xe2\x82\xac"
static const unsigned char kat_sealed[] =
        "\x01\x6b\x61\x74\x2d\x69\x76\x2d\x30\x30\x30\x30\x31\xec\x8b\xd5"
        "\xf8\x2e\x3e\x9d\x03\x4b\xa2\xf5\x4e\xb9\xb3\x93\x1a\x19\xb9\xc1"
        "\x30\x1a\xee\xb9\xc6\xa6\x23\x13\x0a\x18";

/* The key as the gateway reads it: through the master key file. */
static void
kat_key(unsigned char key[WSG_PASSWORD_KEY_LEN])
{
	char path[] = "/tmp/wsg-kat-key-XXXXXX";
	struct wsg_error err;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, KAT_KEY_FILE, strlen(KAT_KEY_FILE)),
	                 (ssize_t)strlen(KAT_KEY_FILE));
	close(fd);
	assert_int_equal(
	        wsg_keyfile_load(path, key, WSG_PASSWORD_KEY_LEN, &err),
	        WSG_OK);
	unlink(path);
}

static void
test_seal_known_answer(void **state)
{
	unsigned char key[WSG_PASSWORD_KEY_LEN];
	char *pw = NULL;
	size_t pw_len = 0;

	kat_key(key);
	assert_int_equal(wsg_password_unseal(key, KAT_USER, kat_sealed,
	                                     sizeof(kat_sealed) - 1, &pw,
	                                     &pw_len),
	                 WSG_OK);
	assert_int_equal(pw_len, strlen(KAT_PW));
	assert_memory_equal(pw, KAT_PW, pw_len);
	wsg_mem_free_secret(pw, pw_len);
	/* Bound to the name: the same bytes do not open for another user. */
	assert_int_equal(wsg_password_unseal(key, "jorg", kat_sealed,
	                                     sizeof(kat_sealed) - 1, &pw,
	                                     &pw_len),
	                 WSG_ERR_CRYPTO);
}

/*
 * argon2id hashes made by the reference `argon2` CLI (Debian package
 * argon2): one with the gateway's parameters, one with the CLI's defaults
 * (a store may hold hashes made with other parameters).
 */
static const struct {
	const char *encoded, *pw;
} cli_hashes[] = {
        {"$argon2id$v=19$m=19456,t=2,p=1$d3NzZ2F0ZS1rYXQtc2FsdA$ES/3WAqIUTrJ+"
         "sf4j3puAGUViLwHlOB3eAo2/rLs88I",
         KAT_PW},
        {"$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHRzYWx0$BvTPVB1hJ2jYOiWknFAf7"
         "Q19fTMd4GZbISAomzHTYMc",
         "pw"},
};

static void
test_argon2_cli_known_answer(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cli_hashes) / sizeof(cli_hashes[0]); i++) {
		assert_int_equal(wsg_password_verify(cli_hashes[i].encoded,
		                                     cli_hashes[i].pw,
		                                     strlen(cli_hashes[i].pw)),
		                 WSG_OK);
		assert_int_equal(
		        wsg_password_verify(cli_hashes[i].encoded, "pW", 2),
		        WSG_ERR_AUTH);
	}
}

/* What `argon2 SALT -id ...` prints for `pw` on its stdin, or NULL. */
static char *
argon2_cli(const char *salt, const char *params, const char *pw)
{
	char path[] = "/tmp/wsg-kat-pw-XXXXXX";
	char cmd[512], line[256];
	char *out = NULL;
	FILE *p;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, pw, strlen(pw)), (ssize_t)strlen(pw));
	close(fd);
	snprintf(cmd, sizeof(cmd), "argon2 '%s' -id %s -e < '%s'", salt, params,
	         path);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(line, sizeof(line), p) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		out = wsg_mem_strdup(line);
	}
	assert_int_equal(pclose(p), 0);
	unlink(path);
	return out;
}

/* A fresh hash from the reference CLI (fresh salt, the gateway's
 * parameters) verifies here; its committed twin above keeps the answer if
 * the CLI is gone. */
static void
test_argon2_cli_fresh(void **state)
{
	unsigned char raw[12];
	char salt[2 * sizeof(raw) + 1];
	char *enc;
	size_t i;
	FILE *r = fopen("/dev/urandom", "rb");

	assert_non_null(r);
	assert_int_equal(fread(raw, 1, sizeof(raw), r), sizeof(raw));
	fclose(r);
	for (i = 0; i < sizeof(raw); i++)
		snprintf(salt + 2 * i, 3, "%02x", raw[i]);
	enc = argon2_cli(salt, "-t 2 -k 19456 -p 1 -l 32", KAT_PW);
	assert_non_null(enc);
	assert_int_equal(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31),
	                 0);
	assert_int_equal(wsg_password_verify(enc, KAT_PW, strlen(KAT_PW)),
	                 WSG_OK);
	assert_int_equal(wsg_password_verify(enc, KAT_PW, strlen(KAT_PW) - 1),
	                 WSG_ERR_AUTH);
	free(enc);
	/* The CLI and the committed vector agree: same salt, same answer. */
	enc = argon2_cli("wssgate-kat-salt", "-t 2 -k 19456 -p 1 -l 32",
	                 KAT_PW);
	assert_non_null(enc);
	assert_string_equal(enc, cli_hashes[0].encoded);
	free(enc);
}

/* ---- the verification pool ---- */

#define NJOBS 6
#define MAX_JOBS 64

struct async_run {
	struct event_base *base;
	pthread_t loop_thread;
	int remaining;
	int calls[MAX_JOBS];
	int results[MAX_JOBS];
	int on_loop_thread[MAX_JOBS];
};

struct async_job {
	struct async_run *run;
	int idx;
};

static void
async_done_cb(int result, void *arg)
{
	struct async_job *j = arg;
	struct async_run *run = j->run;

	run->calls[j->idx]++;
	run->results[j->idx] = result;
	run->on_loop_thread[j->idx] =
	        pthread_equal(pthread_self(), run->loop_thread);
	if (--run->remaining == 0)
		event_base_loopbreak(run->base);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void
test_pool_verify(void **state)
{
	struct async_run run;
	struct async_job jobs[NJOBS];
	struct wsg_password_pool *pool;
	struct timeval limit = {60, 0};
	struct event *watchdog;
	char *enc = hash_of("letmein");
	static const struct {
		const char *pw;
		int use_dummy;
		int bad_hash;
		int want;
	} cases[NJOBS] = {
	        {"letmein", 0, 0, WSG_OK},
	        {"letmeout", 0, 0, WSG_ERR_AUTH},
	        {"letmein", 1, 0, WSG_ERR_AUTH},
	        {"letmein", 0, 1, WSG_ERR_PARSE},
	        {"", 0, 0, WSG_ERR_AUTH},
	        {"letmein", 0, 0, WSG_OK},
	};
	size_t i;

	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	assert_non_null(run.base);
	run.loop_thread = pthread_self();
	run.remaining = NJOBS;
	watchdog = evtimer_new(run.base, watchdog_cb, run.base);
	evtimer_add(watchdog, &limit);
	pool = wsg_password_pool_new(2);
	assert_non_null(pool);
	for (i = 0; i < NJOBS; i++) {
		const char *h = cases[i].use_dummy  ? wsg_password_dummy_hash()
		                : cases[i].bad_hash ? "$2b$10$notargon"
		                                    : enc;

		jobs[i].run = &run;
		jobs[i].idx = (int)i;
		assert_int_equal(wsg_password_verify_async(
		                         pool, run.base, h, cases[i].pw,
		                         strlen(cases[i].pw), NULL,
		                         async_done_cb, &jobs[i]),
		                 WSG_OK);
	}
	/* Nothing completes before the loop runs. */
	for (i = 0; i < NJOBS; i++)
		assert_int_equal(run.calls[i], 0);
	event_base_dispatch(run.base);
	assert_int_equal(run.remaining, 0);
	for (i = 0; i < NJOBS; i++) {
		assert_int_equal(run.calls[i], 1);
		assert_int_equal(run.results[i], cases[i].want);
		assert_true(run.on_loop_thread[i]);
	}
	wsg_password_pool_free(pool);
	event_free(watchdog);
	event_base_free(run.base);
	free(enc);
}

/* Freeing the pool finishes queued jobs; their completions run afterwards. */
static void
test_pool_free_with_queued_jobs(void **state)
{
	struct async_run run;
	struct async_job jobs[NJOBS];
	struct wsg_password_pool *pool;
	char *enc = hash_of("queued");
	size_t i;
	int rounds;

	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	assert_non_null(run.base);
	run.loop_thread = pthread_self();
	run.remaining = NJOBS;
	pool = wsg_password_pool_new(1);
	assert_non_null(pool);
	for (i = 0; i < NJOBS; i++) {
		jobs[i].run = &run;
		jobs[i].idx = (int)i;
		assert_int_equal(
		        wsg_password_verify_async(
		                pool, run.base, enc, i % 2 ? "nope" : "queued",
		                i % 2 ? 4 : 6, NULL, async_done_cb, &jobs[i]),
		        WSG_OK);
	}
	wsg_password_pool_free(pool);
	for (i = 0; i < NJOBS; i++)
		assert_int_equal(run.calls[i], 0);
	for (rounds = 0; run.remaining > 0 && rounds < 100; rounds++)
		event_base_loop(run.base, EVLOOP_NONBLOCK);
	assert_int_equal(run.remaining, 0);
	for (i = 0; i < NJOBS; i++) {
		assert_int_equal(run.calls[i], 1);
		assert_int_equal(run.results[i], i % 2 ? WSG_ERR_AUTH : WSG_OK);
		assert_true(run.on_loop_thread[i]);
	}
	event_base_free(run.base);
	free(enc);
}

/* Completions go to the base of the thread that submitted the job. */
struct loop_thread {
	struct wsg_password_pool *pool;
	const char *enc;
	int ok;
};

static void *
loop_thread_main(void *arg)
{
	struct loop_thread *lt = arg;
	struct async_run run;
	struct async_job jobs[2];
	struct timeval limit = {60, 0};
	struct event *watchdog;
	size_t i;

	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	run.loop_thread = pthread_self();
	run.remaining = 2;
	watchdog = evtimer_new(run.base, watchdog_cb, run.base);
	evtimer_add(watchdog, &limit);
	for (i = 0; i < 2; i++) {
		jobs[i].run = &run;
		jobs[i].idx = (int)i;
		if (wsg_password_verify_async(
		            lt->pool, run.base, lt->enc, i ? "wrong" : "shared",
		            i ? 5 : 6, NULL, async_done_cb, &jobs[i]) != WSG_OK)
			goto out;
	}
	event_base_dispatch(run.base);
	lt->ok = run.remaining == 0 && run.calls[0] == 1 && run.calls[1] == 1 &&
	         run.results[0] == WSG_OK && run.results[1] == WSG_ERR_AUTH &&
	         run.on_loop_thread[0] && run.on_loop_thread[1];
out:
	event_free(watchdog);
	event_base_free(run.base);
	return NULL;
}

static void
test_pool_several_bases(void **state)
{
	struct loop_thread lt[3];
	pthread_t t[3];
	struct wsg_password_pool *pool = wsg_password_pool_new(2);
	char *enc = hash_of("shared");
	size_t i;

	assert_non_null(pool);
	for (i = 0; i < 3; i++) {
		lt[i].pool = pool;
		lt[i].enc = enc;
		lt[i].ok = 0;
		assert_int_equal(
		        pthread_create(&t[i], NULL, loop_thread_main, &lt[i]),
		        0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_true(lt[i].ok);
	}
	wsg_password_pool_free(pool);
	free(enc);
}

/*
 * security.verify_queue (issue 12, item 12): at most max_per_client jobs of
 * one address and max_queued in all are queued or running; the next is
 * refused at once, before any argon2, and counted.
 */
static void
test_sec_verify_queue_bounded(void **state)
{
	struct async_run run;
	struct async_job jobs[NJOBS];
	struct wsg_password_pool *pool;
	struct wsg_password_pool_stats st;
	struct wsg_password_client a = {
	        .addr = "192.0.2.1", .max_queued = 3, .max_per_client = 2};
	struct wsg_password_client b = a, c = a;
	char *enc = hash_of("bounded");
	struct timeval limit = {60, 0};
	struct event *watchdog;
	int i;

	b.addr = "192.0.2.2";
	c.addr = "192.0.2.3";
	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	run.loop_thread = pthread_self();
	run.remaining = 3;
	watchdog = evtimer_new(run.base, watchdog_cb, run.base);
	evtimer_add(watchdog, &limit);
	pool = wsg_password_pool_new(1);
	assert_non_null(pool);
	for (i = 0; i < NJOBS; i++) {
		jobs[i].run = &run;
		jobs[i].idx = i;
	}
	/*
	 * argon2 takes far longer than these calls: nothing ends meanwhile.
	 * Different passwords, so none joins another (identical ones would).
	 */
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc, "x", 1,
	                                           &a, async_done_cb, &jobs[0]),
	                 WSG_OK);
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc, "y", 1,
	                                           &a, async_done_cb, &jobs[1]),
	                 WSG_OK);
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc, "z", 1,
	                                           &a, async_done_cb, &jobs[5]),
	                 WSG_ERR_LIMIT);
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc, "x", 1,
	                                           &b, async_done_cb, &jobs[2]),
	                 WSG_OK);
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc, "x", 1,
	                                           &c, async_done_cb, &jobs[5]),
	                 WSG_ERR_FULL);
	wsg_password_pool_stats(pool, &st);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.refused_client, 1);
	assert_int_equal(st.refused_full, 1);
	event_base_dispatch(run.base);
	assert_int_equal(run.remaining, 0);
	assert_int_equal(run.calls[5], 0);
	wsg_password_pool_stats(pool, &st);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.runs, 3);
	/* Room again once the jobs ended. */
	run.remaining = 1;
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc,
	                                           "bounded", 7, &a,
	                                           async_done_cb, &jobs[3]),
	                 WSG_OK);
	event_base_dispatch(run.base);
	assert_int_equal(run.results[3], WSG_OK);
	wsg_password_pool_free(pool);
	event_free(watchdog);
	event_base_free(run.base);
	free(enc);
}

/*
 * A hash job (issue 13, item 8): its callback runs once, on the base's
 * thread, with a hash that verifies; it counts against max_queued and is
 * never joined with a verification of the same password.
 */
struct hash_run {
	struct event_base *base;
	pthread_t loop_thread;
	int calls, result, on_loop_thread, remaining;
	char *encoded;
};

static void
hash_done_cb(int result, char *encoded, void *arg)
{
	struct hash_run *run = arg;

	run->calls++;
	run->result = result;
	run->encoded = encoded;
	run->on_loop_thread = pthread_equal(pthread_self(), run->loop_thread);
	if (--run->remaining == 0)
		event_base_loopbreak(run->base);
}

static void
verify_done_cb(int result, void *arg)
{
	struct hash_run *run = arg;

	assert_int_equal(result, WSG_OK);
	if (--run->remaining == 0)
		event_base_loopbreak(run->base);
}

static void
test_sec_mgmt_hashing_off_thread(void **state)
{
	struct hash_run run;
	struct wsg_password_pool *pool;
	struct wsg_password_pool_stats st;
	struct wsg_password_client who = {
	        .addr = "192.0.2.9", .max_queued = 2, .max_per_client = 8};
	char *enc = hash_of("new-secret");
	struct timeval limit = {60, 0};
	struct event *watchdog;

	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	run.loop_thread = pthread_self();
	run.remaining = 2;
	watchdog = evtimer_new(run.base, watchdog_cb, run.base);
	evtimer_add(watchdog, &limit);
	pool = wsg_password_pool_new(1);
	assert_non_null(pool);
	assert_int_equal(wsg_password_hash_async(pool, run.base, "new-secret",
	                                         10, &who, hash_done_cb, &run),
	                 WSG_OK);
	/* Same password and address: a verification is not joined to it. */
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc,
	                                           "new-secret", 10, &who,
	                                           verify_done_cb, &run),
	                 WSG_OK);
	assert_int_equal(wsg_password_hash_async(pool, run.base, "other", 5,
	                                         &who, hash_done_cb, &run),
	                 WSG_ERR_FULL);
	assert_int_equal(run.calls, 0);
	event_base_dispatch(run.base);
	assert_int_equal(run.remaining, 0);
	assert_int_equal(run.calls, 1);
	assert_true(run.on_loop_thread);
	assert_int_equal(run.result, WSG_OK);
	assert_non_null(run.encoded);
	assert_int_equal(wsg_password_verify(run.encoded, "new-secret", 10),
	                 WSG_OK);
	assert_int_equal(wsg_password_verify(run.encoded, "new-secreT", 10),
	                 WSG_ERR_AUTH);
	wsg_password_pool_stats(pool, &st);
	assert_int_equal(st.coalesced, 0);
	assert_int_equal(st.runs, 1);
	assert_int_equal(st.hashes, 1);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.refused_full, 1);
	free(run.encoded);
	wsg_password_pool_free(pool);
	event_free(watchdog);
	event_base_free(run.base);
	free(enc);
}

/* A job of an address locked by client_limit is dropped unrun. */
static void
test_sec_verify_queue_drops_locked(void **state)
{
	struct wsg_lockout_conf limit = {1, 60, 60, 64, NULL, 0};
	struct wsg_lockout *l = wsg_lockout_new(64, 64);
	struct wsg_password_client who = {
	        .addr = "192.0.2.9",
	        .max_queued = 8,
	        .max_per_client = 8,
	        .lockout = l,
	        .client_limit = &limit,
	};
	struct wsg_password_pool_stats st;
	struct wsg_password_pool *pool;
	struct async_run run;
	struct async_job job = {&run, 0};
	char *enc = hash_of("dropped");
	struct timeval tmo = {60, 0};
	struct event *watchdog;

	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	run.loop_thread = pthread_self();
	run.remaining = 1;
	watchdog = evtimer_new(run.base, watchdog_cb, run.base);
	evtimer_add(watchdog, &tmo);
	pool = wsg_password_pool_new(1);
	assert_int_equal(wsg_lockout_fail(l, WSG_LOCKOUT_CLIENT, &limit,
	                                  who.addr, strlen(who.addr),
	                                  wsg_lockout_now_ms()),
	                 WSG_LOCKOUT_STARTED);
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc,
	                                           "dropped", 7, &who,
	                                           async_done_cb, &job),
	                 WSG_OK);
	event_base_dispatch(run.base);
	assert_int_equal(run.calls[0], 1);
	assert_int_equal(run.results[0], WSG_ERR_LIMIT);
	wsg_password_pool_stats(pool, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.runs, 0);
	assert_int_equal(st.queued, 0);
	wsg_password_pool_free(pool);
	wsg_lockout_free(l);
	event_free(watchdog);
	event_base_free(run.base);
	free(enc);
}

/*
 * Single flight (issue 12, verify_queue follow-up): requests identical in
 * address, user, hash and password join the job queued or running: one
 * argon2 run, no queue slot of their own, every callback once with the
 * result on its base. Anything different is a job of its own: another
 * password, user (so unknown names sharing the dummy hash never join) or
 * address.
 */
#define SAME 20

static void
test_sec_verify_queue_coalesce(void **state)
{
	struct async_run run;
	struct async_job jobs[MAX_JOBS];
	struct wsg_password_pool *pool;
	struct wsg_password_pool_stats st;
	struct wsg_password_client a = {
	        .addr = "192.0.2.20",
	        .max_queued = 8,
	        .max_per_client = 3,
	        .user = "alice",
	        .user_len = 5,
	};
	struct wsg_password_client bob = a, other_addr = a, g1 = a, g2 = a;
	char *enc = hash_of("right");
	const char *dummy = wsg_password_dummy_hash();
	struct timeval limit = {60, 0};
	struct event *watchdog;
	int i, n = 0;

	bob.user = "bob";
	bob.user_len = 3;
	other_addr.addr = "192.0.2.21";
	g1.addr = g2.addr = "192.0.2.22";
	g1.user = "ghost1";
	g2.user = "ghost2";
	g1.user_len = g2.user_len = 6;
	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	run.loop_thread = pthread_self();
	watchdog = evtimer_new(run.base, watchdog_cb, run.base);
	evtimer_add(watchdog, &limit);
	pool = wsg_password_pool_new(1);
	assert_non_null(pool);
	for (i = 0; i < MAX_JOBS; i++) {
		jobs[i].run = &run;
		jobs[i].idx = i;
	}
	/* 2 * SAME identical requests of one address, over max_per_client. */
	for (i = 0; i < 2 * SAME; i++, n++)
		assert_int_equal(wsg_password_verify_async(
		                         pool, run.base, enc,
		                         i < SAME ? "right" : "wrong", 5, &a,
		                         async_done_cb, &jobs[n]),
		                 WSG_OK);
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc, "right",
	                                           5, &bob, async_done_cb,
	                                           &jobs[n++]),
	                 WSG_OK);
	/* Three jobs of 192.0.2.20 now: a new password is refused. */
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc, "other",
	                                           5, &a, async_done_cb,
	                                           &jobs[n]),
	                 WSG_ERR_LIMIT);
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc, "right",
	                                           5, &other_addr,
	                                           async_done_cb, &jobs[n++]),
	                 WSG_OK);
	assert_int_equal(wsg_password_verify_async(pool, run.base, dummy,
	                                           "right", 5, &g1,
	                                           async_done_cb, &jobs[n++]),
	                 WSG_OK);
	assert_int_equal(wsg_password_verify_async(pool, run.base, dummy,
	                                           "right", 5, &g2,
	                                           async_done_cb, &jobs[n++]),
	                 WSG_OK);
	wsg_password_pool_stats(pool, &st);
	assert_int_equal(st.queued, 6);
	assert_int_equal(st.coalesced, 2 * SAME - 2);
	assert_int_equal(st.refused_client, 1);
	run.remaining = n;
	event_base_dispatch(run.base);
	assert_int_equal(run.remaining, 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(run.calls[i], 1);
		assert_true(run.on_loop_thread[i]);
		assert_int_equal(run.results[i],
		                 i < SAME || i == 2 * SAME || i == 2 * SAME + 1
		                         ? WSG_OK
		                         : WSG_ERR_AUTH);
	}
	wsg_password_pool_stats(pool, &st);
	assert_int_equal(st.runs, 6);
	assert_int_equal(st.queued, 0);
	/* A finished job is not joined: the same request runs again. */
	run.remaining = 1;
	assert_int_equal(wsg_password_verify_async(pool, run.base, enc, "right",
	                                           5, &a, async_done_cb,
	                                           &jobs[0]),
	                 WSG_OK);
	event_base_dispatch(run.base);
	assert_int_equal(run.calls[0], 2);
	assert_int_equal(run.results[0], WSG_OK);
	wsg_password_pool_stats(pool, &st);
	assert_int_equal(st.runs, 7);
	assert_int_equal(st.coalesced, 2 * SAME - 2);
	wsg_password_pool_free(pool);
	event_free(watchdog);
	event_base_free(run.base);
	free(enc);
}

/*
 * A job dropped because its address got locked drops only its own waiters:
 * they all share the address. The same request from another address is a
 * job of its own and runs.
 */
static void
test_sec_verify_queue_coalesce_drop(void **state)
{
	struct wsg_lockout_conf limit = {1, 60, 60, 64, NULL, 0};
	struct wsg_lockout *l = wsg_lockout_new(64, 64);
	struct wsg_password_client locked = {
	        .addr = "192.0.2.30",
	        .max_queued = 8,
	        .max_per_client = 8,
	        .lockout = l,
	        .client_limit = &limit,
	        .user = "alice",
	        .user_len = 5,
	};
	struct wsg_password_client fine = locked;
	struct wsg_password_pool_stats st;
	struct wsg_password_pool *pool;
	struct async_run run;
	struct async_job jobs[4];
	char *enc = hash_of("dropped");
	struct timeval tmo = {60, 0};
	struct event *watchdog;
	int i;

	fine.addr = "192.0.2.31";
	memset(&run, 0, sizeof(run));
	run.base = event_base_new();
	run.loop_thread = pthread_self();
	run.remaining = 4;
	watchdog = evtimer_new(run.base, watchdog_cb, run.base);
	evtimer_add(watchdog, &tmo);
	pool = wsg_password_pool_new(1);
	assert_int_equal(wsg_lockout_fail(l, WSG_LOCKOUT_CLIENT, &limit,
	                                  locked.addr, strlen(locked.addr),
	                                  wsg_lockout_now_ms()),
	                 WSG_LOCKOUT_STARTED);
	for (i = 0; i < 4; i++) {
		jobs[i].run = &run;
		jobs[i].idx = i;
		assert_int_equal(wsg_password_verify_async(
		                         pool, run.base, enc, "dropped", 7,
		                         i < 2 ? &locked : &fine, async_done_cb,
		                         &jobs[i]),
		                 WSG_OK);
	}
	event_base_dispatch(run.base);
	for (i = 0; i < 4; i++) {
		assert_int_equal(run.calls[i], 1);
		assert_int_equal(run.results[i],
		                 i < 2 ? WSG_ERR_LIMIT : WSG_OK);
	}
	wsg_password_pool_stats(pool, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.runs, 1);
	assert_int_equal(st.coalesced, 2);
	wsg_password_pool_free(pool);
	wsg_lockout_free(l);
	event_free(watchdog);
	event_base_free(run.base);
	free(enc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hash_verify),
	        cmocka_unit_test(test_hash_salted),
	        cmocka_unit_test(test_hash_empty_password),
	        cmocka_unit_test(test_verify_not_argon2id),
	        cmocka_unit_test(test_dummy_hash),
	        cmocka_unit_test(test_seal_round_trip),
	        cmocka_unit_test(test_seal_differs),
	        cmocka_unit_test(test_unseal_tampered),
	        cmocka_unit_test(test_seal_known_answer),
	        cmocka_unit_test(test_argon2_cli_known_answer),
	        cmocka_unit_test(test_argon2_cli_fresh),
	        cmocka_unit_test(test_pool_verify),
	        cmocka_unit_test(test_pool_free_with_queued_jobs),
	        cmocka_unit_test(test_pool_several_bases),
	        cmocka_unit_test(test_sec_verify_queue_bounded),
	        cmocka_unit_test(test_sec_verify_queue_drops_locked),
	        cmocka_unit_test(test_sec_verify_queue_coalesce),
	        cmocka_unit_test(test_sec_verify_queue_coalesce_drop),
	        cmocka_unit_test(test_sec_mgmt_hashing_off_thread),
	};

	/* Completions cross threads through event_active(): bases need locks.
	 */
	if (evthread_use_pthreads() != 0)
		return 1;
	return cmocka_run_group_tests_name("password", tests, NULL, NULL);
}
