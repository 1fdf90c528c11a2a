/*
 * A conversation with one environment's management API: the environment
 * and its stored login, requests with the session token, and — like
 * apictl — one automatic login again with the stored user name and
 * password when the server answers 401 (expired or revoked token).
 */
#ifndef WSG_SESSION_H
#define WSG_SESSION_H

#include <jansson.h>

#include "args.h"
#include "envstore.h"
#include "http.h"
#include "types.h"

struct wsg_session {
	char *dir; /* wssgatectl's folder */
	struct wsg_env env;
	struct wsg_cred cred; /* set when have_cred */
	int have_cred;
	struct wsg_http_opts http;
};

/*
 * Opens environment `name` with the transport options of `a`. With
 * `need_cred` the stored login must exist (else WSG_ERR_NOTFOUND, "not
 * logged in ... run: wssgatectl login NAME"). Prints the --insecure
 * warning. Close with wsg_session_close() whatever it returns.
 */
int wsg_session_open(struct wsg_session *s, const char *name,
                     const struct wsg_args *a, int need_cred,
                     struct wsg_error *err);

void wsg_session_close(struct wsg_session *s);

/*
 * GET /management/login with HTTP Basic. Returns 0 with the access token
 * in *token (free with wsg_prompt_free()), WSG_ERR_AUTH for wrong
 * credentials, WSG_ERR_CONNECT, or another error with the server's text.
 */
int wsg_session_login(struct wsg_session *s, const char *user,
                      const char *password, char **token,
                      struct wsg_error *err);

/*
 * `method` on /management/`resource` (already percent-encoded) with the
 * stored token and `body` (NULL = none). A 401 leads to one login with the
 * stored password, when there is one, and one retry. Returns 0 for a 2xx
 * answer with its JSON in *out (NULL when the body is empty; caller
 * json_decref()s), else the failure with the server's Error text in err:
 * WSG_ERR_AUTH (401/403), WSG_ERR_NOTFOUND (404), WSG_ERR_CONNECT, ...
 */
int wsg_session_call(struct wsg_session *s, const char *method,
                     const char *resource, json_t *body, json_t **out,
                     struct wsg_error *err);

/*
 * wsg_session_call() in a session of its own: opens environment a->env
 * (its stored login needed), makes the one call and closes the session.
 * Same results; *out as there.
 */
int wsg_session_call_once(const struct wsg_args *a, const char *method,
                          const char *resource, json_t *body, json_t **out,
                          struct wsg_error *err);

/*
 * The commands that change one thing: wsg_session_call_once() and, when
 * it succeeds, "`action` [ a->pos[0] ] status: ..." on standard output
 * (wsg_output_status()). Returns as wsg_session_call().
 */
int wsg_session_change(const struct wsg_args *a, const char *method,
                       const char *resource, json_t *body, const char *action,
                       struct wsg_error *err);

/*
 * GET /management/logout with the stored token, no second login. Returns
 * 0 when the server revoked it, WSG_ERR_AUTH when it no longer knew it
 * (401), or another failure.
 */
int wsg_session_logout(struct wsg_session *s, struct wsg_error *err);

#endif
