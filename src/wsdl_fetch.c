#include "wsdl_fetch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "operations.h"
#include "schema.h"
#include "upstream.h"

/* After a failed fetch with a copy to serve, the next try waits this long
 * at most (wsdl_ttl when shorter), so a down upstream is not asked on
 * every request. */
#define RETRY_SECONDS 30

struct origin {
	char scheme[6]; /* "http" or "https" */
	char host[256]; /* lower case; an IPv6 address with its brackets */
	unsigned port;
};

/* One request waiting for a fetch. */
struct waiter {
	STAILQ_ENTRY(waiter) link;
	wsg_wsdl_cache_cb cb;
	void *arg;
};

struct fetch;

/* A document of a fetch: named by its absolute URL. */
struct fetch_doc {
	struct fetch *f;
	char *url;
	char *body; /* NULL until fetched */
	size_t len;
	int requested;
};

/* One fetch of a route's documents: a round of GETs per import level. */
struct fetch {
	struct wsg_wsdl_cache *c;
	struct entry *e;
	struct wsg_snapshot *snap; /* a reference: route and TLS contexts */
	const struct wsg_route_conf *route;
	char *origin; /* "scheme://authority" of the route's first upstream */
	char *root;   /* its URL with "wsdl" added to the query */
	struct fetch_doc docs[WSG_WSDL_MAX_DOCS];
	size_t n;
	unsigned inflight;
	struct wsg_error err; /* the first failure */
	int failed;
};

/* A route's copy in one worker, by route name. */
struct entry {
	LIST_ENTRY(entry) link;
	char *name;
	char *key; /* what the copy was made from: another key, no stale copy */
	struct wsg_wsdl *def;
	struct wsg_wsdl **hosts;
	size_t n_hosts;
	struct wsg_op_decls *actions; /* derived from def */
	struct wsg_schema *schema;    /* compiled from def, or NULL */
	const struct wsg_config *cfg; /* the config it was got for (compared,
	                                 never dereferenced): another one is
	                                 a reload, which fetches again */
	time_t fetched;               /* CLOCK_MONOTONIC seconds */
	time_t next_try;              /* fetch again from then on */
	struct fetch *fetch;          /* in flight, or NULL */
	STAILQ_HEAD(, waiter) waiters;
};

struct wsg_wsdl_cache {
	struct wsg_upstream_pool *pool;
	LIST_HEAD(, entry) entries;
};

static time_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- URLs ---- */

/* "scheme" and "authority" (not NUL-terminated) as an origin; -1 when it
 * is not http(s), has user information or a bad host or port. */
static int
parse_origin(const char *scheme, size_t slen, const char *auth, size_t alen,
             struct origin *o)
{
	const char *colon = NULL, *end = auth + alen;
	size_t hlen, i;
	unsigned port = 0;

	memset(o, 0, sizeof(*o));
	if (slen == 4 && strncasecmp(scheme, "http", 4) == 0)
		memcpy(o->scheme, "http", 5);
	else if (slen == 5 && strncasecmp(scheme, "https", 5) == 0)
		memcpy(o->scheme, "https", 6);
	else
		return -1;
	if (alen == 0 || memchr(auth, '@', alen) != NULL)
		return -1;
	if (auth[0] == '[') {
		const char *rb = memchr(auth, ']', alen);

		if (rb == NULL)
			return -1;
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return -1;
		hlen = (size_t)(rb + 1 - auth);
	} else {
		colon = memchr(auth, ':', alen);
		hlen = (size_t)((colon != NULL ? colon : end) - auth);
	}
	if (hlen == 0 || hlen >= sizeof(o->host))
		return -1;
	for (i = 0; i < hlen; i++)
		o->host[i] = (char)tolower((unsigned char)auth[i]);
	if (colon == NULL || colon + 1 == end) {
		o->port = o->scheme[4] == 's' ? 443 : 80;
		return 0;
	}
	for (colon++; colon < end; colon++) {
		if (*colon < '0' || *colon > '9' || port > 6553)
			return -1;
		port = port * 10 + (unsigned)(*colon - '0');
	}
	if (port == 0 || port > 65535)
		return -1;
	o->port = port;
	return 0;
}

static int
same_origin(const struct origin *a, const struct origin *b)
{
	return strcmp(a->scheme, b->scheme) == 0 &&
	       strcmp(a->host, b->host) == 0 && a->port == b->port;
}

/* RFC 3986 5.2.4 on an absolute path of `len` bytes; caller frees. */
static char *
remove_dots(const char *p, size_t len)
{
	char *out = wsg_mem_alloc(len + 2);
	size_t o = 0, seg;
	const char *end = p + len;

	const char *slash;

	while (p < end) {
		p++; /* the '/' */
		slash = memchr(p, '/', (size_t)(end - p));
		seg = (size_t)((slash != NULL ? slash : end) - p);
		if (seg == 1 && p[0] == '.') {
			if (p + seg == end)
				out[o++] = '/';
		} else if (seg == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[--o] != '/')
				;
			if (p + seg == end)
				out[o++] = '/';
		} else {
			out[o++] = '/';
			memcpy(out + o, p, seg);
			o += seg;
		}
		p += seg;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

int
wsg_wsdl_fetch_resolve(const char *origin, const char *base, const char *loc,
                       char **out, struct wsg_error *err)
{
	struct origin ro, lo;
	const char *p, *ref, *bq, *rq, *auth;
	size_t len, n, olen = strlen(origin), rplen, bplen, alen;
	char *path = NULL, *merged;
	const char *query;
	size_t qlen;

	*out = NULL;
	for (p = loc; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("\"<>\\^`{|}", *p) != NULL)
			return wsg_error_set(err, WSG_ERR_CONFIG,
			                     WSG_FAULT_NONE,
			                     "%s: import location \"%.200s\" "
			                     "holds a byte a URL may not hold",
			                     base, loc);
	len = strcspn(loc, "#");
	auth = strstr(origin, "://") + 3;
	if (parse_origin(origin, (size_t)(auth - 3 - origin), auth,
	                 olen - (size_t)(auth - origin), &ro) != 0)
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "bad upstream origin %s", origin);
	ref = loc;
	n = strspn(loc, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                "0123456789+-.");
	if ((n > 0 && n < len && isalpha((unsigned char)loc[0]) &&
	     loc[n] == ':') ||
	    (len >= 2 && loc[0] == '/' && loc[1] == '/')) {
		/* Absolute or network-path: it must name the upstream. */
		const char *s = loc[0] == '/' ? ro.scheme : loc;
		size_t slen = loc[0] == '/' ? strlen(ro.scheme) : n;

		p = loc[0] == '/' ? loc : loc + n + 1;
		if (strncmp(p, "//", 2) != 0 ||
		    parse_origin(s, slen, p + 2, strcspn(p + 2, "/?#"), &lo) !=
		            0 ||
		    !same_origin(&ro, &lo))
			return wsg_error_set(
			        err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
			        "%s: import location \"%.200s\" lies outside "
			        "the "
			        "upstream's origin %s (only its own scheme, "
			        "host and port are fetched)",
			        base, loc, origin);
		alen = strcspn(p + 2, "/?#");
		ref = p + 2 + alen;
		len -= (size_t)(ref - loc);
	}
	/* ref[0..len): path and query, relative to base (RFC 3986 5.2.2). */
	rplen = strcspn(ref, "?#");
	if (rplen > len)
		rplen = len;
	rq = rplen < len ? ref + rplen + 1 : NULL;
	base += olen;
	bplen = strcspn(base, "?");
	bq = base[bplen] == '?' ? base + bplen + 1 : NULL;
	query = rq;
	qlen = rq != NULL ? len - rplen - 1 : 0;
	if (rplen == 0 && ref != loc) {
		path = wsg_mem_strdup("/");
	} else if (rplen == 0) {
		path = wsg_mem_strndup(base, bplen);
		if (rq == NULL && bq != NULL) {
			query = bq;
			qlen = strlen(bq);
		}
	} else if (ref[0] == '/') {
		path = remove_dots(ref, rplen);
	} else {
		p = bplen > 0 ? base + bplen : base;
		while (p > base && p[-1] != '/')
			p--;
		merged = wsg_mem_printf("%s%.*s%.*s", p == base ? "/" : "",
		                        (int)(p - base), base, (int)rplen, ref);
		path = remove_dots(merged, strlen(merged));
		free(merged);
	}
	*out = wsg_mem_printf("%s%s%s%.*s", origin,
	                      path[0] != '\0' ? path : "/",
	                      query != NULL ? "?" : "", (int)qlen,
	                      query != NULL ? query : "");
	free(path);
	return WSG_OK;
}

/* ---- the fetch: a source for wsg_wsdl_load_source() ---- */

static struct fetch_doc *
fetch_find(struct fetch *f, const char *url)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->docs[i].url, url) == 0)
			return &f->docs[i];
	return NULL;
}

static int
fetch_resolve_cb(void *arg, const char *from, const char *loc, char **name,
                 struct wsg_error *err)
{
	struct fetch *f = arg;

	if (from == NULL) {
		*name = wsg_mem_strdup(loc);
		return WSG_OK;
	}
	return wsg_wsdl_fetch_resolve(f->origin, from, loc, name, err);
}

static int
fetch_read_cb(void *arg, const char *name, size_t max, char **buf, size_t *len,
              struct wsg_error *err)
{
	struct fetch *f = arg;
	struct fetch_doc *d = fetch_find(f, name);

	(void)max; /* the upstream pool capped the answer already */
	if (d == NULL) {
		if (f->n == WSG_WSDL_MAX_DOCS)
			return wsg_error_set(err, WSG_ERR_CONFIG,
			                     WSG_FAULT_NONE,
			                     "more than %d documents imported",
			                     WSG_WSDL_MAX_DOCS);
		d = &f->docs[f->n++];
		d->f = f;
		d->url = wsg_mem_strdup(name);
	}
	if (d->body == NULL)
		return WSG_ERR_AGAIN;
	*buf = wsg_mem_strndup(d->body, d->len);
	*len = d->len;
	return WSG_OK;
}

static void fetch_round(struct fetch *f);
static void fetch_done(struct fetch *f);
static void entry_drop_copy(struct entry *e);

/* The first failure is the one logged. */
static void
fetch_fail(struct fetch *f, const char *url, const char *reason)
{
	if (!f->failed)
		wsg_error_set(&f->err, WSG_ERR_CONNECT, WSG_FAULT_NONE,
		              "GET %s: %s", url, reason);
	f->failed = 1;
}

static void
got_cb(int status, const struct wsg_upstream_answer *a, const char *reason,
       void *arg)
{
	struct fetch_doc *d = arg;
	struct fetch *f = d->f;
	char why[64];

	if (status != WSG_OK) {
		fetch_fail(f, d->url, reason);
	} else if (a->status != 200) {
		snprintf(why, sizeof(why), "the upstream answered HTTP %d",
		         a->status);
		fetch_fail(f, d->url, why);
	} else {
		d->body = wsg_mem_strndup(a->body, a->body_len);
		d->len = a->body_len;
	}
	if (--f->inflight == 0) {
		if (f->failed)
			fetch_done(f);
		else
			fetch_round(f);
	}
}

/* GETs every document named but not asked for yet. */
static void
fetch_get_missing(struct fetch *f)
{
	struct wsg_upstream_send s;
	size_t i;
	int rc;

	for (i = 0; i < f->n && !f->failed; i++) {
		struct fetch_doc *d = &f->docs[i];

		if (d->requested)
			continue;
		d->requested = 1;
		memset(&s, 0, sizeof(s));
		s.route = f->route;
		s.tls = f->snap->upstream_tls;
		s.max_response_size = f->snap->cfg->limits.max_body_size;
		s.method = "GET";
		/* One target per origin: every document shares its pooled
		 * connections, however many URLs the upstream names. */
		s.url = f->origin;
		s.uri_suffix = d->url + strlen(f->origin);
		s.user = "";
		s.roles = "";
		rc = wsg_upstream_forward(f->c->pool, &s, got_cb, d);
		if (rc != WSG_OK)
			fetch_fail(f, d->url, wsg_strerror(rc));
		else
			f->inflight++;
	}
}

/*
 * Loads from what is fetched so far: the documents it names that are not
 * there yet are fetched, and the load runs again when they are; once
 * everything is there, the copies for each allowed Host are made too.
 */
static void
fetch_round(struct fetch *f)
{
	const struct wsg_route_conf *r = f->route;
	struct wsg_wsdl_source src = {fetch_resolve_cb, fetch_read_cb, f};
	struct wsg_soap_limits lim;
	struct entry *e = f->e;
	struct wsg_wsdl *def = NULL, **hosts = NULL;
	struct wsg_op_decls *actions = NULL;
	struct wsg_schema *schema = NULL;
	char *url;
	size_t i;
	int rc;

	wsg_config_soap_limits(&f->snap->cfg->limits, &lim);
	rc = wsg_wsdl_load_source(&src, f->root, r->public_url, &lim,
	                          f->snap->cfg->limits.max_body_size, &def,
	                          &f->err);
	if (rc == WSG_ERR_AGAIN) {
		fetch_get_missing(f);
		if (f->inflight == 0) {
			f->failed = 1; /* every GET refused at once */
			fetch_done(f);
		}
		return;
	}
	if (rc != WSG_OK) {
		f->failed = 1;
		fetch_done(f);
		return;
	}
	if (r->public_url_from_host) {
		hosts = wsg_mem_calloc(r->n_public_url_hosts, sizeof(*hosts));
		/* Every byte is there: these loads cannot wait. */
		for (i = 0; i < r->n_public_url_hosts && rc == WSG_OK; i++) {
			url = wsg_wsdl_host_url(r->public_url,
			                        r->public_url_hosts[i]);
			rc = wsg_wsdl_load_source(
			        &src, f->root, url, &lim,
			        f->snap->cfg->limits.max_body_size, &hosts[i],
			        &f->err);
			free(url);
		}
	}
	/* Derived once per copy, never per request. */
	if (rc == WSG_OK)
		rc = wsg_operations_route_actions(r->operations,
		                                  r->n_operations, def, &lim,
		                                  &actions, &f->err);
	if (rc == WSG_OK && r->validate == WSG_VALIDATE_WSDL)
		rc = wsg_schema_compile(def, &lim, &schema, &f->err);
	if (rc != WSG_OK) {
		f->failed = 1;
		wsg_operations_decls_free(actions);
		wsg_wsdl_free(def);
		for (i = 0; hosts != NULL && i < r->n_public_url_hosts; i++)
			wsg_wsdl_free(hosts[i]);
		free(hosts);
		fetch_done(f);
		return;
	}
	/* A good copy: it replaces the old one. */
	entry_drop_copy(e);
	e->def = def;
	e->hosts = hosts;
	e->n_hosts = hosts != NULL ? r->n_public_url_hosts : 0;
	e->actions = actions;
	e->schema = schema;
	fetch_done(f);
}

/* What a copy is made from: another route, upstream or public URL makes
 * another copy. */
static char *
entry_key(const struct wsg_route_conf *r)
{
	char *key = wsg_mem_printf("%s\n%s\n%d", r->upstreams[0], r->public_url,
	                           r->public_url_from_host),
	     *k;
	size_t i;

	for (i = 0; r->public_url_from_host && i < r->n_public_url_hosts; i++) {
		k = wsg_mem_printf("%s\n%s", key, r->public_url_hosts[i]);
		free(key);
		key = k;
	}
	return key;
}

static void
entry_drop_copy(struct entry *e)
{
	size_t i;

	wsg_wsdl_free(e->def);
	e->def = NULL;
	for (i = 0; i < e->n_hosts; i++)
		wsg_wsdl_free(e->hosts[i]);
	free(e->hosts);
	e->hosts = NULL;
	e->n_hosts = 0;
	wsg_operations_decls_free(e->actions);
	e->actions = NULL;
	wsg_schema_free(e->schema);
	e->schema = NULL;
}

static void
fetch_free(struct fetch *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->docs[i].url);
		free(f->docs[i].body);
	}
	free(f->origin);
	free(f->root);
	wsg_snapshot_unref(f->snap);
	free(f);
}

/* The fetch is over: the waiting requests get the copy, fresh or stale,
 * or the failure. */
static void
fetch_done(struct fetch *f)
{
	struct entry *e = f->e;
	struct wsg_wsdl_published pub;
	struct waiter *w;
	time_t now = now_sec(), retry;
	int status = WSG_OK;

	e->fetch = NULL;
	if (!f->failed) {
		e->fetched = now;
		/* A reload during the fetch asks again at the next request. */
		e->next_try = f->snap->cfg == e->cfg
		                      ? now + (time_t)f->route->wsdl_ttl
		                      : 0;
	} else if (e->def != NULL) {
		retry = f->route->wsdl_ttl < RETRY_SECONDS ? f->route->wsdl_ttl
		                                           : RETRY_SECONDS;
		e->next_try = now + retry;
		wsg_log_msg("warning",
		            "route %s: cannot fetch its WSDL from the upstream "
		            "(%s); serving the copy fetched %llds ago, next "
		            "try in %llds",
		            e->name, f->err.reason,
		            (long long)(now - e->fetched), (long long)retry);
	} else {
		status = WSG_ERR_CONNECT;
		wsg_log_msg("warning",
		            "route %s: cannot fetch its WSDL from the upstream "
		            "(%s); nothing to serve yet",
		            e->name, f->err.reason);
	}
	pub.def = e->def;
	pub.hosts = e->hosts;
	pub.n_hosts = e->n_hosts;
	pub.actions = e->actions;
	pub.schema = e->schema;
	fetch_free(f);
	/* Answers go out one by one; none of them can start another fetch
	 * for this entry while the list is walked. */
	while ((w = STAILQ_FIRST(&e->waiters)) != NULL) {
		STAILQ_REMOVE_HEAD(&e->waiters, link);
		w->cb(status, status == WSG_OK ? &pub : NULL, w->arg);
		free(w);
	}
}

/* "scheme://authority" of `url`, and `url` with "wsdl" added to its
 * query. */
static void
upstream_urls(const char *url, char **origin, char **root)
{
	const char *auth = strstr(url, "://") + 3;

	*origin = wsg_mem_strndup(url,
	                          (size_t)(auth - url) + strcspn(auth, "/?"));
	*root = wsg_mem_printf("%s%swsdl", url,
	                       strchr(url, '?') != NULL ? "&" : "?");
}

static void
fetch_start(struct wsg_wsdl_cache *c, struct entry *e,
            struct wsg_snapshot *snap, const struct wsg_route_conf *r)
{
	struct fetch *f = wsg_mem_calloc(1, sizeof(*f));

	f->c = c;
	f->e = e;
	f->snap = wsg_snapshot_ref(snap);
	f->route = r;
	/* The route's upstreams serve one service; the first one is asked. */
	upstream_urls(r->upstreams[0], &f->origin, &f->root);
	e->fetch = f;
	fetch_round(f);
}

struct wsg_wsdl_cache *
wsg_wsdl_cache_new(struct wsg_upstream_pool *pool)
{
	struct wsg_wsdl_cache *c = wsg_mem_calloc(1, sizeof(*c));

	c->pool = pool;
	LIST_INIT(&c->entries);
	return c;
}

void
wsg_wsdl_cache_free(struct wsg_wsdl_cache *c)
{
	struct entry *e;

	if (c == NULL)
		return;
	while ((e = LIST_FIRST(&c->entries)) != NULL) {
		LIST_REMOVE(e, link);
		entry_drop_copy(e);
		free(e->name);
		free(e->key);
		free(e);
	}
	free(c);
}

void
wsg_wsdl_cache_get(struct wsg_wsdl_cache *c, struct wsg_snapshot *snap,
                   const struct wsg_route_conf *r, wsg_wsdl_cache_cb cb,
                   void *arg)
{
	struct wsg_wsdl_published pub;
	struct waiter *w;
	struct entry *e;
	char *key;

	LIST_FOREACH(e, &c->entries, link)
	if (strcmp(e->name, r->name) == 0)
		break;
	if (e == NULL) {
		e = wsg_mem_calloc(1, sizeof(*e));
		e->name = wsg_mem_strdup(r->name);
		STAILQ_INIT(&e->waiters);
		LIST_INSERT_HEAD(&c->entries, e, link);
	}
	if (e->cfg != snap->cfg) {
		/* A reload: fetched again, the old copy kept for a down
		 * upstream only when it was made the same way. */
		key = entry_key(r);
		if (e->key == NULL || strcmp(e->key, key) != 0) {
			entry_drop_copy(e);
			free(e->key);
			e->key = key;
		} else {
			free(key);
		}
		e->cfg = snap->cfg;
		e->next_try = 0;
	}
	if (e->def != NULL && now_sec() < e->next_try) {
		pub.def = e->def;
		pub.hosts = e->hosts;
		pub.n_hosts = e->n_hosts;
		pub.actions = e->actions;
		pub.schema = e->schema;
		cb(WSG_OK, &pub, arg);
		return;
	}
	w = wsg_mem_calloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = arg;
	STAILQ_INSERT_TAIL(&e->waiters, w, link);
	if (e->fetch == NULL)
		fetch_start(c, e, snap, r);
}
