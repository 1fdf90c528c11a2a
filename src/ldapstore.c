#include "ldapstore.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "ldap_filter.h"
#include "log.h"
#include "mem.h"
#include "userstore.h"

#define BACKOFF_MIN_MS 100  /* after a failed open, first wait */
#define BACKOFF_MAX_MS 2000 /* ... doubling up to this */
#define MAX_GROUPS 1000     /* a bigger answer is an error, not a cut */
#define MAX_READS 64        /* ldap_result calls for one readiness */

/* Binds for unknown users and empty passwords go to an entry that cannot
 * exist (RDN below user_base), with a password of our own. */
static const char dummy_rdn[] = "cn=wssgate-no-such-user-7c1e";
static const char dummy_password[] = "wssgate-dummy-password";

/* ---- RFC 4515 escaping ---- */

char *
wsg_ldapstore_escape(const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *out = wsg_mem_alloc(len * 3 + 1);
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 ||
		    c == 0x7f) {
			out[o++] = '\\';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

char *
wsg_ldapstore_filter(const char *filter, const char *value, size_t len)
{
	const char *hole = strstr(filter, "%s");
	char *esc, *out;

	if (hole == NULL)
		return wsg_mem_strdup(filter);
	esc = wsg_ldapstore_escape(value, len);
	out = wsg_mem_printf("%.*s%s%s", (int)(hole - filter), filter, esc,
	                     hole + 2);
	free(esc);
	return out;
}

/* ---- opening a connection (blocking; threads only) ---- */

int
wsg_ldapstore_open(const struct wsg_ldap_conf *conf, const char *bind_password,
                   int service, LDAP **out, struct wsg_error *err)
{
	struct timeval tv = {.tv_sec = (time_t)conf->timeout};
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
	struct berval cred;
	LDAP *ld = NULL;
	char *diag = NULL;
	int rc, tls;

	*out = NULL;
	rc = ldap_initialize(&ld, conf->uri);
	if (rc != LDAP_SUCCESS) {
		rc = wsg_error_set(err, WSG_ERR_CONNECT, WSG_FAULT_SERVER,
		                   "ldap %s: %s", conf->uri,
		                   ldap_err2string(rc));
		goto out;
	}
	tls = conf->starttls || strncasecmp(conf->uri, "ldaps:", 6) == 0;
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) ||
	    ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_OFF) ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv)) {
		rc = wsg_error_set(err, WSG_ERR_CONNECT, WSG_FAULT_SERVER,
		                   "ldap %s: cannot set the connection's "
		                   "options",
		                   conf->uri);
		goto out;
	}
	/* Whatever ldap.conf says: the certificate must verify. */
	if (tls &&
	    (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) ||
	     (conf->ca_file != NULL &&
	      ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, conf->ca_file)) ||
	     ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero))) {
		rc = wsg_error_set(err, WSG_ERR_CONNECT, WSG_FAULT_SERVER,
		                   "ldap %s: cannot set the connection's "
		                   "options (TLS: ca_file %s)",
		                   conf->uri,
		                   conf->ca_file ? conf->ca_file : "(system)");
		goto out;
	}
	rc = conf->starttls ? ldap_start_tls_s(ld, NULL, NULL)
	                    : ldap_connect(ld);
	if (rc != LDAP_SUCCESS) {
		/* libldap's own words name a TLS failure (an unknown CA). */
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
		rc = wsg_error_set(err, WSG_ERR_CONNECT, WSG_FAULT_SERVER,
		                   "ldap %s: %s%s%s%s", conf->uri,
		                   conf->starttls ? "StartTLS: " : "",
		                   ldap_err2string(rc), diag ? ": " : "",
		                   diag ? diag : "");
		ldap_memfree(diag);
		goto out;
	}
	if (service && conf->bind_dn != NULL) {
		cred.bv_val = (char *)(bind_password ? bind_password : "");
		cred.bv_len = strlen(cred.bv_val);
		rc = ldap_sasl_bind_s(ld, conf->bind_dn, LDAP_SASL_SIMPLE,
		                      &cred, NULL, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			rc = wsg_error_set(err, WSG_ERR_CONNECT,
			                   WSG_FAULT_SERVER,
			                   "ldap %s: bind as bind_dn: %s",
			                   conf->uri, ldap_err2string(rc));
			goto out;
		}
	}
	*out = ld;
	ld = NULL;
	rc = WSG_OK;
out:
	if (ld != NULL)
		ldap_unbind_ext(ld, NULL, NULL);
	return rc;
}

/*
 * One connection to open, queued for the opener threads. The owner (the
 * pool, on its loop) and the thread share it under the openers' lock: a
 * thread activates `ev` only if the owner has not cancelled the job, and
 * frees a cancelled job itself; otherwise the owner frees it from `ev`'s
 * callback.
 */
struct job {
	struct job *next;
	struct wsg_ldap_conf conf; /* copies: the pool may go first */
	char *password;
	int service;
	struct event *ev;
	int cancelled;
	int finished;
	LDAP *ld; /* the result */
	struct wsg_error err;
};

struct wsg_ldap_openers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, **tail; /* queued, under lock */
	int stopping;             /* under lock */
	pthread_t *threads;
	unsigned nthreads; /* started */
};

static void
job_free(struct job *j)
{
	if (j->ld != NULL)
		ldap_unbind_ext(j->ld, NULL, NULL);
	free(j->conf.uri);
	free(j->conf.ca_file);
	free(j->conf.bind_dn);
	if (j->password != NULL)
		wsg_mem_free_secret(j->password, strlen(j->password));
	free(j);
}

static void *
opener_main(void *arg)
{
	struct wsg_ldap_openers *o = arg;
	struct job *j;
	LDAP *ld;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		while (o->head == NULL && !o->stopping)
			pthread_cond_wait(&o->cond, &o->lock);
		/* Queued jobs are left to wsg_ldapstore_openers_free(). */
		if (o->stopping)
			break;
		j = o->head;
		o->head = j->next;
		if (o->head == NULL)
			o->tail = &o->head;
		if (j->cancelled) {
			pthread_mutex_unlock(&o->lock);
			job_free(j);
			pthread_mutex_lock(&o->lock);
			continue;
		}
		pthread_mutex_unlock(&o->lock);
		wsg_error_clear(&j->err);
		wsg_ldapstore_open(&j->conf, j->password, j->service, &ld,
		                   &j->err);
		pthread_mutex_lock(&o->lock);
		j->ld = ld;
		j->finished = 1;
		if (j->cancelled) {
			pthread_mutex_unlock(&o->lock);
			job_free(j);
			pthread_mutex_lock(&o->lock);
			continue;
		}
		event_active(j->ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

int
wsg_ldapstore_openers_new(unsigned nthreads, struct wsg_ldap_openers **out,
                          struct wsg_error *err)
{
	struct wsg_ldap_openers *o;
	sigset_t all, old;
	int rc = WSG_OK, e = 0;

	*out = NULL;
	if (nthreads == 0)
		nthreads = 1;
	o = wsg_mem_calloc(1, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	o->tail = &o->head;
	o->threads = wsg_mem_calloc(nthreads, sizeof(*o->threads));
	/* Signals belong to the event threads, not to the openers. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (o->nthreads < nthreads) {
		e = pthread_create(&o->threads[o->nthreads], NULL, opener_main,
		                   o);
		if (e != 0)
			break;
		o->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
		                   "cannot start the LDAP connection opener "
		                   "threads: %s",
		                   strerror(e));
		goto out;
	}
	*out = o;
	o = NULL;
out:
	wsg_ldapstore_openers_free(o);
	return rc;
}

void
wsg_ldapstore_openers_free(struct wsg_ldap_openers *o)
{
	struct job *j;
	unsigned i;

	if (o == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	o->stopping = 1;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	for (i = 0; i < o->nthreads; i++)
		pthread_join(o->threads[i], NULL);
	/* Every pool is gone, so every job left was cancelled: its event
	 * went with its pool. */
	while ((j = o->head) != NULL) {
		o->head = j->next;
		assert(j->cancelled);
		job_free(j);
	}
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	free(o->threads);
	free(o);
}

/* Hands `j` to the threads; from here its owner touches it only under
 * the lock, until `ev` has run or it is cancelled. */
static void
openers_queue(struct wsg_ldap_openers *o, struct job *j)
{
	pthread_mutex_lock(&o->lock);
	*o->tail = j;
	o->tail = &j->next;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

/* ---- the pool ---- */

enum conn_state {
	CONN_EMPTY = 0, /* no handle */
	CONN_OPENING,   /* a job opens it */
	CONN_IDLE,
	CONN_BUSY, /* runs `op` */
};

enum op_kind {
	OP_LOOKUP = 0, /* on service connections */
	OP_BIND,       /* on bind connections */
};

enum op_step {
	STEP_WAITING = 0,
	STEP_USER,   /* searching the user */
	STEP_GROUPS, /* searching its groups */
	STEP_BIND,
	STEP_DONE, /* neither queued nor on a connection */
};

struct conn {
	struct wsg_ldap_pool *pool;
	enum op_kind kind;
	enum conn_state state;
	LDAP *ld;
	struct event *io; /* readable: an answer, or an idle one closed */
	struct job *job;
	struct op *op;
};

struct op {
	TAILQ_ENTRY(op) link;
	struct wsg_ldap_pool *pool;
	enum op_kind kind;
	enum op_step step;
	struct conn *conn;
	int msgid;
	int retried; /* sent once on a connection found dead */
	struct event *timer;
	char *name;       /* lookup: the user name */
	char *dn;         /* bind: the entry; lookup: the entry found */
	char *entry_name; /* lookup: wsg_ldapstore_entry_name() */
	char *pw;         /* bind: the password (secret) */
	size_t pw_len;
	char **roles;
	size_t n_roles;
	wsg_ldapstore_lookup_cb lookup_done;
	wsg_ldapstore_bind_cb bind_done;
	void *arg;
};

TAILQ_HEAD(op_list, op);

struct wsg_ldap_pool {
	struct event_base *base;
	struct wsg_ldap_openers *openers;
	const struct wsg_ldap_conf *conf;
	const char *admin_role;
	char name_attr[64]; /* of user_filter's %s; "" when unknown */
	char *password;
	unsigned max_waiting;
	unsigned n_waiting;
	int closing;
	struct conn *conns; /* pool_size service, then pool_size bind */
	unsigned n_conns;
	struct op_list waitq[2]; /* per enum op_kind */
	int64_t down_until[2];   /* monotonic ms: no new open before */
	int64_t backoff[2];      /* ms, the next wait after a failed open */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dispatch(struct wsg_ldap_pool *p, enum op_kind kind);
static void conn_io_cb(evutil_socket_t fd, short what, void *arg);

static void
op_free(struct op *op)
{
	size_t i;

	if (op->timer != NULL)
		event_free(op->timer);
	free(op->name);
	free(op->dn);
	free(op->entry_name);
	if (op->pw != NULL)
		wsg_mem_free_secret(op->pw, op->pw_len);
	for (i = 0; i < op->n_roles; i++)
		free(op->roles[i]);
	free(op->roles);
	free(op);
}

static int
role_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The op's roles as one sorted, ','-separated list, with admin_role for a
 * member of admin_group. */
static char *
join_roles(struct op *op)
{
	const struct wsg_ldap_conf *c = op->pool->conf;
	size_t i, len = 1;
	int admin = 0;
	char *out;

	for (i = 0; i < op->n_roles; i++)
		if (c->admin_group != NULL &&
		    strcmp(op->roles[i], c->admin_group) == 0)
			admin = 1;
	if (admin) {
		for (i = 0; i < op->n_roles; i++)
			if (strcmp(op->roles[i], op->pool->admin_role) == 0)
				admin = 0;
	}
	if (admin) {
		op->roles = wsg_mem_realloc(
		        op->roles, (op->n_roles + 1) * sizeof(*op->roles));
		op->roles[op->n_roles++] = wsg_mem_strdup(op->pool->admin_role);
	}
	if (op->n_roles > 1)
		qsort(op->roles, op->n_roles, sizeof(*op->roles), role_cmp);
	for (i = 0; i < op->n_roles; i++)
		len += strlen(op->roles[i]) + 1;
	out = wsg_mem_alloc(len);
	out[0] = '\0';
	for (i = 0; i < op->n_roles; i++) {
		if (i > 0 && strcmp(op->roles[i], op->roles[i - 1]) == 0)
			continue;
		if (out[0] != '\0')
			strcat(out, ",");
		strcat(out, op->roles[i]);
	}
	return out;
}

/* Takes `op` off its queue or connection and calls its owner back. */
static void
op_finish(struct op *op, int status)
{
	struct wsg_ldap_user *u = NULL;

	if (op->step == STEP_WAITING) {
		TAILQ_REMOVE(&op->pool->waitq[op->kind], op, link);
		op->pool->n_waiting--;
	} else if (op->conn != NULL) {
		op->conn->op = NULL;
		if (op->conn->state == CONN_BUSY)
			op->conn->state = CONN_IDLE;
	}
	if (op->kind == OP_BIND) {
		op->bind_done(status, op->arg);
	} else {
		if (status == WSG_OK) {
			u = wsg_mem_calloc(1, sizeof(*u));
			u->dn = op->dn;
			u->name = op->entry_name;
			op->dn = op->entry_name = NULL;
			u->roles = join_roles(op);
		}
		op->lookup_done(status, u, op->arg);
	}
	op_free(op);
}

/* Closes `c`; its op, if any, fails with `status` (or is sent again once
 * when `retry`: an idle connection the server had closed). */
static void
conn_drop(struct conn *c, int status, int retry)
{
	struct op *op = c->op;

	if (c->io != NULL)
		event_free(c->io);
	c->io = NULL;
	if (c->ld != NULL)
		ldap_unbind_ext(c->ld, NULL, NULL);
	c->ld = NULL;
	c->state = CONN_EMPTY;
	c->op = NULL;
	if (op == NULL)
		return;
	op->conn = NULL;
	if (retry && !op->retried) {
		op->retried = 1;
		op->step = STEP_WAITING;
		TAILQ_INSERT_HEAD(&c->pool->waitq[op->kind], op, link);
		c->pool->n_waiting++;
		return;
	}
	op->step = STEP_DONE;
	op_finish(op, status);
}

static void
op_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct op *op = arg;
	struct wsg_ldap_pool *p = op->pool;
	enum op_kind kind = op->kind;

	(void)fd;
	(void)what;
	/* An answer may still come on its connection: close it. */
	if (op->conn != NULL)
		conn_drop(op->conn, WSG_ERR_TIMEOUT, 0);
	else
		op_finish(op, WSG_ERR_TIMEOUT);
	dispatch(p, kind);
}

/* A search on `c` for `op`; 0, or the LDAP error of sending it. */
static int
send_search(struct conn *c, struct op *op, const char *base,
            const char *filter_tmpl, const char *value, char **attrs,
            int sizelimit)
{
	struct timeval tv = {.tv_sec = (time_t)c->pool->conf->timeout};
	char *filter = wsg_ldapstore_filter(filter_tmpl, value, strlen(value));
	int rc;

	rc = ldap_search_ext(c->ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0,
	                     NULL, NULL, &tv, sizelimit, &op->msgid);
	free(filter);
	return rc;
}

static void
op_start(struct conn *c, struct op *op)
{
	struct wsg_ldap_pool *p = c->pool;
	char *name_attrs[] = {
	        p->name_attr[0] != '\0' ? p->name_attr : LDAP_NO_ATTRS, NULL};
	struct berval cred;
	char *dummy;
	int rc;

	c->state = CONN_BUSY;
	c->op = op;
	op->conn = c;
	if (op->kind == OP_LOOKUP) {
		op->step = STEP_USER;
		/* Two matches are enough to refuse an ambiguous name. */
		rc = send_search(c, op, p->conf->user_base,
		                 p->conf->user_filter, op->name, name_attrs, 2);
	} else {
		op->step = STEP_BIND;
		dummy = op->dn == NULL ? wsg_mem_printf("%s,%s", dummy_rdn,
		                                        p->conf->user_base)
		                       : NULL;
		cred.bv_val = op->dn != NULL ? op->pw : (char *)dummy_password;
		cred.bv_len = op->dn != NULL ? op->pw_len
		                             : sizeof(dummy_password) - 1;
		rc = ldap_sasl_bind(c->ld, op->dn != NULL ? op->dn : dummy,
		                    LDAP_SASL_SIMPLE, &cred, NULL, NULL,
		                    &op->msgid);
		free(dummy);
	}
	if (rc != LDAP_SUCCESS)
		conn_drop(c, WSG_ERR_CONNECT, 1);
}

/* Values of role_attribute in the group entries of `res`, into op. */
static void
collect_roles(struct conn *c, struct op *op, LDAPMessage *res)
{
	const char *attr = c->pool->conf->role_attribute;
	struct wsg_error why;
	struct berval **vals;
	LDAPMessage *e;
	char *role;
	size_t i;

	for (e = ldap_first_entry(c->ld, res); e != NULL;
	     e = ldap_next_entry(c->ld, e)) {
		vals = ldap_get_values_len(c->ld, e, attr);
		for (i = 0; vals != NULL && vals[i] != NULL; i++) {
			role = wsg_mem_strndup(vals[i]->bv_val,
			                       vals[i]->bv_len);
			/* A value no role can have (a ',', a NUL, a control
			 * character) is left out, never cut into another. */
			if (strlen(role) != vals[i]->bv_len ||
			    wsg_userstore_check_name("role", role, 1, &why) !=
			            WSG_OK) {
				free(role);
				continue;
			}
			op->roles = wsg_mem_realloc(op->roles,
			                            (op->n_roles + 1) *
			                                    sizeof(*op->roles));
			op->roles[op->n_roles++] = role;
		}
		ldap_value_free_len(vals);
	}
}

/* The result message that ends a chain of entries (or a bind's only). */
static LDAPMessage *
final_message(LDAP *ld, LDAPMessage *res)
{
	LDAPMessage *m, *last = res;

	for (m = ldap_first_message(ld, res); m != NULL;
	     m = ldap_next_message(ld, m))
		last = m;
	return last;
}

/* The answer to op's current step arrived in `res`. */
static void
op_answer(struct conn *c, struct op *op, LDAPMessage *res)
{
	struct wsg_ldap_pool *p = c->pool;
	char *attrs[] = {(char *)p->conf->role_attribute, NULL};
	int err = LDAP_OTHER, entries, rc;
	LDAPMessage *e;
	char *dn, *dummy;

	rc = ldap_parse_result(c->ld, final_message(c->ld, res), &err, NULL,
	                       NULL, NULL, NULL, 0);
	if (rc != LDAP_SUCCESS) {
		conn_drop(c, WSG_ERR_CONNECT, 0);
		return;
	}
	if (op->step == STEP_BIND) {
		op_finish(op, err == LDAP_SUCCESS ? WSG_OK
		              : err == LDAP_INVALID_CREDENTIALS ||
		                              err == LDAP_INAPPROPRIATE_AUTH
		                      ? WSG_ERR_AUTH
		                      : WSG_ERR_DB);
		return;
	}
	entries = ldap_count_entries(c->ld, res);
	if (op->step == STEP_GROUPS) {
		if (err != LDAP_SUCCESS) {
			wsg_log_msg("error", "ldap: group search: %s",
			            ldap_err2string(err));
			op_finish(op, WSG_ERR_DB);
			return;
		}
		if (op->dn == NULL) {
			op_finish(op, WSG_ERR_NOTFOUND);
			return;
		}
		collect_roles(c, op, res);
		op_finish(op, WSG_OK);
		return;
	}
	if (err != LDAP_SUCCESS && err != LDAP_SIZELIMIT_EXCEEDED) {
		wsg_log_msg("error", "ldap: user search: %s",
		            ldap_err2string(err));
		op_finish(op, WSG_ERR_DB);
		return;
	}
	if (entries > 1)
		wsg_log_msg("warning", "ldap: user_filter matches more than "
		                       "one entry for a name; refused");
	if (entries == 1) {
		e = ldap_first_entry(c->ld, res);
		dn = ldap_get_dn(c->ld, e);
		if (dn == NULL) {
			op_finish(op, WSG_ERR_DB);
			return;
		}
		op->dn = wsg_mem_strdup(dn);
		ldap_memfree(dn);
		op->entry_name = wsg_ldapstore_entry_name(c->ld, e,
		                                          p->name_attr, op->dn);
	}
	/* A name that matches no entry still costs the group search, as
	 * the entry of nobody, so it answers no sooner than a known one. */
	dummy = wsg_mem_printf("%s,%s", dummy_rdn, p->conf->user_base);
	op->step = STEP_GROUPS;
	rc = send_search(c, op, p->conf->group_base, p->conf->group_filter,
	                 op->dn != NULL ? op->dn : dummy, attrs, MAX_GROUPS);
	free(dummy);
	if (rc != LDAP_SUCCESS)
		conn_drop(c, WSG_ERR_CONNECT, 0);
}

static int
data_buffered(struct conn *c)
{
	Sockbuf *sb = NULL;

	return ldap_get_option(c->ld, LDAP_OPT_SOCKBUF, &sb) ==
	               LDAP_OPT_SUCCESS &&
	       sb != NULL &&
	       ber_sockbuf_ctrl(sb, LBER_SB_OPT_DATA_READY, NULL) > 0;
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct wsg_ldap_pool *p = c->pool;
	enum op_kind kind = c->kind;
	struct timeval zero = {0, 0};
	LDAPMessage *res = NULL;
	int i, rc;

	(void)fd;
	(void)what;
	/* Nothing is asked on an idle connection: the server closed it (or
	 * sent a notice of disconnection, which ends it as well). */
	if (c->op == NULL) {
		conn_drop(c, WSG_ERR_CONNECT, 0);
		dispatch(p, kind);
		return;
	}
	/* Reads what the socket holds; 0: the answer is not complete yet.
	 * Bytes the TLS layer has buffered make no readiness: read on. */
	for (i = 0;; i++) {
		rc = ldap_result(c->ld, c->op->msgid, LDAP_MSG_ALL, &zero,
		                 &res);
		if (rc != 0)
			break;
		if (i == MAX_READS || !data_buffered(c))
			return;
	}
	if (rc < 0) {
		conn_drop(c, WSG_ERR_CONNECT, 0);
	} else {
		op_answer(c, c->op, res);
		ldap_msgfree(res);
	}
	dispatch(p, kind);
}

/* The opener thread finished `c`'s job. */
static void
job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct wsg_ldap_pool *p = c->pool;
	struct job *j = c->job;
	evutil_socket_t sock = -1;
	Sockbuf *sb = NULL;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&p->openers->lock);
	c->job = NULL;
	pthread_mutex_unlock(&p->openers->lock);
	event_free(j->ev);
	j->ev = NULL;
	if (j->ld == NULL) {
		c->state = CONN_EMPTY;
		wsg_log_msg("error", "%s; next try in %lldms", j->err.reason,
		            (long long)p->backoff[c->kind]);
		p->down_until[c->kind] = now_ms() + p->backoff[c->kind];
		p->backoff[c->kind] = p->backoff[c->kind] * 2 > BACKOFF_MAX_MS
		                              ? BACKOFF_MAX_MS
		                              : p->backoff[c->kind] * 2;
		job_free(j);
		dispatch(p, c->kind);
		return;
	}
	c->ld = j->ld;
	j->ld = NULL;
	job_free(j);
	p->backoff[c->kind] = BACKOFF_MIN_MS;
	p->down_until[c->kind] = 0;
	/* From here on the loop only waits for readiness: never block in a
	 * read or write. */
	if (ldap_get_option(c->ld, LDAP_OPT_DESC, &sock) != LDAP_OPT_SUCCESS ||
	    ldap_get_option(c->ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS ||
	    sock < 0 ||
	    ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_NONBLOCK, (void *)1) != 1) {
		conn_drop(c, WSG_ERR_CONNECT, 0);
		dispatch(p, c->kind);
		return;
	}
	c->io = event_new(p->base, sock, EV_READ | EV_PERSIST, conn_io_cb, c);
	if (c->io == NULL || event_add(c->io, NULL) != 0)
		abort();
	c->state = CONN_IDLE;
	dispatch(p, c->kind);
}

static void
conn_open(struct conn *c)
{
	struct wsg_ldap_pool *p = c->pool;
	struct job *j = wsg_mem_calloc(1, sizeof(*j));

	j->conf = *p->conf;
	j->conf.uri = wsg_mem_strdup(p->conf->uri);
	j->conf.ca_file =
	        p->conf->ca_file ? wsg_mem_strdup(p->conf->ca_file) : NULL;
	j->conf.bind_dn =
	        p->conf->bind_dn ? wsg_mem_strdup(p->conf->bind_dn) : NULL;
	/* Strings the opener does not read. */
	j->conf.bind_password_file = j->conf.user_base = NULL;
	j->conf.user_filter = j->conf.group_base = NULL;
	j->conf.group_filter = j->conf.role_attribute = NULL;
	j->conf.admin_group = NULL;
	j->password = p->password ? wsg_mem_strdup(p->password) : NULL;
	j->service = c->kind == OP_LOOKUP;
	j->ev = event_new(p->base, -1, 0, job_done_cb, c);
	if (j->ev == NULL)
		abort();
	c->state = CONN_OPENING;
	c->job = j;
	openers_queue(p->openers, j);
}

/* Connections of `kind` in `state`. */
static unsigned
count_conns(struct wsg_ldap_pool *p, enum op_kind kind, enum conn_state state)
{
	unsigned i, n = 0;

	for (i = 0; i < p->n_conns; i++)
		n += p->conns[i].kind == kind && p->conns[i].state == state;
	return n;
}

/*
 * Starts waiting operations of `kind` on idle connections, opens more
 * when they wait, and fails them when none could ever take them (every
 * connection closed and the pool in its backoff after a failed open).
 */
static void
dispatch(struct wsg_ldap_pool *p, enum op_kind kind)
{
	struct op *op;
	unsigned i, want;

	if (p->closing)
		return;
	for (i = 0; i < p->n_conns && !TAILQ_EMPTY(&p->waitq[kind]); i++) {
		if (p->conns[i].kind != kind || p->conns[i].state != CONN_IDLE)
			continue;
		op = TAILQ_FIRST(&p->waitq[kind]);
		TAILQ_REMOVE(&p->waitq[kind], op, link);
		p->n_waiting--;
		op_start(&p->conns[i], op);
		/* A send on a dead connection put it back: look again. */
		i = (unsigned)-1;
	}
	if (TAILQ_EMPTY(&p->waitq[kind]))
		return;
	if (now_ms() < p->down_until[kind]) {
		if (count_conns(p, kind, CONN_BUSY) == 0 &&
		    count_conns(p, kind, CONN_OPENING) == 0)
			while ((op = TAILQ_FIRST(&p->waitq[kind])) != NULL)
				op_finish(op, WSG_ERR_CONNECT);
		return;
	}
	want = 0;
	for (op = TAILQ_FIRST(&p->waitq[kind]); op != NULL;
	     op = TAILQ_NEXT(op, link))
		want++;
	/* After a failure, one open at a time tells whether it is back. */
	if (p->backoff[kind] > BACKOFF_MIN_MS)
		want = 1;
	for (i = 0; i < p->n_conns; i++)
		if (p->conns[i].kind == kind &&
		    p->conns[i].state == CONN_OPENING && want > 0)
			want--;
	for (i = 0; i < p->n_conns && want > 0; i++)
		if (p->conns[i].kind == kind &&
		    p->conns[i].state == CONN_EMPTY) {
			conn_open(&p->conns[i]);
			want--;
		}
}

struct wsg_ldap_pool *
wsg_ldapstore_pool_new(struct event_base *base,
                       struct wsg_ldap_openers *openers,
                       const struct wsg_ldap_conf *conf, const char *admin_role,
                       const char *bind_password, unsigned max_waiting)
{
	struct wsg_ldap_pool *p = wsg_mem_calloc(1, sizeof(*p));
	unsigned i;

	p->base = base;
	p->openers = openers;
	p->conf = conf;
	p->admin_role = admin_role;
	p->password = bind_password ? wsg_mem_strdup(bind_password) : NULL;
	p->max_waiting = max_waiting;
	if (wsg_ldap_filter_attribute(conf->user_filter, p->name_attr,
	                              sizeof(p->name_attr)) != 0)
		p->name_attr[0] = '\0';
	p->n_conns = conf->pool_size * 2;
	p->conns = wsg_mem_calloc(p->n_conns, sizeof(*p->conns));
	for (i = 0; i < p->n_conns; i++) {
		p->conns[i].pool = p;
		p->conns[i].kind = i < conf->pool_size ? OP_LOOKUP : OP_BIND;
	}
	for (i = 0; i < 2; i++) {
		TAILQ_INIT(&p->waitq[i]);
		p->backoff[i] = BACKOFF_MIN_MS;
	}
	return p;
}

void
wsg_ldapstore_pool_shutdown(struct wsg_ldap_pool *p)
{
	struct op *op;
	unsigned i, k;

	if (p == NULL)
		return;
	p->closing = 1;
	for (i = 0; i < p->n_conns; i++) {
		struct conn *c = &p->conns[i];

		if (c->state == CONN_OPENING) {
			/* The thread frees a cancelled job; a finished one
			 * is ours. */
			pthread_mutex_lock(&p->openers->lock);
			if (c->job->finished) {
				pthread_mutex_unlock(&p->openers->lock);
				event_free(c->job->ev);
				job_free(c->job);
			} else {
				c->job->cancelled = 1;
				pthread_mutex_unlock(&p->openers->lock);
				event_free(c->job->ev);
			}
			c->job = NULL;
			c->state = CONN_EMPTY;
		} else if (c->state != CONN_EMPTY) {
			conn_drop(c, WSG_ERR_CONNECT, 0);
		}
	}
	for (k = 0; k < 2; k++)
		while ((op = TAILQ_FIRST(&p->waitq[k])) != NULL)
			op_finish(op, WSG_ERR_CONNECT);
}

void
wsg_ldapstore_pool_free(struct wsg_ldap_pool *p)
{
	if (p == NULL)
		return;
	wsg_ldapstore_pool_shutdown(p);
	free(p->conns);
	if (p->password != NULL)
		wsg_mem_free_secret(p->password, strlen(p->password));
	free(p);
}

char *
wsg_ldapstore_entry_name(LDAP *ld, LDAPMessage *e, const char *name_attr,
                         const char *dn)
{
	struct berval **values = name_attr[0] != '\0'
	                                 ? ldap_get_values_len(ld, e, name_attr)
	                                 : NULL;
	struct wsg_error why;
	char *name = NULL;

	if (values == NULL || values[0] == NULL || values[1] != NULL)
		goto out;
	name = wsg_mem_strndup(values[0]->bv_val, values[0]->bv_len);
	/* A value no user name can have (a NUL, a control character) is
	 * not sent upstream as X-WSS-User. */
	if (strlen(name) != values[0]->bv_len ||
	    wsg_userstore_check_name("user", name, 0, &why) != WSG_OK) {
		free(name);
		name = NULL;
	}
out:
	ldap_value_free_len(values);
	return name != NULL ? name : wsg_mem_strdup(dn);
}

void
wsg_ldapstore_user_free(struct wsg_ldap_user *u)
{
	if (u == NULL)
		return;
	free(u->dn);
	free(u->name);
	free(u->roles);
	free(u);
}

/* Queues `op` (owned by the pool from here) or refuses it. */
static int
submit(struct wsg_ldap_pool *p, struct op *op)
{
	struct timeval tv = {.tv_sec = (time_t)p->conf->timeout};
	enum op_kind k = op->kind;

	if (p->closing ||
	    (now_ms() < p->down_until[k] &&
	     count_conns(p, k, CONN_IDLE) + count_conns(p, k, CONN_BUSY) +
	                     count_conns(p, k, CONN_OPENING) ==
	             0)) {
		op_free(op);
		return WSG_ERR_CONNECT;
	}
	if (p->n_waiting >= p->max_waiting) {
		op_free(op);
		return WSG_ERR_FULL;
	}
	op->pool = p;
	op->step = STEP_WAITING;
	op->timer = evtimer_new(p->base, op_timeout_cb, op);
	if (op->timer == NULL || evtimer_add(op->timer, &tv) != 0)
		abort();
	TAILQ_INSERT_TAIL(&p->waitq[k], op, link);
	p->n_waiting++;
	dispatch(p, k);
	return WSG_OK;
}

int
wsg_ldapstore_lookup(struct wsg_ldap_pool *p, const char *username,
                     wsg_ldapstore_lookup_cb done, void *arg)
{
	struct op *op = wsg_mem_calloc(1, sizeof(*op));

	op->kind = OP_LOOKUP;
	op->name = wsg_mem_strdup(username);
	op->lookup_done = done;
	op->arg = arg;
	return submit(p, op);
}

int
wsg_ldapstore_bind(struct wsg_ldap_pool *p, const char *dn, const char *pw,
                   size_t len, wsg_ldapstore_bind_cb done, void *arg)
{
	struct op *op = wsg_mem_calloc(1, sizeof(*op));

	op->kind = OP_BIND;
	if (dn != NULL && len > 0) {
		op->dn = wsg_mem_strdup(dn);
		op->pw = wsg_mem_strndup(pw, len);
		op->pw_len = len;
	}
	op->bind_done = done;
	op->arg = arg;
	return submit(p, op);
}
