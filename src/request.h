/*
 * One data-plane request from accept to response: RECV -> PARSE -> AUTH ->
 * FORWARD -> RELAY -> DONE, or FAIL with a SOAP fault at any step. The
 * request owns everything it allocates; wsg_request_finish() is the one
 * place it is answered and freed.
 */
#ifndef WSG_REQUEST_H
#define WSG_REQUEST_H

#include <stdint.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "multipart.h"
#include "soap.h"
#include "types.h"
#include "worker.h"

enum wsg_request_state {
	WSG_REQUEST_RECV = 0,
	WSG_REQUEST_PARSE,
	WSG_REQUEST_AUTH,
	WSG_REQUEST_FORWARD,
	WSG_REQUEST_RELAY,
	WSG_REQUEST_DONE,
	WSG_REQUEST_FAIL,
};

struct wsg_request {
	struct wsg_worker *worker;
	struct wsg_conn *conn;               /* answers go here */
	const struct wsg_conn_request *http; /* valid until answered */
	struct wsg_snapshot *snap;    /* a reference, for the whole request */
	const struct wsg_config *cfg; /* snap->cfg: routes, limits, checks */
	enum wsg_request_state state;
	uint64_t rid;
	char client[64];
	struct timespec started; /* CLOCK_MONOTONIC */
	const struct wsg_route_conf *route;
	char *path;       /* normal form (path.h), no query */
	char *uri_suffix; /* past the route prefix, with query */
	struct wsg_soap_msg msg;
	struct wsg_auth auth; /* the user, its roles, the token */
	char *relay_body;     /* the envelope sent upstream, if
	                         changed from the client's */
	struct wsg_error err; /* why it failed, for the audit log */
	int basic;            /* authenticated by HTTP Basic */
	int multipart;        /* a checked multipart/related (MTOM, SwA):
	                         the envelope is the root part `mp` found */
	struct wsg_multipart mp;
};

struct wsg_conn_request;

/* A whole request `req` has arrived on `conn` (see conn.h): it is answered
 * exactly once, through wsg_conn_reply(), now or later. */
void wsg_request_handle(struct wsg_worker *w, struct wsg_conn *conn,
                        const struct wsg_conn_request *req);

#endif
