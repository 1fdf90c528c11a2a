/*
 * Passwords at rest: argon2id hashes (PasswordText and logins), AES-256-GCM
 * sealing of the clear password for PasswordDigest users, and a small
 * thread pool so argon2 never runs on an event thread.
 */
#ifndef WSG_PASSWORD_H
#define WSG_PASSWORD_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "lockout.h"
#include "types.h"

#define WSG_PASSWORD_KEY_LEN 32

/* Hashes with argon2id (PHC string). `*encoded` is malloc'ed; caller frees. */
int wsg_password_hash(const char *pw, size_t len, char **encoded);

/* WSG_OK if `pw` matches `encoded`, WSG_ERR_AUTH if not, WSG_ERR_PARSE if
 * `encoded` is not an argon2id string. Takes the full argon2 time. */
int wsg_password_verify(const char *encoded, const char *pw, size_t len);

/*
 * A valid argon2id hash of a random password, made once at start, so an
 * unknown user costs the same as a wrong password. Static storage.
 */
const char *wsg_password_dummy_hash(void);

/*
 * Seals `pw` under `key` with AES-256-GCM, binding it to `username` as
 * additional data (a sealed secret copied to another row will not open).
 * Output: version byte, 12-byte IV, ciphertext, 16-byte tag. `*out`
 * malloc'ed; caller frees.
 */
int wsg_password_seal(const unsigned char key[WSG_PASSWORD_KEY_LEN],
                      const char *username, const char *pw, size_t len,
                      unsigned char **out, size_t *out_len);

/* Reverses wsg_password_seal(). `*pw` is malloc'ed and NUL-terminated;
 * caller frees with wsg_mem_free_secret(). WSG_ERR_CRYPTO if tampered. */
int wsg_password_unseal(const unsigned char key[WSG_PASSWORD_KEY_LEN],
                        const char *username, const unsigned char *in,
                        size_t in_len, char **pw, size_t *pw_len);

/* The verification pool. */
struct wsg_password_pool;

/* Starts `threads` (>= 1) verifier threads. */
struct wsg_password_pool *wsg_password_pool_new(unsigned threads);
/* Stops the threads after the queued jobs finish; completions still fire. */
void wsg_password_pool_free(struct wsg_password_pool *p);

/* `result` is what wsg_password_verify() returned, or WSG_ERR_LIMIT when
 * the job was dropped unrun. Runs on `base`'s thread. */
typedef void (*wsg_password_done_cb)(int result, void *arg);

/*
 * Who asks, for the bounds of security.verify_queue: a job is refused when
 * `max_queued` jobs are queued or running in all, or `max_per_client` of
 * `addr`; and it is dropped unrun (result WSG_ERR_LIMIT) when `addr` is
 * locked under `client_limit` by the time a verifier takes it. `addr` and
 * `user` are part of the key under which identical verifications are
 * joined (see wsg_password_verify_async()).
 */
struct wsg_password_client {
	const char *addr; /* peer address as text */
	unsigned max_queued;
	unsigned max_per_client;
	struct wsg_lockout *lockout; /* NULL: jobs are never dropped */
	const struct wsg_lockout_conf *client_limit; /* copied */
	const char *user; /* the claimed name, NULL: none */
	size_t user_len;
};

/*
 * Queues an argon2 verification; copies `encoded` and `pw` (wiped after
 * use). `who` may be NULL (unbounded, never dropped). `done` is called
 * exactly once, from `base`'s loop (libevent must be set up with
 * evthread_use_pthreads()), unless this returns an error: WSG_ERR_FULL
 * (max_queued reached), WSG_ERR_LIMIT (max_per_client reached for
 * who->addr) or WSG_ERR_NOMEM. A request identical (address, user,
 * `encoded`, `pw`) to a job queued or running joins it instead: no argon2
 * run and no queue slot of its own, never refused, same result.
 */
int wsg_password_verify_async(struct wsg_password_pool *p,
                              struct event_base *base, const char *encoded,
                              const char *pw, size_t len,
                              const struct wsg_password_client *who,
                              wsg_password_done_cb done, void *arg);

/* `encoded` (NULL unless result is WSG_OK) belongs to the callee. Runs on
 * `base`'s thread. */
typedef void (*wsg_password_hash_cb)(int result, char *encoded, void *arg);

/*
 * Queues an argon2id hash of `pw` (copied, wiped after use), so a new
 * password costs no event thread its argon2 time. Bounded by `who` as
 * verifications are (same errors) and never joined with any other job;
 * never dropped (who->lockout is not used). `done` is called exactly once
 * unless this returns an error.
 */
int wsg_password_hash_async(struct wsg_password_pool *p,
                            struct event_base *base, const char *pw, size_t len,
                            const struct wsg_password_client *who,
                            wsg_password_hash_cb done, void *arg);

/* Counters since start and the queue now, for /metrics and tests. */
struct wsg_password_pool_stats {
	uint64_t runs;           /* argon2 verifications done */
	uint64_t hashes;         /* argon2 hashes done */
	uint64_t refused_full;   /* refused: max_queued reached */
	uint64_t refused_client; /* refused: max_per_client reached */
	uint64_t dropped;        /* dropped unrun: the address was locked */
	uint64_t coalesced;      /* requests that joined an identical job */
	uint64_t queued;         /* queued or running now */
};

/* Takes the pool's lock. A NULL pool has all zeros. */
void wsg_password_pool_stats(struct wsg_password_pool *p,
                             struct wsg_password_pool_stats *out);

#endif
