#include "mgmt_work.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "ldap_dir.h"
#include "lockout.h"
#include "log.h"
#include "mem.h"
#include "mgmt_http.h"

/* Reads see the latest committed rows, so a check made under a lock holds. */
static const char SQL_ISOLATION[] =
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
/* After a connect that failed only when it timed out (a stalled server,
 * not a refused or closed one), jobs fail at once (503) for RETRY_MS
 * instead of each waiting connect_timeout, and one worker at a time tries
 * again. A connect failing fast costs nothing to retry. */
#define RETRY_MS 1000
#define SLOW_MS 250

struct wsg_mgmt_work {
	struct wsg_mgmt *m;
	struct event *done_ev; /* on the management thread's loop */
	unsigned max_queued;
	pthread_mutex_t mu;               /* guards all below */
	pthread_cond_t cv;                /* workers wait for jobs */
	struct wsg_mgmt_req *head, *tail; /* queued, oldest first */
	struct wsg_mgmt_req *done;        /* run, waiting for `done_ev` */
	unsigned queued;                  /* waiting for a worker */
	int db_down;                      /* the last connect timed out */
	int64_t retry_at_ms;              /* ... and the next may start then */
	int stopping;
	unsigned nthreads;
	pthread_t *threads;
	struct wsg_mgmt_worker *workers;
};

/* -------- the connection -------- */

/* Whether this worker may connect now; while the database is down only one
 * worker tries per RETRY_MS, the others' jobs fail at once. */
static int
may_connect(struct wsg_mgmt_work *w)
{
	int64_t now = wsg_lockout_now_ms();
	int ok;

	pthread_mutex_lock(&w->mu);
	ok = !w->db_down || now >= w->retry_at_ms;
	if (ok && w->db_down)
		w->retry_at_ms = INT64_MAX;
	pthread_mutex_unlock(&w->mu);
	return ok;
}

static void
connected(struct wsg_mgmt_work *w, int ok, int64_t started_ms)
{
	int64_t now = wsg_lockout_now_ms();

	pthread_mutex_lock(&w->mu);
	w->db_down = !ok && now - started_ms >= SLOW_MS;
	w->retry_at_ms = w->db_down ? now + RETRY_MS : 0;
	pthread_mutex_unlock(&w->mu);
}

static int
db_open(struct wsg_mgmt_worker *wk, struct wsg_error *err)
{
	struct wsg_mgmt *m = wk->work->m;
	int64_t started = wsg_lockout_now_ms();
	char sql[64];
	int rc;

	if (!may_connect(wk->work))
		return wsg_error_set(err, WSG_ERR_CONNECT, WSG_FAULT_NONE,
		                     "the database did not answer the last "
		                     "connect; trying again shortly");
	rc = wsg_db_connect(&m->rt->db_params, &wk->db, err);
	if (rc == WSG_OK)
		rc = wsg_db_exec(wk->db, SQL_ISOLATION, NULL, 0, NULL, err);
	/* A lock wait ends before the client's read timeout gives up. */
	if (rc == WSG_OK) {
		snprintf(sql, sizeof(sql),
		         "SET SESSION innodb_lock_wait_timeout = %lld",
		         (long long)m->cfg->userstore.query_timeout);
		rc = wsg_db_exec(wk->db, sql, NULL, 0, NULL, err);
	}
	if (rc != WSG_OK) {
		wsg_db_close(wk->db);
		wk->db = NULL;
	}
	connected(wk->work, rc == WSG_OK, started);
	return rc;
}

int
wsg_mgmt_work_db(struct wsg_mgmt_worker *wk, struct wsg_db_conn **out,
                 struct wsg_error *err)
{
	struct wsg_error ping;

	*out = NULL;
	if (wk->db != NULL && wk->db_checked) {
		*out = wk->db;
		return WSG_OK;
	}
	wsg_error_clear(&ping);
	/* An idle connection may have been closed by the server meanwhile,
	 * or its Galera node left the primary component: move on. */
	if (wk->db != NULL && wsg_db_ping(wk->db, &ping) != WSG_OK) {
		wsg_db_close(wk->db);
		wk->db = NULL;
	}
	if (wk->db == NULL && db_open(wk, err) != WSG_OK)
		return WSG_ERR_DB;
	wk->db_checked = 1;
	*out = wk->db;
	return WSG_OK;
}

/* -------- argon2, waited for -------- */

struct wait {
	int finished;
	int result;
	char *encoded;
};

static void
verified_cb(int result, void *arg)
{
	struct wait *wt = arg;

	wt->result = result;
	wt->finished = 1;
}

static void
hashed_cb(int result, char *encoded, void *arg)
{
	struct wait *wt = arg;

	wt->result = result;
	wt->encoded = encoded;
	wt->finished = 1;
}

/* The pool answers through event_active() on the worker's own base, where
 * nothing else is registered: without NO_EXIT_ON_EMPTY the loop would
 * return at once instead of sleeping until then. */
static void
wait_for(struct wsg_mgmt_worker *wk, const struct wait *wt)
{
	while (!wt->finished)
		event_base_loop(wk->base,
		                EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY);
}

int
wsg_mgmt_work_verify(struct wsg_mgmt_worker *wk, const char *encoded,
                     const char *pw, size_t len,
                     const struct wsg_password_client *who)
{
	struct wait wt = {0, 0, NULL};
	int rc;

	rc = wsg_password_verify_async(wk->work->m->rt->pwpool, wk->base,
	                               encoded, pw, len, who, verified_cb, &wt);
	if (rc != WSG_OK)
		return rc;
	wait_for(wk, &wt);
	return wt.result;
}

int
wsg_mgmt_work_hash(struct wsg_mgmt_worker *wk, const char *pw, size_t len,
                   const struct wsg_password_client *who, char **encoded)
{
	struct wait wt = {0, 0, NULL};
	int rc;

	*encoded = NULL;
	rc = wsg_password_hash_async(wk->work->m->rt->pwpool, wk->base, pw, len,
	                             who, hashed_cb, &wt);
	if (rc != WSG_OK)
		return rc;
	wait_for(wk, &wt);
	if (wt.result == WSG_OK)
		*encoded = wt.encoded;
	else
		free(wt.encoded);
	return wt.result;
}

/* -------- the queue -------- */

static void *
worker_main(void *arg)
{
	struct wsg_mgmt_worker *wk = arg;
	struct wsg_mgmt_work *w = wk->work;
	struct wsg_mgmt_req *r;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		r = w->head;
		if (r == NULL)
			break;
		w->head = r->job_next;
		if (w->head == NULL)
			w->tail = NULL;
		w->queued--;
		pthread_mutex_unlock(&w->mu);

		r->worker = wk;
		wk->db_checked = 0;
		r->job_run(r, r->job_arg);
		r->worker = NULL;
		if (wk->db_broken) {
			wsg_db_close(wk->db);
			wk->db = NULL;
			wk->db_broken = 0;
		}
		wsg_ldap_dir_close(wk->ldap);
		wk->ldap = NULL;

		pthread_mutex_lock(&w->mu);
		r->job_next = w->done;
		w->done = r;
		event_active(w->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* On the management thread: the answers of the jobs that ran. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_mgmt_work *w = arg;
	struct wsg_mgmt_req *list, *r, *prev = NULL;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	list = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->mu);
	/* Pushed newest first: answer in the order they ran. */
	while (list != NULL) {
		r = list->job_next;
		list->job_next = prev;
		prev = list;
		list = r;
	}
	while ((r = prev) != NULL) {
		prev = r->job_next;
		r->job_next = NULL;
		if (r->job_done != NULL)
			r->job_done(r, r->job_arg);
		else
			wsg_mgmt_finish(r);
	}
}

int
wsg_mgmt_work_submit(struct wsg_mgmt_work *w, struct wsg_mgmt_req *r,
                     wsg_mgmt_job_cb run, wsg_mgmt_job_cb done, void *arg)
{
	pthread_mutex_lock(&w->mu);
	if (w->max_queued > 0 && w->queued >= w->max_queued) {
		pthread_mutex_unlock(&w->mu);
		return WSG_ERR_FULL;
	}
	r->job_run = run;
	r->job_done = done;
	r->job_arg = arg;
	r->job_next = NULL;
	if (w->tail != NULL)
		w->tail->job_next = r;
	else
		w->head = r;
	w->tail = r;
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return WSG_OK;
}

/* -------- lifetime -------- */

static void
stop_threads(struct wsg_mgmt_work *w, unsigned started)
{
	unsigned i;

	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < started; i++)
		pthread_join(w->threads[i], NULL);
}

static void
work_free(struct wsg_mgmt_work *w)
{
	unsigned i;

	for (i = 0; i < w->nthreads; i++) {
		wsg_db_close(w->workers[i].db);
		if (w->workers[i].base != NULL)
			event_base_free(w->workers[i].base);
	}
	if (w->done_ev != NULL)
		event_free(w->done_ev);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w->workers);
	free(w);
}

int
wsg_mgmt_work_new(struct wsg_mgmt *m, struct event_base *base, unsigned threads,
                  unsigned max_queued, struct wsg_mgmt_work **out,
                  struct wsg_error *err)
{
	struct wsg_mgmt_work *w = wsg_mem_calloc(1, sizeof(*w));
	sigset_t all, old;
	unsigned i;
	int rc = 0;

	*out = NULL;
	w->m = m;
	w->max_queued = max_queued;
	w->nthreads = threads;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->threads = wsg_mem_calloc(threads, sizeof(*w->threads));
	w->workers = wsg_mem_calloc(threads, sizeof(*w->workers));
	w->done_ev = event_new(base, -1, 0, done_cb, w);
	for (i = 0; i < threads; i++) {
		w->workers[i].work = w;
		w->workers[i].base = event_base_new();
		if (w->workers[i].base == NULL || w->done_ev == NULL) {
			work_free(w);
			return wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
			                     "cannot create an event base");
		}
	}
	/* Signals go to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < threads && rc == 0; i++)
		rc = pthread_create(&w->threads[i], NULL, worker_main,
		                    &w->workers[i]);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		stop_threads(w, i - 1);
		work_free(w);
		return wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
		                     "cannot start the management workers");
	}
	*out = w;
	return WSG_OK;
}

void
wsg_mgmt_work_free(struct wsg_mgmt_work *w)
{
	if (w == NULL)
		return;
	stop_threads(w, w->nthreads);
	work_free(w);
}
