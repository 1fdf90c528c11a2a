/*
 * bench/validate's in-process driver: parses and validates pre-generated
 * requests through libwssgate.a exactly as the data plane does for a cached
 * user, without network or database, on the calling thread (one core).
 *
 *   validate-driver FILE USERS [--forward] [--repeat N]
 *
 * FILE holds one envelope per line (bench/gen-requests); USERS is how many
 * bench-user-I / bench-secret-I users it was generated for. Per message:
 * wsg_soap_parse, wsg_soap_check_next_headers, wsg_wsse_parse,
 * wsg_wsse_check_freshness, the user's entry from the credential cache,
 * wsg_wsse_verify (PasswordDigest recomputed; PasswordText through the
 * verified-password MAC, as for a cached user) and the replay cache's
 * check-and-insert. --forward adds what the gateway does before forwarding:
 * the role-next blocks and the Security header removed, the envelope
 * written out. Every message must pass, else it exits 1. One untimed pass
 * warms the allocator and caches up, then N (default 1) timed passes, each
 * with an empty replay cache (a second pass would be replays).
 *
 * Prints one line per timed pass: "messages=N seconds=S per_second=R".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "credcache.h"
#include "err.h"
#include "mem.h"
#include "replay.h"
#include "soap.h"
#include "types.h"
#include "wsse.h"

struct line {
	char *p;
	size_t len;
};

static struct line *
read_lines(const char *path, size_t *n)
{
	struct line *lines = NULL;
	size_t cap = 0, count = 0;
	char *buf = NULL;
	size_t bufcap = 0;
	ssize_t len;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	while ((len = getline(&buf, &bufcap, f)) > 0) {
		while (len > 0 &&
		       (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 1024;
			lines = wsg_mem_realloc(lines, cap * sizeof(*lines));
		}
		lines[count].p = wsg_mem_strndup(buf, (size_t)len);
		lines[count].len = (size_t)len;
		count++;
	}
	free(buf);
	fclose(f);
	*n = count;
	return lines;
}

static struct wsg_time
now_of(void)
{
	struct timespec ts;
	struct wsg_time t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t.sec = ts.tv_sec;
	t.nsec = (int32_t)ts.tv_nsec;
	return t;
}

/* The gateway's per-message work for a cached user; WSG_OK when it passes. */
static int
validate(const struct line *l, struct wsg_credcache *cc,
         struct wsg_replay *replay, const struct wsg_wsse_policy *policy,
         int forward, struct wsg_error *err)
{
	struct wsg_soap_msg msg;
	struct wsg_wsse_token tok;
	struct wsg_cred cred;
	struct wsg_time now = now_of();
	char *out = NULL;
	size_t out_len;
	int rc;

	memset(&tok, 0, sizeof(tok));
	memset(&cred, 0, sizeof(cred));
	rc = wsg_soap_parse(l->p, l->len, NULL, &msg, err);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_soap_check_next_headers(&msg, err);
	if (rc != WSG_OK)
		goto out;
	rc = wsg_wsse_parse(&msg, policy, &tok, err);
	if (rc != WSG_OK)
		goto out;
	rc = wsg_wsse_check_freshness(&tok, policy, now, err);
	if (rc != WSG_OK)
		goto out;
	rc = wsg_credcache_get(cc, tok.username, now.sec, &cred);
	if (rc != WSG_OK)
		goto out;
	if (tok.pwtype == WSG_PWTYPE_DIGEST)
		rc = wsg_wsse_verify(&tok, cred.digest_password,
		                     cred.digest_password_len);
	else
		rc = wsg_credcache_check_verified(cc, tok.username,
		                                  tok.password,
		                                  tok.password_len, now.sec);
	if (rc != WSG_OK)
		goto out;
	rc = wsg_replay_insert(replay, tok.nonce, tok.nonce_len,
	                       wsg_wsse_nonce_expiry(&tok, policy, now),
	                       now.sec);
	if (rc != WSG_OK || !forward)
		goto out;
	wsg_soap_remove_next_headers(&msg);
	xmlUnlinkNode(tok.security);
	xmlFreeNode(tok.security);
	tok.security = NULL;
	rc = wsg_soap_serialize(&msg, &out, &out_len);
out:
	free(out);
	wsg_credcache_entry_clear(&cred);
	wsg_wsse_token_clear(&tok);
	wsg_soap_msg_free(&msg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct wsg_wsse_policy policy = {0, 0, 300, 60, 300, 0};
	struct wsg_credcache *cc;
	struct wsg_replay *replay;
	struct wsg_error err;
	struct timespec t0, t1;
	struct line *lines;
	size_t n, i, users;
	int forward = 0, repeat = 1, r, a;
	double secs;

	if (argc < 3) {
		fprintf(stderr,
		        "usage: %s FILE USERS [--forward] [--repeat N]\n",
		        argv[0]);
		return 2;
	}
	for (a = 3; a < argc; a++) {
		if (strcmp(argv[a], "--forward") == 0)
			forward = 1;
		else if (strcmp(argv[a], "--repeat") == 0 && a + 1 < argc)
			repeat = atoi(argv[++a]);
	}
	wsg_soap_global_init();
	lines = read_lines(argv[1], &n);
	users = strtoul(argv[2], NULL, 10);
	cc = wsg_credcache_new(16 * users + 1024, 3600);
	/* Repeats would be replays: each round gets an empty replay cache. */
	replay = NULL;
	for (i = 0; i < users; i++) {
		struct wsg_cred c;
		char name[64], *pw = wsg_mem_printf("bench-secret-%zu", i);

		snprintf(name, sizeof(name), "bench-user-%zu", i);
		memset(&c, 0, sizeof(c));
		c.exists = 1;
		c.password_hash = "unused: the verified-password MAC decides";
		c.digest_password = pw;
		c.digest_password_len = strlen(pw);
		c.roles = "echo-users";
		wsg_credcache_put(cc, name, &c, now_of().sec,
		                  wsg_credcache_generation(cc, name));
		wsg_credcache_mark_verified(cc, name, c.password_hash, pw,
		                            strlen(pw));
		free(pw);
	}
	for (r = -1; r < repeat; r++) {
		wsg_replay_free(replay);
		replay = wsg_replay_new(n + 16);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < n; i++) {
			memset(&err, 0, sizeof(err));
			if (validate(&lines[i], cc, replay, &policy, forward,
			             &err) != WSG_OK) {
				fprintf(stderr, "message %zu refused: %s\n", i,
				        err.reason);
				return 1;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (r < 0)
			continue;
		secs = (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("messages=%zu seconds=%.3f per_second=%.0f\n", n, secs,
		       (double)n / secs);
	}
	wsg_replay_free(replay);
	wsg_credcache_free(cc);
	for (i = 0; i < n; i++)
		free(lines[i].p);
	free(lines);
	wsg_soap_global_cleanup();
	return 0;
}
