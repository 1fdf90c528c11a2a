#include "replay.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "siphash.h"
#include "types.h"

#define SHARD_BITS 6
#define SHARDS (1u << SHARD_BITS)
#define MAX_KEY 256 /* bytes of decoded nonce we accept */
#define MIN_SLOTS 16

/*
 * One remembered nonce: 6 bytes of header plus the key in one allocation
 * (32 bytes for a 16-byte nonce), so a million nonces stay well under the
 * memory a benchmark allows.
 */
struct node {
	uint32_t hash; /* low bits of the keyed hash, for probing */
	uint16_t len;
	unsigned char key[];
};

struct expiry {
	int64_t at;
	struct node *node;
};

/*
 * Open addressing with linear probing (load <= 3/4) for lookups, and a
 * min-heap on the expiry for reclaiming: every insert first pops the
 * shard's dead entries, so its table only holds live ones.
 */
struct shard {
	pthread_mutex_t lock;
	struct node **slots;
	size_t mask;         /* slots - 1; a power of two */
	struct expiry *heap; /* `count` entries, capacity heap_cap */
	size_t heap_cap;
	size_t count;
};

/*
 * The cap is global and exact: per-shard caps of max/64 would refuse
 * nonces while other shards have room (random keys never spread evenly),
 * so a cache sized for a million nonces would not hold a million. A full
 * cache is a real overload and is never solved by forgetting a live nonce.
 */
struct wsg_replay {
	uint64_t k0, k1; /* SipHash key: collisions cannot be aimed */
	size_t max;
	atomic_size_t stored;          /* entries in all shards, <= max */
	atomic_int_least64_t swept_at; /* `now` of the last full sweep */
	struct shard shards[SHARDS];
};

struct wsg_replay *
wsg_replay_new(size_t max_entries)
{
	struct wsg_replay *r;
	unsigned char seed[16];
	size_t i;

	if (max_entries == 0)
		return NULL;
	/* Like running out of memory: no safe way to go on without a seed. */
	if (RAND_bytes(seed, sizeof(seed)) != 1) {
		fprintf(stderr,
		        "wssgate: no randomness for the replay cache\n");
		abort();
	}
	r = wsg_mem_calloc(1, sizeof(*r));
	memcpy(&r->k0, seed, 8);
	memcpy(&r->k1, seed + 8, 8);
	r->max = max_entries;
	atomic_init(&r->stored, 0);
	atomic_init(&r->swept_at, INT64_MIN);
	for (i = 0; i < SHARDS; i++) {
		struct shard *s = &r->shards[i];

		pthread_mutex_init(&s->lock, NULL);
		s->slots = wsg_mem_calloc(MIN_SLOTS, sizeof(*s->slots));
		s->mask = MIN_SLOTS - 1;
	}
	return r;
}

void
wsg_replay_free(struct wsg_replay *r)
{
	size_t i, j;

	if (r == NULL)
		return;
	for (i = 0; i < SHARDS; i++) {
		struct shard *s = &r->shards[i];

		for (j = 0; j < s->count; j++)
			free(s->heap[j].node);
		free(s->heap);
		free(s->slots);
		pthread_mutex_destroy(&s->lock);
	}
	free(r);
}

static struct node *
table_find(const struct shard *s, uint32_t hash, const unsigned char *key,
           size_t len)
{
	size_t i;
	struct node *n;

	for (i = hash & s->mask; (n = s->slots[i]) != NULL;
	     i = (i + 1) & s->mask)
		if (n->hash == hash && n->len == len &&
		    memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

static void
table_place(struct node **slots, size_t mask, struct node *n)
{
	size_t i;

	for (i = n->hash & mask; slots[i] != NULL; i = (i + 1) & mask)
		;
	slots[i] = n;
}

static void
table_grow(struct shard *s)
{
	size_t i, nmask = s->mask * 2 + 1;
	struct node **nslots = wsg_mem_calloc(nmask + 1, sizeof(*nslots));

	for (i = 0; i <= s->mask; i++)
		if (s->slots[i] != NULL)
			table_place(nslots, nmask, s->slots[i]);
	free(s->slots);
	s->slots = nslots;
	s->mask = nmask;
}

/* Backward-shift deletion keeps every probe chain unbroken, no tombstones. */
static void
table_remove(struct shard *s, const struct node *n)
{
	size_t i, j, home;

	for (i = n->hash & s->mask; s->slots[i] != n; i = (i + 1) & s->mask)
		;
	for (j = (i + 1) & s->mask; s->slots[j] != NULL;
	     j = (j + 1) & s->mask) {
		home = s->slots[j]->hash & s->mask;
		/* Stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		s->slots[i] = s->slots[j];
		i = j;
	}
	s->slots[i] = NULL;
}

static void
heap_push(struct shard *s, int64_t at, struct node *n)
{
	size_t i = s->count, parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (s->heap[parent].at <= at)
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i].at = at;
	s->heap[i].node = n;
}

/* Removes the root; `count` already excludes it. */
static void
heap_pop(struct shard *s)
{
	struct expiry last = s->heap[s->count];
	size_t i = 0, child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= s->count)
			break;
		if (child + 1 < s->count &&
		    s->heap[child + 1].at < s->heap[child].at)
			child++;
		if (last.at <= s->heap[child].at)
			break;
		s->heap[i] = s->heap[child];
		i = child;
	}
	if (s->count > 0)
		s->heap[i] = last;
}

static void
reclaim(struct wsg_replay *r, struct shard *s, int64_t now)
{
	struct node *n;
	size_t freed = 0;

	while (s->count > 0 && s->heap[0].at <= now) {
		n = s->heap[0].node;
		table_remove(s, n);
		s->count--;
		heap_pop(s);
		free(n);
		freed++;
	}
	if (freed > 0)
		atomic_fetch_sub(&r->stored, freed);
}

static void
add(struct shard *s, size_t max, uint32_t hash, const unsigned char *key,
    size_t len, int64_t expires_at)
{
	struct node *n;

	if ((s->count + 1) * 4 > (s->mask + 1) * 3)
		table_grow(s);
	if (s->count == s->heap_cap) {
		s->heap_cap =
		        s->heap_cap < MIN_SLOTS ? MIN_SLOTS : 2 * s->heap_cap;
		if (s->heap_cap > max)
			s->heap_cap = max;
		s->heap = wsg_mem_realloc(s->heap,
		                          s->heap_cap * sizeof(*s->heap));
	}
	n = wsg_mem_alloc(offsetof(struct node, key) + len);
	n->hash = hash;
	n->len = (uint16_t)len;
	memcpy(n->key, key, len);
	table_place(s->slots, s->mask, n);
	heap_push(s, expires_at, n);
	s->count++;
}

static int
try_insert(struct wsg_replay *r, struct shard *s, uint32_t hash,
           const unsigned char *key, size_t len, int64_t expires_at,
           int64_t now)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	reclaim(r, s, now);
	if (table_find(s, hash, key, len) != NULL) {
		rc = WSG_ERR_REPLAY;
	} else if (expires_at <= now) {
		rc = WSG_OK;
	} else if (atomic_fetch_add(&r->stored, 1) >= r->max) {
		atomic_fetch_sub(&r->stored, 1);
		rc = WSG_ERR_FULL;
	} else {
		add(s, r->max, hash, key, len, expires_at);
		rc = WSG_OK;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/*
 * Dead entries in shards nobody inserted into lately still hold their
 * places; when the cache looks full, reclaim them all, at most once per
 * second of `now` so an overload does not turn into lock storms.
 */
static int
sweep(struct wsg_replay *r, int64_t now)
{
	int64_t last = atomic_load(&r->swept_at);
	size_t i;

	do {
		if (now <= last)
			return 0;
	} while (!atomic_compare_exchange_weak(&r->swept_at, &last, now));
	for (i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&r->shards[i].lock);
		reclaim(r, &r->shards[i], now);
		pthread_mutex_unlock(&r->shards[i].lock);
	}
	return 1;
}

/*
 * Also WSG_ERR_INVAL for an empty key and WSG_ERR_LIMIT for one over
 * MAX_KEY bytes. An entry already dead when inserted (expires_at <= now)
 * is checked against the live ones but not stored.
 */
int
wsg_replay_insert(struct wsg_replay *r, const unsigned char *key, size_t len,
                  int64_t expires_at, int64_t now)
{
	struct shard *s;
	uint64_t h;
	int rc;

	if (key == NULL || len == 0)
		return WSG_ERR_INVAL;
	if (len > MAX_KEY)
		return WSG_ERR_LIMIT;
	h = wsg_siphash24(r->k0, r->k1, key, len);
	/* High bits pick the shard, low bits the slot: independent. */
	s = &r->shards[h >> (64 - SHARD_BITS)];
	rc = try_insert(r, s, (uint32_t)h, key, len, expires_at, now);
	if (rc == WSG_ERR_FULL && sweep(r, now))
		rc = try_insert(r, s, (uint32_t)h, key, len, expires_at, now);
	return rc;
}

size_t
wsg_replay_count(struct wsg_replay *r)
{
	size_t i, total = 0;

	for (i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&r->shards[i].lock);
		total += r->shards[i].count;
		pthread_mutex_unlock(&r->shards[i].lock);
	}
	return total;
}
