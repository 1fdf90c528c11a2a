#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/util.h>
#include <ldap.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostport.h"
#include "dsig.h"
#include "err.h"
#include "logring.h"
#include "mem.h"
#include "path.h"
#include "schema.h"
#include "soap.h"
#include "operations.h"
#include "wsdl.h"
#include "xenc.h"

/*
 * Validation is driven by one table per group (struct key). Every key is
 * looked at even after an error, so the operator sees all problems at once;
 * a failed load frees whatever was filled in.
 */

/* One error line; sorted by place before they are shown. */
struct problem {
	int included; /* from an @include file, not the main one */
	char *file;
	unsigned line;
	size_t seq; /* keeps the order of problems on one line */
	char *text; /* "file:line: key: problem\n" */
};

/* Problems found so far and what relative paths resolve against. */
struct ctx {
	const char *file; /* the path as the caller wrote it */
	const char *dir;  /* absolute folder of the file */
	struct problem *problems;
	size_t n;
};

enum kind {
	KIND_INT,    /* int or int64 within [min, max] */
	KIND_BOOL,   /* true or false */
	KIND_STRING, /* non-empty string */
	KIND_PATH,   /* non-empty string, made absolute against the folder */
	KIND_CHOICE, /* one of `choices` */
	KIND_GROUP,  /* nested group described by `sub` */
	KIND_CUSTOM, /* `fn` parses it; also called when absent (s == NULL) */
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;            /* field offset in the section struct */
	size_t size;           /* field size, for KIND_INT */
	int64_t min, max, def; /* KIND_INT range; def also for KIND_BOOL */
	const char *sdef;      /* default string; NULL = none */
	const char *const *choices;
	const struct key *sub;
	int required;
	void (*fn)(struct ctx *x, const config_setting_t *s, void *base);
};

#define FIELD_SIZE(st, f) sizeof(((st *)0)->f)
#define K_INT(st, f, lo, hi, d)                                                \
	{                                                                      \
		.name = #f, .kind = KIND_INT, .off = offsetof(st, f),          \
		.size = FIELD_SIZE(st, f), .min = (lo), .max = (hi),           \
		.def = (d)                                                     \
	}
#define K_BOOL(st, f, d)                                                       \
	{                                                                      \
		.name = #f, .kind = KIND_BOOL, .off = offsetof(st, f),         \
		.def = (d)                                                     \
	}
#define K_STR(st, f, d)                                                        \
	{                                                                      \
		.name = #f, .kind = KIND_STRING, .off = offsetof(st, f),       \
		.sdef = (d)                                                    \
	}
#define K_REQ_STR(st, f)                                                       \
	{                                                                      \
		.name = #f, .kind = KIND_STRING, .off = offsetof(st, f),       \
		.required = 1                                                  \
	}
#define K_PATH(st, f, d)                                                       \
	{                                                                      \
		.name = #f, .kind = KIND_PATH, .off = offsetof(st, f),         \
		.sdef = (d)                                                    \
	}
#define K_REQ_PATH(st, f)                                                      \
	{                                                                      \
		.name = #f, .kind = KIND_PATH, .off = offsetof(st, f),         \
		.required = 1                                                  \
	}
#define K_CHOICE(st, f, d, ch)                                                 \
	{                                                                      \
		.name = #f, .kind = KIND_CHOICE, .off = offsetof(st, f),       \
		.sdef = (d), .choices = (ch)                                   \
	}
#define K_GROUP(st, f, tab)                                                    \
	{                                                                      \
		.name = #f, .kind = KIND_GROUP, .off = offsetof(st, f),        \
		.sub = (tab)                                                   \
	}
#define K_CUSTOM(n, cb, req)                                                   \
	{                                                                      \
		.name = (n), .kind = KIND_CUSTOM, .fn = (cb),                  \
		.required = (req)                                              \
	}
#define K_END                                                                  \
	{                                                                      \
		.name = NULL                                                   \
	}

/* ---- error reporting ---- */

static int
problem_cmp(const void *a, const void *b)
{
	const struct problem *p = a, *q = b;
	int c;

	if (p->included != q->included)
		return p->included - q->included;
	if ((c = strcmp(p->file, q->file)) != 0)
		return c;
	if (p->line != q->line)
		return p->line < q->line ? -1 : 1;
	return p->seq < q->seq ? -1 : p->seq > q->seq;
}

/* All problems in file and line order as one text; frees them. */
static char *
join_problems(struct ctx *x)
{
	char *all = NULL;
	size_t i, len = 0, n;

	if (x->n == 0)
		return NULL;
	qsort(x->problems, x->n, sizeof(*x->problems), problem_cmp);
	for (i = 0; i < x->n; i++) {
		n = strlen(x->problems[i].text);
		all = wsg_mem_realloc(all, len + n + 1);
		memcpy(all + len, x->problems[i].text, n + 1);
		len += n;
		free(x->problems[i].text);
		free(x->problems[i].file);
	}
	free(x->problems);
	x->problems = NULL;
	x->n = 0;
	return all;
}

static void __attribute__((format(printf, 5, 0)))
vreport(struct ctx *x, const char *file, unsigned line, const char *key,
        const char *fmt, va_list ap)
{
	char *problem, *text, *included = NULL;
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	problem = wsg_mem_alloc((size_t)(n < 0 ? 0 : n) + 1);
	vsnprintf(problem, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
	/* libconfig names an @include file as written; show where it is. */
	if (file == NULL || strcmp(file, x->file) == 0)
		file = x->file;
	else if (file[0] != '/' && x->dir != NULL)
		file = included = wsg_mem_printf("%s/%s", x->dir, file);
	/* Only the root group has no line; its keys then name just the file. */
	if (line == 0 && key != NULL)
		text = wsg_mem_printf("%s: %s: %s\n", file, key, problem);
	else if (line == 0)
		text = wsg_mem_printf("%s: %s\n", file, problem);
	else if (key != NULL)
		text = wsg_mem_printf("%s:%u: %s: %s\n", file, line, key,
		                      problem);
	else
		text = wsg_mem_printf("%s:%u: %s\n", file, line, problem);
	x->problems =
	        wsg_mem_realloc(x->problems, (x->n + 1) * sizeof(*x->problems));
	x->problems[x->n] = (struct problem){
	        .included = included != NULL,
	        .file = wsg_mem_strdup(file),
	        .line = line,
	        .seq = x->n,
	        .text = text,
	};
	x->n++;
	free(problem);
	free(included);
}

static void __attribute__((format(printf, 5, 6)))
report(struct ctx *x, const char *file, unsigned line, const char *key,
       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(x, file, line, key, fmt, ap);
	va_end(ap);
}

/* Dotted path of a setting as libconfig's lookup syntax writes it. */
static char *
key_of(const config_setting_t *s)
{
	const config_setting_t *parent = config_setting_parent(s);
	char *up, *k;

	if (parent == NULL)
		return wsg_mem_strdup("");
	up = key_of(parent);
	if (config_setting_name(s) != NULL)
		k = wsg_mem_printf("%s%s%s", up, *up ? "." : "",
		                   config_setting_name(s));
	else
		k = wsg_mem_printf("%s%s[%d]", up, *up ? "." : "",
		                   config_setting_index(s));
	free(up);
	return k;
}

/* Reports a problem with the value of setting `s`. */
static void __attribute__((format(printf, 3, 4)))
bad(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	char *key = key_of(s);
	va_list ap;

	va_start(ap, fmt);
	vreport(x, config_setting_source_file(s), config_setting_source_line(s),
	        key, fmt, ap);
	va_end(ap);
	free(key);
}

static void
missing(struct ctx *x, const config_setting_t *group, const char *name)
{
	char *up = key_of(group);
	char *key = wsg_mem_printf("%s%s%s", up, *up ? "." : "", name);

	report(x, config_setting_source_file(group),
	       config_setting_source_line(group), key, "missing required key");
	free(key);
	free(up);
}

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a floating-point number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	}
	return "nothing";
}

static void
bad_type(struct ctx *x, const config_setting_t *s, const char *expected)
{
	bad(x, s, "expected %s, got %s", expected,
	    type_name(config_setting_type(s)));
}

/* ---- value helpers ---- */

/* Lexically removes ".", ".." and repeated slashes from absolute `p`. */
static char *
normalise_path(const char *p)
{
	char *out = wsg_mem_alloc(strlen(p) + 2);
	size_t o = 0, len;
	const char *e;

	while (*p != '\0') {
		while (*p == '/')
			p++;
		for (e = p; *e != '\0' && *e != '/'; e++)
			;
		len = (size_t)(e - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

static char *
resolve_path(const struct ctx *x, const char *v)
{
	char *joined, *abs;

	if (v[0] == '/')
		return normalise_path(v);
	joined = wsg_mem_printf("%s/%s", x->dir, v);
	abs = normalise_path(joined);
	free(joined);
	return abs;
}

/* A non-empty string value, or NULL after reporting why not. */
static const char *
string_value(struct ctx *x, const config_setting_t *s)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		bad_type(x, s, "a string");
		return NULL;
	}
	v = config_setting_get_string(s);
	if (*v == '\0') {
		bad(x, s, "must not be empty");
		return NULL;
	}
	return v;
}

static int
is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* Lists of groups must be lists; an empty array () / [] reads the same. */
static int
is_sequence(const config_setting_t *s)
{
	return config_setting_is_list(s) ||
	       (config_setting_is_array(s) && config_setting_length(s) == 0);
}

static void
store_int(void *p, size_t size, int64_t v)
{
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case sizeof(uint16_t): memcpy(p, &u16, sizeof(u16)); break;
	case sizeof(uint32_t): memcpy(p, &u32, sizeof(u32)); break;
	default: memcpy(p, &v, sizeof(v)); break;
	}
}

static char *
choices_text(const char *const *choices)
{
	char *text = wsg_mem_strdup(""), *next;
	size_t i;

	for (i = 0; choices[i] != NULL; i++) {
		next = wsg_mem_printf("%s%s\"%s\"", text, i ? ", " : "",
		                      choices[i]);
		free(text);
		text = next;
	}
	return text;
}

/* Index of `v` in NULL-terminated `choices`, or -1 after reporting. */
static int
choice_value(struct ctx *x, const config_setting_t *s,
             const char *const *choices)
{
	const char *v = string_value(x, s);
	char *list;
	int i;

	if (v == NULL)
		return -1;
	for (i = 0; choices[i] != NULL; i++)
		if (strcmp(v, choices[i]) == 0)
			return i;
	list = choices_text(choices);
	bad(x, s, "\"%s\" is not one of %s", v, list);
	free(list);
	return -1;
}

/* Checks "http[s]://host[:port][/path]"; returns NULL or the reason. */
static const char *
check_upstream(const char *u)
{
	unsigned char buf[sizeof(struct in6_addr)];
	const char *p, *end, *hend;
	char *h;
	unsigned port;
	int ok;

	if (strncasecmp(u, "https://", 8) == 0)
		p = u + 8;
	else if (strncasecmp(u, "http://", 7) == 0)
		p = u + 7;
	else
		return "expected a URL of the form "
		       "http[s]://host[:port][/path]";
	end = p + strcspn(p, "/");
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return "user information in an upstream URL is not supported";
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(end - p));
		if (hend == NULL)
			return "unterminated IPv6 address in brackets";
		h = wsg_mem_strndup(p + 1, (size_t)(hend - p - 1));
		ok = inet_pton(AF_INET6, h, buf) == 1;
		free(h);
		if (!ok)
			return "the host in brackets is not an IPv6 address";
		hend++;
	} else {
		for (hend = p; hend < end && (isalnum((unsigned char)*hend) ||
		                              *hend == '-' || *hend == '.');
		     hend++)
			;
		if (hend == p || *p == '-' || *p == '.')
			return "missing or malformed host name";
	}
	if (hend < end && *hend == ':') {
		if (wsg_hostport_port(hend + 1, (size_t)(end - hend - 1),
		                      &port) != 0)
			return "the port must be a number from 1 to 65535";
	} else if (hend != end) {
		return "malformed host name";
	}
	for (p = end; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#')
			return "the path holds a space, control character or "
			       "'#'";
	return NULL;
}

/*
 * Copies a list or array of non-empty strings into *out / *n. Returns the
 * number of bad elements (each reported).
 */
static int
string_list(struct ctx *x, const config_setting_t *s, char ***out, size_t *n)
{
	const config_setting_t *e;
	const char *v;
	int i, len, errors = 0;

	if (!config_setting_is_list(s) && !config_setting_is_array(s)) {
		bad_type(x, s, "a list of strings");
		return 1;
	}
	len = config_setting_length(s);
	*out = wsg_mem_calloc((size_t)len, sizeof(**out));
	*n = 0;
	for (i = 0; i < len; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if ((v = string_value(x, e)) == NULL)
			errors++;
		else
			(*out)[(*n)++] = wsg_mem_strdup(v);
	}
	return errors;
}

/* ---- generic table walk ---- */

static void load_group(struct ctx *x, const config_setting_t *g,
                       const struct key *keys, void *base);

static void
load_key(struct ctx *x, const config_setting_t *s, const struct key *k,
         void *base)
{
	char **str = (char **)((char *)base + k->off);
	const char *v;
	int64_t i;
	int c;

	switch (k->kind) {
	case KIND_INT:
		i = k->def;
		if (s != NULL && !is_int(s)) {
			bad_type(x, s, "an integer");
		} else if (s != NULL) {
			i = config_setting_get_int64(s);
			if (i < k->min || i > k->max)
				bad(x, s, "%lld is out of range (%lld..%lld)",
				    (long long)i, (long long)k->min,
				    (long long)k->max);
		}
		store_int((char *)base + k->off, k->size, i);
		break;
	case KIND_BOOL:
		c = (int)k->def;
		if (s != NULL && config_setting_type(s) != CONFIG_TYPE_BOOL)
			bad_type(x, s, "a boolean (true or false)");
		else if (s != NULL)
			c = config_setting_get_bool(s);
		*(int *)((char *)base + k->off) = c;
		break;
	case KIND_STRING:
		v = s != NULL ? string_value(x, s) : k->sdef;
		if (v != NULL)
			*str = wsg_mem_strdup(v);
		break;
	case KIND_PATH:
		v = s != NULL ? string_value(x, s) : k->sdef;
		if (v != NULL)
			*str = resolve_path(x, v);
		break;
	case KIND_CHOICE:
		if (s == NULL)
			*str = wsg_mem_strdup(k->sdef);
		else if ((c = choice_value(x, s, k->choices)) >= 0)
			*str = wsg_mem_strdup(k->choices[c]);
		break;
	case KIND_GROUP:
		if (s != NULL && !config_setting_is_group(s)) {
			bad_type(x, s, "a group");
			s = NULL;
		}
		load_group(x, s, k->sub, (char *)base + k->off);
		break;
	case KIND_CUSTOM: k->fn(x, s, base); break;
	}
}

/* Fills `base` from group `g` (NULL: all defaults); unknown keys are errors. */
static void
load_group(struct ctx *x, const config_setting_t *g, const struct key *keys,
           void *base)
{
	const config_setting_t *s;
	const struct key *k;
	int i, n;

	n = g != NULL ? config_setting_length(g) : 0;
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned)i);
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, config_setting_name(s)) == 0)
				break;
		if (k->name == NULL)
			bad(x, s, "unknown key");
	}
	for (k = keys; k->name != NULL; k++) {
		s = g != NULL ? config_setting_get_member(g, k->name) : NULL;
		if (s == NULL && k->required)
			missing(x, g, k->name);
		else
			load_key(x, s, k, base);
	}
}

/* ---- custom keys ---- */

static const struct key tls_keys[] = {
        K_REQ_PATH(struct wsg_tls_conf, cert),
        K_REQ_PATH(struct wsg_tls_conf, key),
        K_END,
};

static void
load_tls(struct ctx *x, const config_setting_t *s, int *has_tls,
         struct wsg_tls_conf *tls)
{
	if (s == NULL)
		return;
	if (!config_setting_is_group(s)) {
		bad_type(x, s, "a group");
		return;
	}
	load_group(x, s, tls_keys, tls);
	*has_tls = 1;
}

static void
load_address(struct ctx *x, const config_setting_t *s, const char *dflt,
             char **address, char **host, uint16_t *port)
{
	const char *v = s != NULL ? string_value(x, s) : dflt;
	const char *why;
	unsigned p;

	if (v == NULL)
		return;
	if ((why = wsg_hostport_split(v, WSG_HOSTPORT_IP, host, &p)) != NULL) {
		bad(x, s, "\"%s\": %s", v, why);
		return;
	}
	*port = (uint16_t)p;
	*address = wsg_mem_strdup(v);
}

static void
listen_address_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_listen_conf *l = base;

	load_address(x, s, NULL, &l->address, &l->host, &l->port);
}

static void
listen_tls_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_listen_conf *l = base;

	load_tls(x, s, &l->has_tls, &l->tls);
}

static void
mgmt_address_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_management_conf *m = base;

	load_address(x, s, "127.0.0.1:9164", &m->address, &m->host, &m->port);
}

static void
mgmt_tls_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_management_conf *m = base;

	load_tls(x, s, &m->has_tls, &m->tls);
}

/*
 * No CORS unless exact origins are listed: "*" would let any web page open
 * in the operator's browser use the API (and create the first admin), so
 * it is refused while the bootstrap is on.
 */
static void
cors_origins_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_management_conf *m = base;
	const char *p;
	size_t i;

	if (s == NULL ||
	    string_list(x, s, &m->cors_origins, &m->n_cors_origins) != 0)
		return;
	/* Each value goes into a response header as it is. */
	for (i = 0; i < m->n_cors_origins; i++) {
		if (strcmp(m->cors_origins[i], "*") == 0 &&
		    m->bootstrap_admin != NULL &&
		    strcmp(m->bootstrap_admin, "off") != 0) {
			bad(x, config_setting_get_elem(s, (unsigned)i),
			    "\"*\" is refused while bootstrap_admin is not "
			    "\"off\": list exact origins");
			continue;
		}
		for (p = m->cors_origins[i]; *p != '\0'; p++)
			if ((unsigned char)*p <= 0x20 ||
			    (unsigned char)*p >= 0x7f || *p == ',') {
				bad(x, config_setting_get_elem(s, (unsigned)i),
				    "\"%s\" holds a space, control character "
				    "or ','",
				    m->cors_origins[i]);
				break;
			}
	}
}

/* Host names (port optional) the management listener answers to. */
static void
server_names_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_management_conf *m = base;
	const char *p;
	size_t i;

	if (s == NULL ||
	    string_list(x, s, &m->server_names, &m->n_server_names) != 0)
		return;
	for (i = 0; i < m->n_server_names; i++) {
		p = m->server_names[i];
		if (*p == '\0' || p[strspn(p, "abcdefghijklmnopqrstuvwxyz"
		                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                              "0123456789.-:[]")] != '\0')
			bad(x, config_setting_get_elem(s, (unsigned)i),
			    "\"%s\" is not a host name with an optional "
			    "port",
			    p);
	}
}

/* Empty (MI's default): any user may log in. */
static void
login_roles_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_management_conf *m = base;

	if (s != NULL)
		string_list(x, s, &m->login_roles, &m->n_login_roles);
}

static void
replay_store_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	static const char *const stores[] = {"memory", "mariadb", NULL};
	struct wsg_security_conf *sec = base;
	int c;

	if (s == NULL) {
		sec->replay_store = wsg_mem_strdup("memory");
		return;
	}
	if ((c = choice_value(x, s, stores)) < 0)
		return;
	sec->replay_store = wsg_mem_strdup(stores[c]);
	sec->replay_shared = c == 1;
}

static void
upstream_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_route_conf *r = base;
	const char *why;
	size_t i;

	if (string_list(x, s, &r->upstreams, &r->n_upstreams) != 0)
		return;
	if (r->n_upstreams == 0)
		bad(x, s, "at least one upstream URL is required");
	for (i = 0; i < r->n_upstreams; i++) {
		if ((why = check_upstream(r->upstreams[i])) != NULL)
			bad(x, config_setting_get_elem(s, (unsigned)i),
			    "\"%s\": %s", r->upstreams[i], why);
		if (strncasecmp(r->upstreams[i], "https://", 8) == 0)
			r->has_https = 1;
	}
}

static void
password_types_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	static const char *const types[] = {"PasswordText", "PasswordDigest",
	                                    NULL};
	static const unsigned bits[] = {WSG_PWTYPE_TEXT, WSG_PWTYPE_DIGEST};
	struct wsg_route_conf *r = base;
	int i, c, len;

	if (s == NULL) {
		r->password_types = WSG_PWTYPE_TEXT | WSG_PWTYPE_DIGEST;
		return;
	}
	if (!config_setting_is_list(s) && !config_setting_is_array(s)) {
		bad_type(x, s, "a list of strings");
		return;
	}
	len = config_setting_length(s);
	if (len == 0)
		bad(x, s,
		    "must not be empty (allow \"PasswordText\", "
		    "\"PasswordDigest\" or both)");
	for (i = 0; i < len; i++)
		if ((c = choice_value(x,
		                      config_setting_get_elem(s, (unsigned)i),
		                      types)) >= 0)
			r->password_types |= bits[c];
}

static void
roles_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_route_conf *r = base;

	if (s != NULL)
		string_list(x, s, &r->roles, &r->n_roles);
}

static void
route_path_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_route_conf *r = base;
	const char *v = string_value(x, s);
	const char *p, *why;
	char *norm;

	if (v == NULL)
		return;
	if (v[0] != '/') {
		bad(x, s, "\"%s\" must start with \"/\"", v);
		return;
	}
	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '?' || *p == '#') {
			bad(x, s,
			    "\"%s\" holds a space, control character, "
			    "'?' or '#'",
			    v);
			return;
		}
	/* Requests are matched in normal form: another spelling never
	 * matches. */
	if (wsg_path_normalize(v, strlen(v), &norm, &why) != WSG_OK) {
		bad(x, s, "\"%s\" is refused as a request path: %s", v, why);
		return;
	}
	if (strcmp(norm, v) != 0) {
		bad(x, s, "\"%s\" is not in normal form; write \"%s\"", v,
		    norm);
		free(norm);
		return;
	}
	free(norm);
	r->path = wsg_mem_strdup(v);
	r->path_len = strlen(v);
}

/* Written into the WSDL for clients: absolute, and nothing after the path,
 * where "?xsd=N" goes. */
static void
public_url_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_route_conf *r = base;
	const char *v, *why;

	if (s == NULL || (v = string_value(x, s)) == NULL)
		return;
	if ((why = check_upstream(v)) != NULL)
		bad(x, s, "\"%s\": %s", v, why);
	else if (strchr(v, '?') != NULL)
		bad(x, s, "\"%s\": a public URL has no query", v);
	else
		r->public_url = wsg_mem_strdup(v);
}

/* A local file, or "upstream": the upstream's own ?wsdl. */
static void
wsdl_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_route_conf *r = base;
	const char *v;

	if (s == NULL || (v = string_value(x, s)) == NULL)
		return;
	if (strcmp(v, "upstream") == 0)
		r->wsdl_upstream = 1;
	else
		r->wsdl = resolve_path(x, v);
}

static void
wsdl_auth_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	static const char *const modes[] = {"none", "basic", "route", NULL};
	struct wsg_route_conf *r = base;
	int c;

	r->wsdl_auth = WSG_WSDL_AUTH_NONE;
	if (s != NULL && (c = choice_value(x, s, modes)) >= 0)
		r->wsdl_auth = (enum wsg_wsdl_auth)c;
}

/* What a Host header may hold for an allowed name: host[:port], the host
 * a DNS name or [IPv6], so that nothing else lands in the WSDL. */
static const char *
check_host(const char *v)
{
	size_t n = strlen(v), h;

	if (v[0] == '[') {
		h = strcspn(v, "]");
		if (v[h] != ']' || h < 3 ||
		    strspn(v + 1, "0123456789abcdefABCDEF:.") != h - 1)
			return "is not a host name or [IPv6 address]";
		h++;
	} else {
		h = strspn(v, "abcdefghijklmnopqrstuvwxyz"
		              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
		if (h == 0)
			return "is not a host name or [IPv6 address]";
	}
	if (v[h] == '\0')
		return NULL;
	if (v[h] != ':' || n - h - 1 < 1 || n - h - 1 > 5 ||
	    strspn(v + h + 1, "0123456789") != n - h - 1 ||
	    atoi(v + h + 1) < 1 || atoi(v + h + 1) > 65535)
		return "is not host or host:port (port 1..65535)";
	return NULL;
}

static void
public_url_hosts_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_route_conf *r = base;
	const char *why;
	size_t i;

	if (s == NULL || string_list(x, s, &r->public_url_hosts,
	                             &r->n_public_url_hosts) != 0)
		return;
	for (i = 0; i < r->n_public_url_hosts; i++)
		if ((why = check_host(r->public_url_hosts[i])) != NULL)
			bad(x, config_setting_get_elem(s, (unsigned)i),
			    "\"%s\" %s", r->public_url_hosts[i], why);
}

static void
auth_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	static const char *const modes[] = {
	        "wsse", "basic", "wsse_or_basic", "x509", "wsse_or_x509", NULL};
	static const enum wsg_auth_mode values[] = {
	        WSG_AUTH_WSSE, WSG_AUTH_BASIC, WSG_AUTH_WSSE_OR_BASIC,
	        WSG_AUTH_X509, WSG_AUTH_WSSE_OR_X509};
	struct wsg_route_conf *r = base;
	int c;

	r->auth = WSG_AUTH_WSSE;
	if (s != NULL && (c = choice_value(x, s, modes)) >= 0)
		r->auth = values[c];
}

static void *load_group_list(struct ctx *x, const config_setting_t *s,
                             const struct key *keys, size_t size, size_t *n);

static void
operation_roles_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_operation *op = base;

	if (s != NULL)
		string_list(x, s, &op->roles, &op->n_roles);
}

/* roles is required: an entry without it would open its operation to any
 * user by a slip of the pen. */
static const struct key operation_keys[] = {
        K_REQ_STR(struct wsg_operation, name),
        K_CUSTOM("roles", operation_roles_cb, 1),
        K_STR(struct wsg_operation, soap_action, NULL),
        K_END,
};

/* The per-operation roles: names in Clark notation or local, each once. */
static void
operations_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_route_conf *r = base;
	struct wsg_operation *op;
	const config_setting_t *e;
	size_t i, j;

	r->operations = load_group_list(
	        x, s, operation_keys, sizeof(*r->operations), &r->n_operations);
	for (i = 0; i < r->n_operations; i++) {
		op = &r->operations[i];
		e = config_setting_get_elem(s, (unsigned)i);
		if (op->name == NULL)
			continue;
		if (wsg_operations_split_name(op->name, &op->ns, &op->local) !=
		    WSG_OK) {
			bad(x, config_setting_get_member(e, "name"),
			    "\"%s\" is neither \"{namespace}LocalName\" nor "
			    "\"LocalName\"",
			    op->name);
			continue;
		}
		for (j = 0; j < i; j++)
			if (r->operations[j].name != NULL &&
			    strcmp(r->operations[j].name, op->name) == 0)
				bad(x, config_setting_get_member(e, "name"),
				    "duplicate operation \"%s\" (also "
				    "operations.[%zu])",
				    op->name, j);
	}
}

static void
validate_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	static const char *const modes[] = {"off", "wsdl", NULL};
	static const enum wsg_validate values[] = {WSG_VALIDATE_OFF,
	                                           WSG_VALIDATE_WSDL};
	struct wsg_route_conf *r = base;
	int c;

	r->validate = WSG_VALIDATE_OFF;
	if (s != NULL && (c = choice_value(x, s, modes)) >= 0)
		r->validate = values[c];
}

static void free_strings(char **v, size_t n);

static void
sig_parts_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_dsig_conf *d = base;
	char **names = NULL;
	size_t i, n = 0;
	unsigned bit;

	d->parts = WSG_DSIG_PART_BODY | WSG_DSIG_PART_TIMESTAMP;
	if (s == NULL)
		return;
	d->parts = 0;
	if (string_list(x, s, &names, &n) == 0 && n == 0)
		bad(x, s,
		    "names no part (\"Body\", \"Timestamp\", "
		    "\"UsernameToken\")");
	for (i = 0; i < n; i++) {
		if ((bit = wsg_dsig_part_from_name(names[i])) == 0)
			bad(x, config_setting_get_elem(s, (unsigned)i),
			    "\"%s\" is not \"Body\", \"Timestamp\" or "
			    "\"UsernameToken\"",
			    names[i]);
		d->parts |= bit;
	}
	free_strings(names, n);
}

static void
sig_algorithms_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_dsig_conf *d = base;
	char **names = NULL;
	size_t i, n = 0;
	unsigned bit;

	d->algorithms = WSG_DSIG_ALG_RSA_SHA256 | WSG_DSIG_ALG_ECDSA_SHA256;
	if (s == NULL)
		return;
	d->algorithms = 0;
	if (string_list(x, s, &names, &n) == 0 && n == 0)
		bad(x, s, "names no algorithm");
	for (i = 0; i < n; i++) {
		if ((bit = wsg_dsig_alg_from_name(names[i])) == 0)
			bad(x, config_setting_get_elem(s, (unsigned)i),
			    "\"%s\" is not one of rsa-sha1, rsa-sha256, "
			    "rsa-sha384, rsa-sha512, ecdsa-sha256, "
			    "ecdsa-sha384, ecdsa-sha512",
			    names[i]);
		d->algorithms |= bit;
	}
	free_strings(names, n);
}

static const struct key signature_keys[] = {
        K_BOOL(struct wsg_dsig_conf, require, 0),
        K_CUSTOM("parts", sig_parts_cb, 0),
        K_REQ_PATH(struct wsg_dsig_conf, trust),
        K_PATH(struct wsg_dsig_conf, crl, NULL),
        K_PATH(struct wsg_dsig_conf, certs, NULL),
        K_CUSTOM("algorithms", sig_algorithms_cb, 0),
        K_INT(struct wsg_dsig_conf, max_references, 1, 64, 8),
        K_INT(struct wsg_dsig_conf, max_transforms, 1, 8, 2),
        K_INT(struct wsg_dsig_conf, max_signatures, 1, 16, 2),
        K_INT(struct wsg_dsig_conf, max_chain_depth, 0, 16, 4),
        K_END,
};

/* The trust anchors, CRL and signer certificates are read here, once per
 * load (and SIGHUP), never per request. */
static void
signature_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_route_conf *r = base;
	struct wsg_error err;
	size_t before = x->n;

	if (s == NULL)
		return;
	if (!config_setting_is_group(s)) {
		bad_type(x, s, "a group");
		return;
	}
	r->signature = wsg_mem_calloc(1, sizeof(*r->signature));
	load_group(x, s, signature_keys, r->signature);
	if (x->n != before)
		return;
	wsg_error_clear(&err);
	if (wsg_dsig_conf_load(r->signature, &err) != WSG_OK)
		bad(x, s, "%s", err.reason);
}

/* ---- tables ---- */

static void
userstore_type_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	static const char *const types[] = {"mariadb", "ldap", NULL};
	struct wsg_userstore_conf *u = base;
	int c = 0;

	if (s != NULL && (c = choice_value(x, s, types)) < 0)
		return;
	u->type = wsg_mem_strdup(types[c]);
	u->ldap = c == 1;
}

static const struct key ldap_keys[] = {
        K_REQ_STR(struct wsg_ldap_conf, uri),
        K_BOOL(struct wsg_ldap_conf, starttls, 0),
        K_PATH(struct wsg_ldap_conf, ca_file, NULL),
        K_STR(struct wsg_ldap_conf, bind_dn, NULL),
        K_PATH(struct wsg_ldap_conf, bind_password_file, NULL),
        K_REQ_STR(struct wsg_ldap_conf, user_base),
        K_STR(struct wsg_ldap_conf, user_filter,
              "(&(objectClass=inetOrgPerson)(uid=%s))"),
        K_REQ_STR(struct wsg_ldap_conf, group_base),
        K_STR(struct wsg_ldap_conf, group_filter,
              "(&(objectClass=groupOfNames)(member=%s))"),
        K_STR(struct wsg_ldap_conf, role_attribute, "cn"),
        K_STR(struct wsg_ldap_conf, admin_group, NULL),
        K_INT(struct wsg_ldap_conf, timeout, 1, 300, 5),
        K_INT(struct wsg_ldap_conf, pool_size, 1, 64, 4),
        K_BOOL(struct wsg_ldap_conf, allow_plaintext_passwords, 0),
        K_END,
};

/* The host of an ldap:// URL (empty: libldap's default, localhost). */
static int
ldap_host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (host == NULL || *host == '\0' || strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * A search filter with exactly one %s (what the gateway fills in) and
 * balanced parentheses; NULL when fine, else why not.
 */
static const char *
check_ldap_filter(const char *f)
{
	size_t n = strlen(f), holes = 0, i;
	int depth = 0;

	if (n < 2 || f[0] != '(' || f[n - 1] != ')')
		return "must be an LDAP filter in parentheses";
	for (i = 0; i < n; i++) {
		if (f[i] == '%' && f[i + 1] == 's') {
			holes++;
			i++;
		} else if (f[i] == '%') {
			return "may hold no '%' but its one %s";
		} else if (f[i] == '(') {
			depth++;
		} else if (f[i] == ')' &&
		           (--depth < 0 || (depth == 0 && i + 1 < n))) {
			return "has unbalanced parentheses";
		}
	}
	if (depth != 0)
		return "has unbalanced parentheses";
	if (holes != 1)
		return "must contain %s exactly once";
	return NULL;
}

/* The file at `path` can be opened for reading (checked at load so that
 * --check-config tells, not the first login). */
static void
check_readable(struct ctx *x, const config_setting_t *g, const char *name,
               const char *path)
{
	FILE *f;

	if (path == NULL)
		return;
	if ((f = fopen(path, "r")) == NULL) {
		bad(x, config_setting_get_member(g, name), "cannot read %s: %s",
		    path, strerror(errno));
		return;
	}
	fclose(f);
}

/*
 * The ldap group, only with userstore.type = "ldap" (read before it in
 * root_keys). Passwords cross the wire in each user bind, so plain
 * ldap:// is only for loopback unless allow_plaintext_passwords says so.
 */
static void
ldap_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_config *c = base;
	struct wsg_ldap_conf *l = &c->ldap;
	LDAPURLDesc *lud = NULL;
	const char *why;

	if (s == NULL) {
		if (c->userstore.ldap)
			report(x, NULL, 0, "ldap",
			       "missing: userstore.type = \"ldap\" needs the "
			       "ldap group");
		return;
	}
	if (!config_setting_is_group(s)) {
		bad_type(x, s, "a group");
		return;
	}
	if (!c->userstore.ldap) {
		bad(x, s, "applies only to userstore.type = \"ldap\"");
		return;
	}
	load_group(x, s, ldap_keys, l);
	if (l->uri != NULL &&
	    ldap_url_parse(l->uri, &lud) != LDAP_URL_SUCCESS) {
		bad(x, config_setting_get_member(s, "uri"),
		    "\"%s\" is no LDAP URL (ldap://, ldaps:// or ldapi://)",
		    l->uri);
	} else if (lud != NULL && strcasecmp(lud->lud_scheme, "ldap") != 0 &&
	           strcasecmp(lud->lud_scheme, "ldaps") != 0 &&
	           strcasecmp(lud->lud_scheme, "ldapi") != 0) {
		bad(x, config_setting_get_member(s, "uri"),
		    "\"%s\": the scheme must be ldap, ldaps or ldapi", l->uri);
	} else if (lud != NULL && l->starttls &&
	           strcasecmp(lud->lud_scheme, "ldap") != 0) {
		bad(x, config_setting_get_member(s, "starttls"),
		    "applies only to an ldap:// uri");
	} else if (lud != NULL && strcasecmp(lud->lud_scheme, "ldap") == 0 &&
	           !l->starttls && !l->allow_plaintext_passwords &&
	           !ldap_host_is_loopback(lud->lud_host)) {
		bad(x, config_setting_get_member(s, "uri"),
		    "\"%s\" would send passwords in clear text to a remote "
		    "host: use ldaps://, starttls = true, or set "
		    "allow_plaintext_passwords = true",
		    l->uri);
	} else if (lud != NULL && l->ca_file != NULL &&
	           strcasecmp(lud->lud_scheme, "ldaps") != 0 && !l->starttls) {
		bad(x, config_setting_get_member(s, "ca_file"),
		    "applies only to ldaps:// or starttls = true");
	}
	if (lud != NULL)
		ldap_free_urldesc(lud);
	if (l->bind_dn != NULL && l->bind_password_file == NULL)
		bad(x, config_setting_get_member(s, "bind_dn"),
		    "needs bind_password_file");
	if (l->bind_dn == NULL && l->bind_password_file != NULL)
		bad(x, config_setting_get_member(s, "bind_password_file"),
		    "applies only with bind_dn (without it, searches are "
		    "anonymous)");
	check_readable(x, s, "bind_password_file", l->bind_password_file);
	check_readable(x, s, "ca_file", l->ca_file);
	if (l->user_filter != NULL &&
	    (why = check_ldap_filter(l->user_filter)) != NULL)
		bad(x, config_setting_get_member(s, "user_filter"), "%s", why);
	if (l->group_filter != NULL &&
	    (why = check_ldap_filter(l->group_filter)) != NULL)
		bad(x, config_setting_get_member(s, "group_filter"), "%s", why);
}

static const struct key listen_keys[] = {
        K_CUSTOM("address", listen_address_cb, 1),
        K_CUSTOM("tls", listen_tls_cb, 0),
        K_END,
};

static const char *const bootstrap_modes[] = {"off", "loopback", "any", NULL};
static const char *const metrics_auth_modes[] = {"none", "token", NULL};

static const struct key password_policy_keys[] = {
        K_INT(struct wsg_password_policy_conf, min_length, 1, 1024, 8),
        K_END,
};

static const struct key management_keys[] = {
        K_CUSTOM("address", mgmt_address_cb, 0),
        K_BOOL(struct wsg_management_conf, enabled, 1),
        K_CUSTOM("tls", mgmt_tls_cb, 0),
        K_INT(struct wsg_management_conf, token_ttl, 1, 86400, 3600),
        K_PATH(struct wsg_management_conf, jwt_secret_file, "var/jwt.key"),
        K_STR(struct wsg_management_conf, admin_role, "admin"),
        K_CHOICE(struct wsg_management_conf, bootstrap_admin, "loopback",
                 bootstrap_modes),
        K_GROUP(struct wsg_management_conf, password_policy,
                password_policy_keys),
        K_CUSTOM("cors_origins", cors_origins_cb, 0),
        K_CUSTOM("login_roles", login_roles_cb, 0),
        K_CHOICE(struct wsg_management_conf, metrics_auth, "none",
                 metrics_auth_modes),
        K_CUSTOM("server_names", server_names_cb, 0),
        K_INT(struct wsg_management_conf, workers, 1, 32, 2),
        K_PATH(struct wsg_management_conf, dashboard_dir, NULL),
        K_END,
};

/* Several nodes (Galera), tried in this order; src/dbnodes.h. */
static void
userstore_hosts_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_userstore_conf *us = base;
	const char *why;
	char *host;
	unsigned port;
	size_t i;

	if (s == NULL || string_list(x, s, &us->hosts, &us->n_hosts) != 0)
		return;
	if (us->n_hosts == 0)
		bad(x, s, "must list at least one \"host:port\"");
	for (i = 0; i < us->n_hosts; i++) {
		why = wsg_hostport_split(us->hosts[i], WSG_HOSTPORT_NAME, &host,
		                         &port);
		if (why != NULL)
			bad(x, config_setting_get_elem(s, (unsigned)i),
			    "\"%s\": %s", us->hosts[i], why);
		free(host);
	}
}

static const struct key userstore_keys[] = {
        K_STR(struct wsg_userstore_conf, host, "localhost"),
        K_INT(struct wsg_userstore_conf, port, 1, 65535, 3306),
        K_PATH(struct wsg_userstore_conf, socket, NULL),
        K_CUSTOM("hosts", userstore_hosts_cb, 0),
        K_STR(struct wsg_userstore_conf, user, "wssgate"),
        K_PATH(struct wsg_userstore_conf, password_file, NULL),
        K_STR(struct wsg_userstore_conf, database, "wssgate"),
        K_INT(struct wsg_userstore_conf, pool_size, 1, 64, 4),
        K_INT(struct wsg_userstore_conf, cache_ttl, 0, 86400, 60),
        K_INT(struct wsg_userstore_conf, connect_timeout, 1, 300, 5),
        K_INT(struct wsg_userstore_conf, query_timeout, 1, 300, 5),
        K_PATH(struct wsg_userstore_conf, master_key_file, "var/master.key"),
        K_INT(struct wsg_userstore_conf, max_waiting, 1, 100000, 64),
        K_PATH(struct wsg_userstore_conf, schema_file, NULL),
        K_CUSTOM("type", userstore_type_cb, 0),
        K_END,
};

static const char *const lockout_stores[] = {"memory", "mariadb", NULL};

static const struct key lockout_keys[] = {
        K_INT(struct wsg_lockout_conf, max_failures, 0, 1000, 5),
        K_INT(struct wsg_lockout_conf, window, 1, 86400, 300),
        K_INT(struct wsg_lockout_conf, duration, 1, 604800, 900),
        K_INT(struct wsg_lockout_conf, max_entries, 64, 10000000, 100000),
        K_CHOICE(struct wsg_lockout_conf, store, "memory", lockout_stores),
        K_END,
};

static const struct key client_limit_keys[] = {
        K_INT(struct wsg_lockout_conf, max_failures, 0, 1000000, 50),
        K_INT(struct wsg_lockout_conf, window, 1, 86400, 60),
        K_INT(struct wsg_lockout_conf, duration, 1, 604800, 300),
        K_INT(struct wsg_lockout_conf, max_entries, 64, 10000000, 100000),
        K_END,
};

static const struct key verify_queue_keys[] = {
        K_INT(struct wsg_verify_queue_conf, max_queued, 1, 1000000, 64),
        K_INT(struct wsg_verify_queue_conf, max_per_client, 1, 1000000, 8),
        K_END,
};

static const struct key security_keys[] = {
        K_INT(struct wsg_security_conf, created_ttl, 0, 86400, 300),
        K_INT(struct wsg_security_conf, future_ttl, 0, 86400, 60),
        K_INT(struct wsg_security_conf, timestamp_ttl, 0, 86400, 300),
        K_INT(struct wsg_security_conf, nonce_cache_max, 1000, 100000000,
              1000000),
        K_CUSTOM("replay_store", replay_store_cb, 0),
        K_BOOL(struct wsg_security_conf, strict_bsp, 0),
        K_BOOL(struct wsg_security_conf, opaque_faults, 0),
        K_BOOL(struct wsg_security_conf, underscores_in_headers, 0),
        K_INT(struct wsg_security_conf, verify_threads, 1, 64, 2),
        K_GROUP(struct wsg_security_conf, verify_queue, verify_queue_keys),
        K_GROUP(struct wsg_security_conf, lockout, lockout_keys),
        K_GROUP(struct wsg_security_conf, client_limit, client_limit_keys),
        K_END,
};

static const struct key limits_keys[] = {
        K_INT(struct wsg_limits_conf, max_body_size, 1024, 1073741824,
              10485760),
        K_INT(struct wsg_limits_conf, max_header_size, 1024, 1048576, 65536),
        K_INT(struct wsg_limits_conf, max_depth, 1, 10000, 100),
        K_INT(struct wsg_limits_conf, max_attributes, 1, 100000, 500),
        K_INT(struct wsg_limits_conf, max_attribute_len, 1, 16777216, 65536),
        K_INT(struct wsg_limits_conf, max_nodes, 1, 100000000, 100000),
        K_INT(struct wsg_limits_conf, max_namespaces, 1, 100000, 100),
        K_INT(struct wsg_limits_conf, max_total_attributes, 1, 100000000,
              200000),
        K_INT(struct wsg_limits_conf, max_parts, 1, 10000, 100),
        K_INT(struct wsg_limits_conf, max_part_size, 1, 1073741824, 10485760),
        K_INT(struct wsg_limits_conf, max_part_header_size, 64, 1048576, 8192),
        K_INT(struct wsg_limits_conf, request_timeout, 1, 3600, 30),
        K_INT(struct wsg_limits_conf, response_timeout, 1, 3600, 60),
        K_INT(struct wsg_limits_conf, max_response_size, 1024, 1073741824,
              67108864),
        K_INT(struct wsg_limits_conf, max_connections, 0, 1000000, 10000),
        K_INT(struct wsg_limits_conf, drain_timeout, 0, 3600, 10),
        K_END,
};

static const struct key log_keys[] = {
        K_PATH(struct wsg_log_conf, access_log, NULL),
        K_PATH(struct wsg_log_conf, audit_log, NULL),
        K_INT(struct wsg_log_conf, ring_size, 0, WSG_LOGRING_MAX, 1000),
        K_INT(struct wsg_log_conf, buffer, 4096, 16777216, 65536),
        K_INT(struct wsg_log_conf, flush, 0, 86400, 1),
        K_INT(struct wsg_log_conf, backlog, 65536, 1073741824, 4194304),
        K_END,
};

static const struct key decrypt_keys[] = {
        K_REQ_PATH(struct wsg_xenc_settings, key),
        K_REQ_PATH(struct wsg_xenc_settings, cert),
        K_BOOL(struct wsg_xenc_settings, require, 0),
        K_INT(struct wsg_xenc_settings, max_encrypted_keys, 1, 100, 4),
        K_INT(struct wsg_xenc_settings, max_encrypted_blocks, 1, 1000, 16),
        K_END,
};

/* The gateway's key and certificate for encrypted messages, loaded here
 * once per load (and SIGHUP); the key file is private like the others. */
static void
decrypt_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_route_conf *r = base;
	struct wsg_xenc_settings xs;
	struct wsg_error err;
	size_t before = x->n;

	if (s == NULL)
		return;
	if (!config_setting_is_group(s)) {
		bad_type(x, s, "a group");
		return;
	}
	if (r->auth == WSG_AUTH_BASIC) {
		bad(x, s,
		    "needs a SOAP route (auth = \"basic\" parses no "
		    "envelope)");
		return;
	}
	memset(&xs, 0, sizeof(xs));
	load_group(x, s, decrypt_keys, &xs);
	wsg_error_clear(&err);
	if (x->n == before &&
	    wsg_xenc_conf_load(&xs, &r->decrypt, &err) != WSG_OK)
		bad(x, s, "%s", err.reason);
	wsg_xenc_settings_clear(&xs);
}

static const struct key route_keys[] = {
        K_REQ_STR(struct wsg_route_conf, name),
        K_CUSTOM("path", route_path_cb, 1),
        K_CUSTOM("upstream", upstream_cb, 1),
        K_CUSTOM("password_types", password_types_cb, 0),
        K_BOOL(struct wsg_route_conf, require_timestamp, 0),
        K_CUSTOM("roles", roles_cb, 0),
        K_BOOL(struct wsg_route_conf, strip_security_header, 1),
        K_INT(struct wsg_route_conf, timeout, 1, 3600, 30),
        K_CUSTOM("auth", auth_cb, 0),
        K_BOOL(struct wsg_route_conf, require_tls, 0),
        K_PATH(struct wsg_route_conf, ca_file, NULL),
        K_BOOL(struct wsg_route_conf, tls_verify, 1),
        K_BOOL(struct wsg_route_conf, forward_authorization, 0),
        K_CUSTOM("wsdl", wsdl_cb, 0),
        K_CUSTOM("public_url", public_url_cb, 0),
        K_INT(struct wsg_route_conf, wsdl_ttl, 1, 604800, 300),
        K_CUSTOM("wsdl_auth", wsdl_auth_cb, 0),
        K_BOOL(struct wsg_route_conf, public_url_from_host, 0),
        K_CUSTOM("public_url_hosts", public_url_hosts_cb, 0),
        K_CUSTOM("operations", operations_cb, 0),
        K_BOOL(struct wsg_route_conf, operations_only, 0),
        K_CUSTOM("validate", validate_cb, 0),
        K_CUSTOM("decrypt", decrypt_cb, 0),
        K_CUSTOM("signature", signature_cb, 0),
        K_END,
};

/* Name servers as IP addresses: looking up the name server's own name
 * would need a resolver. */
static void
nameservers_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_resolver_conf *r = base;
	struct sockaddr_storage ss;
	int len;
	size_t i;

	if (s == NULL ||
	    string_list(x, s, &r->nameservers, &r->n_nameservers) != 0)
		return;
	for (i = 0; i < r->n_nameservers; i++) {
		len = (int)sizeof(ss);
		if (evutil_parse_sockaddr_port(r->nameservers[i],
		                               (struct sockaddr *)&ss,
		                               &len) != 0)
			bad(x, config_setting_get_elem(s, (unsigned)i),
			    "\"%s\" is not an IP address with an optional "
			    "port (\"192.0.2.53\", \"192.0.2.53:5353\", "
			    "\"[2001:db8::53]:53\")",
			    r->nameservers[i]);
	}
}

static const struct key resolver_keys[] = {
        K_CUSTOM("nameservers", nameservers_cb, 0),
        K_END,
};

static const struct key upstream_tls_keys[] = {
        K_PATH(struct wsg_upstream_tls_conf, ca_file, NULL),
        K_END,
};

/*
 * Loads each group of list `s` into an array of `size`-byte structs.
 * Returns the array (calloc'ed, `*n` elements) or NULL when `s` is absent.
 */
static void *
load_group_list(struct ctx *x, const config_setting_t *s,
                const struct key *keys, size_t size, size_t *n)
{
	const config_setting_t *e;
	char *arr;
	size_t i;

	*n = 0;
	if (s == NULL)
		return NULL;
	if (!is_sequence(s)) {
		bad_type(x, s, "a list of groups ( { ... }, ... )");
		return NULL;
	}
	*n = (size_t)config_setting_length(s);
	arr = wsg_mem_calloc(*n, size);
	for (i = 0; i < *n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if (!config_setting_is_group(e))
			bad_type(x, e, "a group");
		else
			load_group(x, e, keys, arr + i * size);
	}
	return arr;
}

static void
listen_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_config *c = base;
	size_t i, j;

	c->listen = load_group_list(x, s, listen_keys, sizeof(*c->listen),
	                            &c->n_listen);
	if (is_sequence(s) && c->n_listen == 0)
		bad(x, s, "at least one listener is required");
	for (i = 1; i < c->n_listen; i++)
		for (j = 0; j < i; j++)
			if (c->listen[i].address != NULL &&
			    c->listen[j].address != NULL &&
			    c->listen[i].port == c->listen[j].port &&
			    strcmp(c->listen[i].host, c->listen[j].host) == 0)
				bad(x, config_setting_get_elem(s, (unsigned)i),
				    "address \"%s\" is already used by "
				    "listen.[%zu]",
				    c->listen[i].address, j);
}

/*
 * TLS keys on a route without an https upstream would do nothing, which
 * the operator surely did not mean; routes inherit upstream_tls.ca_file.
 */
static void
route_tls(struct ctx *x, const config_setting_t *e, struct wsg_route_conf *r,
          const struct wsg_upstream_tls_conf *defaults)
{
	static const char *const keys[] = {"ca_file", "tls_verify", NULL};
	const config_setting_t *k;
	size_t i;

	if (r->has_https) {
		if (r->ca_file == NULL && defaults->ca_file != NULL)
			r->ca_file = wsg_mem_strdup(defaults->ca_file);
		return;
	}
	for (i = 0; keys[i] != NULL; i++)
		if (e != NULL && config_setting_is_group(e) &&
		    (k = config_setting_get_member(e, keys[i])) != NULL &&
		    r->n_upstreams > 0)
			bad(x, k, "applies only to https:// upstreams");
}

/* 0.0.0.0 or :: (a listener on every address): no URL a client can use. */
static int
is_unspecified(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return a4.s_addr == htonl(INADDR_ANY);
	return inet_pton(AF_INET6, host, &a6) == 1 &&
	       IN6_IS_ADDR_UNSPECIFIED(&a6);
}

/*
 * The route's URL from the first listener, never from a request's Host
 * header (a client could choose where other clients send their calls).
 */
static char *
default_public_url(const struct wsg_config *c, const struct wsg_route_conf *r)
{
	const struct wsg_listen_conf *l = &c->listen[0];

	return wsg_mem_printf("%s://%s%s%s:%u%s", l->has_tls ? "https" : "http",
	                      strchr(l->host, ':') != NULL ? "[" : "", l->host,
	                      strchr(l->host, ':') != NULL ? "]" : "",
	                      (unsigned)l->port, r->path);
}

/* Keys of `keys` that only mean something with `ok` are errors without. */
static void
route_requires(struct ctx *x, const config_setting_t *e, int ok,
               const char *const *keys, const char *why)
{
	const config_setting_t *k;
	size_t i;

	for (i = 0; !ok && keys[i] != NULL; i++)
		if (e != NULL && config_setting_is_group(e) &&
		    (k = config_setting_get_member(e, keys[i])) != NULL)
			bad(x, k, "applies only to %s", why);
}

/*
 * The route's WSDL and its imports, loaded under the request caps: once
 * for the public URL and once for each allowed Host, so that no request
 * rewrites a document. An upstream's WSDL is fetched by the workers.
 */
static void
route_wsdl(struct ctx *x, const config_setting_t *e, struct wsg_config *c,
           struct wsg_route_conf *r)
{
	static const char *const needs_wsdl[] = {
	        "wsdl_auth", "public_url_from_host", "public_url_hosts", NULL};
	static const char *const needs_upstream[] = {"wsdl_ttl", NULL};
	static const char *const needs_from_host[] = {"public_url_hosts", NULL};
	struct wsg_soap_limits lim;
	struct wsg_error err;
	char *url;
	size_t i;

	route_requires(x, e, r->wsdl != NULL || r->wsdl_upstream, needs_wsdl,
	               "a route with wsdl");
	route_requires(x, e, r->wsdl_upstream, needs_upstream,
	               "wsdl = \"upstream\"");
	route_requires(x, e, r->public_url_from_host, needs_from_host,
	               "public_url_from_host = true");
	if (r->public_url_from_host && r->n_public_url_hosts == 0)
		bad(x, config_setting_get_member(e, "public_url_from_host"),
		    "needs public_url_hosts: the Host names a client may pick "
		    "the WSDL's address from");
	if ((r->wsdl == NULL && !r->wsdl_upstream) || r->path == NULL)
		return;
	if (r->public_url == NULL) {
		if (c->n_listen == 0)
			return;
		if (is_unspecified(c->listen[0].host)) {
			bad(x, config_setting_get_member(e, "wsdl"),
			    "needs public_url: the first listener is on every "
			    "address (%s), which is no address clients can "
			    "call",
			    c->listen[0].host);
			return;
		}
		r->public_url = default_public_url(c, r);
	}
	if (r->wsdl_upstream)
		return;
	wsg_config_soap_limits(&c->limits, &lim);
	wsg_error_clear(&err);
	if (wsg_wsdl_load(r->wsdl, r->public_url, &lim, c->limits.max_body_size,
	                  &r->wsdl_docs, &err) != WSG_OK) {
		bad(x, config_setting_get_member(e, "wsdl"), "%s", err.reason);
		return;
	}
	if (!r->public_url_from_host)
		return;
	r->wsdl_host_docs = wsg_mem_calloc(r->n_public_url_hosts,
	                                   sizeof(struct wsg_wsdl *));
	for (i = 0; i < r->n_public_url_hosts; i++) {
		url = wsg_wsdl_host_url(r->public_url, r->public_url_hosts[i]);
		if (wsg_wsdl_load(r->wsdl, url, &lim, c->limits.max_body_size,
		                  &r->wsdl_host_docs[i], &err) != WSG_OK)
			bad(x, config_setting_get_member(e, "wsdl"), "%s",
			    err.reason);
		free(url);
	}
}

/*
 * Each operations entry must name an operation of the route's local WSDL:
 * a misspelt name would leave the operation to the route's roles.
 */
static void
operations_in_wsdl(struct ctx *x, const config_setting_t *e,
                   const struct wsg_route_conf *r,
                   const struct wsg_soap_limits *lim)
{
	struct wsg_op_decls d = {NULL, 0};
	const struct wsg_operation *op;
	struct wsg_error err;
	size_t i, k;

	if (wsg_operations_from_wsdl(r->wsdl_docs, lim, &d, &err) != WSG_OK)
		return;
	for (i = 0; i < r->n_operations; i++) {
		op = &r->operations[i];
		if (op->local == NULL)
			continue;
		for (k = 0; k < d.n; k++)
			if (strcmp(d.v[k].local, op->local) == 0 &&
			    (op->ns == NULL ||
			     (d.v[k].ns != NULL &&
			      strcmp(d.v[k].ns, op->ns) == 0)))
				break;
		if (k == d.n)
			bad(x,
			    config_setting_get_member(
			            config_setting_get_elem(
			                    config_setting_get_member(
			                            e, "operations"),
			                    (unsigned)i),
			            "name"),
			    "\"%s\" is no operation of the route's wsdl",
			    op->name);
	}
	wsg_operations_decls_clear(&d);
}

/*
 * What a route's SOAPAction may name (its WSDL's bindings and soap_action
 * entries), and the operations keys that could never apply.
 */
static void
route_operations(struct ctx *x, const config_setting_t *e, struct wsg_config *c,
                 struct wsg_route_conf *r)
{
	struct wsg_soap_limits lim;
	struct wsg_error err;

	if (!config_setting_is_group(e))
		return;
	if (r->n_operations > 0 && r->auth == WSG_AUTH_BASIC)
		bad(x, config_setting_get_member(e, "operations"),
		    "needs a SOAP route: auth = \"basic\" never reads the "
		    "Body");
	if (r->operations_only && r->n_operations == 0)
		bad(x, config_setting_get_member(e, "operations_only"),
		    "true without operations would refuse every request");
	/* An upstream WSDL's are derived by each worker as it fetches it. */
	if (r->wsdl_upstream)
		return;
	wsg_config_soap_limits(&c->limits, &lim);
	wsg_error_clear(&err);
	if (wsg_operations_route_actions(r->operations, r->n_operations,
	                                 r->wsdl_docs, &lim, &r->actions,
	                                 &err) != WSG_OK)
		bad(x, config_setting_get_member(e, "wsdl"), "%s", err.reason);
	else if (r->wsdl_docs != NULL)
		operations_in_wsdl(x, e, r, &lim);
}

/*
 * The schemas a validating route checks Bodies against, compiled here once
 * per load (and SIGHUP), never per request. Basic routes parse no
 * envelope, so they have nothing to validate.
 */
static void
route_schema(struct ctx *x, const config_setting_t *e, struct wsg_config *c,
             struct wsg_route_conf *r)
{
	const config_setting_t *s = config_setting_get_member(e, "validate");
	struct wsg_soap_limits lim;
	struct wsg_error err;

	if (r->validate != WSG_VALIDATE_WSDL)
		return;
	if (r->auth == WSG_AUTH_BASIC) {
		bad(x, s,
		    "\"wsdl\" needs a SOAP route (auth = \"basic\" "
		    "parses no envelope)");
		return;
	}
	if (r->wsdl == NULL && !r->wsdl_upstream) {
		bad(x, s, "\"wsdl\" needs the route's wsdl key");
		return;
	}
	/* An upstream WSDL's are compiled by each worker as it fetches it;
	 * with no documents, the wsdl key's error says why. */
	if (r->wsdl_docs == NULL)
		return;
	wsg_config_soap_limits(&c->limits, &lim);
	wsg_error_clear(&err);
	if (wsg_schema_compile(r->wsdl_docs, &lim, &r->schema, &err) != WSG_OK)
		bad(x, s, "%s", err.reason);
}

static void
routes_cb(struct ctx *x, const config_setting_t *s, void *base)
{
	struct wsg_config *c = base;
	struct wsg_route_conf *ri, *rj;
	const config_setting_t *e;
	size_t i, j;

	c->routes = load_group_list(x, s, route_keys, sizeof(*c->routes),
	                            &c->n_routes);
	for (i = 0; i < c->n_routes; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		route_tls(x, e, &c->routes[i], &c->upstream_tls);
		route_wsdl(x, e, c, &c->routes[i]);
		route_operations(x, e, c, &c->routes[i]);
		route_schema(x, e, c, &c->routes[i]);
		if (c->routes[i].signature != NULL &&
		    c->routes[i].auth == WSG_AUTH_BASIC)
			bad(x, config_setting_get_member(e, "signature"),
			    "needs a SOAP route (auth = \"basic\" parses no "
			    "envelope)");
		/* HTTP Basic would let a message without any signature in. */
		if (c->routes[i].signature != NULL &&
		    c->routes[i].signature->require &&
		    c->routes[i].auth == WSG_AUTH_WSSE_OR_BASIC)
			bad(x, config_setting_get_member(e, "signature"),
			    "require = true cannot be met on a route with auth "
			    "= \"wsse_or_basic\"");
		/* The user is the verified signer's: no block, no signer. */
		if ((c->routes[i].auth == WSG_AUTH_X509 ||
		     c->routes[i].auth == WSG_AUTH_WSSE_OR_X509) &&
		    config_setting_is_group(e) &&
		    config_setting_get_member(e, "signature") == NULL)
			bad(x, config_setting_get_member(e, "auth"),
			    "\"x509\" and \"wsse_or_x509\" need the route's "
			    "signature block");
		/* Basic: the header is the gateway's own credential. */
		if (c->routes[i].forward_authorization &&
		    c->routes[i].auth == WSG_AUTH_BASIC)
			bad(x,
			    config_setting_get_member(e,
			                              "forward_authorization"),
			    "cannot be true on a route with auth = \"basic\"");
	}
	for (i = 1; i < c->n_routes; i++) {
		ri = &c->routes[i];
		e = config_setting_get_elem(s, (unsigned)i);
		for (j = 0; j < i; j++) {
			rj = &c->routes[j];
			if (ri->name != NULL && rj->name != NULL &&
			    strcmp(ri->name, rj->name) == 0)
				bad(x, config_setting_get_member(e, "name"),
				    "duplicate route name \"%s\" (also "
				    "routes.[%zu])",
				    ri->name, j);
			if (ri->path != NULL && rj->path != NULL &&
			    strcmp(ri->path, rj->path) == 0)
				bad(x, config_setting_get_member(e, "path"),
				    "duplicate route path \"%s\" (also "
				    "routes.[%zu])",
				    ri->path, j);
		}
	}
}

static const struct key root_keys[] = {
        K_CUSTOM("listen", listen_cb, 1),
        K_GROUP(struct wsg_config, management, management_keys),
        K_INT(struct wsg_config, workers, 0, 256, 0),
        K_GROUP(struct wsg_config, userstore, userstore_keys),
        /* After userstore, whose type says whether it applies. */
        K_CUSTOM("ldap", ldap_cb, 0),
        K_GROUP(struct wsg_config, security, security_keys),
        K_GROUP(struct wsg_config, limits, limits_keys),
        K_GROUP(struct wsg_config, log, log_keys),
        /* Before routes, which inherit from it. */
        K_GROUP(struct wsg_config, upstream_tls, upstream_tls_keys),
        K_GROUP(struct wsg_config, resolver, resolver_keys),
        K_CUSTOM("routes", routes_cb, 0),
        K_END,
};

/* ---- libconfig 1.5 include trap ---- */

#define INCLUDE_DEPTH 10       /* libconfig's own limit */
#define INCLUDE_MAX (16 << 20) /* bytes: far more than any config */

/*
 * The whole of `path` in `*buf` (malloc'ed, `*len` bytes), or -1 when it
 * cannot be read to its end or exceeds INCLUDE_MAX.
 */
static int
read_whole(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0, cap = 4096, got;
	char *b;

	*buf = NULL;
	*len = 0;
	if (f == NULL)
		return -1;
	b = wsg_mem_alloc(cap);
	while ((got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap && cap < INCLUDE_MAX + 1) {
			cap = cap * 2 > INCLUDE_MAX + 1 ? INCLUDE_MAX + 1
			                                : cap * 2;
			b = wsg_mem_realloc(b, cap);
		} else if (n == cap) {
			break;
		}
	}
	if (ferror(f) || n > INCLUDE_MAX) {
		fclose(f);
		free(b);
		return -1;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
}

/*
 * The name in an `@include "..."` whose opening quote is at `p`, as
 * libconfig 1.5's scanner builds it: \\ and \" are escapes, any other
 * backslash is dropped, and each run of other bytes is cut at its first
 * NUL. NULL when the quote is never closed.
 */
static char *
include_name(const char *p, const char *end)
{
	char *name = wsg_mem_alloc((size_t)(end - p) + 1);
	size_t n = 0;
	int cut = 0;

	for (p++; p < end && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < end &&
		    (p[1] == '\\' || p[1] == '"')) {
			name[n++] = *++p;
			cut = 0;
		} else if (*p == '\\') {
			cut = 0;
		} else if (*p == '\0' || cut) {
			cut = 1;
		} else {
			name[n++] = *p;
		}
	}
	if (p == end) {
		free(name);
		return NULL;
	}
	name[n] = '\0';
	return name;
}

/*
 * libconfig 1.5 ends the process ("input in flex scanner failed") when an
 * @include names something it can open but not read - a folder, say
 * `@include ""` - so a SIGHUP with such a file would stop a running
 * gateway instead of being refused. Every file the @include lines of
 * `text` open (libconfig joins the config folder and the name, whatever
 * the name is), and those they include, must be regular and readable to
 * the end; a missing one is left to libconfig's own error. Returns -1
 * after reporting the first that is not.
 */
static int check_includes(struct ctx *x, const char *shown, const char *text,
                          size_t len, int depth);

/* One @include of `shown`:`line`, then what it includes in turn. */
static int
check_include(struct ctx *x, const char *shown, unsigned line, const char *name,
              int depth)
{
	char *target = wsg_mem_printf("%s/%s", x->dir, name), *text = NULL;
	struct stat st;
	size_t len;
	int rc = 0;

	if (stat(target, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		report(x, shown, line, NULL,
		       "@include \"%s\": not a regular file", name);
		rc = -1;
	} else if (read_whole(target, &text, &len) != 0) {
		report(x, shown, line, NULL,
		       "@include \"%s\": cannot be read to its end", name);
		rc = -1;
	} else if (depth + 1 < INCLUDE_DEPTH) {
		rc = check_includes(x, target, text, len, depth + 1);
	}
out:
	free(text);
	free(target);
	return rc;
}

static int
check_includes(struct ctx *x, const char *shown, const char *text, size_t len,
               int depth)
{
	const char *p = text, *end = text + len, *q;
	unsigned line = 1;
	char *name;
	int rc = 0;

	for (; rc == 0 && p < end; p++) {
		/* libconfig: ^[ \t]*@include[ \t]+\" */
		for (q = p; q < end && (*q == ' ' || *q == '\t'); q++)
			;
		if ((size_t)(end - q) > 8 && memcmp(q, "@include", 8) == 0 &&
		    (q[8] == ' ' || q[8] == '\t')) {
			for (q += 8; q < end && (*q == ' ' || *q == '\t'); q++)
				;
			name = q < end && *q == '"' ? include_name(q, end)
			                            : NULL;
			if (name != NULL)
				rc = check_include(x, shown, line, name, depth);
			free(name);
		}
		/* On to the next line. */
		q = memchr(p, '\n', (size_t)(end - p));
		if (q == NULL)
			break;
		p = q;
		line++;
	}
	return rc;
}

/* ---- libconfig 1.5 integer trap ---- */

/*
 * libconfig 1.5 silently truncates an integer literal that does not fit in
 * 32 bits unless it carries an L suffix (4294967396 reads as 100), so the
 * validator would see a plausible wrong value. Scan the source text for
 * such literals, skipping comments, strings and names.
 */
static void
scan_wide_ints(struct ctx *x, const char *name, const char *shown)
{
	char tok[32];
	size_t n;
	int ch, next = EOF, line = 1, neg = 0;
	int wide, fraction, hex, too_long;
	unsigned long long v;
	FILE *f;

	if ((f = fopen(name, "r")) == NULL)
		return;
	ch = getc(f);
	while (ch != EOF) {
		if (ch == '\n') {
			line++;
			ch = getc(f);
		} else if (ch == '#' ||
		           (ch == '/' && (next = getc(f)) == '/')) {
			while ((ch = getc(f)) != EOF && ch != '\n')
				;
		} else if (ch == '/' && next == '*') {
			for (ch = getc(f), next = EOF; ch != EOF;
			     next = ch, ch = getc(f)) {
				if (ch == '\n')
					line++;
				if (next == '*' && ch == '/')
					break;
			}
			ch = getc(f);
		} else if (ch == '/') {
			ch = next;
		} else if (ch == '"') {
			while ((ch = getc(f)) != EOF && ch != '"') {
				if (ch == '\\')
					ch = getc(f);
				if (ch == '\n')
					line++;
			}
			ch = getc(f);
		} else if (isalpha(ch) || ch == '*' || ch == '_' || ch == '@') {
			while ((ch = getc(f)) != EOF &&
			       (isalnum(ch) || ch == '-' || ch == '_' ||
			        ch == '*'))
				;
		} else if (isdigit(ch)) {
			n = 0;
			wide = fraction = too_long = 0;
			for (; ch != EOF &&
			       (isalnum(ch) || ch == '.' ||
			        ((ch == '+' || ch == '-') && n > 0 &&
			         (tok[n - 1] == 'e' || tok[n - 1] == 'E')));
			     ch = getc(f)) {
				wide |= ch == 'L' || ch == 'l';
				fraction |= ch == '.' || ch == 'e' || ch == 'E';
				if (n < sizeof(tok) - 1)
					tok[n++] = (char)ch;
				else
					too_long = 1;
			}
			tok[n] = '\0';
			hex = tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X');
			v = strtoull(tok, NULL, hex ? 16 : 10);
			if (!wide && (!fraction || hex) &&
			    (too_long || v > (unsigned long long)INT_MAX + neg))
				report(x, shown, (unsigned)line, NULL,
				       "syntax error: integer %s%s is too "
				       "large for 32 bits; write %s%sL",
				       neg ? "-" : "", tok, neg ? "-" : "",
				       tok);
		} else {
			neg = ch == '-';
			ch = getc(f);
			continue;
		}
		neg = 0;
	}
	fclose(f);
}

/* ---- public API ---- */

static void
free_tls(struct wsg_tls_conf *t)
{
	free(t->cert);
	free(t->key);
}

static void
free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
config_free(struct wsg_config *c)
{
	struct wsg_route_conf *r;
	size_t i, j;

	free(c->path);
	free(c->dir);
	for (i = 0; i < c->n_listen; i++) {
		free(c->listen[i].address);
		free(c->listen[i].host);
		free_tls(&c->listen[i].tls);
	}
	free(c->listen);
	free(c->management.address);
	free(c->management.host);
	free_tls(&c->management.tls);
	free(c->management.jwt_secret_file);
	free(c->management.admin_role);
	free(c->management.bootstrap_admin);
	free_strings(c->management.cors_origins, c->management.n_cors_origins);
	free_strings(c->management.login_roles, c->management.n_login_roles);
	free(c->management.metrics_auth);
	free_strings(c->management.server_names, c->management.n_server_names);
	free(c->userstore.host);
	free(c->userstore.socket);
	free_strings(c->userstore.hosts, c->userstore.n_hosts);
	free(c->userstore.user);
	free(c->userstore.password_file);
	free(c->userstore.database);
	free(c->userstore.master_key_file);
	free(c->userstore.schema_file);
	free(c->userstore.type);
	free(c->ldap.uri);
	free(c->ldap.ca_file);
	free(c->ldap.bind_dn);
	free(c->ldap.bind_password_file);
	free(c->ldap.user_base);
	free(c->ldap.user_filter);
	free(c->ldap.group_base);
	free(c->ldap.group_filter);
	free(c->ldap.role_attribute);
	free(c->ldap.admin_group);
	free(c->management.dashboard_dir);
	free(c->security.replay_store);
	free(c->security.lockout.store);
	free(c->log.access_log);
	free(c->log.audit_log);
	free(c->upstream_tls.ca_file);
	free_strings(c->resolver.nameservers, c->resolver.n_nameservers);
	for (i = 0; i < c->n_routes; i++) {
		r = &c->routes[i];
		free(r->name);
		free(r->path);
		free(r->ca_file);
		free(r->wsdl);
		free(r->public_url);
		wsg_wsdl_free(r->wsdl_docs);
		for (j = 0;
		     r->wsdl_host_docs != NULL && j < r->n_public_url_hosts;
		     j++)
			wsg_wsdl_free(r->wsdl_host_docs[j]);
		free(r->wsdl_host_docs);
		free_strings(r->public_url_hosts, r->n_public_url_hosts);
		wsg_schema_free(r->schema);
		wsg_dsig_conf_free(r->signature);
		free_strings(r->upstreams, r->n_upstreams);
		free_strings(r->roles, r->n_roles);
		for (j = 0; j < r->n_operations; j++) {
			free(r->operations[j].name);
			free_strings(r->operations[j].roles,
			             r->operations[j].n_roles);
			free(r->operations[j].soap_action);
			free(r->operations[j].ns);
			free(r->operations[j].local);
		}
		free(r->operations);
		wsg_operations_decls_free(r->actions);
		wsg_xenc_conf_free(r->decrypt);
	}
	free(c->routes);
	free(c);
}

/* The shared lockout lives in MariaDB: with an LDAP user store, one must
 * be configured besides (host, socket or hosts). */
static void
lockout_store(struct ctx *x, const config_t *lc, struct wsg_config *c)
{
	struct wsg_lockout_conf *l = &c->security.lockout;
	const config_setting_t *s;

	l->shared = l->store != NULL && strcmp(l->store, "mariadb") == 0;
	if (l->shared && !c->userstore.mariadb && c->userstore.n_hosts == 0 &&
	    (s = config_lookup(lc, "security.lockout.store")) != NULL)
		bad(x, s,
		    "\"mariadb\" needs userstore.host, userstore.socket or "
		    "userstore.hosts with userstore.type = \"ldap\"");
}

/*
 * With an LDAP user store, MariaDB holds only the replay store and the
 * JWT revocation list, and only when userstore.host or .socket is set.
 */
static void
userstore_mariadb(struct ctx *x, const config_t *lc, struct wsg_config *c)
{
	const config_setting_t *s, *routes = config_lookup(lc, "routes");
	size_t i;

	c->userstore.mariadb = !c->userstore.ldap ||
	                       config_lookup(lc, "userstore.host") != NULL ||
	                       config_lookup(lc, "userstore.socket") != NULL;
	if (!c->userstore.mariadb && c->security.replay_shared &&
	    (s = config_lookup(lc, "security.replay_store")) != NULL)
		bad(x, s,
		    "\"mariadb\" needs userstore.host or userstore.socket "
		    "with userstore.type = \"ldap\"");
	/* Certificate-to-user mappings live in MariaDB's users. */
	for (i = 0; c->userstore.ldap && routes != NULL && i < c->n_routes; i++)
		if (c->routes[i].auth == WSG_AUTH_X509 ||
		    c->routes[i].auth == WSG_AUTH_WSSE_OR_X509)
			bad(x,
			    config_setting_get_member(
			            config_setting_get_elem(routes,
			                                    (unsigned)i),
			            "auth"),
			    "\"x509\" and \"wsse_or_x509\" map certificates to "
			    "users of userstore.type = \"mariadb\"");
}

int
wsg_config_load(const char *path, struct wsg_config **out, char **errors)
{
	struct ctx x = {.file = path};
	struct wsg_config *c;
	struct stat st;
	config_t lc;
	const char *name;
	char *abs, *slash, *inc, *errs, *text = NULL;
	size_t text_len;
	unsigned i;
	long cpus;
	int rc = WSG_ERR_CONFIG;

	*out = NULL;
	if (errors != NULL)
		*errors = NULL;
	c = wsg_mem_calloc(1, sizeof(*c));
	config_init(&lc);
	if ((abs = realpath(path, NULL)) == NULL) {
		report(&x, NULL, 0, NULL, "cannot open: %s", strerror(errno));
		goto out;
	}
	c->path = wsg_mem_strdup(abs);
	free(abs);
	if (stat(c->path, &st) != 0 || !S_ISREG(st.st_mode)) {
		report(&x, NULL, 0, NULL, "not a regular file");
		goto out;
	}
	slash = strrchr(c->path, '/');
	c->dir = slash == c->path
	                 ? wsg_mem_strdup("/")
	                 : wsg_mem_strndup(c->path, (size_t)(slash - c->path));
	x.dir = c->dir;

	if (read_whole(c->path, &text, &text_len) != 0) {
		report(&x, NULL, 0, NULL, "cannot be read to its end");
		goto out;
	}
	if (check_includes(&x, NULL, text, text_len, 0) != 0)
		goto out;
	/* @include names resolve against the config folder, like paths. */
	config_set_include_dir(&lc, c->dir);
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			report(&x, NULL, 0, NULL, "cannot read: %s",
			       strerror(errno));
		else if (strncmp(config_error_text(&lc), "syntax error", 12) ==
		         0) /* the parser's own text says it already */
			report(&x, config_error_file(&lc),
			       (unsigned)config_error_line(&lc), NULL, "%s",
			       config_error_text(&lc));
		else
			report(&x, config_error_file(&lc),
			       (unsigned)config_error_line(&lc), NULL,
			       "syntax error: %s", config_error_text(&lc));
		goto out;
	}
	for (i = 0; i < lc.num_filenames; i++) {
		name = lc.filenames[i];
		inc = name[0] == '/' || i == 0
		              ? wsg_mem_strdup(name)
		              : wsg_mem_printf("%s/%s", c->dir, name);
		scan_wide_ints(&x, inc, name);
		free(inc);
	}

	load_group(&x, config_root_setting(&lc), root_keys, c);
	userstore_mariadb(&x, &lc, c);
	lockout_store(&x, &lc, c);
	if (c->workers == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = cpus < 1 ? 1 : cpus > 256 ? 256 : (unsigned)cpus;
	}
	if (x.n > 0)
		goto out;
	__atomic_store_n(&c->refs, 1, __ATOMIC_RELEASE);
	*out = c;
	c = NULL;
	rc = WSG_OK;
out:
	free(text);
	config_destroy(&lc);
	if (c != NULL)
		config_free(c);
	errs = join_problems(&x);
	if (errors != NULL)
		*errors = errs;
	else
		free(errs);
	return rc;
}

struct wsg_config *
wsg_config_ref(struct wsg_config *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void
wsg_config_unref(struct wsg_config *c)
{
	if (c == NULL)
		return;
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(c);
}

/* ---- reload ---- */

struct diff {
	char *buf;
	size_t len, used;
	size_t n;
};

static void
differs(struct diff *d, const char *key)
{
	int w;

	if (d->used + 1 < d->len) {
		w = snprintf(d->buf + d->used, d->len - d->used, "%s%s",
		             d->n > 0 ? ", " : "", key);
		if (w > 0)
			d->used = d->used + (size_t)w < d->len
			                  ? d->used + (size_t)w
			                  : d->len - 1;
	}
	d->n++;
}

static int
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int
same_tls(int has_a, const struct wsg_tls_conf *a, int has_b,
         const struct wsg_tls_conf *b)
{
	return has_a == has_b && (!has_a || (same_str(a->cert, b->cert) &&
	                                     same_str(a->key, b->key)));
}

static int
same_listen(const struct wsg_config *a, const struct wsg_config *b)
{
	size_t i;

	if (a->n_listen != b->n_listen)
		return 0;
	for (i = 0; i < a->n_listen; i++)
		if (!same_str(a->listen[i].host, b->listen[i].host) ||
		    a->listen[i].port != b->listen[i].port ||
		    !same_tls(a->listen[i].has_tls, &a->listen[i].tls,
		              b->listen[i].has_tls, &b->listen[i].tls))
			return 0;
	return 1;
}

static int
same_strings(char **a, size_t na, char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (!same_str(a[i], b[i]))
			return 0;
	return 1;
}

#define DIFF_INT(d, a, b, field, key)                                          \
	do {                                                                   \
		if ((a)->field != (b)->field)                                  \
			differs(d, key);                                       \
	} while (0)
#define DIFF_STR(d, a, b, field, key)                                          \
	do {                                                                   \
		if (!same_str((a)->field, (b)->field))                         \
			differs(d, key);                                       \
	} while (0)

size_t
wsg_config_restart_keys(const struct wsg_config *running,
                        const struct wsg_config *next, char *buf, size_t len)
{
	const struct wsg_management_conf *ma = &running->management,
	                                 *mb = &next->management;
	const struct wsg_userstore_conf *ua = &running->userstore,
	                                *ub = &next->userstore;
	const struct wsg_ldap_conf *la = &running->ldap, *lb = &next->ldap;
	const struct wsg_security_conf *sa = &running->security,
	                               *sb = &next->security;
	struct diff d = {.buf = buf, .len = len};

	if (len > 0)
		buf[0] = '\0';
	if (!same_listen(running, next))
		differs(&d, "listen");
	DIFF_INT(&d, running, next, workers, "workers");
	if (!same_str(ma->host, mb->host) || ma->port != mb->port)
		differs(&d, "management.address");
	DIFF_INT(&d, ma, mb, enabled, "management.enabled");
	if (!same_tls(ma->has_tls, &ma->tls, mb->has_tls, &mb->tls))
		differs(&d, "management.tls");
	DIFF_INT(&d, ma, mb, token_ttl, "management.token_ttl");
	DIFF_STR(&d, ma, mb, jwt_secret_file, "management.jwt_secret_file");
	DIFF_STR(&d, ma, mb, admin_role, "management.admin_role");
	DIFF_STR(&d, ma, mb, bootstrap_admin, "management.bootstrap_admin");
	DIFF_INT(&d, ma, mb, password_policy.min_length,
	         "management.password_policy.min_length");
	if (!same_strings(ma->cors_origins, ma->n_cors_origins,
	                  mb->cors_origins, mb->n_cors_origins))
		differs(&d, "management.cors_origins");
	if (!same_strings(ma->login_roles, ma->n_login_roles, mb->login_roles,
	                  mb->n_login_roles))
		differs(&d, "management.login_roles");
	DIFF_STR(&d, ma, mb, metrics_auth, "management.metrics_auth");
	if (!same_strings(ma->server_names, ma->n_server_names,
	                  mb->server_names, mb->n_server_names))
		differs(&d, "management.server_names");
	if (!same_strings(running->resolver.nameservers,
	                  running->resolver.n_nameservers,
	                  next->resolver.nameservers,
	                  next->resolver.n_nameservers))
		differs(&d, "resolver.nameservers");
	DIFF_INT(&d, ma, mb, workers, "management.workers");
	DIFF_STR(&d, ma, mb, dashboard_dir, "management.dashboard_dir");
	DIFF_STR(&d, ua, ub, host, "userstore.host");
	DIFF_INT(&d, ua, ub, port, "userstore.port");
	DIFF_STR(&d, ua, ub, socket, "userstore.socket");
	if (!same_strings(ua->hosts, ua->n_hosts, ub->hosts, ub->n_hosts))
		differs(&d, "userstore.hosts");
	DIFF_STR(&d, ua, ub, user, "userstore.user");
	DIFF_STR(&d, ua, ub, password_file, "userstore.password_file");
	DIFF_STR(&d, ua, ub, database, "userstore.database");
	DIFF_INT(&d, ua, ub, pool_size, "userstore.pool_size");
	DIFF_INT(&d, ua, ub, max_waiting, "userstore.max_waiting");
	DIFF_INT(&d, ua, ub, cache_ttl, "userstore.cache_ttl");
	DIFF_INT(&d, ua, ub, connect_timeout, "userstore.connect_timeout");
	DIFF_INT(&d, ua, ub, query_timeout, "userstore.query_timeout");
	DIFF_STR(&d, ua, ub, master_key_file, "userstore.master_key_file");
	DIFF_STR(&d, ua, ub, type, "userstore.type");
	DIFF_INT(&d, ua, ub, mariadb, "userstore.host");
	DIFF_STR(&d, la, lb, uri, "ldap.uri");
	DIFF_INT(&d, la, lb, starttls, "ldap.starttls");
	DIFF_STR(&d, la, lb, ca_file, "ldap.ca_file");
	DIFF_STR(&d, la, lb, bind_dn, "ldap.bind_dn");
	DIFF_STR(&d, la, lb, bind_password_file, "ldap.bind_password_file");
	DIFF_STR(&d, la, lb, user_base, "ldap.user_base");
	DIFF_STR(&d, la, lb, user_filter, "ldap.user_filter");
	DIFF_STR(&d, la, lb, group_base, "ldap.group_base");
	DIFF_STR(&d, la, lb, group_filter, "ldap.group_filter");
	DIFF_STR(&d, la, lb, role_attribute, "ldap.role_attribute");
	DIFF_STR(&d, la, lb, admin_group, "ldap.admin_group");
	DIFF_INT(&d, la, lb, timeout, "ldap.timeout");
	DIFF_INT(&d, la, lb, pool_size, "ldap.pool_size");
	DIFF_INT(&d, la, lb, allow_plaintext_passwords,
	         "ldap.allow_plaintext_passwords");
	DIFF_INT(&d, sa, sb, nonce_cache_max, "security.nonce_cache_max");
	DIFF_STR(&d, sa, sb, replay_store, "security.replay_store");
	DIFF_INT(&d, sa, sb, verify_threads, "security.verify_threads");
	DIFF_INT(&d, sa, sb, lockout.max_entries,
	         "security.lockout.max_entries");
	DIFF_STR(&d, sa, sb, lockout.store, "security.lockout.store");
	DIFF_INT(&d, sa, sb, client_limit.max_entries,
	         "security.client_limit.max_entries");
	DIFF_STR(&d, &running->log, &next->log, access_log, "log.access_log");
	DIFF_STR(&d, &running->log, &next->log, audit_log, "log.audit_log");
	DIFF_INT(&d, &running->log, &next->log, buffer, "log.buffer");
	DIFF_INT(&d, &running->log, &next->log, flush, "log.flush");
	DIFF_INT(&d, &running->log, &next->log, backlog, "log.backlog");
	DIFF_INT(&d, &running->log, &next->log, ring_size, "log.ring_size");
	return d.n;
}

void
wsg_config_soap_limits(const struct wsg_limits_conf *l,
                       struct wsg_soap_limits *out)
{
	out->max_depth = l->max_depth;
	out->max_attributes = l->max_attributes;
	out->max_attribute_len = l->max_attribute_len;
	out->max_nodes = l->max_nodes;
	out->max_namespaces = l->max_namespaces;
	out->max_total_attributes = l->max_total_attributes;
}
