/*
 * Credential cache shared by all workers: looked-up users (and unknown
 * names, so they cost the same as known ones) for `cache_ttl` seconds, and
 * passwords already verified by argon2, so a repeated valid user costs no
 * database query and no argon2 run. Sharded, each shard locked.
 */
#ifndef WSG_CREDCACHE_H
#define WSG_CREDCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* A copy of one cached entry; free with wsg_credcache_entry_clear(). */
struct wsg_cred {
	int exists; /* 0: the name is known not to exist */
	int disabled;
	char *password_hash;   /* argon2id; NULL when !exists */
	char *digest_password; /* clear password for digests; NULL if none */
	size_t digest_password_len;
	int digest_unopened; /* a sealed secret the master key did not open */
	char *roles;         /* ',' separated; "" for none */
	int64_t unlocked_at; /* users.unlocked_at (unlock.h) */
	/* The store's one name for the account when it matches other
	 * spellings than its own (LDAP: wsg_ldapstore_entry_name()); NULL:
	 * the name as looked up. */
	char *name;
};

void wsg_credcache_entry_clear(struct wsg_cred *c);

struct wsg_credcache;

/* At most `max_entries` users; older entries are evicted when full. */
struct wsg_credcache *wsg_credcache_new(size_t max_entries, int64_t ttl);
void wsg_credcache_free(struct wsg_credcache *cc);

/* Copies a live entry into `out`: WSG_OK, or WSG_ERR_NOTFOUND (absent/expired).
 */
int wsg_credcache_get(struct wsg_credcache *cc, const char *username,
                      int64_t now, struct wsg_cred *out);

/*
 * The invalidation generation covering `username`: read it before looking
 * the user up in the store and pass it to wsg_credcache_put(), so a row
 * read before a change is not cached after the change invalidated it.
 */
uint64_t wsg_credcache_generation(struct wsg_credcache *cc,
                                  const char *username);

/*
 * Stores a copy of `c` for `username`, replacing any entry; TTL from now.
 * Dropped when the user was invalidated since `generation` was read. A
 * verified password (wsg_credcache_mark_verified()) of the replaced entry,
 * live or expired, stays verified when `c` has the same password hash; an
 * invalidated entry is gone and leaves nothing behind.
 */
void wsg_credcache_put(struct wsg_credcache *cc, const char *username,
                       const struct wsg_cred *c, int64_t now,
                       uint64_t generation);

/*
 * Remembers that `pw` verified against `password_hash` for `username`
 * (a keyed MAC, not the password). Ignored unless the live entry still
 * holds that hash, so a verification that raced a password change cannot
 * mark the new entry with the old password.
 */
void wsg_credcache_mark_verified(struct wsg_credcache *cc, const char *username,
                                 const char *password_hash, const char *pw,
                                 size_t len);

/* WSG_OK if `pw` was verified for the live entry of `username`, else
 * WSG_ERR_NOTFOUND. */
int wsg_credcache_check_verified(struct wsg_credcache *cc, const char *username,
                                 const char *pw, size_t len, int64_t now);

/* Drops one user (all entries when username is NULL). */
void wsg_credcache_invalidate(struct wsg_credcache *cc, const char *username);

#endif
