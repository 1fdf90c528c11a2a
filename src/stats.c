#include "stats.h"

#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "mem.h"

/*
 * One route's counters, padded to its own cache lines so that workers
 * serving different routes do not contend on one line.
 */
struct route_counts {
	uint64_t requests;
	uint64_t faults;
	uint64_t by_fault[WSG_FAULT__COUNT];
	uint64_t by_class[WSG_STATS_CLASSES];
} __attribute__((aligned(64)));

struct wsg_stats {
	const struct wsg_route_conf *conf;
	size_t n_routes;
	struct route_counts *routes; /* n_routes + 1; the last is "no route" */
};

struct wsg_stats *
wsg_stats_new(const struct wsg_route_conf *routes, size_t n_routes)
{
	struct wsg_stats *s = wsg_mem_calloc(1, sizeof(*s));

	s->conf = routes;
	s->n_routes = n_routes;
	if (posix_memalign((void **)&s->routes, 64,
	                   (n_routes + 1) * sizeof(*s->routes)) != 0)
		abort();
	memset(s->routes, 0, (n_routes + 1) * sizeof(*s->routes));
	return s;
}

void
wsg_stats_free(struct wsg_stats *s)
{
	if (s == NULL)
		return;
	free(s->routes);
	free(s);
}

static struct route_counts *
bucket(const struct wsg_stats *s, size_t route)
{
	return &s->routes[route < s->n_routes ? route : s->n_routes];
}

void
wsg_stats_record(struct wsg_stats *s, const struct wsg_route_conf *route,
                 int status, enum wsg_fault fault)
{
	/* Compared as addresses: a pointer outside the array is "no route". */
	uintptr_t p = (uintptr_t)route, first = (uintptr_t)s->conf;
	size_t i = WSG_STATS_NO_ROUTE;
	struct route_counts *c;

	if (route != NULL && p >= first &&
	    p < first + s->n_routes * sizeof(*s->conf))
		i = (p - first) / sizeof(*s->conf);
	c = bucket(s, i);

	__atomic_fetch_add(&c->requests, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(
	        &c->by_class[status >= 100 && status < 600 ? status / 100 : 0],
	        1, __ATOMIC_RELAXED);
	if ((int)fault <= WSG_FAULT_NONE || fault >= WSG_FAULT__COUNT)
		return;
	__atomic_fetch_add(&c->faults, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->by_fault[fault], 1, __ATOMIC_RELAXED);
}

void
wsg_stats_read(const struct wsg_stats *s, size_t route,
               struct wsg_stats_counts *out)
{
	const struct route_counts *c = bucket(s, route);
	size_t i;

	memset(out, 0, sizeof(*out));
	out->requests = __atomic_load_n(&c->requests, __ATOMIC_RELAXED);
	out->faults = __atomic_load_n(&c->faults, __ATOMIC_RELAXED);
	for (i = 0; i < WSG_FAULT__COUNT; i++)
		out->by_fault[i] =
		        __atomic_load_n(&c->by_fault[i], __ATOMIC_RELAXED);
	for (i = 0; i < WSG_STATS_CLASSES; i++)
		out->by_class[i] =
		        __atomic_load_n(&c->by_class[i], __ATOMIC_RELAXED);
}

/* requests, faults and faultsByCode (codes with a count only) into `o`. */
static void
counts_json(json_t *o, const struct wsg_stats *s, size_t route)
{
	struct wsg_stats_counts c;
	json_t *by = json_object();
	int f;

	wsg_stats_read(s, route, &c);
	for (f = WSG_FAULT_NONE + 1; f < WSG_FAULT__COUNT; f++)
		if (c.by_fault[f] > 0)
			json_object_set_new(
			        by, wsg_fault_name(f),
			        json_integer((json_int_t)c.by_fault[f]));
	json_object_set_new(o, "requests",
	                    json_integer((json_int_t)c.requests));
	json_object_set_new(o, "faults", json_integer((json_int_t)c.faults));
	json_object_set_new(o, "faultsByCode", by);
}

static json_t *
strings_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *
wsg_stats_routes_json(const struct wsg_config *cfg, const struct wsg_stats *s)
{
	static const char *const auth[] = {
	        [WSG_AUTH_WSSE] = "wsse",
	        [WSG_AUTH_BASIC] = "basic",
	        [WSG_AUTH_WSSE_OR_BASIC] = "wsse_or_basic",
	        [WSG_AUTH_X509] = "x509",
	        [WSG_AUTH_WSSE_OR_X509] = "wsse_or_x509",
	};
	json_t *list = json_array(), *o, *pw, *unrouted = json_object();
	const struct wsg_route_conf *r;
	size_t i;

	for (i = 0; i < cfg->n_routes; i++) {
		r = &cfg->routes[i];
		pw = json_array();
		if (r->password_types & WSG_PWTYPE_DIGEST)
			json_array_append_new(pw,
			                      json_string("PasswordDigest"));
		if (r->password_types & WSG_PWTYPE_TEXT)
			json_array_append_new(pw, json_string("PasswordText"));
		o = json_pack(
		        "{s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:s, s:b, s:I}",
		        "name", r->name, "path", r->path, "upstreams",
		        strings_json(r->upstreams, r->n_upstreams),
		        "passwordTypes", pw, "roles",
		        strings_json(r->roles, r->n_roles), "requireTls",
		        r->require_tls, "requireTimestamp",
		        r->require_timestamp, "auth",
		        (unsigned)r->auth < sizeof(auth) / sizeof(auth[0])
		                ? auth[r->auth]
		                : "wsse",
		        "stripSecurityHeader", r->strip_security_header,
		        "timeout", (json_int_t)r->timeout);
		counts_json(o, s, i < s->n_routes ? i : WSG_STATS_NO_ROUTE);
		json_array_append_new(list, o);
	}
	counts_json(unrouted, s, WSG_STATS_NO_ROUTE);
	return json_pack("{s:I, s:o, s:o}", "count", (json_int_t)cfg->n_routes,
	                 "list", list, "unrouted", unrouted);
}
