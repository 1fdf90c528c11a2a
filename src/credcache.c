#include "credcache.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "siphash.h"

#define SHARD_BITS 4
#define SHARDS (1u << SHARD_BITS)
#define MIN_BUCKETS 8
#define MAC_LEN 32 /* HMAC-SHA256 */

struct entry {
	struct entry *hnext;         /* bucket chain */
	struct entry *older, *newer; /* store order, for eviction */
	uint64_t hash;
	char *username;
	int64_t expires_at;
	struct wsg_cred cred;
	int verified;
	unsigned char mac[MAC_LEN]; /* HMAC of the verified password */
};

/* Long-expired entries freed by one put, at most: bounds the time locked. */
#define RECLAIM_PER_PUT 8

struct shard {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t mask; /* buckets - 1; a power of two */
	struct entry *oldest, *newest;
	size_t count;
	uint64_t generation; /* bumped by every invalidation of this shard */
};

/*
 * Unknown names are cached too, so attackers choose keys: buckets come from
 * a keyed SipHash. Verified passwords are kept only as an HMAC under a key
 * that never leaves this process.
 */
struct wsg_credcache {
	int64_t ttl;
	size_t shard_max;
	EVP_MAC *hmac;
	uint64_t hash_k0, hash_k1;
	unsigned char mac_key[32];
	struct shard shards[SHARDS];
};

void
wsg_credcache_entry_clear(struct wsg_cred *c)
{
	if (c == NULL)
		return;
	free(c->password_hash);
	wsg_mem_free_secret(c->digest_password, c->digest_password_len);
	free(c->roles);
	free(c->name);
	memset(c, 0, sizeof(*c));
}

static void
cred_copy(struct wsg_cred *dst, const struct wsg_cred *src)
{
	dst->exists = src->exists;
	dst->disabled = src->disabled;
	dst->password_hash = src->password_hash != NULL
	                             ? wsg_mem_strdup(src->password_hash)
	                             : NULL;
	dst->digest_password =
	        src->digest_password != NULL
	                ? wsg_mem_strndup(src->digest_password,
	                                  src->digest_password_len)
	                : NULL;
	dst->digest_password_len =
	        src->digest_password != NULL ? src->digest_password_len : 0;
	dst->digest_unopened = src->digest_unopened;
	dst->roles = src->roles != NULL ? wsg_mem_strdup(src->roles) : NULL;
	dst->unlocked_at = src->unlocked_at;
	dst->name = src->name != NULL ? wsg_mem_strdup(src->name) : NULL;
}

static void
entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	wsg_credcache_entry_clear(&e->cred);
	OPENSSL_cleanse(e->mac, sizeof(e->mac));
	free(e->username);
	free(e);
}

/* No construction without a working RNG and MACs, like out of memory. */
static void
fatal(const char *what)
{
	fprintf(stderr, "wssgate: credential cache: %s\n", what);
	abort();
}

struct wsg_credcache *
wsg_credcache_new(size_t max_entries, int64_t ttl)
{
	struct wsg_credcache *cc;
	size_t i, nbuckets = MIN_BUCKETS;

	cc = wsg_mem_calloc(1, sizeof(*cc));
	cc->ttl = ttl;
	cc->shard_max = (max_entries + SHARDS - 1) / SHARDS;
	if (RAND_bytes((unsigned char *)&cc->hash_k0, sizeof(cc->hash_k0)) !=
	            1 ||
	    RAND_bytes((unsigned char *)&cc->hash_k1, sizeof(cc->hash_k1)) !=
	            1 ||
	    RAND_bytes(cc->mac_key, sizeof(cc->mac_key)) != 1)
		fatal("no randomness for the keys");
	if ((cc->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		fatal("OpenSSL lacks HMAC");
	/* Chains stay short: at least one bucket per entry. */
	while (nbuckets < cc->shard_max)
		nbuckets *= 2;
	for (i = 0; i < SHARDS; i++) {
		struct shard *s = &cc->shards[i];

		pthread_mutex_init(&s->lock, NULL);
		s->buckets = wsg_mem_calloc(nbuckets, sizeof(*s->buckets));
		s->mask = nbuckets - 1;
	}
	return cc;
}

void
wsg_credcache_free(struct wsg_credcache *cc)
{
	struct entry *e, *next;
	size_t i;

	if (cc == NULL)
		return;
	for (i = 0; i < SHARDS; i++) {
		struct shard *s = &cc->shards[i];

		for (e = s->oldest; e != NULL; e = next) {
			next = e->newer;
			entry_free(e);
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	EVP_MAC_free(cc->hmac);
	OPENSSL_cleanse(&cc->hash_k0, sizeof(cc->hash_k0));
	OPENSSL_cleanse(&cc->hash_k1, sizeof(cc->hash_k1));
	OPENSSL_cleanse(cc->mac_key, sizeof(cc->mac_key));
	free(cc);
}

static int
mac_compute(EVP_MAC *alg, const unsigned char *key, size_t key_len,
            const OSSL_PARAM *params, const void *data, size_t len,
            unsigned char *out, size_t out_len)
{
	EVP_MAC_CTX *ctx;
	size_t n = 0;
	int ok;

	if ((ctx = EVP_MAC_CTX_new(alg)) == NULL)
		return -1;
	ok = EVP_MAC_init(ctx, key, key_len, params) == 1 &&
	     EVP_MAC_update(ctx, data, len) == 1 &&
	     EVP_MAC_final(ctx, out, &n, out_len) == 1 && n == out_len;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Inline SipHash: OpenSSL's MAC context per look-up cost ten times more. */
static uint64_t
name_hash(const struct wsg_credcache *cc, const char *username)
{
	return wsg_siphash24(cc->hash_k0, cc->hash_k1, username,
	                     strlen(username));
}

static int
password_mac(const struct wsg_credcache *cc, const char *pw, size_t len,
             unsigned char out[MAC_LEN])
{
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	                                         (char *)"SHA256", 0),
	        OSSL_PARAM_construct_end(),
	};

	return mac_compute(cc->hmac, cc->mac_key, sizeof(cc->mac_key), params,
	                   pw, len, out, MAC_LEN);
}

static struct shard *
shard_of(struct wsg_credcache *cc, uint64_t hash)
{
	return &cc->shards[hash >> (64 - SHARD_BITS)];
}

/* The link in the bucket chain that points at `username`, or at NULL. */
static struct entry **
find_link(struct shard *s, uint64_t hash, const char *username)
{
	struct entry **pp;

	for (pp = &s->buckets[hash & s->mask]; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->hash == hash &&
		    strcmp((*pp)->username, username) == 0)
			break;
	return pp;
}

static void
order_unlink(struct shard *s, struct entry *e)
{
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	e->older = e->newer = NULL;
}

/* Takes the entry `*pp` points at out of the shard; the caller frees it. */
static struct entry *
unlink_at(struct shard *s, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->hnext;
	e->hnext = NULL;
	order_unlink(s, e);
	s->count--;
	return e;
}

static struct entry *
detach(struct shard *s, uint64_t hash, const char *username)
{
	struct entry **pp = find_link(s, hash, username);

	return *pp != NULL ? unlink_at(s, pp) : NULL;
}

/*
 * Live entry of `username`. An expired one is never served again (its
 * expiry moves to the past, so a clock stepping back cannot revive it) and
 * loses its secrets, but stays until replaced or evicted: when the store
 * then returns the same password hash, wsg_credcache_put() keeps its
 * verified-password MAC, so PasswordText users do not pay an argon2 run
 * per `cache_ttl` (nor one per request in flight at that moment).
 */
static struct entry *
find_live(struct shard *s, uint64_t hash, const char *username, int64_t now)
{
	struct entry *e = *find_link(s, hash, username);

	if (e != NULL && e->expires_at <= now) {
		if (e->expires_at != INT64_MIN) {
			e->expires_at = INT64_MIN;
			wsg_mem_free_secret(e->cred.digest_password,
			                    e->cred.digest_password_len);
			e->cred.digest_password = NULL;
			e->cred.digest_password_len = 0;
		}
		e = NULL;
	}
	return e;
}

int
wsg_credcache_get(struct wsg_credcache *cc, const char *username, int64_t now,
                  struct wsg_cred *out)
{
	struct shard *s;
	struct entry *e;
	uint64_t hash;
	int rc = WSG_ERR_NOTFOUND;

	memset(out, 0, sizeof(*out));
	if (cc->ttl <= 0 || cc->shard_max == 0)
		return rc;
	hash = name_hash(cc, username);
	s = shard_of(cc, hash);
	pthread_mutex_lock(&s->lock);
	if ((e = find_live(s, hash, username, now)) != NULL) {
		cred_copy(out, &e->cred);
		rc = WSG_OK;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/*
 * The TTL is the same for every entry, so the least recently stored entry
 * is also the first to expire: evicting it covers both cases.
 */
void
wsg_credcache_put(struct wsg_credcache *cc, const char *username,
                  const struct wsg_cred *c, int64_t now, uint64_t generation)
{
	struct entry *e, *old, *stale[RECLAIM_PER_PUT];
	struct shard *s;
	uint64_t hash;
	size_t i, n_stale = 0;

	if (cc->ttl <= 0 || cc->shard_max == 0)
		return;
	hash = name_hash(cc, username);
	e = wsg_mem_calloc(1, sizeof(*e));
	e->hash = hash;
	e->username = wsg_mem_strdup(username);
	e->expires_at = now + cc->ttl;
	cred_copy(&e->cred, c);
	s = shard_of(cc, hash);
	pthread_mutex_lock(&s->lock);
	/* The row was read before an invalidation: it may be stale. */
	if (s->generation != generation) {
		pthread_mutex_unlock(&s->lock);
		entry_free(e);
		return;
	}
	old = detach(s, hash, username);
	/* The same hash means the same password: what verified still does. */
	if (old != NULL && old->verified && c->exists &&
	    old->cred.password_hash != NULL && c->password_hash != NULL &&
	    strcmp(old->cred.password_hash, c->password_hash) == 0) {
		memcpy(e->mac, old->mac, sizeof(e->mac));
		e->verified = 1;
	}
	if (old == NULL && s->count >= cc->shard_max)
		old = detach(s, s->oldest->hash, s->oldest->username);
	/* Entries a whole TTL past their expiry carry no verified mark worth
	 * keeping: reclaim a few per put, so a stream of unknown names does
	 * not hold memory until the shard is full. */
	while (n_stale < RECLAIM_PER_PUT && s->oldest != NULL &&
	       s->oldest->expires_at + cc->ttl <= now)
		stale[n_stale++] =
		        detach(s, s->oldest->hash, s->oldest->username);
	e->hnext = s->buckets[hash & s->mask];
	s->buckets[hash & s->mask] = e;
	e->older = s->newest;
	if (s->newest != NULL)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
	s->count++;
	pthread_mutex_unlock(&s->lock);
	entry_free(old);
	for (i = 0; i < n_stale; i++)
		entry_free(stale[i]);
}

void
wsg_credcache_mark_verified(struct wsg_credcache *cc, const char *username,
                            const char *password_hash, const char *pw,
                            size_t len)
{
	unsigned char mac[MAC_LEN];
	struct shard *s;
	struct entry *e;
	uint64_t hash;

	if (cc->ttl <= 0 || cc->shard_max == 0)
		return;
	hash = name_hash(cc, username);
	/* Without the MAC nothing is remembered: the next request verifies. */
	if (password_mac(cc, pw, len, mac) != 0)
		goto out;
	s = shard_of(cc, hash);
	pthread_mutex_lock(&s->lock);
	e = *find_link(s, hash, username);
	if (e != NULL && e->cred.exists && e->cred.password_hash != NULL &&
	    password_hash != NULL &&
	    strcmp(e->cred.password_hash, password_hash) == 0) {
		memcpy(e->mac, mac, sizeof(mac));
		e->verified = 1;
	}
	pthread_mutex_unlock(&s->lock);
out:
	OPENSSL_cleanse(mac, sizeof(mac));
}

int
wsg_credcache_check_verified(struct wsg_credcache *cc, const char *username,
                             const char *pw, size_t len, int64_t now)
{
	unsigned char mac[MAC_LEN];
	struct shard *s;
	struct entry *e;
	uint64_t hash;
	int rc = WSG_ERR_NOTFOUND;

	if (cc->ttl <= 0 || cc->shard_max == 0)
		return rc;
	hash = name_hash(cc, username);
	if (password_mac(cc, pw, len, mac) != 0)
		goto out;
	s = shard_of(cc, hash);
	pthread_mutex_lock(&s->lock);
	e = find_live(s, hash, username, now);
	if (e != NULL && e->verified &&
	    CRYPTO_memcmp(e->mac, mac, sizeof(mac)) == 0)
		rc = WSG_OK;
	pthread_mutex_unlock(&s->lock);
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

static void
invalidate_all(struct wsg_credcache *cc)
{
	struct entry *list, *next;
	struct shard *s;
	size_t i;

	for (i = 0; i < SHARDS; i++) {
		s = &cc->shards[i];
		pthread_mutex_lock(&s->lock);
		list = s->oldest;
		s->oldest = s->newest = NULL;
		s->count = 0;
		s->generation++;
		memset(s->buckets, 0, (s->mask + 1) * sizeof(*s->buckets));
		pthread_mutex_unlock(&s->lock);
		/* Wiping the secrets can wait until the lock is released. */
		for (; list != NULL; list = next) {
			next = list->newer;
			entry_free(list);
		}
	}
}

void
wsg_credcache_invalidate(struct wsg_credcache *cc, const char *username)
{
	struct shard *s;
	struct entry *e;
	uint64_t hash;

	if (username == NULL) {
		invalidate_all(cc);
		return;
	}
	hash = name_hash(cc, username);
	s = shard_of(cc, hash);
	pthread_mutex_lock(&s->lock);
	s->generation++;
	e = detach(s, hash, username);
	pthread_mutex_unlock(&s->lock);
	entry_free(e);
}

uint64_t
wsg_credcache_generation(struct wsg_credcache *cc, const char *username)
{
	struct shard *s;
	uint64_t hash, gen;

	hash = name_hash(cc, username);
	s = shard_of(cc, hash);
	pthread_mutex_lock(&s->lock);
	gen = s->generation;
	pthread_mutex_unlock(&s->lock);
	return gen;
}
