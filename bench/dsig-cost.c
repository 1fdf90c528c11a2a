/*
 * bench/dsig-cost's in-process driver: what verifying one signed message
 * costs on the calling thread (one core), next to parsing it, for the
 * decision between the worker's loop and the verification pool.
 *
 *   dsig-cost-driver [ROUNDS] [MESSAGES] [BODY_BYTES]
 *
 * For an RSA-2048 and an EC P-256 signer (certificates made here, one CA):
 * a SOAP 1.1 message whose Body (BODY_BYTES of text, default 100) and
 * Timestamp are signed with a BST direct reference, as WSS4J and zeep send
 * them, is parsed MESSAGES times (default 2000), then parsed and run
 * through wsg_dsig_prepare / _verify / _finish as auth.c does. Prints per
 * key the message size and the median over ROUNDS (default 5) of the
 * microseconds per message for parsing and for verification.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>

#include "dsig.h"
#include "err.h"
#include "mem.h"
#include "soap.h"
#include "wsse.h"

#define ALG_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define X509V3                                                                 \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-x509-token-profile-1.0#X509v3"
#define REF(uri)                                                               \
	"<ds:Reference URI=\"" uri "\"><ds:Transforms><ds:Transform "          \
	"Algorithm=\"" ALG_C14N "\"/></ds:Transforms><ds:DigestMethod "        \
	"Algorithm=\"" ALG_SHA256 "\"/><ds:DigestValue/></ds:Reference>"
#define MAX_ROUNDS 101

/* created, BST, signature method, Body text. */
static const char template_fmt[] =
        "<soap:Envelope xmlns:soap=\"" WSG_NS_SOAP11
        "\" xmlns:wsu=\"" WSG_NS_WSU "\" xmlns:wsse=\"" WSG_NS_WSSE
        "\" xmlns:ds=\"" WSG_NS_DS
        "\"><soap:Header><wsse:Security><wsu:Timestamp wsu:Id=\"TS-1\">"
        "<wsu:Created>%s</wsu:Created></wsu:Timestamp>"
        "<wsse:BinarySecurityToken wsu:Id=\"X509-1\" ValueType=\"" X509V3
        "\" EncodingType=\"" WSG_WSSE_BASE64_BINARY
        "\">%s</wsse:BinarySecurityToken><ds:Signature><ds:SignedInfo>"
        "<ds:CanonicalizationMethod Algorithm=\"" ALG_C14N "\"/>"
        "<ds:SignatureMethod Algorithm=\"%s\"/>" REF("#Body-1")
                REF("#TS-1") "</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo>"
                             "<wsse:SecurityTokenReference><wsse:Reference "
                             "URI=\"#X509-1\" "
                             "ValueType=\"" X509V3
                             "\"/></wsse:SecurityTokenReference></ds:KeyInfo>"
                             "</ds:Signature></wsse:Security></"
                             "soap:Header><soap:Body "
                             "wsu:Id=\"Body-1\"><m:Op "
                             "xmlns:m=\"urn:example\"><m:v>%s</m:v>"
                             "</m:Op></soap:Body></soap:Envelope>";

static const struct wsg_soap_limits limits = {100,    500, 65536,
                                              100000, 100, 200000};

static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), issuer ? 2 : 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	                          issuer ? "CA:FALSE" : "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
	return x;
}

static xmlNodePtr
find(xmlNodePtr n, const char *href, const char *name)
{
	xmlNodePtr r;

	for (; n != NULL; n = n->next) {
		if (wsg_soap_is_element(n, href, name))
			return n;
		if (n->children != NULL &&
		    (r = find(n->children, href, name)) != NULL)
			return r;
	}
	return NULL;
}

static void
register_id(xmlDocPtr doc, xmlNodePtr e)
{
	xmlAttrPtr a = xmlHasNsProp(e, (const xmlChar *)"Id",
	                            (const xmlChar *)WSG_NS_WSU);
	xmlChar *v = xmlNodeListGetString(doc, a->children, 1);

	xmlAddID(NULL, doc, v, a);
	xmlFree(v);
}

/* The message signed by `key` (certificate `cert`) with xmlsec1. */
static char *
sign(EVP_PKEY *key, X509 *cert, const char *method, size_t body_bytes)
{
	unsigned char *der = NULL;
	int der_len = i2d_X509(cert, &der), len = 0;
	char *b64 = wsg_mem_alloc(4 * ((size_t)der_len + 2) / 3 + 1);
	char *text = wsg_mem_alloc(body_bytes + 1), *xml, created[32];
	time_t now = time(NULL);
	xmlSecDSigCtxPtr ctx;
	xmlChar *out = NULL;
	xmlDocPtr doc;
	struct tm tm;

	EVP_EncodeBlock((unsigned char *)b64, der, der_len);
	OPENSSL_free(der);
	memset(text, 'x', body_bytes);
	text[body_bytes] = '\0';
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	xml = wsg_mem_printf(template_fmt, created, b64, method, text);
	doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
	register_id(doc, find(doc->children, WSG_NS_SOAP11, "Body"));
	register_id(doc, find(doc->children, WSG_NS_WSU, "Timestamp"));
	ctx = xmlSecDSigCtxCreate(NULL);
	EVP_PKEY_up_ref(key);
	ctx->signKey = xmlSecKeyCreate();
	xmlSecKeySetValue(ctx->signKey, xmlSecOpenSSLEvpKeyAdopt(key));
	if (xmlSecDSigCtxSign(
	            ctx, find(doc->children, WSG_NS_DS, "Signature")) != 0) {
		fprintf(stderr, "dsig-cost: cannot sign\n");
		exit(1);
	}
	xmlSecDSigCtxDestroy(ctx);
	xmlDocDumpMemory(doc, &out, &len);
	free(xml);
	xml = wsg_mem_strdup((const char *)out);
	xmlFree(out);
	xmlFreeDoc(doc);
	free(b64);
	free(text);
	return xml;
}

static double
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Microseconds per message: parse only (verify 0) or parse and verify. */
static double
pass(const char *xml, const struct wsg_dsig_conf *conf, int n, int verify)
{
	struct wsg_dsig_state st;
	struct wsg_soap_msg msg;
	struct wsg_error err;
	xmlNodePtr sec, c;
	double t0 = now_us();
	int i, rc;

	for (i = 0; i < n; i++) {
		if (wsg_soap_parse(xml, strlen(xml), &limits, &msg, &err) !=
		    WSG_OK) {
			fprintf(stderr, "dsig-cost: %s\n", err.reason);
			exit(1);
		}
		if (verify) {
			sec = find(msg.header->children, WSG_NS_WSSE,
			           "Security");
			rc = wsg_dsig_prepare(&st, conf, &msg, sec,
			                      (int64_t)time(NULL), &err);
			for (c = sec->children; rc == WSG_OK && c != NULL;
			     c = c->next)
				if (wsg_soap_is_element(c, WSG_NS_DS,
				                        "Signature"))
					rc = wsg_dsig_verify(&st, c, &err);
			if (rc == WSG_OK)
				rc = wsg_dsig_finish(&st, &err);
			if (rc != WSG_OK) {
				fprintf(stderr, "dsig-cost: %s\n", err.reason);
				exit(1);
			}
			wsg_dsig_state_clear(&st);
		}
		wsg_soap_msg_free(&msg);
	}
	return (now_us() - t0) / n;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
run(const char *name, EVP_PKEY *key, const char *method, int rounds, int n,
    size_t body_bytes)
{
	char trust[] = "/tmp/dsig-cost-XXXXXX";
	EVP_PKEY *ca_key = EVP_RSA_gen(2048);
	X509 *ca = make_cert(ca_key, "bench-ca", NULL, NULL);
	X509 *cert = make_cert(key, "bench-signer", ca, ca_key);
	struct wsg_dsig_conf *conf = wsg_mem_calloc(1, sizeof(*conf));
	struct wsg_error err;
	double parse[MAX_ROUNDS], both[MAX_ROUNDS];
	char *xml = sign(key, cert, method, body_bytes);
	int i, fd = mkstemp(trust);
	FILE *f = fdopen(fd, "w");

	PEM_write_X509(f, ca);
	fclose(f);
	conf->require = 1;
	conf->parts = WSG_DSIG_PART_BODY | WSG_DSIG_PART_TIMESTAMP;
	conf->algorithms = WSG_DSIG_ALG_RSA_SHA256 | WSG_DSIG_ALG_ECDSA_SHA256;
	conf->trust = wsg_mem_strdup(trust);
	conf->max_references = 8;
	conf->max_transforms = 2;
	conf->max_signatures = 2;
	conf->max_chain_depth = 4;
	if (wsg_dsig_conf_load(conf, &err) != WSG_OK) {
		fprintf(stderr, "dsig-cost: %s\n", err.reason);
		exit(1);
	}
	pass(xml, conf, n / 10 + 1, 1); /* warm-up */
	for (i = 0; i < rounds; i++) {
		parse[i] = pass(xml, conf, n, 0);
		both[i] = pass(xml, conf, n, 1) - parse[i];
	}
	qsort(parse, (size_t)rounds, sizeof(double), cmp_double);
	qsort(both, (size_t)rounds, sizeof(double), cmp_double);
	printf("%-8s bytes=%zu parse_us=%.1f verify_us=%.1f\n", name,
	       strlen(xml), parse[rounds / 2], both[rounds / 2]);
	unlink(trust);
	wsg_dsig_conf_free(conf);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	free(xml);
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	int n = argc > 2 ? atoi(argv[2]) : 2000;
	long body = argc > 3 ? atol(argv[3]) : 100;
	EVP_PKEY *rsa, *ec;

	if (rounds < 1 || rounds > MAX_ROUNDS || n < 1 || body < 0 ||
	    body > 8000000) {
		fprintf(stderr,
		        "usage: dsig-cost-driver [ROUNDS 1..%d] "
		        "[MESSAGES] [BODY_BYTES]\n",
		        MAX_ROUNDS);
		return 2;
	}
	wsg_soap_global_init();
	if (wsg_dsig_global_init() != WSG_OK)
		return 1;
	rsa = EVP_RSA_gen(2048);
	ec = EVP_EC_gen("P-256");
	run("rsa-2048", rsa,
	    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", rounds, n,
	    (size_t)body);
	run("ec-p256", ec,
	    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", rounds, n,
	    (size_t)body);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	wsg_dsig_global_cleanup();
	wsg_soap_global_cleanup();
	return 0;
}
