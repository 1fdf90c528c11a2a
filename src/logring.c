#include "logring.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "mem.h"

#define LINE_MAX_KEPT 4096
#define REASON_MAX_KEPT 512
#define NO_FIELD UINT32_MAX

enum field {
	F_TIME,
	F_CLIENT,
	F_ROUTE,
	F_USER,
	F_EVENT,
	F_REASON,
	F_LINE,
	F__COUNT
};

/* One line in a single allocation: the strings follow the header. */
struct entry {
	size_t size;
	uint64_t seq;
	uint64_t rid;
	enum wsg_logring_kind kind;
	int status;
	enum wsg_fault fault;
	double latency_ms;
	uint32_t off[F__COUNT]; /* into text[], or NO_FIELD */
	char text[];
};

struct wsg_logring {
	pthread_mutex_t lock;
	size_t capacity;
	size_t head; /* next slot to write */
	size_t count;
	uint64_t seq; /* of the newest line */
	struct entry **slots;
};

struct wsg_logring *
wsg_logring_new(size_t capacity)
{
	struct wsg_logring *r = wsg_mem_calloc(1, sizeof(*r));

	pthread_mutex_init(&r->lock, NULL);
	r->capacity = capacity;
	if (capacity > 0)
		r->slots = wsg_mem_calloc(capacity, sizeof(*r->slots));
	return r;
}

void
wsg_logring_free(struct wsg_logring *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->capacity; i++)
		free(r->slots[i]);
	free(r->slots);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Length of `s` cut to at most `max` bytes, not inside a UTF-8 sequence. */
static size_t
cut_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

void
wsg_logring_push(struct wsg_logring *r, const struct wsg_logring_rec *rec)
{
	const char *val[F__COUNT];
	size_t len[F__COUNT], max[F__COUNT], total = 0, o = 0;
	struct entry *e, *old;
	int i;

	if (r == NULL || r->capacity == 0)
		return;
	val[F_TIME] = rec->time;
	val[F_CLIENT] = rec->client;
	val[F_ROUTE] = rec->route;
	val[F_USER] = rec->user;
	val[F_EVENT] = rec->event;
	val[F_REASON] = rec->reason;
	val[F_LINE] = rec->line;
	for (i = 0; i < F__COUNT; i++) {
		max[i] = i == F_LINE     ? LINE_MAX_KEPT
		         : i == F_REASON ? REASON_MAX_KEPT
		                         : WSG_LOGRING_FIELD_MAX;
		len[i] = val[i] != NULL ? cut_len(val[i], max[i]) : 0;
		total += val[i] != NULL ? len[i] + 1 : 0;
	}
	e = wsg_mem_alloc(sizeof(*e) + total);
	e->size = sizeof(*e) + total;
	e->rid = rec->rid;
	e->kind = rec->kind;
	e->status = rec->status;
	e->fault = rec->fault;
	e->latency_ms = rec->latency_ms;
	for (i = 0; i < F__COUNT; i++) {
		if (val[i] == NULL) {
			e->off[i] = NO_FIELD;
			continue;
		}
		e->off[i] = (uint32_t)o;
		memcpy(e->text + o, val[i], len[i]);
		e->text[o + len[i]] = '\0';
		o += len[i] + 1;
	}
	pthread_mutex_lock(&r->lock);
	e->seq = ++r->seq;
	old = r->slots[r->head];
	r->slots[r->head] = e;
	r->head = (r->head + 1) % r->capacity;
	if (r->count < r->capacity)
		r->count++;
	pthread_mutex_unlock(&r->lock);
	free(old);
}

static const char *
field(const struct entry *e, enum field f)
{
	return e->off[f] == NO_FIELD ? NULL : e->text + e->off[f];
}

static int
same(const char *want, const char *have)
{
	return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

/*
 * Request ids of the access lines a fault filter matched (open addressing,
 * kept at most half full: further ids are not remembered).
 */
struct rid_set {
	uint64_t *slots; /* 0 = empty; request ids are never 0 */
	size_t mask;
	size_t n;
};

static void
rid_set_add(struct rid_set *s, uint64_t rid)
{
	size_t i = (size_t)(rid * 0x9e3779b97f4a7c15ull) & s->mask;

	if (rid == 0 || 2 * (s->n + 1) > s->mask + 1)
		return;
	while (s->slots[i] != 0 && s->slots[i] != rid)
		i = (i + 1) & s->mask;
	if (s->slots[i] == 0)
		s->n++;
	s->slots[i] = rid;
}

static int
rid_set_has(const struct rid_set *s, uint64_t rid)
{
	size_t i = (size_t)(rid * 0x9e3779b97f4a7c15ull) & s->mask;

	while (s->slots[i] != 0) {
		if (s->slots[i] == rid)
			return 1;
		i = (i + 1) & s->mask;
	}
	return 0;
}

/*
 * Whether `e` is picked. With a fault filter, access lines of that fault
 * put their request id in `faulted` (even when the kind filter drops them)
 * and audit lines pass by that id: a request's audit lines are older than
 * its access line, so a newest-first scan sees the access line first.
 */
static int
pick(const struct wsg_logring_filter *f, const struct entry *e,
     struct rid_set *faulted)
{
	int fault_ok = 1;

	if (e->seq <= f->after || !same(f->route, field(e, F_ROUTE)) ||
	    !same(f->user, field(e, F_USER)) ||
	    !same(f->only_user, field(e, F_USER)))
		return 0;
	if (f->fault != NULL && e->kind == WSG_LOGRING_ACCESS) {
		fault_ok = strcmp(f->fault, wsg_fault_name(e->fault)) == 0;
		if (fault_ok)
			rid_set_add(faulted, e->rid);
	} else if (f->fault != NULL) {
		fault_ok = rid_set_has(faulted, e->rid);
	}
	return fault_ok && (f->kind < 0 || (int)e->kind == f->kind);
}

/* A JSON string of `s`, \xHH-escaping it when it is not valid UTF-8. */
static json_t *
text_json(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	json_t *j;
	char *esc;
	size_t i, o = 0, n;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	if (j != NULL)
		return j;
	n = strlen(s);
	esc = wsg_mem_alloc(n * 4 + 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			esc[o++] = (char)c;
		} else {
			esc[o++] = '\\';
			esc[o++] = 'x';
			esc[o++] = hex[c >> 4];
			esc[o++] = hex[c & 15];
		}
	}
	esc[o] = '\0';
	j = json_string(esc);
	free(esc);
	return j;
}

static json_t *
entry_json(const struct entry *e)
{
	char rid[17];
	json_t *o = json_object();

	snprintf(rid, sizeof(rid), "%016llx", (unsigned long long)e->rid);
	json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
	json_object_set_new(o, "kind",
	                    json_string(e->kind == WSG_LOGRING_ACCESS
	                                        ? "access"
	                                        : "audit"));
	json_object_set_new(o, "time", text_json(field(e, F_TIME)));
	json_object_set_new(o, "rid", json_string(rid));
	json_object_set_new(o, "client", text_json(field(e, F_CLIENT)));
	json_object_set_new(o, "route", text_json(field(e, F_ROUTE)));
	json_object_set_new(o, "user", text_json(field(e, F_USER)));
	if (e->kind == WSG_LOGRING_ACCESS) {
		json_object_set_new(o, "status", json_integer(e->status));
		json_object_set_new(o, "fault",
		                    json_string(wsg_fault_name(e->fault)));
		json_object_set_new(o, "latencyMs", json_real(e->latency_ms));
	} else {
		json_object_set_new(o, "event", text_json(field(e, F_EVENT)));
		json_object_set_new(o, "reason", text_json(field(e, F_REASON)));
	}
	json_object_set_new(o, "line", text_json(field(e, F_LINE)));
	return o;
}

static struct entry *
entry_copy(const struct entry *e)
{
	struct entry *c = wsg_mem_alloc(e->size);

	memcpy(c, e, e->size);
	return c;
}

int
wsg_logring_query(struct wsg_logring *r, const struct wsg_logring_filter *f,
                  json_t **out)
{
	struct rid_set faulted = {NULL, 0, 0};
	struct entry **picked = NULL;
	size_t i, n = 0, want, size = 16;
	uint64_t last;
	json_t *list;

	*out = NULL;
	/* Allocated before the lock: at most `want` lines are picked. */
	want = f->limit == 0 || f->limit > r->capacity ? r->capacity : f->limit;
	if (want > 0)
		picked = wsg_mem_calloc(want, sizeof(*picked));
	if (f->fault != NULL) {
		while (size < 2 * want)
			size *= 2;
		faulted.slots = wsg_mem_calloc(size, sizeof(*faulted.slots));
		faulted.mask = size - 1;
	}
	pthread_mutex_lock(&r->lock);
	/* Newest first: a request's audit lines are older than its access line.
	 */
	for (i = 0; i < r->count && n < want; i++) {
		const struct entry *e =
		        r->slots[(r->head + r->capacity - 1 - i) % r->capacity];

		if (pick(f, e, &faulted))
			picked[n++] = entry_copy(e);
	}
	last = r->seq;
	pthread_mutex_unlock(&r->lock);

	list = json_array();
	for (i = 0; i < n; i++) {
		json_array_append_new(list, entry_json(picked[i]));
		free(picked[i]);
	}
	*out = json_pack("{s:I, s:I, s:I, s:o}", "count", (json_int_t)n,
	                 "capacity", (json_int_t)r->capacity, "lastSeq",
	                 (json_int_t)last, "list", list);
	free(picked);
	free(faulted.slots);
	return *out != NULL ? WSG_OK : WSG_ERR_NOMEM;
}
