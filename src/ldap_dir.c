#include "ldap_dir.h"

#include <ctype.h>
#include <ldap.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "keyfile.h"
#include "ldap_filter.h"
#include "ldapstore.h"
#include "mem.h"

#define MAX_ATTR 64
/* A DN under user_base that no entry has: unknown names bind to it. */
#define NO_SUCH_USER "cn=wssgate-no-such-user-0e1d4c"
#define NOBODY_PASSWORD "wssgate-no-such-user"

struct wsg_ldap_dir {
	LDAP *ld;
	const struct wsg_ldap_conf *conf;
	const char *admin_role;     /* given to admin_group members */
	char name_attr[MAX_ATTR];   /* of ldap.user_filter's %s */
	char member_attr[MAX_ATTR]; /* of ldap.group_filter's %s */
};

void
wsg_ldap_dir_names_free(struct wsg_ldap_names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	l->names = NULL;
	l->n = 0;
}

static void
names_add(struct wsg_ldap_names *l, const char *name, size_t len)
{
	if ((l->n & (l->n - 1)) == 0)
		l->names = wsg_mem_realloc(l->names, (l->n ? 2 * l->n : 1) *
		                                             sizeof(char *));
	l->names[l->n++] = wsg_mem_strndup(name, len);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, duplicates dropped. */
static void
names_sort(struct wsg_ldap_names *l)
{
	size_t i, o = 0;

	if (l->n == 0)
		return;
	qsort(l->names, l->n, sizeof(char *), cmp_names);
	for (i = 1; i < l->n; i++) {
		if (strcmp(l->names[o], l->names[i]) == 0)
			free(l->names[i]);
		else
			l->names[++o] = l->names[i];
	}
	l->n = o + 1;
}

/* A libldap failure: unreachable, TLS or timeouts are WSG_ERR_CONNECT
 * (503, try again), anything else WSG_ERR_DB. */
static int
ldap_fail(struct wsg_error *err, int lrc, const char *what)
{
	int code = lrc == LDAP_SERVER_DOWN || lrc == LDAP_CONNECT_ERROR ||
	                           lrc == LDAP_TIMEOUT || lrc == LDAP_BUSY ||
	                           lrc == LDAP_UNAVAILABLE
	                   ? WSG_ERR_CONNECT
	                   : WSG_ERR_DB;

	return wsg_error_set(err, code, WSG_FAULT_NONE, "LDAP %s: %s", what,
	                     ldap_err2string(lrc));
}

static int
simple_bind(LDAP *ld, const char *dn, const char *pw, size_t len)
{
	struct berval cred = {(ber_len_t)len, (char *)pw};

	return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
	                        NULL);
}

int
wsg_ldap_dir_open(const struct wsg_ldap_conf *conf, const char *admin_role,
                  struct wsg_ldap_dir **out, struct wsg_error *err)
{
	struct wsg_ldap_dir *d = wsg_mem_calloc(1, sizeof(*d));
	char *pw = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	d->conf = conf;
	d->admin_role = admin_role;
	/* Only the listings need them (empty: unknown); a login does not. */
	if (wsg_ldap_filter_attribute(conf->user_filter, d->name_attr,
	                              sizeof(d->name_attr)) != 0)
		d->name_attr[0] = '\0';
	if (wsg_ldap_filter_attribute(conf->group_filter, d->member_attr,
	                              sizeof(d->member_attr)) != 0)
		d->member_attr[0] = '\0';
	if (conf->bind_dn != NULL) {
		rc = wsg_keyfile_read_secret(conf->bind_password_file, &pw,
		                             &len, err);
		if (rc != WSG_OK)
			goto out;
	}
	/* The data plane's opener: the same TLS and timeout settings. */
	rc = wsg_ldapstore_open(conf, pw, 1, &d->ld, err);
	if (rc != WSG_OK)
		goto out;
	*out = d;
	d = NULL;
	rc = WSG_OK;
out:
	if (pw != NULL)
		wsg_mem_free_secret(pw, len);
	wsg_ldap_dir_close(d);
	return rc;
}

void
wsg_ldap_dir_close(struct wsg_ldap_dir *d)
{
	if (d == NULL)
		return;
	if (d->ld != NULL)
		ldap_unbind_ext_s(d->ld, NULL, NULL);
	free(d);
}

int
wsg_ldap_dir_bind(const struct wsg_ldap_conf *conf, const char *dn,
                  const char *pw, size_t len, struct wsg_error *err)
{
	char *nobody = NULL;
	LDAP *ld = NULL;
	int rc, lrc;

	/* An empty password would be an unauthenticated bind, which succeeds
	 * (RFC 4513 5.1.2). */
	if (len == 0)
		return WSG_ERR_AUTH;
	rc = wsg_ldapstore_open(conf, NULL, 0, &ld, err);
	if (rc != WSG_OK)
		return rc;
	/* Nobody's bind never carries the password given. */
	if (dn == NULL) {
		dn = nobody =
		        wsg_mem_printf("%s,%s", NO_SUCH_USER, conf->user_base);
		pw = NOBODY_PASSWORD;
		len = strlen(NOBODY_PASSWORD);
	}
	lrc = simple_bind(ld, dn, pw, len);
	if (lrc == LDAP_SUCCESS)
		rc = nobody != NULL ? WSG_ERR_AUTH : WSG_OK;
	else if (lrc == LDAP_INVALID_CREDENTIALS ||
	         lrc == LDAP_INAPPROPRIATE_AUTH ||
	         lrc == LDAP_UNWILLING_TO_PERFORM ||
	         lrc == LDAP_INVALID_DN_SYNTAX || lrc == LDAP_NO_SUCH_OBJECT)
		rc = WSG_ERR_AUTH;
	else
		rc = ldap_fail(err, lrc, "user bind");
	ldap_unbind_ext_s(ld, NULL, NULL);
	free(nobody);
	return rc;
}

/* -------- searches -------- */

typedef int (*entry_cb)(struct wsg_ldap_dir *d, LDAPMessage *e, void *arg);

/*
 * A subtree search of `base` for `filter` in pages of
 * WSG_LDAP_DIR_PAGE_SIZE (Simple Paged Results, not critical: a directory
 * without it answers in one page), `cb` called for every entry.
 */
static int
search_paged(struct wsg_ldap_dir *d, const char *base, const char *filter,
             char **attrs, entry_cb cb, void *arg, struct wsg_error *err)
{
	struct timeval tv = {(time_t)d->conf->timeout, 0};
	struct berval *cookie = NULL, next;
	LDAPControl *page = NULL, *ctrls[2] = {NULL, NULL}, **got = NULL, *pr;
	LDAPMessage *res = NULL, *e;
	ber_int_t total;
	int rc = WSG_OK, lrc, code;

	do {
		lrc = ldap_create_page_control(d->ld, WSG_LDAP_DIR_PAGE_SIZE,
		                               cookie, 0, &page);
		if (lrc != LDAP_SUCCESS) {
			rc = ldap_fail(err, lrc, "paged results control");
			break;
		}
		ctrls[0] = page;
		lrc = ldap_search_ext_s(d->ld, base, LDAP_SCOPE_SUBTREE, filter,
		                        attrs, 0, ctrls, NULL, &tv, 0, &res);
		ldap_control_free(page);
		page = NULL;
		if (lrc != LDAP_SUCCESS && lrc != LDAP_NO_SUCH_OBJECT) {
			rc = ldap_fail(err, lrc, "search");
			break;
		}
		for (e = ldap_first_entry(d->ld, res);
		     e != NULL && rc == WSG_OK; e = ldap_next_entry(d->ld, e))
			rc = cb(d, e, arg);
		if (rc != WSG_OK)
			break;
		ber_bvfree(cookie);
		cookie = NULL;
		code = LDAP_SUCCESS;
		if (ldap_parse_result(d->ld, res, &code, NULL, NULL, NULL, &got,
		                      0) == LDAP_SUCCESS &&
		    (pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, got,
		                            NULL)) != NULL &&
		    ldap_parse_pageresponse_control(d->ld, pr, &total, &next) ==
		            LDAP_SUCCESS) {
			if (next.bv_len > 0)
				cookie = ber_bvdup(&next);
			ber_memfree(next.bv_val);
		}
		ldap_controls_free(got);
		got = NULL;
		ldap_msgfree(res);
		res = NULL;
	} while (cookie != NULL);
	ldap_msgfree(res);
	ber_bvfree(cookie);
	return rc;
}

/* The first value of `attr` of `e` added to `out`, or -1 when it has
 * none (or one holding a NUL byte). */
static int
first_value(struct wsg_ldap_dir *d, LDAPMessage *e, const char *attr,
            struct wsg_ldap_names *out)
{
	struct berval **v = ldap_get_values_len(d->ld, e, attr);
	int rc = -1;

	if (v != NULL && v[0] != NULL &&
	    memchr(v[0]->bv_val, '\0', v[0]->bv_len) == NULL) {
		names_add(out, v[0]->bv_val, v[0]->bv_len);
		rc = 0;
	}
	ldap_value_free_len(v);
	return rc;
}

int
wsg_ldap_dir_role_ok(const char *name)
{
	return name[0] != '\0' && strchr(name, ',') == NULL;
}

static int
role_cb(struct wsg_ldap_dir *d, LDAPMessage *e, void *arg)
{
	struct wsg_ldap_names *out = arg;
	struct berval **v =
	        ldap_get_values_len(d->ld, e, d->conf->role_attribute);
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++) {
		if (out->n >= WSG_LDAP_DIR_MAX_ENTRIES)
			break;
		if (memchr(v[i]->bv_val, '\0', v[i]->bv_len) != NULL)
			continue;
		names_add(out, v[i]->bv_val, v[i]->bv_len);
		if (!wsg_ldap_dir_role_ok(out->names[out->n - 1]))
			free(out->names[--out->n]);
	}
	ldap_value_free_len(v);
	return out->n >= WSG_LDAP_DIR_MAX_ENTRIES ? WSG_ERR_LIMIT : WSG_OK;
}

/* The roles of the entry `dn`, ','-joined. */
static int
roles_of(struct wsg_ldap_dir *d, const char *dn, char **out,
         struct wsg_error *err)
{
	struct wsg_ldap_names l = {NULL, 0};
	char *attrs[] = {d->conf->role_attribute, NULL};
	char *filter =
	        wsg_ldapstore_filter(d->conf->group_filter, dn, strlen(dn));
	size_t i, len = 1;
	int rc;

	*out = NULL;
	rc = search_paged(d, d->conf->group_base, filter, attrs, role_cb, &l,
	                  err);
	if (rc == WSG_ERR_LIMIT)
		rc = wsg_error_set(err, rc, WSG_FAULT_NONE,
		                   "too many groups for one user");
	if (rc == WSG_OK) {
		/* As on the data plane: admin_group's members hold the
		 * management admin role too. */
		for (i = 0; i < l.n && d->conf->admin_group != NULL; i++)
			if (strcmp(l.names[i], d->conf->admin_group) == 0) {
				names_add(&l, d->admin_role,
				          strlen(d->admin_role));
				break;
			}
		names_sort(&l);
		for (i = 0; i < l.n; i++)
			len += strlen(l.names[i]) + 1;
		*out = wsg_mem_calloc(1, len);
		for (i = 0; i < l.n; i++) {
			if (i > 0)
				strcat(*out, ",");
			strcat(*out, l.names[i]);
		}
	}
	wsg_ldap_dir_names_free(&l);
	free(filter);
	return rc;
}

/* A token's uid for the entry: its entryUUID (or DN) hashed to 63 bits,
 * never 0. */
static uint64_t
entry_id(struct wsg_ldap_dir *d, LDAPMessage *e, const char *dn)
{
	struct berval **v = ldap_get_values_len(d->ld, e, "entryUUID");
	unsigned char md[SHA256_DIGEST_LENGTH];
	uint64_t id = 0;
	size_t i;

	if (v != NULL && v[0] != NULL)
		SHA256((const unsigned char *)v[0]->bv_val, v[0]->bv_len, md);
	else
		SHA256((const unsigned char *)dn, strlen(dn), md);
	ldap_value_free_len(v);
	for (i = 0; i < 8; i++)
		id = id << 8 | md[i];
	id &= INT64_MAX;
	return id != 0 ? id : 1;
}

struct found {
	size_t n;
	char *dn;
	uint64_t id;
	char *name; /* wsg_ldapstore_entry_name() */
};

static int
found_cb(struct wsg_ldap_dir *d, LDAPMessage *e, void *arg)
{
	struct found *f = arg;
	char *dn;

	if (++f->n > 1)
		return WSG_OK;
	dn = ldap_get_dn(d->ld, e);
	if (dn == NULL)
		return WSG_OK;
	f->dn = wsg_mem_strdup(dn);
	f->id = entry_id(d, e, dn);
	ldap_memfree(dn);
	f->name = wsg_ldapstore_entry_name(d->ld, e, d->name_attr, f->dn);
	return WSG_OK;
}

int
wsg_ldap_dir_find_user(struct wsg_ldap_dir *d, const char *name,
                       struct wsg_user_record **rec, char **dn,
                       struct wsg_error *err)
{
	char *attrs[] = {"entryUUID",
	                 d->name_attr[0] != '\0' ? d->name_attr : NULL, NULL};
	char *filter =
	        wsg_ldapstore_filter(d->conf->user_filter, name, strlen(name));
	struct found f = {0, NULL, 0, NULL};
	struct wsg_user_record *r;
	char *nobody = NULL, *roles = NULL;
	int rc;

	*rec = NULL;
	if (dn != NULL)
		*dn = NULL;
	rc = search_paged(d, d->conf->user_base, filter, attrs, found_cb, &f,
	                  err);
	if (rc == WSG_OK && (f.n != 1 || f.dn == NULL)) {
		/* The group search a known name costs, so that a login of an
		 * unknown name takes as long. */
		nobody = wsg_mem_printf("%s,%s", NO_SUCH_USER,
		                        d->conf->user_base);
		rc = roles_of(d, nobody, &roles, err);
		if (rc == WSG_OK)
			rc = WSG_ERR_NOTFOUND;
	}
	if (rc != WSG_OK)
		goto out;
	r = wsg_mem_calloc(1, sizeof(*r));
	/* The entry's one name: the directory matched other spellings to it
	 * ("ALICE", " alice"), and they are one account and one lockout key. */
	r->username = f.name;
	f.name = NULL;
	r->id = f.id;
	rc = roles_of(d, f.dn, &r->roles, err);
	if (rc != WSG_OK) {
		wsg_userstore_record_free(r);
		goto out;
	}
	*rec = r;
	if (dn != NULL) {
		*dn = f.dn;
		f.dn = NULL;
	}
out:
	free(nobody);
	free(roles);
	free(filter);
	free(f.dn);
	free(f.name);
	return rc;
}

/* -------- listings -------- */

/* UTF-8 characters: a lead byte and its continuation bytes. */
static size_t
char_len(const char *s)
{
	size_t n = 1;

	while ((s[n] & 0xc0) == 0x80)
		n++;
	return n;
}

/* MI's glob, ASCII letters without case as the directory compares names. */
static int
glob_match(const char *g, const char *s)
{
	const char *star = NULL, *retry = NULL;

	while (*s != '\0') {
		if (*g == '*') {
			star = ++g;
			retry = s;
		} else if (*g == '?') {
			g++;
			s += char_len(s);
		} else if (*g != '\0' && tolower((unsigned char)*g) ==
		                                 tolower((unsigned char)*s)) {
			g++;
			s++;
		} else if (star != NULL) {
			g = star;
			retry += char_len(retry);
			s = retry;
		} else {
			return 0;
		}
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

/* The glob as a substring assertion: '?' widened to '*' (checked again
 * with glob_match()), runs of '*' as one, the rest escaped. */
static char *
glob_value(const char *glob)
{
	char *out = wsg_mem_alloc(3 * strlen(glob) + 1), *o = out;
	char one[2] = {0, 0}, *esc;

	for (; *glob != '\0'; glob++) {
		if (*glob == '*' || *glob == '?') {
			if (o == out || o[-1] != '*')
				*o++ = '*';
			continue;
		}
		one[0] = *glob;
		esc = wsg_ldapstore_escape(one, 1);
		o = stpcpy(o, esc);
		free(esc);
	}
	*o = '\0';
	return out;
}

/* `tmpl` with its %s replaced by `value` as it is (already escaped), as
 * wsg_ldapstore_filter() fills it. */
static char *
fill(const char *tmpl, const char *value)
{
	const char *hole = strstr(tmpl, "%s");

	if (hole == NULL)
		return wsg_mem_strdup(tmpl);
	return wsg_mem_printf("%.*s%s%s", (int)(hole - tmpl), tmpl, value,
	                      hole + 2);
}

/* A DN compared as the directory would for our purposes: normalised
 * (RFC 4514), ASCII without case. NULL for a DN libldap cannot parse. */
static char *
dn_key(const char *dn)
{
	char *norm = NULL, *out, *p;

	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAPV3, &norm,
	                      LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return NULL;
	out = wsg_mem_strdup(norm);
	ldap_memfree(norm);
	for (p = out; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

static int
member_cb(struct wsg_ldap_dir *d, LDAPMessage *e, void *arg)
{
	struct wsg_ldap_names *out = arg;
	struct berval **v = ldap_get_values_len(d->ld, e, d->member_attr);
	size_t i;
	char *dn, *key;

	for (i = 0; v != NULL && v[i] != NULL; i++) {
		if (out->n >= WSG_LDAP_DIR_MAX_ENTRIES)
			break;
		if (memchr(v[i]->bv_val, '\0', v[i]->bv_len) != NULL)
			continue;
		dn = wsg_mem_strndup(v[i]->bv_val, v[i]->bv_len);
		key = dn_key(dn);
		if (key != NULL)
			names_add(out, key, strlen(key));
		free(key);
		free(dn);
	}
	ldap_value_free_len(v);
	return out->n >= WSG_LDAP_DIR_MAX_ENTRIES ? WSG_ERR_LIMIT : WSG_OK;
}

static int
count_cb(struct wsg_ldap_dir *d, LDAPMessage *e, void *arg)
{
	(void)d;
	(void)e;
	++*(size_t *)arg;
	return WSG_OK;
}

/* The filter for the groups that give `role` (`esc` escaped): those of
 * that name, and admin_group when `role` is the management admin role. */
static char *
admin_group_too(struct wsg_ldap_dir *d, const char *role, const char *esc)
{
	const char *attr = d->conf->role_attribute;
	const char *group = d->conf->admin_group;
	char *g, *out;

	if (group == NULL || strcmp(role, d->admin_role) != 0)
		return wsg_mem_printf("(%s=%s)", attr, esc);
	g = wsg_ldapstore_escape(group, strlen(group));
	out = wsg_mem_printf("(|(%s=%s)(%s=%s))", attr, esc, attr, g);
	free(g);
	return out;
}

/* The DN keys of the members of the groups named `role` (sorted);
 * WSG_ERR_NOTFOUND when no group under group_base has that name. */
static int
role_members(struct wsg_ldap_dir *d, const char *role,
             struct wsg_ldap_names *out, struct wsg_error *err)
{
	char *attrs[] = {d->member_attr, NULL};
	char *no_attrs[] = {LDAP_NO_ATTRS, NULL};
	char *any = fill(d->conf->group_filter, "*");
	char *esc = wsg_ldapstore_escape(role, strlen(role));
	char *named = admin_group_too(d, role, esc);
	char *filter = wsg_mem_printf("(&%s%s)", any, named);
	size_t groups = 0;
	int rc;

	rc = search_paged(d, d->conf->group_base, filter, attrs, member_cb, out,
	                  err);
	/* A group without members names a role all the same. */
	if (rc == WSG_OK && out->n == 0)
		rc = search_paged(d, d->conf->group_base, named, no_attrs,
		                  count_cb, &groups, err);
	if (rc == WSG_OK && out->n == 0 && groups == 0)
		rc = WSG_ERR_NOTFOUND;
	if (rc == WSG_OK)
		names_sort(out);
	free(named);
	free(filter);
	free(esc);
	free(any);
	return rc;
}

struct listing {
	const char *glob;
	const struct wsg_ldap_names *members; /* sorted DN keys, or NULL */
	struct wsg_ldap_names out;
};

static int
user_cb(struct wsg_ldap_dir *d, LDAPMessage *e, void *arg)
{
	struct listing *ls = arg;
	char *dn, *key;
	int keep = 1;

	if (ls->members != NULL) {
		dn = ldap_get_dn(d->ld, e);
		key = dn != NULL ? dn_key(dn) : NULL;
		keep = key != NULL &&
		       bsearch(&key, ls->members->names, ls->members->n,
		               sizeof(char *), cmp_names) != NULL;
		free(key);
		ldap_memfree(dn);
	}
	if (!keep || first_value(d, e, d->name_attr, &ls->out) != 0)
		return WSG_OK;
	if (ls->glob != NULL &&
	    !glob_match(ls->glob, ls->out.names[ls->out.n - 1]))
		free(ls->out.names[--ls->out.n]);
	return ls->out.n >= WSG_LDAP_DIR_MAX_ENTRIES ? WSG_ERR_LIMIT : WSG_OK;
}

int
wsg_ldap_dir_list_users(struct wsg_ldap_dir *d, const char *glob,
                        const char *search, const char *role,
                        struct wsg_ldap_names *out, struct wsg_error *err)
{
	struct listing ls = {glob, NULL, {NULL, 0}};
	struct wsg_ldap_names members = {NULL, 0};
	char *attrs[] = {d->name_attr, NULL};
	char *gv = glob_value(glob != NULL ? glob : "*"), *sv = NULL;
	char *by_glob = fill(d->conf->user_filter, gv), *by_search = NULL;
	char *filter = NULL;
	int rc = WSG_OK;

	out->names = NULL;
	out->n = 0;
	if (d->name_attr[0] == '\0' ||
	    (role != NULL && d->member_attr[0] == '\0')) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "listing users needs ldap.user_filter and "
		                   "ldap.group_filter to compare one attribute "
		                   "with %%s, as in (uid=%%s)");
		goto out;
	}
	if (search != NULL) {
		char *esc = wsg_ldapstore_escape(search, strlen(search));

		sv = wsg_mem_printf("*%s*", esc);
		free(esc);
		by_search = fill(d->conf->user_filter, sv);
	}
	filter = wsg_mem_printf("(&%s%s)", by_glob,
	                        by_search != NULL ? by_search : "");
	if (role != NULL) {
		rc = role_members(d, role, &members, err);
		ls.members = &members;
	}
	if (rc == WSG_OK)
		rc = search_paged(d, d->conf->user_base, filter, attrs, user_cb,
		                  &ls, err);
	if (rc == WSG_ERR_LIMIT)
		wsg_error_set(err, rc, WSG_FAULT_NONE,
		              "more than %d entries match",
		              WSG_LDAP_DIR_MAX_ENTRIES);
out:
	if (rc == WSG_OK) {
		names_sort(&ls.out);
		*out = ls.out;
	} else {
		wsg_ldap_dir_names_free(&ls.out);
	}
	wsg_ldap_dir_names_free(&members);
	free(filter);
	free(by_search);
	free(by_glob);
	free(sv);
	free(gv);
	return rc;
}

int
wsg_ldap_dir_list_roles(struct wsg_ldap_dir *d, const char *search,
                        struct wsg_ldap_names *out, struct wsg_error *err)
{
	char *attrs[] = {d->conf->role_attribute, NULL};
	char *esc = NULL, *filter;
	int rc;

	out->names = NULL;
	out->n = 0;
	if (search != NULL) {
		esc = wsg_ldapstore_escape(search, strlen(search));
		filter = wsg_mem_printf("(%s=*%s*)", d->conf->role_attribute,
		                        esc);
	} else {
		filter = wsg_mem_printf("(%s=*)", d->conf->role_attribute);
	}
	rc = search_paged(d, d->conf->group_base, filter, attrs, role_cb, out,
	                  err);
	if (rc == WSG_ERR_LIMIT)
		wsg_error_set(err, rc, WSG_FAULT_NONE, "more than %d roles",
		              WSG_LDAP_DIR_MAX_ENTRIES);
	if (rc == WSG_OK)
		names_sort(out);
	else
		wsg_ldap_dir_names_free(out);
	free(filter);
	free(esc);
	return rc;
}
