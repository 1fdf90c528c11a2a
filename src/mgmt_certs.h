/*
 * The certificates of a user, our extension of MI's users resource (admins
 * only, like the rest of it): GET and POST
 * /management/users/{userId}/certificates, DELETE
 * /management/users/{userId}/certificates/{fingerprint}. A certificate
 * stands for its user on routes with auth = "x509" or "wsse_or_x509".
 * Changes are one transaction each (accounts.c's rules), audit-logged with
 * the caller and the fingerprint.
 */
#ifndef WSG_MGMT_CERTS_H
#define WSG_MGMT_CERTS_H

#include "mgmt_http.h"
#include "usercert.h"

/*
 * The body of POST .../certificates: {"certificate": "<PEM text>"}, one
 * X.509 certificate, not expired at `now` (wsg_usercert_parse()). WSG_OK
 * with `cert` filled, or WSG_ERR_INVAL with the 400 answer in `f`.
 */
int wsg_mgmt_parse_cert_add(json_t *o, int64_t now, struct wsg_usercert *cert,
                            struct wsg_mgmt_fail *f);

/* {"count": n, "list": [{"fingerprint", "subject", "issuer",
 * "serialNumber", "notAfter", "createdAt", "createdBy"}]}, oldest first. */
void wsg_mgmt_user_certs_list(struct wsg_mgmt_req *r);
/* 200 {"userId", "fingerprint", "status": "Added"}. */
void wsg_mgmt_user_certs_add(struct wsg_mgmt_req *r);
/* 200 {"userId", "fingerprint", "status": "Deleted"}. */
void wsg_mgmt_user_cert_delete(struct wsg_mgmt_req *r);

#endif
