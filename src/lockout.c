#include "lockout.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"

#define SHARD_BITS 5
#define SHARDS (1u << SHARD_BITS)
#define MIN_BUCKETS 16
/* The window is kept as WHOLE_SLICES slices plus the current one, so a
 * failure counts for between window and window * 9/8 seconds. */
#define WHOLE_SLICES 8
#define SLICES (WHOLE_SLICES + 1)
/* Entries looked at from the oldest end when room is needed. */
#define SCAN 16
#define MIN_ENTRIES 64

/*
 * One key's failures: a ring of per-slice counts (slice i of the time line
 * is at counts[i % SLICES]), `slice` the newest one written.
 */
struct entry {
	struct entry *hnext;         /* bucket chain */
	struct entry *older, *newer; /* by last failure, for reclaiming */
	uint64_t hash;
	int64_t slice;        /* absolute index of the newest slice */
	int64_t slice_ms;     /* slice length the counts were made with */
	int64_t locked_until; /* ms; not locked when <= now */
	int64_t locked_at;    /* ms; when the lock began */
	uint32_t counts[SLICES];
	uint16_t len;
	unsigned char key[];
};

struct shard {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t mask; /* buckets - 1; a power of two */
	struct entry *oldest, *newest;
	size_t count;
};

struct table {
	size_t shard_max;
	atomic_uint_least64_t failures, lockouts, refused, unlocks, evictions;
	struct shard shards[SHARDS];
};

/*
 * Attackers choose the keys (names, addresses), so buckets and shards come
 * from a keyed SipHash: collisions cannot be aimed.
 */
struct wsg_lockout {
	EVP_MAC *siphash;
	unsigned char hash_key[16];
	struct table tables[WSG_LOCKOUT__KINDS];
};

/* No construction without randomness, like out of memory. */
static void
fatal(const char *what)
{
	fprintf(stderr, "wssgate: lockout: %s\n", what);
	abort();
}

static void
table_init(struct table *t, size_t max)
{
	size_t i;

	if (max < MIN_ENTRIES)
		max = MIN_ENTRIES;
	t->shard_max = (max + SHARDS - 1) / SHARDS;
	atomic_init(&t->failures, 0);
	atomic_init(&t->lockouts, 0);
	atomic_init(&t->refused, 0);
	atomic_init(&t->unlocks, 0);
	atomic_init(&t->evictions, 0);
	for (i = 0; i < SHARDS; i++) {
		struct shard *s = &t->shards[i];

		pthread_mutex_init(&s->lock, NULL);
		s->buckets = wsg_mem_calloc(MIN_BUCKETS, sizeof(*s->buckets));
		s->mask = MIN_BUCKETS - 1;
	}
}

struct wsg_lockout *
wsg_lockout_new(size_t max_users, size_t max_clients)
{
	struct wsg_lockout *l = wsg_mem_calloc(1, sizeof(*l));

	if (RAND_bytes(l->hash_key, sizeof(l->hash_key)) != 1)
		fatal("no randomness for the hash key");
	if ((l->siphash = EVP_MAC_fetch(NULL, "SIPHASH", NULL)) == NULL)
		fatal("OpenSSL lacks SipHash");
	table_init(&l->tables[WSG_LOCKOUT_USER], max_users);
	table_init(&l->tables[WSG_LOCKOUT_MGMT_USER], max_users);
	table_init(&l->tables[WSG_LOCKOUT_CLIENT], max_clients);
	return l;
}

void
wsg_lockout_free(struct wsg_lockout *l)
{
	struct entry *e, *next;
	size_t k, i;

	if (l == NULL)
		return;
	for (k = 0; k < WSG_LOCKOUT__KINDS; k++) {
		for (i = 0; i < SHARDS; i++) {
			struct shard *s = &l->tables[k].shards[i];

			for (e = s->oldest; e != NULL; e = next) {
				next = e->newer;
				free(e);
			}
			free(s->buckets);
			pthread_mutex_destroy(&s->lock);
		}
	}
	EVP_MAC_free(l->siphash);
	OPENSSL_cleanse(l->hash_key, sizeof(l->hash_key));
	free(l);
}

int64_t
wsg_lockout_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- keys ---- */

/*
 * The bytes a client is counted by: 4 for IPv4 (also when IPv4-mapped),
 * the /64 prefix for IPv6, since one subscriber usually holds a whole /64;
 * anything else as written. `out` holds WSG_LOCKOUT_MAX_KEY bytes.
 */
static size_t
client_key(const char *addr, size_t len, unsigned char *out)
{
	unsigned char a[16];
	char text[64];

	if (len < sizeof(text)) {
		memcpy(text, addr, len);
		text[len] = '\0';
		if (inet_pton(AF_INET, text, a) == 1) {
			memcpy(out, a, 4);
			return 4;
		}
		if (inet_pton(AF_INET6, text, a) == 1) {
			static const unsigned char mapped[12] = {
			        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

			if (memcmp(a, mapped, sizeof(mapped)) == 0) {
				memcpy(out, a + 12, 4);
				return 4;
			}
			/* Tagged, so it never equals a text key of 9 bytes. */
			out[0] = '6';
			memcpy(out + 1, a, 8);
			return 9;
		}
	}
	memcpy(out, addr, len);
	return len;
}

static int
key_hash(const struct wsg_lockout *l, const unsigned char *key, size_t len,
         uint64_t *hash)
{
	unsigned char out[8];
	size_t size = sizeof(out), n = 0;
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
	        OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx;
	int ok;

	if ((ctx = EVP_MAC_CTX_new(l->siphash)) == NULL)
		return -1;
	ok = EVP_MAC_init(ctx, l->hash_key, sizeof(l->hash_key), params) == 1 &&
	     EVP_MAC_update(ctx, key, len) == 1 &&
	     EVP_MAC_final(ctx, out, &n, sizeof(out)) == 1 && n == sizeof(out);
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		return -1;
	memcpy(hash, out, sizeof(*hash));
	return 0;
}

/* The key's bytes (normalised for clients) and hash; -1 when not counted. */
static int
prepare(const struct wsg_lockout *l, enum wsg_lockout_kind kind,
        const char *key, size_t len, unsigned char *buf, size_t *blen,
        uint64_t *hash)
{
	if (key == NULL || len == 0 || len > WSG_LOCKOUT_MAX_KEY)
		return -1;
	if (kind == WSG_LOCKOUT_CLIENT) {
		*blen = client_key(key, len, buf);
	} else {
		memcpy(buf, key, len);
		*blen = len;
	}
	return key_hash(l, buf, *blen, hash);
}

/* ---- one shard ---- */

static struct shard *
shard_of(struct table *t, uint64_t hash)
{
	return &t->shards[hash >> (64 - SHARD_BITS)];
}

static struct entry **
find_link(struct shard *s, uint64_t hash, const unsigned char *key, size_t len)
{
	struct entry **pp;

	for (pp = &s->buckets[hash & s->mask]; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->hash == hash && (*pp)->len == len &&
		    memcmp((*pp)->key, key, len) == 0)
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

static void
order_push(struct shard *s, struct entry *e)
{
	e->older = s->newest;
	e->newer = NULL;
	if (s->newest != NULL)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
}

static void
remove_entry(struct shard *s, struct entry *e)
{
	struct entry **pp;

	for (pp = &s->buckets[e->hash & s->mask]; *pp != e; pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	order_unlink(s, e);
	s->count--;
	free(e);
}

static void
grow(struct shard *s)
{
	size_t i, nmask = s->mask * 2 + 1;
	struct entry **nb = wsg_mem_calloc(nmask + 1, sizeof(*nb));
	struct entry *e, *next;

	for (i = 0; i <= s->mask; i++)
		for (e = s->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			e->hnext = nb[e->hash & nmask];
			nb[e->hash & nmask] = e;
		}
	free(s->buckets);
	s->buckets = nb;
	s->mask = nmask;
}

static int64_t
slice_ms_of(const struct wsg_lockout_conf *p)
{
	return (p->window * 1000 + WHOLE_SLICES - 1) / WHOLE_SLICES;
}

/* Moves the ring to `now_ms`, zeroing slices that left the window. */
static void
advance(struct entry *e, int64_t slice_ms, int64_t now_ms)
{
	int64_t cur = now_ms / slice_ms, i;

	if (slice_ms != e->slice_ms || cur - e->slice >= SLICES ||
	    cur < e->slice) {
		memset(e->counts, 0, sizeof(e->counts));
		e->slice_ms = slice_ms;
	} else {
		for (i = e->slice + 1; i <= cur; i++)
			e->counts[i % SLICES] = 0;
	}
	e->slice = cur;
}

static uint64_t
total(const struct entry *e)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < SLICES; i++)
		n += e->counts[i];
	return n;
}

/* Nothing counted within the window any more, and not locked. */
static int
is_dead(const struct entry *e, int64_t now_ms)
{
	int64_t cur;
	size_t i;

	if (e->locked_until > now_ms)
		return 0;
	cur = now_ms / e->slice_ms;
	if (cur - e->slice >= SLICES || cur < e->slice)
		return 1;
	for (i = 0; i < SLICES; i++)
		if (e->counts[i] != 0)
			return 0;
	return 1;
}

/*
 * Room for one more entry: drops dead entries among the oldest; when the
 * shard is still full, the oldest unlocked entry goes, or else the oldest.
 * Locks are kept as long as possible: dropping one ends it early.
 */
static void
make_room(struct table *t, struct shard *s, int64_t now_ms)
{
	struct entry *e, *next, *victim = NULL;
	size_t seen = 0;

	for (e = s->oldest; e != NULL && seen < SCAN; e = next, seen++) {
		next = e->newer;
		if (is_dead(e, now_ms))
			remove_entry(s, e);
	}
	if (s->count < t->shard_max)
		return;
	for (e = s->oldest, seen = 0; e != NULL && seen < SCAN;
	     e = e->newer, seen++)
		if (e->locked_until <= now_ms) {
			victim = e;
			break;
		}
	if (victim == NULL)
		victim = s->oldest;
	remove_entry(s, victim);
	atomic_fetch_add(&t->evictions, 1);
}

static struct entry *
insert(struct table *t, struct shard *s, uint64_t hash,
       const unsigned char *key, size_t len, int64_t now_ms)
{
	struct entry *e;

	make_room(t, s, now_ms);
	if (s->count + 1 > s->mask + 1)
		grow(s);
	e = wsg_mem_calloc(1, offsetof(struct entry, key) + len);
	e->hash = hash;
	e->len = (uint16_t)len;
	memcpy(e->key, key, len);
	e->hnext = s->buckets[hash & s->mask];
	s->buckets[hash & s->mask] = e;
	order_push(s, e);
	s->count++;
	return e;
}

/* A key found with its shard locked: unlock `s->lock` when done. */
struct found {
	unsigned char key[WSG_LOCKOUT_MAX_KEY];
	size_t len;
	uint64_t hash;
	struct shard *s;
	struct entry *e; /* NULL: the key has no entry yet */
};

/* Looks `key` up and locks its shard; -1, nothing locked, when not counted. */
static int
find_locked(struct wsg_lockout *l, enum wsg_lockout_kind kind, const char *key,
            size_t len, struct found *f)
{
	if (prepare(l, kind, key, len, f->key, &f->len, &f->hash) != 0)
		return -1;
	f->s = shard_of(&l->tables[kind], f->hash);
	pthread_mutex_lock(&f->s->lock);
	f->e = *find_link(f->s, f->hash, f->key, f->len);
	return 0;
}

/* ---- API ---- */

int64_t
wsg_lockout_check(struct wsg_lockout *l, enum wsg_lockout_kind kind,
                  const struct wsg_lockout_conf *p, const char *key, size_t len,
                  int64_t now_ms)
{
	struct table *t = &l->tables[kind];
	struct found f;
	int64_t left = 0;

	if (p->max_failures == 0 || find_locked(l, kind, key, len, &f) != 0)
		return 0;
	if (f.e != NULL && f.e->locked_until > now_ms)
		left = f.e->locked_until - now_ms;
	pthread_mutex_unlock(&f.s->lock);
	if (left > 0)
		atomic_fetch_add(&t->refused, 1);
	return left;
}

enum wsg_lockout_result
wsg_lockout_fail(struct wsg_lockout *l, enum wsg_lockout_kind kind,
                 const struct wsg_lockout_conf *p, const char *key, size_t len,
                 int64_t now_ms)
{
	struct table *t = &l->tables[kind];
	enum wsg_lockout_result res;
	struct found f;
	struct entry *e;

	if (p->max_failures == 0 || find_locked(l, kind, key, len, &f) != 0)
		return WSG_LOCKOUT_OFF;
	e = f.e;
	if (e != NULL && e->locked_until > now_ms) {
		res = WSG_LOCKOUT_LOCKED;
		goto out;
	}
	if (e == NULL)
		e = insert(t, f.s, f.hash, f.key, f.len, now_ms);
	advance(e, slice_ms_of(p), now_ms);
	if (e->counts[e->slice % SLICES] < UINT32_MAX)
		e->counts[e->slice % SLICES]++;
	order_unlink(f.s, e);
	order_push(f.s, e);
	atomic_fetch_add(&t->failures, 1);
	res = WSG_LOCKOUT_COUNTED;
	if (total(e) >= p->max_failures) {
		e->locked_until = now_ms + p->duration * 1000;
		e->locked_at = now_ms;
		memset(e->counts, 0, sizeof(e->counts));
		atomic_fetch_add(&t->lockouts, 1);
		res = WSG_LOCKOUT_STARTED;
	}
out:
	pthread_mutex_unlock(&f.s->lock);
	return res;
}

int
wsg_lockout_unlock(struct wsg_lockout *l, enum wsg_lockout_kind kind,
                   const char *key, size_t len, int64_t now_ms)
{
	struct table *t = &l->tables[kind];
	struct found f;
	int was_locked = 0;

	if (find_locked(l, kind, key, len, &f) != 0)
		return 0;
	if (f.e != NULL) {
		was_locked = f.e->locked_until > now_ms;
		remove_entry(f.s, f.e);
	}
	pthread_mutex_unlock(&f.s->lock);
	if (was_locked)
		atomic_fetch_add(&t->unlocks, 1);
	return was_locked;
}

int
wsg_lockout_unlock_since(struct wsg_lockout *l, enum wsg_lockout_kind kind,
                         const char *key, size_t len, int64_t since_ms,
                         int64_t now_ms)
{
	struct table *t = &l->tables[kind];
	struct found f;
	int ended = 0;

	if (find_locked(l, kind, key, len, &f) != 0)
		return 0;
	if (f.e != NULL && f.e->locked_until > now_ms &&
	    f.e->locked_at <= since_ms) {
		remove_entry(f.s, f.e);
		ended = 1;
	}
	pthread_mutex_unlock(&f.s->lock);
	if (ended)
		atomic_fetch_add(&t->unlocks, 1);
	return ended;
}

void
wsg_lockout_stats(struct wsg_lockout *l, int64_t now_ms,
                  struct wsg_lockout_stats *out)
{
	struct wsg_lockout_kind_stats *o;
	const struct entry *e;
	struct table *t;
	size_t k, i;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < WSG_LOCKOUT__KINDS; k++) {
		t = &l->tables[k];
		o = &out->kind[k];
		o->failures = atomic_load(&t->failures);
		o->lockouts = atomic_load(&t->lockouts);
		o->refused = atomic_load(&t->refused);
		o->unlocks = atomic_load(&t->unlocks);
		o->evictions = atomic_load(&t->evictions);
		for (i = 0; i < SHARDS; i++) {
			struct shard *s = &t->shards[i];

			pthread_mutex_lock(&s->lock);
			o->entries += s->count;
			for (e = s->oldest; e != NULL; e = e->newer)
				if (e->locked_until > now_ms)
					o->locked++;
			pthread_mutex_unlock(&s->lock);
		}
	}
}
