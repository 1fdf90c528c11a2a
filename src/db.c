#include "db.h"

#include <errmsg.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "dbnodes.h"
#include "err.h"
#include "log.h"
#include "mem.h"

#define DEFAULT_CONNECT_TIMEOUT 5 /* seconds, when the params say 0 */
#define DEFAULT_QUERY_TIMEOUT 10  /* seconds, when the params say 0 */
#define MAX_PARAMS 64
#define STMT_CACHE_MAX 64 /* distinct statements per connection */
#define BACKOFF_MIN_MS 100
/* Once the server is back, a pool serves again within this (plus one
 * connect): the gateway promises full service within 5 s. */
#define BACKOFF_MAX_MS 1000
#define ABORT_SPINS 64 /* bound on finishing an aborted call */
#define MIN_CELL_BUF 64

/* Whether a node may serve: Galera's own view of it. A server without
 * wsrep_on (plain MariaDB, or Galera switched off) is always ready. The
 * tables are information_schema's, which a node outside the primary
 * component still answers. */
static const char SQL_NODE_READY[] =
        "SELECT (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES"
        " WHERE VARIABLE_NAME = 'WSREP_ON'),"
        " (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
        " WHERE VARIABLE_NAME = 'WSREP_READY'),"
        " (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
        " WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE')";
#define WSREP_SYNCED "4"
#define NOT_PRIMARY "is not a Synced member of the primary component"

/* What a pool connection is doing; `pending` says a call is suspended in it. */
enum conn_state {
	CONN_CLOSED,     /* no server connection; opened on demand */
	CONN_BACKOFF,    /* the last connect failed; waiting before the next */
	CONN_CONNECTING, /* mysql_real_connect */
	CONN_CHECKING,   /* mysql_real_query of SQL_NODE_READY */
	CONN_CHECK_STORING, /* mysql_store_result of its answer */
	CONN_IDLE,      /* connected, no query; watching for a server close */
	CONN_PREPARING, /* mysql_stmt_prepare of a statement not yet cached */
	CONN_EXECUTING, /* mysql_stmt_execute */
	CONN_STORING,   /* mysql_stmt_store_result */
	CONN_FREEING, /* mysql_stmt_free_result; the query already completed */
};

enum query_state {
	QUERY_WAITING, /* in the pool's wait queue */
	QUERY_CLAIMED, /* owned by a connection that is connecting or running it
	                */
	QUERY_DONE,    /* completed, waiting in the done list for delivery */
};

/* What one step of a connection's state machine asks of its driver. */
enum step {
	STEP_NEXT, /* state changed; run the next step now */
	STEP_WAIT, /* a call is suspended; its event is armed */
	STEP_STOP, /* nothing to do until new work arrives */
};

struct query {
	TAILQ_ENTRY(query) link; /* wait queue or done list */
	struct wsg_db_pool *pool;
	enum query_state state;
	struct conn *conn; /* set while QUERY_CLAIMED */
	const char *sql;
	struct wsg_db_param *params;
	unsigned nparams;
	char *data; /* copies of all parameter bytes */
	size_t data_len;
	wsg_db_done_cb done;
	void *arg;
	struct event timer; /* query_timeout, from submission */
	unsigned retries;   /* runs moved to another node */
	int status;
	struct wsg_db_result *res;
};

TAILQ_HEAD(query_list, query);

struct cached_stmt {
	const char *key; /* the caller's static string */
	char *text;      /* our copy, compared when the pointer differs */
	MYSQL_STMT *stmt;
};

struct conn {
	struct wsg_db_pool *pool;
	enum conn_state state;
	int pending; /* a *_start returned wait bits; *_cont next */
	MYSQL *mysql;
	size_t node;      /* index in the pool's nodes */
	MYSQL_RES *check; /* the answer of SQL_NODE_READY, while storing */
	struct event ev;  /* socket readiness, call timeout or backoff */
	unsigned backoff_ms;
	struct cached_stmt *stmts;
	size_t nstmts;
	MYSQL_STMT *stmt;  /* the statement of the running query */
	struct query *q;   /* the query this connection owns, if any */
	MYSQL_BIND *binds; /* parameter binds of the running query */
	unsigned long *bind_lens;
	my_bool *bind_nulls;
};

struct wsg_db_pool {
	struct event_base *base;
	struct wsg_db_params params; /* strings owned; hosts not kept */
	struct wsg_dbnodes nodes;
	struct conn *conns;
	unsigned size;
	struct query_list waitq;
	struct query_list done;  /* completed, not yet delivered */
	struct query_list batch; /* being delivered by deliver_cb */
	struct event deliver;
	int delivering;
	int closing;      /* shut down or being freed: no new queries */
	int free_pending; /* freed from inside a callback */
	struct wsg_db_stats *stats; /* NULL: none kept */
	/* What this pool last added to the gauges of `stats`. */
	int64_t shown_open, shown_busy, shown_queued;
};

struct wsg_db_conn {
	MYSQL *mysql;
	char *node; /* "host:port" or the socket, for messages */
};

static void conn_drive(struct conn *c, int events);
static void pool_kick(struct wsg_db_pool *p);
static void conn_backoff(struct conn *c);

/* -------- results -------- */

void
wsg_db_result_free(struct wsg_db_result *r)
{
	size_t i, n;

	if (r == NULL)
		return;
	n = r->nrows * r->ncols;
	/* Cells may hold hashes or sealed secrets. */
	for (i = 0; i < n; i++)
		wsg_mem_free_secret(r->cells[i], r->lens[i] + 1);
	free(r->cells);
	free(r->lens);
	free(r);
}

/* Client-side failures (lost connection, protocol state) leave the
 * connection unusable; server errors about one statement do not. A Galera
 * node outside the primary component refuses every statement with
 * ER_UNKNOWN_COM_ERROR until it rejoins: unusable too. */
static int
errno_breaks_conn(unsigned e)
{
	return (e >= CR_MIN_ERROR && e <= CR_MAX_ERROR) ||
	       (e >= CER_MIN_ERROR && e <= CER_MAX_ERROR) ||
	       e == ER_SERVER_SHUTDOWN || e == ER_CONNECTION_KILLED ||
	       e == ER_UNKNOWN_COM_ERROR;
}

/* The answer of SQL_NODE_READY: wsrep off, or ready and Synced. */
static int
node_ready_row(MYSQL_ROW row)
{
	if (row == NULL)
		return 0;
	if (row[0] == NULL || strcasecmp(row[0], "ON") != 0)
		return 1;
	return row[1] != NULL && strcasecmp(row[1], "ON") == 0 &&
	       row[2] != NULL && strcmp(row[2], WSREP_SYNCED) == 0;
}

/* Statements that only read may run again after a connection broke; a
 * write might have been applied. */
static int
sql_only_reads(const char *sql)
{
	sql += strspn(sql, " \t\r\n(");
	return strncasecmp(sql, "SELECT", 6) == 0 &&
	       strcasestr(sql, "FOR UPDATE") == NULL;
}

/* A lost or unreachable server is WSG_ERR_CONNECT, so callers can tell
 * "try again later" from a failed statement. */
static int
stmt_failure(MYSQL_STMT *stmt, const char *what, struct wsg_error *err)
{
	unsigned e = mysql_stmt_errno(stmt);

	if (e == ER_DUP_ENTRY)
		return wsg_error_set(err, WSG_ERR_EXISTS, WSG_FAULT_SERVER,
		                     "%s: %s", what, mysql_stmt_error(stmt));
	if (e == ER_LOCK_DEADLOCK)
		return wsg_error_set(err, WSG_ERR_CONFLICT, WSG_FAULT_SERVER,
		                     "%s: %s", what, mysql_stmt_error(stmt));
	return wsg_error_set(
	        err, errno_breaks_conn(e) ? WSG_ERR_CONNECT : WSG_ERR_DB,
	        WSG_FAULT_SERVER, "%s: %s (%u)", what, mysql_stmt_error(stmt),
	        e);
}

/* One bound output buffer per column of a result set. */
struct cell_bufs {
	size_t ncols;
	MYSQL_BIND *binds;
	unsigned long *lens;
	my_bool *nulls, *truncs;
	char **bufs;
	size_t *caps;
	int grown; /* a buffer was replaced since the last bind */
};

/* Buffers sized from max_length (STMT_ATTR_UPDATE_MAX_LENGTH). */
static void
cell_bufs_init(struct cell_bufs *b, const MYSQL_FIELD *fields, size_t ncols)
{
	size_t i;

	b->ncols = ncols;
	b->grown = 0;
	b->binds = wsg_mem_calloc(ncols, sizeof(*b->binds));
	b->lens = wsg_mem_calloc(ncols, sizeof(*b->lens));
	b->nulls = wsg_mem_calloc(ncols, sizeof(*b->nulls));
	b->truncs = wsg_mem_calloc(ncols, sizeof(*b->truncs));
	b->bufs = wsg_mem_calloc(ncols, sizeof(*b->bufs));
	b->caps = wsg_mem_calloc(ncols, sizeof(*b->caps));
	for (i = 0; i < ncols; i++) {
		b->caps[i] = fields[i].max_length + 1;
		if (b->caps[i] < MIN_CELL_BUF)
			b->caps[i] = MIN_CELL_BUF;
		b->bufs[i] = wsg_mem_alloc(b->caps[i]);
		b->binds[i].buffer_type = MYSQL_TYPE_STRING;
		b->binds[i].buffer = b->bufs[i];
		b->binds[i].buffer_length = b->caps[i];
		b->binds[i].length = &b->lens[i];
		b->binds[i].is_null = &b->nulls[i];
		b->binds[i].error = &b->truncs[i];
	}
}

/* Cells may hold secrets (sealed digests): wiped before they are freed. */
static void
cell_bufs_free(struct cell_bufs *b)
{
	size_t i;

	if (b->bufs != NULL)
		for (i = 0; i < b->ncols; i++)
			wsg_mem_free_secret(b->bufs[i], b->caps[i]);
	free(b->bufs);
	free(b->caps);
	free(b->binds);
	free(b->lens);
	free(b->nulls);
	free(b->truncs);
}

/* Column `i` of the current row did not fit: fetched again at its full
 * length into a larger buffer, which later rows use too. */
static int
cell_refetch(MYSQL_STMT *stmt, struct cell_bufs *b, size_t i,
             struct wsg_error *err)
{
	MYSQL_BIND big;

	OPENSSL_cleanse(b->bufs[i], b->caps[i]);
	free(b->bufs[i]);
	b->caps[i] = b->lens[i] + 1;
	b->bufs[i] = wsg_mem_alloc(b->caps[i]);
	memset(&big, 0, sizeof(big));
	big.buffer_type = MYSQL_TYPE_STRING;
	big.buffer = b->bufs[i];
	big.buffer_length = b->caps[i];
	big.length = &b->lens[i];
	if (mysql_stmt_fetch_column(stmt, &big, (unsigned)i, 0))
		return stmt_failure(stmt, "fetch column", err);
	b->binds[i].buffer = b->bufs[i];
	b->binds[i].buffer_length = b->caps[i];
	b->grown = 1;
	return WSG_OK;
}

/* Copies the fetched row into row `r->nrows` of `r` (room made here). */
static int
copy_row(MYSQL_STMT *stmt, struct cell_bufs *b, struct wsg_db_result *r,
         size_t *cap_rows, struct wsg_error *err)
{
	size_t ncols = b->ncols, row = r->nrows, i, k;
	int rc;

	if (row == *cap_rows) {
		*cap_rows = *cap_rows ? *cap_rows * 2 : 4;
		r->cells = wsg_mem_realloc(r->cells, *cap_rows * ncols *
		                                             sizeof(*r->cells));
		r->lens = wsg_mem_realloc(r->lens,
		                          *cap_rows * ncols * sizeof(*r->lens));
	}
	/* Counted before it is filled, so a failure frees what it holds. */
	for (i = 0; i < ncols; i++) {
		k = row * ncols + i;
		r->cells[k] = NULL;
		r->lens[k] = 0;
	}
	r->nrows = row + 1;
	for (i = 0; i < ncols; i++) {
		k = row * ncols + i;
		if (b->nulls[i])
			continue;
		if (b->lens[i] > b->caps[i]) {
			rc = cell_refetch(stmt, b, i, err);
			if (rc != WSG_OK)
				return rc;
		}
		r->cells[k] = wsg_mem_strndup(b->bufs[i], b->lens[i]);
		r->lens[k] = b->lens[i];
	}
	return WSG_OK;
}

/*
 * Copies every row of a stored result set into a new wsg_db_result. Buffers
 * are sized from max_length (STMT_ATTR_UPDATE_MAX_LENGTH); a cell that still
 * does not fit is fetched again at its full length.
 */
static int
stmt_collect_rows(MYSQL_STMT *stmt, struct wsg_db_result **out,
                  struct wsg_error *err)
{
	struct cell_bufs b;
	struct wsg_db_result *r;
	MYSQL_RES *meta;
	size_t cap_rows;
	int rc = WSG_OK, f;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	r = wsg_mem_calloc(1, sizeof(*r));
	meta = mysql_stmt_result_metadata(stmt);
	if (meta == NULL) {
		rc = stmt_failure(stmt, "result metadata", err);
		goto out;
	}
	cell_bufs_init(&b, mysql_fetch_fields(meta), mysql_num_fields(meta));
	if (mysql_stmt_bind_result(stmt, b.binds)) {
		rc = stmt_failure(stmt, "bind result", err);
		goto out;
	}
	r->ncols = b.ncols;
	cap_rows = mysql_stmt_num_rows(stmt);
	r->cells = wsg_mem_calloc(cap_rows * b.ncols, sizeof(*r->cells));
	r->lens = wsg_mem_calloc(cap_rows * b.ncols, sizeof(*r->lens));
	while ((f = mysql_stmt_fetch(stmt)) != MYSQL_NO_DATA) {
		if (f == 1) {
			rc = stmt_failure(stmt, "fetch", err);
			goto out;
		}
		rc = copy_row(stmt, &b, r, &cap_rows, err);
		if (rc != WSG_OK)
			goto out;
		/* Later rows land in the larger buffers; rebinding resets the
		 * current row's column positions, so only between rows. */
		if (b.grown && mysql_stmt_bind_result(stmt, b.binds)) {
			rc = stmt_failure(stmt, "bind result", err);
			goto out;
		}
		b.grown = 0;
	}
	r->affected_rows = mysql_stmt_affected_rows(stmt);
	r->insert_id = mysql_stmt_insert_id(stmt);
out:
	cell_bufs_free(&b);
	if (meta != NULL)
		mysql_free_result(meta);
	if (rc != WSG_OK) {
		wsg_db_result_free(r);
		return rc;
	}
	*out = r;
	return WSG_OK;
}

static struct wsg_db_result *
result_from_update(MYSQL_STMT *stmt)
{
	struct wsg_db_result *r = wsg_mem_calloc(1, sizeof(*r));

	r->affected_rows = mysql_stmt_affected_rows(stmt);
	r->insert_id = mysql_stmt_insert_id(stmt);
	return r;
}

/* Fills binds for string parameters; NULL data binds SQL NULL. */
static void
bind_params(MYSQL_BIND *binds, unsigned long *lens, my_bool *nulls,
            const struct wsg_db_param *params, unsigned n)
{
	unsigned i;

	memset(binds, 0, n * sizeof(*binds));
	for (i = 0; i < n; i++) {
		lens[i] = params[i].data ? params[i].len : 0;
		nulls[i] = params[i].data == NULL;
		binds[i].buffer_type = MYSQL_TYPE_STRING;
		binds[i].buffer = (void *)params[i].data;
		binds[i].buffer_length = lens[i];
		binds[i].length = &lens[i];
		binds[i].is_null = &nulls[i];
	}
}

/* Options every connection gets: utf8mb4, timeouts, the transport asked
 * for (Connector/C would take "localhost" as its default socket), and no
 * LOAD DATA LOCAL. */
static void
set_common_options(MYSQL *m, const struct wsg_db_params *prm, int on_socket)
{
	unsigned ct = prm->connect_timeout ? prm->connect_timeout
	                                   : DEFAULT_CONNECT_TIMEOUT;
	unsigned qt = (prm->query_timeout ? prm->query_timeout
	                                  : DEFAULT_QUERY_TIMEOUT) +
	              1;
	unsigned proto = on_socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
	unsigned off = 0;

	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	/* One second beyond the pool's own deadline, which reports it. */
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &qt);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &qt);
	mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &off);
}

/* -------- asynchronous pool -------- */

static void
stats_add(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void
gauge_move(int64_t *gauge, int64_t *shown, int64_t now)
{
	__atomic_fetch_add(gauge, now - *shown, __ATOMIC_RELAXED);
	*shown = now;
}

/* Connecting, or checking that the node is ready: not serving yet. */
static int
conn_opening(const struct conn *c)
{
	return c->state == CONN_CONNECTING || c->state == CONN_CHECKING ||
	       c->state == CONN_CHECK_STORING;
}

/* Brings this pool's share of the shared gauges up to date; called on the
 * pool's loop after anything that may change them. */
static void
stats_publish(struct wsg_db_pool *p)
{
	int64_t open = 0, busy = 0, queued = 0;
	const struct query *q;
	unsigned i;

	if (p->stats == NULL)
		return;
	for (i = 0; i < p->size && !p->closing; i++) {
		const struct conn *c = &p->conns[i];

		if (conn_opening(c))
			continue;
		if (c->state != CONN_CLOSED && c->state != CONN_BACKOFF)
			open++;
		if (c->q != NULL)
			busy++;
	}
	TAILQ_FOREACH(q, &p->waitq, link)
	queued++;
	gauge_move(&p->stats->open, &p->shown_open, open);
	gauge_move(&p->stats->busy, &p->shown_busy, busy);
	gauge_move(&p->stats->queued, &p->shown_queued, queued);
}

static void
deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_db_pool *p = arg;
	struct query *q;

	TAILQ_CONCAT(&p->batch, &p->done, link);
	p->delivering = 1;
	while ((q = TAILQ_FIRST(&p->batch)) != NULL) {
		TAILQ_REMOVE(&p->batch, q, link);
		q->done(q->status, q->res, q->arg);
		free(q->params);
		wsg_mem_free_secret(q->data, q->data_len);
		free(q);
		if (p->free_pending)
			break;
	}
	p->delivering = 0;
	if (p->free_pending) {
		event_del(&p->deliver);
		free(p);
	}
}

/* Records the outcome; the callback runs later from deliver_cb. */
static void
query_complete(struct query *q, int status, struct wsg_db_result *res)
{
	struct wsg_db_pool *p = q->pool;

	evtimer_del(&q->timer);
	if (q->state == QUERY_WAITING)
		TAILQ_REMOVE(&p->waitq, q, link);
	q->state = QUERY_DONE;
	q->conn = NULL;
	q->status = status;
	q->res = res;
	if (p->stats != NULL) {
		stats_add(&p->stats->queries);
		if (status == WSG_ERR_DB)
			stats_add(&p->stats->errors);
		else if (status == WSG_ERR_TIMEOUT)
			stats_add(&p->stats->timeouts);
	}
	TAILQ_INSERT_TAIL(&p->done, q, link);
	event_active(&p->deliver, EV_TIMEOUT, 1);
}

/* Completes the connection's query, if it still has one. */
static void
conn_complete(struct conn *c, int status, struct wsg_db_result *res)
{
	struct query *q = c->q;

	c->q = NULL;
	if (q != NULL)
		query_complete(q, status, res);
	else
		wsg_db_result_free(res);
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int events = 0;

	if (what & EV_READ)
		events |= MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT;
	if (what & EV_WRITE)
		events |= MYSQL_WAIT_WRITE;
	if (what & EV_TIMEOUT)
		events |= MYSQL_WAIT_TIMEOUT;
	conn_drive(c, events);
}

/* Arms the connection's one event from Connector/C's wait bits. */
static enum step
conn_wait(struct conn *c, int status)
{
	struct timeval tv, *tvp = NULL;
	evutil_socket_t fd = -1;
	short what = 0;

	if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT))
		what |= EV_READ;
	if (status & MYSQL_WAIT_WRITE)
		what |= EV_WRITE;
	if (what)
		fd = mysql_get_socket(c->mysql);
	if (status & MYSQL_WAIT_TIMEOUT) {
		unsigned ms = mysql_get_timeout_value_ms(c->mysql);

		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		tvp = &tv;
	}
	c->pending = 1;
	event_del(&c->ev);
	event_assign(&c->ev, c->pool->base, fd, what, conn_io_cb, c);
	event_add(&c->ev, tvp);
	return STEP_WAIT;
}

/* Drives a suspended call to its end without waiting: with the socket shut
 * down and every wait answered with a timeout, each read or write fails at
 * once. */
static void
conn_finish_pending(struct conn *c)
{
	MYSQL *mret;
	my_bool bret;
	int iret, r, n;

	for (n = 0; c->pending && n < ABORT_SPINS; n++) {
		switch (c->state) {
		case CONN_CONNECTING:
			r = mysql_real_connect_cont(&mret, c->mysql,
			                            MYSQL_WAIT_TIMEOUT);
			break;
		case CONN_CHECKING:
			r = mysql_real_query_cont(&iret, c->mysql,
			                          MYSQL_WAIT_TIMEOUT);
			break;
		case CONN_CHECK_STORING:
			r = mysql_store_result_cont(&c->check, c->mysql,
			                            MYSQL_WAIT_TIMEOUT);
			break;
		case CONN_PREPARING:
			r = mysql_stmt_prepare_cont(&iret, c->stmt,
			                            MYSQL_WAIT_TIMEOUT);
			break;
		case CONN_EXECUTING:
			r = mysql_stmt_execute_cont(&iret, c->stmt,
			                            MYSQL_WAIT_TIMEOUT);
			break;
		case CONN_STORING:
			r = mysql_stmt_store_result_cont(&iret, c->stmt,
			                                 MYSQL_WAIT_TIMEOUT);
			break;
		case CONN_FREEING:
			r = mysql_stmt_free_result_cont(&bret, c->stmt,
			                                MYSQL_WAIT_TIMEOUT);
			break;
		default: r = 0; break;
		}
		if (r == 0)
			c->pending = 0;
	}
}

/*
 * Closes the server connection without blocking and forgets its prepared
 * statements; the query it owned (if any) fails with `status`. The
 * connection opens again on demand.
 */
static void
conn_drop(struct conn *c, int status)
{
	size_t i;

	event_del(&c->ev);
	if (c->mysql != NULL) {
		my_socket fd = mysql_get_socket(c->mysql);

		/* An idle connection may say goodbye (COM_QUIT); a busy one is
		 * cut, so mysql_close has nothing left to wait for. */
		if (c->state != CONN_IDLE && fd >= 0)
			shutdown(fd, SHUT_RDWR);
		if (c->pending)
			conn_finish_pending(c);
		if (c->check != NULL)
			mysql_free_result(c->check);
		c->check = NULL;
		mysql_close(c->mysql);
		c->mysql = NULL;
	}
	/* After mysql_close the statements are detached: closing them only
	 * frees memory. A statement that failed to prepare is not cached. */
	if (c->stmt != NULL && c->state == CONN_PREPARING)
		mysql_stmt_close(c->stmt);
	c->stmt = NULL;
	for (i = 0; i < c->nstmts; i++) {
		mysql_stmt_close(c->stmts[i].stmt);
		free(c->stmts[i].text);
	}
	free(c->stmts);
	c->stmts = NULL;
	c->nstmts = 0;
	c->pending = 0;
	c->state = CONN_CLOSED;
	conn_complete(c, status, NULL);
}

/*
 * The connection's node failed it (unreachable, gone, not a Synced member
 * of the primary component): the node backs off and new connections move
 * on to the next one, and idle connections to it, which would fail the
 * same way, close. The connection's query goes back to the head of the
 * queue when `may_retry` (nothing of it was applied, or it only reads) and
 * another node is usable now. The connection itself is left to the caller.
 * Returns whether another node is usable now.
 */
static int
node_failed(struct conn *c, int may_retry, const char *why)
{
	struct wsg_db_pool *p = c->pool;
	const struct wsg_dbnode *node = &p->nodes.v[c->node];
	int64_t now = wsg_dbnodes_now_ms();
	struct query *q = c->q;
	unsigned i;
	int other;

	/* Once per outage and pool; a single server's outage shows in the
	 * requests' own errors. */
	if (p->nodes.n > 1 && node->backoff_ms == 0 && !p->closing)
		wsg_log_msg("warning", "MariaDB node %s:%u %s; moving on",
		            node->host, node->port, why);
	wsg_dbnodes_failed(&p->nodes, c->node, now);
	other = wsg_dbnodes_other_usable(&p->nodes, c->node, now);
	if (q != NULL && may_retry && other && q->retries < p->nodes.n) {
		q->retries++;
		c->q = NULL;
		q->conn = NULL;
		q->state = QUERY_WAITING;
		TAILQ_INSERT_HEAD(&p->waitq, q, link);
	}
	for (i = 0; i < p->size; i++) {
		struct conn *o = &p->conns[i];

		if (o != c && o->state == CONN_IDLE && o->node == c->node)
			conn_drop(o, WSG_ERR_DB);
	}
	return other;
}

/* A connection that broke: its node failed, and its query runs again on
 * another node if `may_retry` allows, or fails. */
static void
conn_broke(struct conn *c, int may_retry, const char *why)
{
	node_failed(c, may_retry, why);
	conn_drop(c, WSG_ERR_DB);
}

/* A connect or readiness check failed: with another node usable the
 * connection's query waits for it (the pool opens a connection there at
 * once), else the connection backs off and the query fails. */
static void
conn_open_failed(struct conn *c, const char *why)
{
	if (c->pool->stats != NULL && !c->pool->closing)
		stats_add(&c->pool->stats->connect_failures);
	if (node_failed(c, 1, why)) {
		conn_drop(c, WSG_ERR_DB);
		return;
	}
	conn_backoff(c);
}

static void
conn_backoff(struct conn *c)
{
	struct timeval tv;

	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	conn_drop(c, WSG_ERR_DB);
	c->state = CONN_BACKOFF;
	tv.tv_sec = c->backoff_ms / 1000;
	tv.tv_usec = (c->backoff_ms % 1000) * 1000;
	event_assign(&c->ev, c->pool->base, -1, 0, conn_io_cb, c);
	event_add(&c->ev, &tv);
}

/* An idle connection is watched for readability: the server only speaks
 * first to say it is going away. */
static void
conn_watch_idle(struct conn *c)
{
	event_del(&c->ev);
	event_assign(&c->ev, c->pool->base, mysql_get_socket(c->mysql), EV_READ,
	             conn_io_cb, c);
	event_add(&c->ev, NULL);
}

static MYSQL_STMT *
stmt_cache_find(struct conn *c, const char *sql)
{
	size_t i;

	for (i = 0; i < c->nstmts; i++)
		if (c->stmts[i].key == sql ||
		    strcmp(c->stmts[i].text, sql) == 0)
			return c->stmts[i].stmt;
	return NULL;
}

static void
stmt_cache_add(struct conn *c, const char *sql, MYSQL_STMT *stmt)
{
	c->stmts =
	        wsg_mem_realloc(c->stmts, (c->nstmts + 1) * sizeof(*c->stmts));
	c->stmts[c->nstmts].key = sql;
	c->stmts[c->nstmts].text = wsg_mem_strdup(sql);
	c->stmts[c->nstmts].stmt = stmt;
	c->nstmts++;
}

/* A statement failed: the query gets WSG_ERR_DB, or WSG_ERR_CONFLICT when a
 * concurrent transaction won (deadlock, Galera certification); a broken
 * connection goes. */
static enum step
conn_stmt_failed(struct conn *c, enum conn_state next)
{
	unsigned e = mysql_stmt_errno(c->stmt);

	/* 1047 refuses a statement before it runs; a SELECT changes nothing.
	 */
	if (errno_breaks_conn(e)) {
		conn_broke(c,
		           e == ER_UNKNOWN_COM_ERROR ||
		                   (c->q != NULL && sql_only_reads(c->q->sql)),
		           e == ER_UNKNOWN_COM_ERROR ? NOT_PRIMARY
		                                     : "broke a connection");
		return STEP_STOP;
	}
	conn_complete(c, e == ER_LOCK_DEADLOCK ? WSG_ERR_CONFLICT : WSG_ERR_DB,
	              NULL);
	c->state = next;
	return STEP_NEXT;
}

static enum step
step_connecting(struct conn *c, int events)
{
	const struct wsg_db_params *prm = &c->pool->params;
	const struct wsg_dbnode *node = &c->pool->nodes.v[c->node];
	MYSQL *ret = NULL;
	int r;

	if (c->pending)
		r = mysql_real_connect_cont(&ret, c->mysql, events);
	else
		r = mysql_real_connect_start(
		        &ret, c->mysql, node->host, prm->user, prm->password,
		        prm->database, node->port, node->socket, 0);
	if (r)
		return conn_wait(c, r);
	c->pending = 0;
	if (ret == NULL) {
		conn_open_failed(c, "cannot be reached");
		return STEP_STOP;
	}
	c->state = CONN_CHECKING;
	return STEP_NEXT;
}

/* The first statement of a connection asks the node whether it is ready. */
static enum step
step_checking(struct conn *c, int events)
{
	int ret = 1, r;

	if (c->pending)
		r = mysql_real_query_cont(&ret, c->mysql, events);
	else
		r = mysql_real_query_start(&ret, c->mysql, SQL_NODE_READY,
		                           strlen(SQL_NODE_READY));
	if (r)
		return conn_wait(c, r);
	c->pending = 0;
	if (ret) {
		conn_open_failed(c, "did not answer the readiness check");
		return STEP_STOP;
	}
	c->state = CONN_CHECK_STORING;
	return STEP_NEXT;
}

static enum step
step_check_storing(struct conn *c, int events)
{
	int r, ready;

	if (c->pending)
		r = mysql_store_result_cont(&c->check, c->mysql, events);
	else
		r = mysql_store_result_start(&c->check, c->mysql);
	if (r)
		return conn_wait(c, r);
	c->pending = 0;
	/* Stored: reading the row cannot block. */
	ready = c->check != NULL && node_ready_row(mysql_fetch_row(c->check));
	if (c->check != NULL)
		mysql_free_result(c->check);
	c->check = NULL;
	if (!ready) {
		conn_open_failed(c, NOT_PRIMARY);
		return STEP_STOP;
	}
	if (c->pool->nodes.n > 1 && c->pool->nodes.v[c->node].backoff_ms > 0)
		wsg_log_msg("info", "MariaDB node %s:%u is ready again",
		            c->pool->nodes.v[c->node].host,
		            c->pool->nodes.v[c->node].port);
	wsg_dbnodes_ok(&c->pool->nodes, c->node);
	c->backoff_ms = 0;
	c->state = CONN_IDLE;
	return STEP_NEXT;
}

/* Takes the next query, from the claim made when connecting or the queue. */
static enum step
step_idle(struct conn *c)
{
	struct wsg_db_pool *p = c->pool;
	struct query *q = c->q;

	if (q == NULL && (q = TAILQ_FIRST(&p->waitq)) != NULL) {
		TAILQ_REMOVE(&p->waitq, q, link);
		q->state = QUERY_CLAIMED;
		q->conn = c;
		c->q = q;
	}
	if (q == NULL) {
		conn_watch_idle(c);
		return STEP_STOP;
	}
	event_del(&c->ev);
	c->stmt = stmt_cache_find(c, q->sql);
	if (c->stmt != NULL) {
		c->state = CONN_EXECUTING;
		return STEP_NEXT;
	}
	if (c->nstmts == STMT_CACHE_MAX) {
		/* Only static SQL is cached; this many means a caller bug. */
		conn_complete(c, WSG_ERR_DB, NULL);
		return STEP_NEXT;
	}
	c->stmt = mysql_stmt_init(c->mysql);
	if (c->stmt == NULL) {
		conn_drop(c, WSG_ERR_DB);
		return STEP_STOP;
	}
	c->state = CONN_PREPARING;
	return STEP_NEXT;
}

static enum step
step_preparing(struct conn *c, int events)
{
	my_bool on = 1;
	int ret = 1, r;

	if (c->pending) {
		r = mysql_stmt_prepare_cont(&ret, c->stmt, events);
	} else {
		mysql_stmt_attr_set(c->stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
		r = mysql_stmt_prepare_start(&ret, c->stmt, c->q->sql,
		                             strlen(c->q->sql));
	}
	if (r)
		return conn_wait(c, r);
	c->pending = 0;
	if (ret) {
		if (errno_breaks_conn(mysql_stmt_errno(c->stmt))) {
			/* Preparing applies nothing. */
			conn_broke(c, 1, "broke a connection");
			return STEP_STOP;
		}
		/* Never prepared, so closing it sends nothing. */
		mysql_stmt_close(c->stmt);
		c->stmt = NULL;
		conn_complete(c, WSG_ERR_DB, NULL);
		c->state = CONN_IDLE;
		return STEP_NEXT;
	}
	stmt_cache_add(c, c->q->sql, c->stmt);
	c->state = CONN_EXECUTING;
	return STEP_NEXT;
}

static enum step
step_executing(struct conn *c, int events)
{
	struct query *q = c->q;
	int ret = 1, r;

	if (c->pending) {
		r = mysql_stmt_execute_cont(&ret, c->stmt, events);
	} else {
		if (mysql_stmt_param_count(c->stmt) != q->nparams) {
			conn_complete(c, WSG_ERR_DB, NULL);
			c->state = CONN_IDLE;
			return STEP_NEXT;
		}
		if (q->nparams) {
			bind_params(c->binds, c->bind_lens, c->bind_nulls,
			            q->params, q->nparams);
			if (mysql_stmt_bind_param(c->stmt, c->binds))
				return conn_stmt_failed(c, CONN_IDLE);
		}
		r = mysql_stmt_execute_start(&ret, c->stmt);
	}
	if (r)
		return conn_wait(c, r);
	c->pending = 0;
	if (ret)
		return conn_stmt_failed(c, CONN_IDLE);
	if (mysql_stmt_field_count(c->stmt) == 0) {
		conn_complete(c, WSG_OK, result_from_update(c->stmt));
		c->state = CONN_IDLE;
		return STEP_NEXT;
	}
	c->state = CONN_STORING;
	return STEP_NEXT;
}

static enum step
step_storing(struct conn *c, int events)
{
	struct wsg_db_result *res;
	int ret = 1, r;

	if (c->pending)
		r = mysql_stmt_store_result_cont(&ret, c->stmt, events);
	else
		r = mysql_stmt_store_result_start(&ret, c->stmt);
	if (r)
		return conn_wait(c, r);
	c->pending = 0;
	if (ret)
		return conn_stmt_failed(c, CONN_FREEING);
	/* Rows are client-side now, so fetching them cannot block. */
	if (stmt_collect_rows(c->stmt, &res, NULL) != WSG_OK)
		conn_complete(c, WSG_ERR_DB, NULL);
	else
		conn_complete(c, WSG_OK, res);
	c->state = CONN_FREEING;
	return STEP_NEXT;
}

static enum step
step_freeing(struct conn *c, int events)
{
	my_bool ret;
	int r;

	if (c->pending)
		r = mysql_stmt_free_result_cont(&ret, c->stmt, events);
	else
		r = mysql_stmt_free_result_start(&ret, c->stmt);
	if (r)
		return conn_wait(c, r);
	c->pending = 0;
	c->state = CONN_IDLE;
	return STEP_NEXT;
}

static enum step
conn_step(struct conn *c, int events)
{
	switch (c->state) {
	case CONN_CONNECTING: return step_connecting(c, events);
	case CONN_CHECKING: return step_checking(c, events);
	case CONN_CHECK_STORING: return step_check_storing(c, events);
	case CONN_IDLE: return step_idle(c);
	case CONN_PREPARING: return step_preparing(c, events);
	case CONN_EXECUTING: return step_executing(c, events);
	case CONN_STORING: return step_storing(c, events);
	case CONN_FREEING: return step_freeing(c, events);
	case CONN_CLOSED:
	case CONN_BACKOFF: break;
	}
	return STEP_STOP;
}

/*
 * Runs the state machine until it must wait. `events` are the wait bits
 * that occurred for a suspended call, or tell an idle or backing-off
 * connection that its watch fired.
 */
static void
conn_drive(struct conn *c, int events)
{
	struct wsg_db_pool *p = c->pool;

	if (c->state == CONN_IDLE && !c->pending && events) {
		/* Readable while idle: the server closed or is closing, as a
		 * node that stops does. */
		conn_broke(c, 0, "closed a connection");
	} else if (c->state == CONN_BACKOFF) {
		c->state = CONN_CLOSED;
	} else {
		while (conn_step(c, events) == STEP_NEXT)
			events = 0;
	}
	if (c->state == CONN_CLOSED)
		pool_kick(p);
	stats_publish(p);
}

static void
conn_open(struct conn *c)
{
	c->mysql = mysql_init(NULL);
	if (c->mysql == NULL) {
		conn_backoff(c);
		return;
	}
	mysql_options(c->mysql, MYSQL_OPT_NONBLOCK, 0);
	c->node = wsg_dbnodes_pick(&c->pool->nodes, wsg_dbnodes_now_ms());
	set_common_options(c->mysql, &c->pool->params,
	                   c->pool->nodes.v[c->node].socket != NULL);
	c->state = CONN_CONNECTING;
	c->pending = 0;
	while (conn_step(c, 0) == STEP_NEXT)
		;
}

/* Hands waiting queries to idle connections, opening closed ones for the
 * rest; connections that are busy, connecting or backing off are left. */
static void
pool_kick(struct wsg_db_pool *p)
{
	struct query *q;
	struct conn *c;
	unsigned i;

	while (!p->closing && (q = TAILQ_FIRST(&p->waitq)) != NULL) {
		c = NULL;
		for (i = 0; i < p->size && c == NULL; i++)
			if (p->conns[i].state == CONN_IDLE)
				c = &p->conns[i];
		for (i = 0; i < p->size && c == NULL; i++)
			if (p->conns[i].state == CONN_CLOSED)
				c = &p->conns[i];
		if (c == NULL)
			return;
		TAILQ_REMOVE(&p->waitq, q, link);
		q->state = QUERY_CLAIMED;
		q->conn = c;
		c->q = q;
		if (c->state == CONN_CLOSED)
			conn_open(c);
		else
			conn_drive(c, 0);
	}
}

static void
query_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct query *q = arg;
	struct conn *c = q->conn;

	if (q->state == QUERY_WAITING) {
		query_complete(q, WSG_ERR_TIMEOUT, NULL);
		return;
	}
	/* Claimed: a connecting connection keeps connecting for the queue;
	 * one that is running the query is dropped, its state unknown. */
	c->q = NULL;
	query_complete(q, WSG_ERR_TIMEOUT, NULL);
	if (!conn_opening(c)) {
		conn_drop(c, WSG_ERR_DB);
		pool_kick(c->pool);
	}
	stats_publish(q->pool);
}

struct wsg_db_pool *
wsg_db_pool_new(struct event_base *base, const struct wsg_db_params *params,
                unsigned size, struct wsg_db_stats *stats)
{
	struct wsg_db_pool *p = wsg_mem_calloc(1, sizeof(*p));
	unsigned i;

	p->base = base;
	p->stats = stats;
	p->params = *params;
	wsg_dbnodes_init(&p->nodes, params->hosts, params->n_hosts,
	                 params->host, params->port, params->socket);
	p->params.host = NULL;
	p->params.socket = NULL;
	p->params.hosts = NULL;
	p->params.n_hosts = 0;
	p->params.user = params->user ? wsg_mem_strdup(params->user) : NULL;
	p->params.password =
	        params->password ? wsg_mem_strdup(params->password) : NULL;
	p->params.database =
	        params->database ? wsg_mem_strdup(params->database) : NULL;
	if (p->params.query_timeout == 0)
		p->params.query_timeout = DEFAULT_QUERY_TIMEOUT;
	p->size = size ? size : 1;
	p->conns = wsg_mem_calloc(p->size, sizeof(*p->conns));
	for (i = 0; i < p->size; i++) {
		struct conn *c = &p->conns[i];

		c->pool = p;
		c->state = CONN_CLOSED;
		c->binds = wsg_mem_calloc(MAX_PARAMS, sizeof(*c->binds));
		c->bind_lens =
		        wsg_mem_calloc(MAX_PARAMS, sizeof(*c->bind_lens));
		c->bind_nulls =
		        wsg_mem_calloc(MAX_PARAMS, sizeof(*c->bind_nulls));
		event_assign(&c->ev, base, -1, 0, conn_io_cb, c);
	}
	TAILQ_INIT(&p->waitq);
	TAILQ_INIT(&p->done);
	TAILQ_INIT(&p->batch);
	event_assign(&p->deliver, base, -1, 0, deliver_cb, p);
	return p;
}

void
wsg_db_pool_free(struct wsg_db_pool *p)
{
	struct query_list all;
	struct query *q;
	unsigned i;

	if (p == NULL)
		return;
	p->closing = 1;
	/* Close every connection first (their queries fail into the done
	 * list), then call everybody back, then free. */
	for (i = 0; i < p->size; i++) {
		struct conn *c = &p->conns[i];

		conn_drop(c, WSG_ERR_DB);
		event_del(&c->ev);
		free(c->binds);
		free(c->bind_lens);
		free(c->bind_nulls);
	}
	while ((q = TAILQ_FIRST(&p->waitq)) != NULL)
		query_complete(q, WSG_ERR_DB, NULL);
	stats_publish(p);
	event_del(&p->deliver);
	TAILQ_INIT(&all);
	TAILQ_CONCAT(&all, &p->batch, link);
	TAILQ_CONCAT(&all, &p->done, link);
	while ((q = TAILQ_FIRST(&all)) != NULL) {
		TAILQ_REMOVE(&all, q, link);
		q->done(q->status, q->res, q->arg);
		free(q->params);
		wsg_mem_free_secret(q->data, q->data_len);
		free(q);
	}
	free(p->conns);
	wsg_dbnodes_clear(&p->nodes);
	free((char *)p->params.user);
	if (p->params.password != NULL)
		wsg_mem_free_secret((char *)p->params.password,
		                    strlen(p->params.password));
	free((char *)p->params.database);
	if (p->delivering) {
		/* deliver_cb is on the stack and frees the pool itself. */
		p->free_pending = 1;
		return;
	}
	free(p);
}

void
wsg_db_pool_shutdown(struct wsg_db_pool *p)
{
	struct query *q;
	unsigned i;

	p->closing = 1;
	for (i = 0; i < p->size; i++)
		conn_drop(&p->conns[i], WSG_ERR_DB);
	while ((q = TAILQ_FIRST(&p->waitq)) != NULL)
		query_complete(q, WSG_ERR_DB, NULL);
	stats_publish(p);
}

int
wsg_db_query(struct wsg_db_pool *p, const char *sql,
             const struct wsg_db_param *params, unsigned nparams,
             wsg_db_done_cb done, void *arg)
{
	struct query *q;
	struct timeval tv;
	size_t total = 0, off = 0;
	unsigned i, waiting = 0;

	if (p == NULL || sql == NULL || done == NULL || nparams > MAX_PARAMS ||
	    (nparams && params == NULL))
		return WSG_ERR_INVAL;
	if (p->closing)
		return WSG_ERR_DB;
	/* Beyond this a stalled database would hold every request for
	 * query_timeout; refusing at once keeps the worker answering. */
	if (p->params.max_waiting > 0) {
		TAILQ_FOREACH(q, &p->waitq, link)
		if (++waiting >= p->params.max_waiting) {
			if (p->stats != NULL)
				stats_add(&p->stats->refused);
			return WSG_ERR_FULL;
		}
	}
	q = wsg_mem_calloc(1, sizeof(*q));
	q->pool = p;
	q->sql = sql;
	q->done = done;
	q->arg = arg;
	q->nparams = nparams;
	q->params = wsg_mem_calloc(nparams, sizeof(*q->params));
	for (i = 0; i < nparams; i++)
		if (params[i].data != NULL)
			total += params[i].len;
	q->data = wsg_mem_alloc(total);
	q->data_len = total;
	for (i = 0; i < nparams; i++) {
		if (params[i].data == NULL)
			continue;
		memcpy(q->data + off, params[i].data, params[i].len);
		q->params[i].data = q->data + off;
		q->params[i].len = params[i].len;
		off += params[i].len;
	}
	evtimer_assign(&q->timer, p->base, query_timeout_cb, q);
	tv.tv_sec = p->params.query_timeout;
	tv.tv_usec = 0;
	evtimer_add(&q->timer, &tv);
	q->state = QUERY_WAITING;
	TAILQ_INSERT_TAIL(&p->waitq, q, link);
	pool_kick(p);
	stats_publish(p);
	return WSG_OK;
}

/* -------- blocking connection -------- */

static int
conn_failure(MYSQL *m, const char *what, struct wsg_error *err)
{
	/* Galera reports a commit that failed certification as a deadlock */
	if (mysql_errno(m) == ER_LOCK_DEADLOCK)
		return wsg_error_set(err, WSG_ERR_CONFLICT, WSG_FAULT_SERVER,
		                     "%s: %s", what, mysql_error(m));
	return wsg_error_set(err,
	                     errno_breaks_conn(mysql_errno(m)) ? WSG_ERR_CONNECT
	                                                       : WSG_ERR_DB,
	                     WSG_FAULT_SERVER, "%s: %s (%u)", what,
	                     mysql_error(m), mysql_errno(m));
}

/* Asks a node whether it may serve (SQL_NODE_READY); `node` names it. */
static int
node_check(MYSQL *m, const char *node, struct wsg_error *err)
{
	MYSQL_RES *res;
	int ready;

	if (mysql_query(m, SQL_NODE_READY) != 0 ||
	    (res = mysql_store_result(m)) == NULL)
		return conn_failure(m, "cannot check the MariaDB node", err);
	ready = node_ready_row(mysql_fetch_row(res));
	mysql_free_result(res);
	if (!ready)
		return wsg_error_set(err, WSG_ERR_CONNECT, WSG_FAULT_SERVER,
		                     "MariaDB node %s is not a Synced member "
		                     "of the primary component",
		                     node);
	return WSG_OK;
}

static char *
node_name(const struct wsg_dbnode *node)
{
	return node->socket != NULL
	               ? wsg_mem_strdup(node->socket)
	               : wsg_mem_printf("%s:%u",
	                                node->host ? node->host : "localhost",
	                                node->port);
}

/* One connection to `node`, checked. */
static int
connect_node(const struct wsg_db_params *params, const struct wsg_dbnode *node,
             MYSQL **out, struct wsg_error *err)
{
	char *name = node_name(node);
	MYSQL *m;
	int rc;

	*out = NULL;
	m = mysql_init(NULL);
	if (m == NULL) {
		free(name);
		return wsg_error_set(err, WSG_ERR_DB, WSG_FAULT_SERVER,
		                     "cannot initialise the MariaDB client");
	}
	set_common_options(m, params, node->socket != NULL);
	if (mysql_real_connect(m, node->host, params->user, params->password,
	                       params->database, node->port, node->socket,
	                       0) == NULL)
		rc = conn_failure(m, "cannot connect to MariaDB", err);
	else
		rc = node_check(m, name, err);
	free(name);
	if (rc != WSG_OK) {
		mysql_close(m);
		return rc;
	}
	*out = m;
	return WSG_OK;
}

int
wsg_db_connect(const struct wsg_db_params *params, struct wsg_db_conn **out,
               struct wsg_error *err)
{
	struct wsg_dbnodes nodes;
	MYSQL *m = NULL;
	char *name = NULL;
	size_t i;
	int rc = WSG_ERR_CONNECT;

	*out = NULL;
	wsg_dbnodes_init(&nodes, params->hosts, params->n_hosts, params->host,
	                 params->port, params->socket);
	/* The first node that is ready; the error shown is the last one's. */
	for (i = 0; i < nodes.n; i++) {
		rc = connect_node(params, &nodes.v[i], &m, err);
		if (rc == WSG_OK) {
			name = node_name(&nodes.v[i]);
			break;
		}
	}
	wsg_dbnodes_clear(&nodes);
	if (rc != WSG_OK)
		return rc;
	*out = wsg_mem_calloc(1, sizeof(**out));
	(*out)->mysql = m;
	(*out)->node = name;
	return WSG_OK;
}

int
wsg_db_ping(struct wsg_db_conn *c, struct wsg_error *err)
{
	return node_check(c->mysql, c->node, err);
}

void
wsg_db_close(struct wsg_db_conn *c)
{
	if (c == NULL)
		return;
	mysql_close(c->mysql);
	free(c->node);
	free(c);
}

int
wsg_db_exec(struct wsg_db_conn *c, const char *sql,
            const struct wsg_db_param *params, unsigned nparams,
            struct wsg_db_result **res, struct wsg_error *err)
{
	struct wsg_db_result *r = NULL;
	MYSQL_STMT *stmt = NULL;
	MYSQL_BIND *binds = NULL;
	unsigned long *lens = NULL;
	my_bool *nulls = NULL;
	my_bool on = 1;
	int rc = WSG_OK;

	if (res != NULL)
		*res = NULL;
	if (nparams > MAX_PARAMS || (nparams && params == NULL)) {
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_SERVER,
		                   "bad statement parameters");
		goto out;
	}
	stmt = mysql_stmt_init(c->mysql);
	if (stmt == NULL) {
		rc = conn_failure(c->mysql, "statement init", err);
		goto out;
	}
	mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
	if (mysql_stmt_prepare(stmt, sql, strlen(sql))) {
		rc = stmt_failure(stmt, "prepare", err);
		goto out;
	}
	if (mysql_stmt_param_count(stmt) != nparams) {
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_SERVER,
		                   "statement takes %lu parameters, %u given",
		                   mysql_stmt_param_count(stmt), nparams);
		goto out;
	}
	if (nparams) {
		binds = wsg_mem_calloc(nparams, sizeof(*binds));
		lens = wsg_mem_calloc(nparams, sizeof(*lens));
		nulls = wsg_mem_calloc(nparams, sizeof(*nulls));
		bind_params(binds, lens, nulls, params, nparams);
		if (mysql_stmt_bind_param(stmt, binds)) {
			rc = stmt_failure(stmt, "bind", err);
			goto out;
		}
	}
	if (mysql_stmt_execute(stmt)) {
		rc = stmt_failure(stmt, "execute", err);
		goto out;
	}
	if (mysql_stmt_field_count(stmt) == 0) {
		r = result_from_update(stmt);
	} else {
		if (mysql_stmt_store_result(stmt)) {
			rc = stmt_failure(stmt, "store result", err);
			goto out;
		}
		rc = stmt_collect_rows(stmt, &r, err);
		mysql_stmt_free_result(stmt);
		if (rc != WSG_OK)
			goto out;
	}
out:
	if (stmt != NULL)
		mysql_stmt_close(stmt);
	free(binds);
	free(lens);
	free(nulls);
	if (rc == WSG_OK && res != NULL)
		*res = r;
	else
		wsg_db_result_free(r);
	return rc;
}

int
wsg_db_exec_script(struct wsg_db_conn *c, const char *script,
                   struct wsg_error *err)
{
	MYSQL *m = c->mysql;
	MYSQL_RES *res;
	unsigned n = 1;
	int rc = WSG_OK, next;

	if (mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_ON)) {
		rc = conn_failure(m, "enabling multi-statements", err);
		goto out;
	}
	if (mysql_real_query(m, script, strlen(script))) {
		rc = wsg_error_set(err, WSG_ERR_DB, WSG_FAULT_SERVER,
		                   "statement 1: %s (%u)", mysql_error(m),
		                   mysql_errno(m));
		goto out;
	}
	/* Every result must be consumed; the server stops at the first error.
	 */
	do {
		res = mysql_store_result(m);
		if (res != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(m) != 0) {
			rc = wsg_error_set(err, WSG_ERR_DB, WSG_FAULT_SERVER,
			                   "statement %u: %s (%u)", n,
			                   mysql_error(m), mysql_errno(m));
			goto out;
		}
		next = mysql_next_result(m);
		n++;
		if (next > 0) {
			rc = wsg_error_set(err, WSG_ERR_DB, WSG_FAULT_SERVER,
			                   "statement %u: %s (%u)", n,
			                   mysql_error(m), mysql_errno(m));
			goto out;
		}
	} while (next == 0);
out:
	if (mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_OFF) &&
	    rc == WSG_OK)
		rc = conn_failure(m, "disabling multi-statements", err);
	return rc;
}

int
wsg_db_begin(struct wsg_db_conn *c, struct wsg_error *err)
{
	if (mysql_query(c->mysql, "START TRANSACTION"))
		return conn_failure(c->mysql, "start transaction", err);
	return WSG_OK;
}

int
wsg_db_commit(struct wsg_db_conn *c, struct wsg_error *err)
{
	if (mysql_commit(c->mysql))
		return conn_failure(c->mysql, "commit", err);
	return WSG_OK;
}

void
wsg_db_rollback(struct wsg_db_conn *c)
{
	mysql_rollback(c->mysql);
}
