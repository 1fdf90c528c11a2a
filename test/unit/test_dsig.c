/*
 * dsig.c: a message signed here with xmlsec1 (keys and certificates made
 * in-process with OpenSSL), then verified after each signature-wrapping
 * edit: the position checks (Body, Timestamp by node), duplicate Ids, STR
 * resolution (BST of the processed header only, KeyIdentifier, caps) and
 * the verdicts' fault codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

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
#define ALG_RSA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define ALG_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define X509V3                                                                 \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-x509-token-profile-1.0#X509v3"

#define REF(uri)                                                               \
	"<ds:Reference URI=\"" uri "\"><ds:Transforms><ds:Transform "          \
	"Algorithm=\"" ALG_C14N "\"/></ds:Transforms><ds:DigestMethod "        \
	"Algorithm=\"" ALG_SHA256 "\"/><ds:DigestValue/></ds:Reference>"

/* The template xmlsec1 signs: Body and Timestamp by Id, key by BST. */
static const char template_fmt[] =
        "<soap:Envelope xmlns:soap=\"" WSG_NS_SOAP11
        "\" xmlns:wsu=\"" WSG_NS_WSU "\" xmlns:wsse=\"" WSG_NS_WSSE
        "\" xmlns:ds=\"" WSG_NS_DS "\"><soap:Header><wsse:Security>"
        "<wsu:Timestamp wsu:Id=\"TS-1\"><wsu:Created>%s</wsu:Created>"
        "</wsu:Timestamp>"
        "<wsse:BinarySecurityToken wsu:Id=\"X509-1\" ValueType=\"" X509V3
        "\" EncodingType=\"" WSG_WSSE_BASE64_BINARY "\">%s"
        "</wsse:BinarySecurityToken>"
        "<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod "
        "Algorithm=\"" ALG_C14N
        "\"/><ds:SignatureMethod Algorithm=\"" ALG_RSA256
        "\"/>" REF("#Body-1") REF(
                "#TS-1") "</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo>"
                         "<wsse:SecurityTokenReference><wsse:Reference "
                         "URI=\"#X509-1\" "
                         "ValueType=\"" X509V3
                         "\"/></wsse:SecurityTokenReference></ds:KeyInfo>"
                         "</ds:Signature></wsse:Security></soap:Header>"
                         "<soap:Body wsu:Id=\"Body-1\"><m:Op "
                         "xmlns:m=\"urn:example\">"
                         "<m:v>pay 10</m:v></m:Op></soap:Body></soap:Envelope>";

static EVP_PKEY *ca_key, *signer_key;
static X509 *ca_cert, *signer_cert;
static char trust_path[] = "/tmp/test_dsig_trust_XXXXXX";
static char *signed_xml;
static char *signer_b64;

static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
          int ca)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	                          ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
	                          ca ? "critical,keyCertSign,cRLSign"
	                             : "critical,digitalSignature");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier,
	                          "hash");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
	return x;
}

static char *
cert_b64(X509 *x)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	char *out = wsg_mem_alloc(4 * ((size_t)len + 2) / 3 + 1);

	EVP_EncodeBlock((unsigned char *)out, der, len);
	OPENSSL_free(der);
	return out;
}

static void
utc_now(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
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

static xmlNodePtr
find(xmlNodePtr n, const char *href, const char *name)
{
	xmlNodePtr c, r;

	for (; n != NULL; n = n->next) {
		if (wsg_soap_is_element(n, href, name))
			return n;
		if ((c = n->children) != NULL && (r = find(c, href, name)))
			return r;
	}
	return NULL;
}

static char *edit(const char *xml, const char *from, const char *to);

/* Signs the template, its first `from` replaced by `to` unless NULL, with
 * xmlsec1 as a client would. */
static char *
sign_template(const char *from, const char *to)
{
	char created[32], *xml;
	xmlDocPtr doc;
	xmlSecDSigCtxPtr ctx;
	xmlChar *out = NULL;
	int len = 0;

	utc_now(created, sizeof(created));
	xml = wsg_mem_printf(template_fmt, created, signer_b64);
	if (from != NULL) {
		char *edited = edit(xml, from, to);

		free(xml);
		xml = edited;
	}
	doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	register_id(doc, find(doc->children, WSG_NS_SOAP11, "Body"));
	register_id(doc, find(doc->children, WSG_NS_WSU, "Timestamp"));
	ctx = xmlSecDSigCtxCreate(NULL);
	EVP_PKEY_up_ref(signer_key);
	ctx->signKey = xmlSecKeyCreate();
	xmlSecKeySetValue(ctx->signKey, xmlSecOpenSSLEvpKeyAdopt(signer_key));
	assert_int_equal(xmlSecDSigCtxSign(ctx, find(doc->children, WSG_NS_DS,
	                                             "Signature")),
	                 0);
	xmlSecDSigCtxDestroy(ctx);
	xmlDocDumpMemory(doc, &out, &len);
	free(xml);
	xml = wsg_mem_strdup((const char *)out);
	xmlFree(out);
	xmlFreeDoc(doc);
	return xml;
}

static int
setup(void **state)
{
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(wsg_dsig_global_init(), WSG_OK);
	ca_key = EVP_RSA_gen(2048);
	signer_key = EVP_RSA_gen(2048);
	ca_cert = make_cert(ca_key, "test-ca", NULL, NULL, 1);
	signer_cert = make_cert(signer_key, "signer", ca_cert, ca_key, 0);
	fd = mkstemp(trust_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	PEM_write_X509(f, ca_cert);
	fclose(f);
	signer_b64 = cert_b64(signer_cert);
	signed_xml = sign_template(NULL, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(trust_path);
	free(signed_xml);
	free(signer_b64);
	X509_free(ca_cert);
	X509_free(signer_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(signer_key);
	wsg_dsig_global_cleanup();
	return 0;
}

static struct wsg_dsig_conf *
conf_new(int require)
{
	struct wsg_dsig_conf *c = wsg_mem_calloc(1, sizeof(*c));
	struct wsg_error err;

	c->require = require;
	c->parts = WSG_DSIG_PART_BODY | WSG_DSIG_PART_TIMESTAMP;
	c->algorithms = WSG_DSIG_ALG_RSA_SHA256;
	c->trust = wsg_mem_strdup(trust_path);
	c->max_references = 8;
	c->max_transforms = 2;
	c->max_signatures = 2;
	c->max_chain_depth = 4;
	assert_int_equal(wsg_dsig_conf_load(c, &err), WSG_OK);
	return c;
}

/* `xml` with the first `from` replaced by `to` (must be present). */
static char *
edit(const char *xml, const char *from, const char *to)
{
	const char *at = strstr(xml, from);

	assert_non_null(at);
	return wsg_mem_printf("%.*s%s%s", (int)(at - xml), xml, to,
	                      at + strlen(from));
}

/* The substring from `start` to the end of `end`. */
static char *
cut(const char *xml, const char *start, const char *end)
{
	const char *a = strstr(xml, start), *b;

	assert_non_null(a);
	b = strstr(a, end);
	assert_non_null(b);
	return wsg_mem_strndup(a, (size_t)(b + strlen(end) - a));
}

/* Parses and runs prepare / every Signature / finish; the error's fault, or
 * WSG_FAULT_NONE on success. `parts` gets what was signed. */
static enum wsg_fault
run(const char *xml, struct wsg_dsig_conf *conf, unsigned *parts)
{
	struct wsg_soap_limits lim = {100, 500, 65536, 100000, 100, 200000};
	struct wsg_dsig_state st;
	struct wsg_soap_msg msg;
	struct wsg_error err;
	xmlNodePtr sec, n;
	int rc;

	memset(&err, 0, sizeof(err));
	assert_int_equal(wsg_soap_parse(xml, strlen(xml), &lim, &msg, &err),
	                 WSG_OK);
	sec = find(msg.header->children, WSG_NS_WSSE, "Security");
	assert_non_null(sec);
	rc = wsg_dsig_prepare(&st, conf, &msg, sec, (int64_t)time(NULL), &err);
	for (n = sec->children; rc == WSG_OK && n != NULL; n = n->next)
		if (wsg_soap_is_element(n, WSG_NS_DS, "Signature"))
			rc = wsg_dsig_verify(&st, n, &err);
	if (rc == WSG_OK)
		rc = wsg_dsig_finish(&st, &err);
	if (parts != NULL)
		*parts = st.signed_parts;
	if (rc == WSG_OK && st.n_signatures > 0)
		assert_non_null(st.signer);
	wsg_dsig_state_clear(&st);
	wsg_soap_msg_free(&msg);
	return rc == WSG_OK ? WSG_FAULT_NONE : err.fault;
}

static void
test_signed_message_verifies(void **state)
{
	struct wsg_dsig_conf *c = conf_new(1);
	unsigned parts = 0;

	(void)state;
	assert_int_equal(run(signed_xml, c, &parts), WSG_FAULT_NONE);
	assert_int_equal(parts, WSG_DSIG_PART_BODY | WSG_DSIG_PART_TIMESTAMP);
	wsg_dsig_conf_free(c);
}

static void
test_modified_body_fails_check(void **state)
{
	struct wsg_dsig_conf *c = conf_new(1);
	char *x = edit(signed_xml, "pay 10", "pay 99");

	(void)state;
	assert_int_equal(run(x, c, NULL), WSG_FAULT_FAILED_CHECK);
	free(x);
	wsg_dsig_conf_free(c);
}

/* XSW 1: the signed Body in a header block, a fake Body in its place. */
static void
test_body_moved_into_header(void **state)
{
	struct wsg_dsig_conf *c = conf_new(1);
	char *body = cut(signed_xml, "<soap:Body", "</soap:Body>");
	char *wrapped = wsg_mem_printf("<x:W xmlns:x=\"urn:x\">%s</x:W>"
	                               "</soap:Header>",
	                               body);
	char *a = edit(signed_xml, body,
	               "<soap:Body><m:Op xmlns:m=\"urn:example\"><m:v>pay "
	               "1000</m:v></m:Op></soap:Body>");
	char *b = edit(a, "</soap:Header>", wrapped);

	(void)state;
	assert_int_equal(run(b, c, NULL), WSG_FAULT_INVALID_SECURITY);
	free(body);
	free(wrapped);
	free(a);
	free(b);
	wsg_dsig_conf_free(c);
}

/* XSW 2: a second element with the Body's Id (wsu:Id, Id or xml:id). */
static void
test_duplicate_ids(void **state)
{
	static const char *const dups[] = {
	        "<m:v>pay 10</m:v><m:d wsu:Id=\"Body-1\"/>",
	        "<m:v>pay 10</m:v><m:d Id=\"Body-1\"/>",
	        "<m:v>pay 10</m:v><m:d xml:id=\"TS-1\"/>",
	        "<m:v>pay 10</m:v><m:d xmlns:o=\"urn:o\" o:Id=\"X509-1\"/>",
	};
	struct wsg_dsig_conf *c = conf_new(1);
	size_t i;
	char *x;

	(void)state;
	for (i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
		x = edit(signed_xml, "<m:v>pay 10</m:v>", dups[i]);
		assert_int_equal(run(x, c, NULL), WSG_FAULT_INVALID_SECURITY);
		free(x);
	}
	wsg_dsig_conf_free(c);
}

/* XSW 3: the signed Timestamp out of the processed Security header. */
static void
test_timestamp_moved(void **state)
{
	struct wsg_dsig_conf *c = conf_new(1);
	char *ts = cut(signed_xml, "<wsu:Timestamp", "</wsu:Timestamp>");
	char *moved = wsg_mem_printf("<x:W xmlns:x=\"urn:x\">%s</x:W>"
	                             "</soap:Header>",
	                             ts);
	char *a = edit(signed_xml, ts, "");
	char *b = edit(a, "</soap:Header>", moved);

	(void)state;
	assert_int_equal(run(b, c, NULL), WSG_FAULT_INVALID_SECURITY);
	free(ts);
	free(moved);
	free(a);
	free(b);
	wsg_dsig_conf_free(c);
}

/* XSW 4: the element the Id names is a Body in another namespace. */
static void
test_body_other_namespace(void **state)
{
	struct wsg_dsig_conf *c = conf_new(1);
	char *a =
	        edit(signed_xml, "<soap:Body wsu:Id=\"Body-1\">",
	             "<soap:Body><e:Body xmlns:e=\"urn:e\" wsu:Id=\"Body-1\">");
	char *b = edit(a, "</soap:Body>", "</e:Body></soap:Body>");

	(void)state;
	assert_int_equal(run(b, c, NULL), WSG_FAULT_INVALID_SECURITY);
	free(a);
	free(b);
	wsg_dsig_conf_free(c);
}

/* The STR must name a BST of the processed header, nothing else. */
static void
test_str_resolution(void **state)
{
	struct wsg_dsig_conf *c = conf_new(1);
	char *bst = cut(signed_xml, "<wsse:BinarySecurityToken",
	                "</wsse:BinarySecurityToken>");
	char *moved = wsg_mem_printf("<x:W xmlns:x=\"urn:x\">%s</x:W>"
	                             "</soap:Header>",
	                             bst);
	char *a = edit(signed_xml, bst, "");
	char *b = edit(a, "</soap:Header>", moved);
	char *d = edit(signed_xml, "<wsse:Reference URI=\"#X509-1\"",
	               "<wsse:Reference URI=\"#Body-1\"");
	char *e = edit(signed_xml, "<wsse:Reference URI=\"#X509-1\"",
	               "<wsse:Reference URI=\"http://x/cert\"");
	char *f = edit(signed_xml, "<wsse:Reference URI=\"#X509-1\"",
	               "<wsse:KeyIdentifier ValueType=\"urn:other\">AAAA"
	               "</wsse:KeyIdentifier><wsse:Reference URI=\"#X509-1\"");

	(void)state;
	assert_int_equal(run(b, c, NULL), WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE);
	assert_int_equal(run(d, c, NULL), WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE);
	assert_int_equal(run(e, c, NULL), WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE);
	/* The Reference is tried first, as WSS4J does. */
	assert_int_equal(run(f, c, NULL), WSG_FAULT_NONE);
	free(bst);
	free(moved);
	free(a);
	free(b);
	free(d);
	free(e);
	free(f);
	wsg_dsig_conf_free(c);
}

static void
test_caps_and_algorithms(void **state)
{
	struct wsg_dsig_conf *c = conf_new(1);

	(void)state;
	c->max_references = 1;
	assert_int_equal(run(signed_xml, c, NULL), WSG_FAULT_INVALID_SECURITY);
	c->max_references = 8;
	c->algorithms = WSG_DSIG_ALG_ECDSA_SHA256;
	assert_int_equal(run(signed_xml, c, NULL), WSG_FAULT_INVALID_SECURITY);
	c->algorithms = WSG_DSIG_ALG_RSA_SHA256;
	c->max_chain_depth = 0;
	assert_int_equal(run(signed_xml, c, NULL), WSG_FAULT_NONE);
	wsg_dsig_conf_free(c);
}

static void
test_required_parts(void **state)
{
	struct wsg_dsig_conf *c = conf_new(1);
	struct wsg_dsig_conf *optional = conf_new(0);
	char *unsigned_msg = edit(signed_xml, "<ds:Signature>", "<ds:Gone>");
	char *x = edit(unsigned_msg, "</ds:Signature>", "</ds:Gone>");

	(void)state;
	assert_int_equal(run(x, c, NULL), WSG_FAULT_INVALID_SECURITY);
	assert_int_equal(run(x, optional, NULL), WSG_FAULT_NONE);
	c->parts |= WSG_DSIG_PART_USERNAME_TOKEN;
	assert_int_equal(run(signed_xml, c, NULL), WSG_FAULT_INVALID_SECURITY);
	free(unsigned_msg);
	free(x);
	wsg_dsig_conf_free(c);
	wsg_dsig_conf_free(optional);
}

/* Exclusive C14N with an InclusiveNamespaces PrefixList, as WSS4J writes
 * it; more transforms than max_transforms are refused before any crypto. */
static void
test_transforms(void **state)
{
	static const char plain[] =
	        "<ds:Transform Algorithm=\"" ALG_C14N "\"/>";
	static const char prefixes[] =
	        "<ds:Transform Algorithm=\"" ALG_C14N
	        "\"><ec:InclusiveNamespaces "
	        "xmlns:ec=\"" ALG_C14N
	        "\" PrefixList=\"soap m\"/></ds:Transform>";
	struct wsg_dsig_conf *c = conf_new(1);
	char *xml = sign_template(plain, prefixes);
	char *three = wsg_mem_printf("%s%s%s", plain, plain, plain);
	char *over = edit(signed_xml, plain, three);

	(void)state;
	assert_non_null(strstr(xml, "PrefixList"));
	assert_int_equal(run(xml, c, NULL), WSG_FAULT_NONE);
	assert_int_equal(run(over, c, NULL), WSG_FAULT_INVALID_SECURITY);
	free(xml);
	free(three);
	free(over);
	wsg_dsig_conf_free(c);
}

static void
test_names(void **state)
{
	(void)state;
	assert_int_equal(wsg_dsig_alg_from_name("rsa-sha256"),
	                 WSG_DSIG_ALG_RSA_SHA256);
	assert_int_equal(wsg_dsig_alg_from_name("RSA-SHA256"), 0);
	assert_int_equal(wsg_dsig_part_from_name("UsernameToken"),
	                 WSG_DSIG_PART_USERNAME_TOKEN);
	assert_int_equal(wsg_dsig_part_from_name("body"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_signed_message_verifies),
	        cmocka_unit_test(test_modified_body_fails_check),
	        cmocka_unit_test(test_body_moved_into_header),
	        cmocka_unit_test(test_duplicate_ids),
	        cmocka_unit_test(test_timestamp_moved),
	        cmocka_unit_test(test_body_other_namespace),
	        cmocka_unit_test(test_str_resolution),
	        cmocka_unit_test(test_caps_and_algorithms),
	        cmocka_unit_test(test_required_parts),
	        cmocka_unit_test(test_transforms),
	        cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
