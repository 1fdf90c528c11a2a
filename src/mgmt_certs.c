#include "mgmt_certs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credcache.h"
#include "err.h"

int
wsg_mgmt_parse_cert_add(json_t *o, int64_t now, struct wsg_usercert *cert,
                        struct wsg_mgmt_fail *f)
{
	const char *P = WSG_MGMT_E_REQUEST_DOT, *pem = NULL;
	struct wsg_error err;
	int rc;

	memset(cert, 0, sizeof(*cert));
	wsg_error_clear(&err);
	rc = wsg_mgmt_json_string(o, "certificate", &pem);
	if (rc == WSG_ERR_NOTFOUND)
		return wsg_mgmt_failf(
		        f, 400,
		        "%sMissing the field 'certificate' in the "
		        "payload.",
		        P);
	if (rc != WSG_OK)
		return wsg_mgmt_failf(f, 400,
		                      "%sThe field 'certificate' must be a "
		                      "string (PEM).",
		                      P);
	if (wsg_usercert_parse(pem, strlen(pem), now, cert, &err) != WSG_OK)
		return wsg_mgmt_failf(f, 400, "%sInvalid certificate: %s", P,
		                      err.reason);
	return WSG_OK;
}

void
wsg_mgmt_user_certs_list(struct wsg_mgmt_req *r)
{
	const char *user = r->seg[1];
	struct wsg_user_record *rec = NULL;
	struct wsg_db_result *res = NULL;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	char after[32], made[32];
	json_t *list;
	size_t i;
	int rc;

	wsg_error_clear(&err);
	if (wsg_mgmt_check_domain(r, wsg_mgmt_param(r, "domain"),
	                          WSG_MGMT_E_REQUEST_DOT) != WSG_OK ||
	    wsg_mgmt_db(r, &c) != WSG_OK)
		return;
	/* A name the store cannot hold names nobody. */
	rc = wsg_userstore_check_name("username", user, 0, NULL);
	if (rc == WSG_OK)
		rc = wsg_userstore_get(c, user, &rec, &err);
	if (rc == WSG_OK)
		rc = wsg_userstore_list_certs(c, rec->id, &res, &err);
	if (rc == WSG_ERR_NOTFOUND || rc == WSG_ERR_INVAL) {
		wsg_mgmt_reply_not_found(r, "User", user);
		goto out;
	}
	if (rc != WSG_OK) {
		wsg_mgmt_reply_db_error(r, &err);
		goto out;
	}
	list = json_array();
	for (i = 0; i < res->nrows; i++) {
		char *const *cell = res->cells + i * res->ncols;

		wsg_usercert_time(strtoll(cell[4], NULL, 10), after);
		wsg_usercert_time(strtoll(cell[5], NULL, 10), made);
		json_array_append_new(
		        list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o}",
		                        "fingerprint", cell[0], "subject",
		                        cell[1], "issuer", cell[2],
		                        "serialNumber", cell[3], "notAfter",
		                        after, "createdAt", made, "createdBy",
		                        cell[6] != NULL ? json_string(cell[6])
		                                        : json_null()));
	}
	wsg_mgmt_reply(r, 200,
	               json_pack("{s:I,s:o}", "count", (json_int_t)res->nrows,
	                         "list", list));
out:
	wsg_db_result_free(res);
	wsg_userstore_record_free(rec);
}

/* {"userId", "fingerprint", "status"}, as MI's user changes answer. */
static void
reply_cert_status(struct wsg_mgmt_req *r, const char *user, const char *fp,
                  const char *status)
{
	wsg_mgmt_reply(r, 200,
	               json_pack("{s:s,s:s,s:s}", "userId", user, "fingerprint",
	                         fp, "status", status));
}

/* Answers a certificate change that failed with `rc`. */
static void
reply_cert_failure(struct wsg_mgmt_req *r, const char *user, const char *fp,
                   int rc, const struct wsg_accounts_result *res,
                   const struct wsg_error *err)
{
	if (rc == WSG_ERR_PERM &&
	    res->rule == WSG_ACCOUNTS_RULE_OTHER_ADMIN_CERT) {
		wsg_mgmt_audit(r, "mgmt_denied",
		               "tried to change the certificates of admin '%s'",
		               user);
		wsg_mgmt_reply_error(r, 403,
		                     "%sAn admin can only change the "
		                     "certificates of non-admin users and its "
		                     "own.",
		                     WSG_MGMT_E_REQUEST_DOT);
	} else if (rc == WSG_ERR_EXISTS) {
		wsg_mgmt_reply_error(r, 400,
		                     "%sCertificate: %s is already mapped to "
		                     "user %s.",
		                     WSG_MGMT_E_REQUEST_DOT, fp,
		                     res->owner[0] != '\0' ? res->owner : "-");
	} else if (rc == WSG_ERR_NOTFOUND && res->missing_cert) {
		wsg_mgmt_reply_not_found(r, "Certificate", fp);
	} else {
		wsg_mgmt_reply_accounts(r, rc, res, err);
	}
}

void
wsg_mgmt_user_certs_add(struct wsg_mgmt_req *r)
{
	const char *user = r->seg[1];
	struct wsg_accounts_actor by = wsg_mgmt_actor(r);
	struct wsg_accounts_result res;
	struct wsg_db_conn *c = NULL;
	struct wsg_usercert cert;
	struct wsg_mgmt_fail f;
	struct wsg_error err;
	json_t *body = NULL;
	int rc;

	wsg_error_clear(&err);
	if (wsg_mgmt_check_domain(r, wsg_mgmt_param(r, "domain"),
	                          WSG_MGMT_E_REQUEST_DOT) != WSG_OK ||
	    wsg_mgmt_body(r, &body) != WSG_OK)
		goto out;
	if (wsg_mgmt_parse_cert_add(body, wsg_mgmt_now(), &cert, &f) !=
	    WSG_OK) {
		wsg_mgmt_reply_fail(r, &f);
		goto out;
	}
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		goto out;
	rc = wsg_accounts_add_cert(c, r->m->cfg->management.admin_role, &by,
	                           user, &cert, &res, &err);
	if (rc != WSG_OK) {
		reply_cert_failure(r, user, cert.fingerprint, rc, &res, &err);
		goto out;
	}
	wsg_credcache_invalidate(r->m->rt->credcache, user);
	wsg_mgmt_audit(r, "cert_added",
	               "added certificate %s (subject '%s') to user '%s'",
	               cert.fingerprint, cert.subject, user);
	reply_cert_status(r, user, cert.fingerprint, "Added");
out:
	json_decref(body);
}

void
wsg_mgmt_user_cert_delete(struct wsg_mgmt_req *r)
{
	const char *user = r->seg[1];
	struct wsg_accounts_actor by = wsg_mgmt_actor(r);
	char fp[WSG_USERCERT_FP_LEN + 1];
	struct wsg_accounts_result res;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	if (wsg_mgmt_check_domain(r, wsg_mgmt_param(r, "domain"),
	                          WSG_MGMT_E_REQUEST_DOT) != WSG_OK)
		return;
	if (wsg_usercert_fingerprint(r->seg[3], fp, &err) != WSG_OK) {
		wsg_mgmt_reply_error(r, 400, "%sInvalid fingerprint: %s",
		                     WSG_MGMT_E_REQUEST_DOT, err.reason);
		return;
	}
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		return;
	rc = wsg_accounts_delete_cert(c, r->m->cfg->management.admin_role, &by,
	                              user, fp, &res, &err);
	if (rc != WSG_OK) {
		reply_cert_failure(r, user, fp, rc, &res, &err);
		return;
	}
	wsg_credcache_invalidate(r->m->rt->credcache, user);
	wsg_mgmt_audit(r, "cert_deleted", "deleted certificate %s of user '%s'",
	               fp, user);
	reply_cert_status(r, user, fp, "Deleted");
}
