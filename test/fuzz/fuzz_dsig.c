/*
 * Fuzz target: arbitrary bytes as a SOAP envelope through the signature
 * checks of a route with a signature block (wsg_dsig_prepare, each
 * ds:Signature child of the first Security header, wsg_dsig_finish), as
 * auth.c runs them. The trust anchor and the known signer are made at start
 * (no key is checked in), so inputs reach the key resolution, certificate
 * and reference checks; a verdict must be one of the WS-Security faults, and
 * a part counted as signed must be the element at its expected position.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsig.h"
#include "err.h"
#include "fuzz.h"
#include "mem.h"
#include "soap.h"
#include "wsse.h"

static const struct wsg_soap_limits limits = {
        .max_depth = 100,
        .max_attributes = 500,
        .max_attribute_len = 65536,
        .max_nodes = 100000,
        .max_namespaces = 100,
        .max_total_attributes = 200000,
};

static struct wsg_dsig_conf *conf;

static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_dsig: broken promise: %s\n", what);
		abort();
	}
}

/* A CA written to a temporary file for `trust`, and a signer certificate
 * it issued as the one known certificate. */
static void
setup(void)
{
	char path[] = "/tmp/fuzz_dsig_XXXXXX";
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *ca = X509_new(), *signer = X509_new();
	struct wsg_error err;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	require(f != NULL && wsg_dsig_global_init() == WSG_OK, "setup");
	X509_set_version(ca, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
	X509_gmtime_adj(X509_getm_notBefore(ca), -3600);
	X509_gmtime_adj(X509_getm_notAfter(ca), 86400);
	X509_set_pubkey(ca, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(ca), "CN",
	                           MBSTRING_ASC,
	                           (const unsigned char *)"fuzz-ca", -1, -1, 0);
	X509_set_issuer_name(ca, X509_get_subject_name(ca));
	X509_sign(ca, k, EVP_sha256());
	X509_set_version(signer, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(signer), 2);
	X509_gmtime_adj(X509_getm_notBefore(signer), -3600);
	X509_gmtime_adj(X509_getm_notAfter(signer), 86400);
	X509_set_pubkey(signer, k);
	X509_NAME_add_entry_by_txt(
	        X509_get_subject_name(signer), "CN", MBSTRING_ASC,
	        (const unsigned char *)"fuzz-signer", -1, -1, 0);
	X509_set_issuer_name(signer, X509_get_subject_name(ca));
	X509_sign(signer, k, EVP_sha256());
	PEM_write_X509(f, ca);
	fclose(f);
	conf = wsg_mem_calloc(1, sizeof(*conf));
	conf->require = 1;
	conf->parts = WSG_DSIG_PART_BODY | WSG_DSIG_PART_TIMESTAMP;
	conf->algorithms = WSG_DSIG_ALG_RSA_SHA256 | WSG_DSIG_ALG_ECDSA_SHA256;
	conf->trust = wsg_mem_strdup(path);
	conf->max_references = 8;
	conf->max_transforms = 2;
	conf->max_signatures = 2;
	conf->max_chain_depth = 4;
	require(wsg_dsig_conf_load(conf, &err) == WSG_OK, "trust loads");
	conf->known = sk_X509_new_null();
	sk_X509_push(conf->known, signer);
	unlink(path);
	X509_free(ca);
	EVP_PKEY_free(k);
}

static xmlNodePtr
first_security(const struct wsg_soap_msg *m)
{
	xmlNodePtr n;

	for (n = m->header != NULL ? m->header->children : NULL; n != NULL;
	     n = n->next)
		if (wsg_soap_is_element(n, WSG_NS_WSSE, "Security"))
			return n;
	return NULL;
}

static int
is_verdict(enum wsg_fault f)
{
	return f == WSG_FAULT_INVALID_SECURITY ||
	       f == WSG_FAULT_INVALID_SECURITY_TOKEN ||
	       f == WSG_FAULT_UNSUPPORTED_SECURITY_TOKEN ||
	       f == WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE ||
	       f == WSG_FAULT_FAILED_CHECK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsg_dsig_state st;
	struct wsg_soap_msg msg;
	struct wsg_error err;
	xmlNodePtr sec, n;
	int rc;

	if (conf == NULL)
		setup();
	memset(&err, 0, sizeof(err));
	if (wsg_soap_parse((const char *)data, size, &limits, &msg, &err) !=
	    WSG_OK)
		return 0;
	if ((sec = first_security(&msg)) == NULL) {
		wsg_soap_msg_free(&msg);
		return 0;
	}
	rc = wsg_dsig_prepare(&st, conf, &msg, sec, (int64_t)time(NULL), &err);
	for (n = sec->children; rc == WSG_OK && n != NULL; n = n->next)
		if (wsg_soap_is_element(n, WSG_NS_DS, "Signature"))
			rc = wsg_dsig_verify(&st, n, &err);
	if (rc == WSG_OK)
		rc = wsg_dsig_finish(&st, &err);
	if (rc != WSG_OK) {
		require(rc == WSG_ERR_SECURITY ? is_verdict(err.fault)
		                               : err.fault == WSG_FAULT_SERVER,
		        "a refusal is a WS-Security fault (or a Server one)");
		require(memchr(err.reason, '\0', sizeof(err.reason)) != NULL &&
		                err.reason[0] != '\0',
		        "a refusal says why");
	} else {
		require(st.n_signatures > 0 && st.signer != NULL,
		        "a required signature was verified");
		require((st.signed_parts & conf->parts) == conf->parts,
		        "every required part is signed");
		require(st.body == msg.body && st.timestamp != NULL &&
		                st.timestamp->parent == sec,
		        "signed parts are the elements at their positions");
	}
	wsg_dsig_state_clear(&st);
	wsg_soap_msg_free(&msg);
	return 0;
}
