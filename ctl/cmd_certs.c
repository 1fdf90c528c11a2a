/*
 * The certificates of a user (wssgate's own resource, no apictl
 * counterpart): get certs ID, add cert ID FILE, delete cert ID FINGERPRINT.
 */
#include "commands.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http.h"
#include "mem.h"
#include "output.h"
#include "session.h"

#define MAX_PEM 65536 /* bytes, as the gateway reads */

/* "users/ID/certificates[/FP]", each part percent-encoded. */
static char *
certs_path(const char *user, const char *fp)
{
	char *u = wsg_http_path("users", user), *f, *res;

	if (fp == NULL) {
		res = wsg_mem_printf("%s/certificates", u);
	} else {
		f = wsg_http_escape(fp);
		res = wsg_mem_printf("%s/certificates/%s", u, f);
		free(f);
	}
	free(u);
	return res;
}

static void
print_certs(const json_t *list)
{
	const json_t *c;
	size_t i;

	if (json_array_size(list) == 0) {
		printf("No certificates found\n");
		return;
	}
	printf("FINGERPRINT\tNOT AFTER\tSUBJECT\tISSUER\n");
	json_array_foreach(list, i, c)
	{
		const char *keys[] = {"fingerprint", "notAfter", "subject",
		                      "issuer"};
		size_t k;

		for (k = 0; k < 4; k++) {
			const char *v =
			        json_string_value(json_object_get(c, keys[k]));

			wsg_output_text(v != NULL ? v : "-");
			putchar(k < 3 ? '\t' : '\n');
		}
	}
}

int
wsg_cmd_get_certs(const struct wsg_args *a, struct wsg_error *err)
{
	char *res = certs_path(a->pos[0], NULL);
	json_t *answer = NULL;
	int rc;

	rc = wsg_session_call_once(a, "GET", res, NULL, &answer, err);
	if (rc == WSG_OK && a->format == WSG_FORMAT_JSON)
		wsg_output_json(answer);
	else if (rc == WSG_OK)
		print_certs(json_object_get(answer, "list"));
	json_decref(answer);
	free(res);
	return rc;
}

/* The PEM file, at most MAX_PEM bytes of text (caller frees). */
static int
read_pem(const char *path, char **out, struct wsg_error *err)
{
	FILE *f = fopen(path, "r");
	size_t n;
	int rc = WSG_OK;

	*out = NULL;
	if (f == NULL)
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE, "%s: %s",
		                     path, strerror(errno));
	*out = wsg_mem_alloc(MAX_PEM + 1);
	n = fread(*out, 1, MAX_PEM + 1, f);
	if (ferror(f))
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "%s: read error", path);
	else if (n > MAX_PEM || memchr(*out, '\0', n) != NULL)
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "%s: not a PEM file of at most %d bytes",
		                   path, MAX_PEM);
	else
		(*out)[n] = '\0';
	fclose(f);
	if (rc != WSG_OK) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int
wsg_cmd_add_cert(const struct wsg_args *a, struct wsg_error *err)
{
	char *res = certs_path(a->pos[0], NULL), *pem = NULL;
	json_t *body = NULL, *answer = NULL;
	int rc;

	rc = read_pem(a->pos[1], &pem, err);
	if (rc == WSG_OK) {
		body = json_pack("{s:s}", "certificate", pem);
		if (body == NULL)
			rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                   "%s: not UTF-8 text", a->pos[1]);
	}
	if (rc == WSG_OK)
		rc = wsg_session_call_once(a, "POST", res, body, &answer, err);
	if (rc == WSG_OK) {
		wsg_output_status("Adding certificate to user", a->pos[0],
		                  answer);
		wsg_output_field("Fingerprint",
		                 json_string_value(json_object_get(
		                         answer, "fingerprint")));
	}
	json_decref(answer);
	json_decref(body);
	free(pem);
	free(res);
	return rc;
}

int
wsg_cmd_delete_cert(const struct wsg_args *a, struct wsg_error *err)
{
	char *res = certs_path(a->pos[0], a->pos[1]);
	int rc;

	rc = wsg_session_change(a, "DELETE", res, NULL,
	                        "Deleting certificate of user", err);
	free(res);
	return rc;
}
