#include "session.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "output.h"
#include "prompt.h"
#include "secmem.h"

#define MANAGEMENT "/management"

int
wsg_session_open(struct wsg_session *s, const char *name,
                 const struct wsg_args *a, int need_cred, struct wsg_error *err)
{
	int rc, https, loopback;

	memset(s, 0, sizeof(*s));
	s->http.insecure = a->insecure;
	s->http.verbose = a->verbose;
	if (!wsg_envstore_valid_name(name))
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                     "'%s' is not an environment name", name);
	rc = wsg_envstore_dir(0, &s->dir, err);
	if (rc == WSG_ERR_NOTFOUND)
		return wsg_envstore_unknown_env(name, err);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_envstore_get_env(s->dir, name, &s->env, err);
	if (rc != WSG_OK)
		return rc;
	s->http.ca_file = a->ca_file != NULL ? a->ca_file : s->env.ca_file;
	rc = wsg_envstore_get_cred(s->dir, name, &s->cred, err);
	if (rc == WSG_OK)
		s->have_cred = 1;
	else if (rc != WSG_ERR_NOTFOUND || need_cred)
		return rc;
	if (wsg_http_check_url(s->env.url, &https, &loopback, err) != WSG_OK)
		return WSG_ERR_CONFIG;
	if (a->insecure && https)
		fprintf(stderr,
		        "wssgatectl: warning: --insecure: the TLS "
		        "certificate of %s is not verified; whoever "
		        "sits in between can read the credentials\n",
		        s->env.url);
	return WSG_OK;
}

void
wsg_session_close(struct wsg_session *s)
{
	wsg_envstore_cred_free(&s->cred);
	wsg_envstore_env_free(&s->env);
	free(s->dir);
	memset(s, 0, sizeof(*s));
}

/* The env URL is stored without a trailing slash; it may end in /management. */
static char *
resource_url(const struct wsg_session *s, const char *resource)
{
	size_t n = strlen(s->env.url), m = strlen(MANAGEMENT);
	int has = n >= m && strcmp(s->env.url + n - m, MANAGEMENT) == 0;

	return wsg_mem_printf("%s%s/%s", s->env.url, has ? "" : MANAGEMENT,
	                      resource);
}

/* Parses a body; an empty one is NULL. 0 or WSG_ERR_PARSE. */
static int
parse_body(const struct wsg_http_resp *r, json_t **out)
{
	json_error_t jerr;
	size_t i;

	*out = NULL;
	for (i = 0; i < r->len; i++)
		if (r->body[i] != ' ' && r->body[i] != '\n' &&
		    r->body[i] != '\r' && r->body[i] != '\t')
			break;
	if (i == r->len)
		return WSG_OK;
	*out = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr);
	return *out != NULL ? WSG_OK : WSG_ERR_PARSE;
}

static const char *
error_text(json_t *j)
{
	return json_is_object(j)
	               ? json_string_value(json_object_get(j, "Error"))
	               : NULL;
}

/*
 * WSO2's texts glue their prefix to the reason ("Error processing the
 * requestInvalid password"); the server keeps them byte for byte for its
 * clients, the operator reads them with a separator. Returns the length
 * of such a glued prefix, else 0.
 */
static size_t
wso2_prefix_len(const char *text)
{
	static const char prefix[] = "Error processing the request";
	size_t n = sizeof(prefix) - 1;

	if (strncmp(text, prefix, n) == 0 && isalnum((unsigned char)text[n]))
		return n;
	return 0;
}

/* The failure a non-2xx answer (or a 2xx carrying "Error") stands for. */
static int
answer_error(const struct wsg_session *s, long status, json_t *j,
             struct wsg_error *err)
{
	const char *text = error_text(j);

	if (status == 401)
		return wsg_error_set(err, WSG_ERR_AUTH, WSG_FAULT_NONE,
		                     "environment '%s' refused the session "
		                     "(HTTP 401): it expired or was revoked; "
		                     "log in again: wssgatectl login %s",
		                     s->env.name, s->env.name);
	if (status == 403 && text == NULL)
		return wsg_error_set(err, WSG_ERR_AUTH, WSG_FAULT_NONE,
		                     "permission denied (HTTP 403): user '%s' "
		                     "may not do this on '%s' (administrator "
		                     "rights are needed)",
		                     s->have_cred ? s->cred.username : "?",
		                     s->env.name);
	if (status == 404 && text == NULL)
		return wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_NONE,
		                     "not found (HTTP 404): is %s the "
		                     "management listener of a wssgate "
		                     "gateway?",
		                     s->env.url);
	if (text != NULL)
		return wsg_error_set(err,
		                     status == 403   ? WSG_ERR_AUTH
		                     : status == 404 ? WSG_ERR_NOTFOUND
		                                     : WSG_ERR_IO,
		                     WSG_FAULT_NONE, "%.*s%s%s (HTTP %ld)",
		                     (int)wso2_prefix_len(text), text,
		                     wso2_prefix_len(text) > 0 ? ": " : "",
		                     text + wso2_prefix_len(text), status);
	return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
	                     "the server answered HTTP %ld without an Error "
	                     "text",
	                     status);
}

/* One request; fills *status and *out (the JSON body or NULL). */
static int
send_request(struct wsg_session *s, struct wsg_http_req *req, long *status,
             json_t **out, struct wsg_error *err)
{
	struct wsg_http_resp resp;
	int rc;

	*status = 0;
	*out = NULL;
	rc = wsg_http_request(&s->http, req, &resp, err);
	if (rc != WSG_OK)
		return rc;
	*status = resp.status;
	if (parse_body(&resp, out) != WSG_OK && resp.status / 100 == 2)
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_NONE,
		                   "the answer of %s is not JSON (HTTP %ld): "
		                   "is it a wssgate management listener?",
		                   req->url, resp.status);
	wsg_http_resp_free(&resp);
	return rc;
}

int
wsg_session_login(struct wsg_session *s, const char *user, const char *password,
                  char **token, struct wsg_error *err)
{
	struct wsg_http_req req = {
	        .method = "GET", .user = user, .password = password};
	json_t *j = NULL, *t;
	long status;
	int rc;

	*token = NULL;
	req.url = resource_url(s, "login");
	rc = send_request(s, &req, &status, &j, err);
	if (rc != WSG_OK)
		goto out;
	if (status == 401) {
		rc = wsg_error_set(err, WSG_ERR_AUTH, WSG_FAULT_NONE,
		                   "login to '%s' failed: wrong user name or "
		                   "password (HTTP 401), or the user is "
		                   "disabled or may not log in "
		                   "(management.login_roles)",
		                   s->env.name);
		goto out;
	}
	t = json_object_get(j, "AccessToken");
	if (status != 200 || error_text(j) != NULL) {
		rc = answer_error(s, status, j, err);
	} else if (!json_is_string(t) || json_string_length(t) == 0) {
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_NONE,
		                   "the login answer of %s holds no "
		                   "AccessToken",
		                   req.url);
	} else {
		*token = wsg_mem_strdup(json_string_value(t));
	}
out:
	json_decref(j);
	free((char *)req.url);
	return rc;
}

/* Logs in again with the stored password and stores the new token. */
static int
renew(struct wsg_session *s, struct wsg_error *err)
{
	char *token = NULL;
	int rc;

	if (s->http.verbose)
		fprintf(stderr,
		        "wssgatectl: session refused; logging in to "
		        "'%s' again as '%s'\n",
		        s->env.name, s->cred.username);
	rc = wsg_session_login(s, s->cred.username, s->cred.password, &token,
	                       err);
	if (rc == WSG_ERR_AUTH)
		return wsg_error_set(err, rc, WSG_FAULT_NONE,
		                     "the session on '%s' ended and the stored "
		                     "password of '%s' was refused; log in "
		                     "again: wssgatectl login %s",
		                     s->env.name, s->cred.username,
		                     s->env.name);
	if (rc != WSG_OK)
		return rc;
	wsg_prompt_free(s->cred.token);
	s->cred.token = token;
	return wsg_envstore_put_cred(s->dir, s->env.name, &s->cred, err);
}

int
wsg_session_call(struct wsg_session *s, const char *method,
                 const char *resource, json_t *body, json_t **out,
                 struct wsg_error *err)
{
	struct wsg_http_req req = {.method = method};
	char *text = NULL;
	json_t *j = NULL;
	long status;
	int rc, attempt;

	*out = NULL;
	req.url = resource_url(s, resource);
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		req.body = text;
	}
	for (attempt = 0;; attempt++) {
		req.bearer = s->cred.token;
		rc = send_request(s, &req, &status, &j, err);
		if (rc != WSG_OK)
			goto out;
		if (status != 401 || attempt > 0 || s->cred.password == NULL)
			break;
		json_decref(j);
		j = NULL;
		rc = renew(s, err);
		if (rc != WSG_OK)
			goto out;
	}
	if (status / 100 != 2 || error_text(j) != NULL) {
		rc = answer_error(s, status, j, err);
		goto out;
	}
	*out = j;
	j = NULL;
out:
	json_decref(j);
	wsg_secmem_free(text);
	free((char *)req.url);
	return rc;
}

int
wsg_session_call_once(const struct wsg_args *a, const char *method,
                      const char *resource, json_t *body, json_t **out,
                      struct wsg_error *err)
{
	struct wsg_session s;
	int rc;

	*out = NULL;
	rc = wsg_session_open(&s, a->env, a, 1, err);
	if (rc == WSG_OK)
		rc = wsg_session_call(&s, method, resource, body, out, err);
	wsg_session_close(&s);
	return rc;
}

int
wsg_session_change(const struct wsg_args *a, const char *method,
                   const char *resource, json_t *body, const char *action,
                   struct wsg_error *err)
{
	json_t *answer;
	int rc;

	rc = wsg_session_call_once(a, method, resource, body, &answer, err);
	if (rc == WSG_OK)
		wsg_output_status(action, a->pos[0], answer);
	json_decref(answer);
	return rc;
}

int
wsg_session_logout(struct wsg_session *s, struct wsg_error *err)
{
	struct wsg_http_req req = {.method = "GET"};
	json_t *j = NULL;
	long status;
	int rc;

	req.url = resource_url(s, "logout");
	req.bearer = s->cred.token;
	rc = send_request(s, &req, &status, &j, err);
	if (rc == WSG_OK && status != 200)
		rc = answer_error(s, status, j, err);
	json_decref(j);
	free((char *)req.url);
	return rc;
}
