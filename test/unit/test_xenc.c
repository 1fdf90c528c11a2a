/*
 * xenc.c: the decrypt block's key loading, and messages encrypted here by
 * xmlsec1 (the Body content, AES-CBC / GCM) with the key wrapped by
 * OpenSSL's RSA-OAEP (or RSA-1.5) for a certificate made at test time:
 * accepted and decrypted in place, or refused with the one FailedCheck.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmlenc.h>
#include <xmlsec/xmlsec.h>

#include "err.h"
#include "mem.h"
#include "soap.h"
#include "wsse.h"
#include "xenc.h"

#define DSIG "http://www.w3.org/2000/09/xmldsig#"
#define X509_PROFILE                                                           \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-x509-token-profile-1.0"

/* The gateway's key and certificate, another pair, and their files. */
static struct {
	char dir[64];
	char key[128], cert[128], other_cert[128], ec_key[128];
	EVP_PKEY *k, *other;
	X509 *c, *oc;
} pki;

static const struct wsg_soap_limits limits = {100,    500, 65536,
                                              100000, 100, 200000};

static X509 *
self_signed(EVP_PKEY *key, const char *cn, long serial)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                           (const unsigned char *)"wssgate tests", -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	return x;
}

static void
write_pem(const char *path, EVP_PKEY *key, X509 *cert, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (key != NULL)
		PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else
		PEM_write_X509(f, cert);
	fclose(f);
	chmod(path, mode);
}

static int
setup(void **state)
{
	EVP_PKEY *ec;

	(void)state;
	snprintf(pki.dir, sizeof(pki.dir), "/tmp/wsg-xenc-XXXXXX");
	assert_non_null(mkdtemp(pki.dir));
	snprintf(pki.key, sizeof(pki.key), "%s/gw-key.pem", pki.dir);
	snprintf(pki.cert, sizeof(pki.cert), "%s/gw-cert.pem", pki.dir);
	snprintf(pki.other_cert, sizeof(pki.other_cert), "%s/other.pem",
	         pki.dir);
	snprintf(pki.ec_key, sizeof(pki.ec_key), "%s/ec-key.pem", pki.dir);
	pki.k = EVP_RSA_gen(2048);
	pki.other = EVP_RSA_gen(2048);
	ec = EVP_EC_gen("P-256");
	pki.c = self_signed(pki.k, "gateway", 4660);
	pki.oc = self_signed(pki.other, "other", 4661);
	write_pem(pki.key, pki.k, NULL, 0600);
	write_pem(pki.cert, NULL, pki.c, 0644);
	write_pem(pki.other_cert, NULL, pki.oc, 0644);
	write_pem(pki.ec_key, ec, NULL, 0600);
	EVP_PKEY_free(ec);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(pki.key);
	unlink(pki.cert);
	unlink(pki.other_cert);
	unlink(pki.ec_key);
	rmdir(pki.dir);
	EVP_PKEY_free(pki.k);
	EVP_PKEY_free(pki.other);
	X509_free(pki.c);
	X509_free(pki.oc);
	return 0;
}

static struct wsg_xenc_conf *
load(const char *key, const char *cert, int require, int max_keys,
     int max_blocks, int expect)
{
	struct wsg_xenc_settings s = {(char *)key, (char *)cert, require,
	                              max_keys, max_blocks};
	struct wsg_xenc_conf *c = NULL;
	struct wsg_error err;

	wsg_error_clear(&err);
	assert_int_equal(wsg_xenc_conf_load(&s, &c, &err), expect);
	if (expect != WSG_OK)
		assert_null(c);
	return c;
}

static void
test_conf_load(void **state)
{
	struct wsg_xenc_settings s = {pki.key, pki.other_cert, 0, 4, 16};
	struct wsg_xenc_conf *c = NULL;
	struct wsg_error err;

	(void)state;
	wsg_xenc_conf_free(load(pki.key, pki.cert, 0, 4, 16, WSG_OK));
	assert_int_equal(wsg_xenc_conf_load(&s, &c, &err), WSG_ERR_CONFIG);
	assert_non_null(strstr(err.reason, "is not the certificate of key"));
	load(pki.ec_key, pki.cert, 0, 4, 16, WSG_ERR_CONFIG);
	load(pki.cert, pki.cert, 0, 4, 16, WSG_ERR_PERM);
	chmod(pki.key, 0644);
	load(pki.key, pki.cert, 0, 4, 16, WSG_ERR_PERM);
	chmod(pki.key, 0640);
	load(pki.key, pki.cert, 0, 4, 16, WSG_ERR_PERM);
	chmod(pki.key, 0600);
	load("/nonexistent/key.pem", pki.cert, 0, 4, 16, WSG_ERR_IO);
}

/* ---- messages ---- */

enum ident { ID_ISSUER_SERIAL, ID_THUMBPRINT, ID_SKI_NONE, ID_NONE };

/* How one test message is made. */
struct recipe {
	const char *name;
	xmlSecTransformId (*alg)(void);
	size_t key_len;
	const char *transport; /* EncryptionMethod Algorithm of the key */
	const char *digest;    /* DigestMethod, NULL for none */
	const char *mgf;       /* xenc11 MGF, NULL for none */
	enum ident ident;
	X509 **named;     /* the certificate the key identifier names */
	EVP_PKEY **wrap;  /* the key the session key is wrapped for */
	const char *body; /* the Body's content */
	int flip;         /* 1: flip a ciphertext byte; 2: cut 16 bytes */
	const char *refs; /* the ReferenceList's content; NULL: #ED-1 */
	const char *more_header; /* text before the Security header's end */
};

static char *
b64(const unsigned char *p, size_t n)
{
	char *out = wsg_mem_alloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static char *
key_identifier(const struct recipe *r)
{
	X509 *c = *r->named;
	unsigned char md[20];
	char *issuer, *v, *s;
	BIO *b;
	long len;
	char *p;

	switch (r->ident) {
	case ID_ISSUER_SERIAL:
		b = BIO_new(BIO_s_mem());
		/* As .NET writes it: a space after each comma. */
		X509_NAME_print_ex(b, X509_get_issuer_name(c), 0,
		                   XN_FLAG_SEP_COMMA_PLUS | XN_FLAG_DN_REV);
		len = BIO_get_mem_data(b, &p);
		issuer = wsg_mem_strndup(p, (size_t)len);
		BIO_free(b);
		s = wsg_mem_printf(
		        "<ds:X509Data><ds:X509IssuerSerial><ds:X509IssuerName>%"
		        "s"
		        "</ds:X509IssuerName><ds:X509SerialNumber>%ld"
		        "</ds:X509SerialNumber></ds:X509IssuerSerial>"
		        "</ds:X509Data>",
		        issuer, ASN1_INTEGER_get(X509_get0_serialNumber(c)));
		free(issuer);
		return s;
	case ID_THUMBPRINT:
		X509_digest(c, EVP_sha1(), md, NULL);
		v = b64(md, sizeof(md));
		s = wsg_mem_printf(
		        "<wsse:KeyIdentifier "
		        "ValueType=\"http://docs.oasis-open."
		        "org/wss/oasis-wss-soap-message-security-1.1#"
		        "ThumbprintSHA1\">%s</wsse:KeyIdentifier>",
		        v);
		free(v);
		return s;
	case ID_SKI_NONE:
		/* No SKI extension: SHA-1 of the public key bits. */
		X509_pubkey_digest(c, EVP_sha1(), md, NULL);
		v = b64(md, sizeof(md));
		s = wsg_mem_printf(
		        "<wsse:KeyIdentifier ValueType=\"" X509_PROFILE
		        "#X509SubjectKeyIdentifier\">%s"
		        "</wsse:KeyIdentifier>",
		        v);
		free(v);
		return s;
	case ID_NONE: break;
	}
	return wsg_mem_strdup("");
}

static char *
wrap_key(const struct recipe *r, const unsigned char *key)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(*r->wrap, NULL);
	unsigned char out[512];
	size_t len = sizeof(out);
	int oaep = strstr(r->transport, "oaep") != NULL;

	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	assert_int_equal(
	        EVP_PKEY_CTX_set_rsa_padding(ctx, oaep ? RSA_PKCS1_OAEP_PADDING
	                                               : RSA_PKCS1_PADDING),
	        1);
	/* Both set: OpenSSL's MGF1 digest follows the OAEP one otherwise. */
	if (oaep) {
		EVP_PKEY_CTX_set_rsa_oaep_md(
		        ctx, r->digest != NULL && strstr(r->digest, "sha256")
		                     ? EVP_sha256()
		                     : EVP_sha1());
		EVP_PKEY_CTX_set_rsa_mgf1_md(
		        ctx, r->mgf != NULL && strstr(r->mgf, "sha256")
		                     ? EVP_sha256()
		                     : EVP_sha1());
	}
	assert_int_equal(EVP_PKEY_encrypt(ctx, out, &len, key, r->key_len), 1);
	EVP_PKEY_CTX_free(ctx);
	return b64(out, len);
}

/* The Body's CipherValue with a byte flipped or 16 bytes cut. */
static void
tamper(xmlNodePtr ed, int how)
{
	xmlNodePtr cv = xmlFirstElementChild(xmlLastElementChild(ed));
	xmlChar *text = xmlNodeGetContent(cv);
	unsigned char *raw = NULL;
	size_t n = 0;
	char *again;

	assert_int_equal(wsg_wsse_base64_decode((const char *)text,
	                                        strlen((char *)text), &raw, &n),
	                 WSG_OK);
	if (how == 1)
		raw[n / 2] ^= 0x01;
	else
		n -= 16;
	again = b64(raw, n);
	xmlNodeSetContent(cv, BAD_CAST again);
	free(again);
	free(raw);
	xmlFree(text);
}

/* The envelope `r` describes, encrypted by xmlsec1; caller frees. */
static char *
make(const struct recipe *r)
{
	unsigned char key[32];
	char *env, *ek, *ident, *wrapped, *out, *at;
	xmlDocPtr doc;
	xmlNodePtr body, tmpl;
	xmlSecEncCtxPtr ctx;
	xmlChar *text;
	int len;

	env = wsg_mem_printf(
	        "<soap:Envelope xmlns:soap=\"" WSG_NS_SOAP11
	        "\" xmlns:e=\"urn:e\"><soap:Header><wsse:Security "
	        "xmlns:wsse=\"" WSG_NS_WSSE "\" xmlns:wsu=\"" WSG_NS_WSU
	        "\"><wsse:UsernameToken wsu:Id=\"UT-1\"><wsse:Username>alice"
	        "</wsse:Username></wsse:UsernameToken>%s</wsse:Security>"
	        "</soap:Header><soap:Body>%s</soap:Body></soap:Envelope>",
	        r->more_header != NULL ? r->more_header : "", r->body);
	doc = xmlReadMemory(env, (int)strlen(env), NULL, NULL, 0);
	assert_non_null(doc);
	free(env);
	body = xmlLastElementChild(xmlDocGetRootElement(doc));
	assert_int_equal(RAND_bytes(key, (int)r->key_len), 1);
	tmpl = xmlSecTmplEncDataCreate(doc, r->alg(), BAD_CAST "ED-1",
	                               xmlSecTypeEncContent, NULL, NULL);
	assert_non_null(xmlSecTmplEncDataEnsureCipherValue(tmpl));
	ctx = xmlSecEncCtxCreate(NULL);
	ctx->encKey = xmlSecKeyReadMemory(xmlSecKeyDataAesId, key,
	                                  (xmlSecSize)r->key_len);
	assert_int_equal(xmlSecEncCtxXmlEncrypt(ctx, tmpl, body), 0);
	xmlSecEncCtxDestroy(ctx);
	if (r->flip)
		tamper(xmlFirstElementChild(body), r->flip);
	xmlDocDumpMemory(doc, &text, &len);
	xmlFreeDoc(doc);

	ident = key_identifier(r);
	wrapped = wrap_key(r, key);
	ek = wsg_mem_printf(
	        "<xenc:EncryptedKey xmlns:xenc=\"" WSG_NS_XENC
	        "\" xmlns:xenc11=\"" WSG_NS_XENC11 "\" xmlns:ds=\"" DSIG
	        "\" Id=\"EK-1\"><xenc:EncryptionMethod "
	        "Algorithm=\"%s\">%s%s%s%s%s"
	        "</"
	        "xenc:EncryptionMethod><ds:KeyInfo><wsse:"
	        "SecurityTokenReference>"
	        "%s</wsse:SecurityTokenReference></ds:KeyInfo><xenc:CipherData>"
	        "<xenc:CipherValue>%s</xenc:CipherValue></xenc:CipherData>"
	        "<xenc:ReferenceList>%s</xenc:ReferenceList>"
	        "</xenc:EncryptedKey>",
	        r->transport,
	        r->digest != NULL ? "<ds:DigestMethod Algorithm=\"" : "",
	        r->digest != NULL ? r->digest : "",
	        r->digest != NULL ? "\"/>" : "",
	        r->mgf != NULL ? "<xenc11:MGF Algorithm=\"" : "",
	        r->mgf != NULL ? r->mgf : "", ident, wrapped,
	        r->refs != NULL ? r->refs
	                        : "<xenc:DataReference URI=\"#ED-1\"/>");
	/* MGF256 closes its element itself. */
	at = strstr((char *)text, "<wsse:UsernameToken");
	assert_non_null(at);
	out = wsg_mem_printf("%.*s%s%s", (int)(at - (char *)text), (char *)text,
	                     ek, at);
	free(ek);
	free(ident);
	free(wrapped);
	xmlFree(text);
	OPENSSL_cleanse(key, sizeof(key));
	return out;
}

/* Parses `text` and decrypts it with `c`; the result, `m` filled. */
static int
run(const struct wsg_xenc_conf *c, const char *text, struct wsg_soap_msg *m,
    struct wsg_error *err)
{
	xmlNodePtr sec = NULL;

	memset(m, 0, sizeof(*m));
	wsg_error_clear(err);
	assert_int_equal(wsg_soap_parse(text, strlen(text), NULL, m, err),
	                 WSG_OK);
	/* A message without the header is the parser's to refuse. */
	if (wsg_wsse_find_security(m, &sec, err) != WSG_OK)
		sec = NULL;
	wsg_error_clear(err);
	return wsg_xenc_process(c, m, sec, &limits, NULL, NULL, err);
}

#define AES128CBC xmlSecOpenSSLTransformAes128CbcGetKlass, 16
#define AES256CBC xmlSecOpenSSLTransformAes256CbcGetKlass, 32
#define AES128GCM xmlSecOpenSSLTransformAes128GcmGetKlass, 16
#define AES256GCM xmlSecOpenSSLTransformAes256GcmGetKlass, 32
#define MGF1P WSG_NS_XENC "rsa-oaep-mgf1p"
#define OAEP11 WSG_NS_XENC11 "rsa-oaep"
#define SHA1 DSIG "sha1"
#define SHA256 WSG_NS_XENC "sha256"
#define MGF256 WSG_NS_XENC11 "mgf1sha256\"/>"
#define ECHO "<e:Echo><e:m>hi &amp; more</e:m></e:Echo>"

static const struct recipe good[] = {
        {"cbc128-sha1-issuer", AES128CBC, MGF1P, NULL, NULL, ID_ISSUER_SERIAL,
         &pki.c, &pki.k, ECHO, 0, NULL, NULL},
        {"cbc256-sha256-thumb", AES256CBC, MGF1P, SHA256, NULL, ID_THUMBPRINT,
         &pki.c, &pki.k, ECHO, 0, NULL, NULL},
        {"gcm128-sha1-ski", AES128GCM, MGF1P, SHA1, NULL, ID_SKI_NONE, &pki.c,
         &pki.k, ECHO, 0, NULL, NULL},
        {"gcm256-xenc11-mgf256", AES256GCM, OAEP11, SHA256, MGF256,
         ID_ISSUER_SERIAL, &pki.c, &pki.k, ECHO, 0, NULL, NULL},
};

static void
test_good_messages(void **state)
{
	struct wsg_xenc_conf *c = load(pki.key, pki.cert, 0, 4, 16, WSG_OK);
	struct wsg_soap_msg m;
	struct wsg_error err;
	xmlNodePtr echo;
	char *text, *out;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		text = make(&good[i]);
		assert_null(strstr(text, "hi &amp;"));
		if (run(c, text, &m, &err) != WSG_OK)
			fail_msg("%s: %s", good[i].name, err.reason);
		assert_true(m.rewritten);
		/* The prefix e is declared on the Envelope only. */
		echo = xmlFirstElementChild(m.body);
		assert_true(wsg_soap_is_element(echo, "urn:e", "Echo"));
		assert_null(xmlNextElementSibling(echo));
		assert_int_equal(wsg_soap_serialize(&m, &out, &len), WSG_OK);
		assert_non_null(strstr(out, "<soap:Body>" ECHO "</soap:Body>"));
		assert_null(strstr(out, "EncryptedData"));
		free(out);
		wsg_soap_msg_free(&m);
		free(text);
	}
	wsg_xenc_conf_free(c);
}

#define DUP_ID "<soap:Dup xmlns:soap=\"" WSG_NS_SOAP11 "\" Id=\"ED-1\"/>"

static const struct recipe bad[] = {
        {"rsa-1_5", AES128CBC, WSG_NS_XENC "rsa-1_5", NULL, NULL,
         ID_ISSUER_SERIAL, &pki.c, &pki.k, ECHO, 0, NULL, NULL},
        {"names-other-cert", AES128GCM, MGF1P, NULL, NULL, ID_THUMBPRINT,
         &pki.oc, &pki.other, ECHO, 0, NULL, NULL},
        {"wrapped-for-other", AES128GCM, MGF1P, NULL, NULL, ID_THUMBPRINT,
         &pki.c, &pki.other, ECHO, 0, NULL, NULL},
        {"mgf-on-mgf1p", AES128GCM, MGF1P, SHA1, MGF256, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO, 0, NULL, NULL},
        {"digest-md5", AES128GCM, MGF1P, DSIG "md5", NULL, ID_THUMBPRINT,
         &pki.c, &pki.k, ECHO, 0, NULL, NULL},
        {"no-identifier", AES128GCM, MGF1P, NULL, NULL, ID_NONE, &pki.c, &pki.k,
         ECHO, 0, NULL, NULL},
        {"cbc-flipped", AES128CBC, MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO, 1, NULL, NULL},
        {"gcm-flipped", AES256GCM, MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO, 1, NULL, NULL},
        {"cbc-truncated", AES256CBC, MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO, 2, NULL, NULL},
        {"gcm-truncated", AES128GCM, MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO, 2, NULL, NULL},
        {"aes192-not-allowed", xmlSecOpenSSLTransformAes192CbcGetKlass, 24,
         MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c, &pki.k, ECHO, 0, NULL, NULL},
        {"pi-in-plaintext", AES128GCM, MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO "<?evil x?>", 0, NULL, NULL},
        {"text-in-body", AES128GCM, MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO "stray", 0, NULL, NULL},
        {"ref-not-encrypted-data", AES128GCM, MGF1P, NULL, NULL, ID_THUMBPRINT,
         &pki.c, &pki.k, ECHO, 0, "<xenc:DataReference URI=\"#UT-1\"/>", NULL},
        {"ref-external", AES128GCM, MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO, 0,
         "<xenc:DataReference URI=\"http://example.com/x#ED-1\"/>", NULL},
        {"duplicate-id", AES128GCM, MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO, 0, NULL, DUP_ID},
        {"too-many-blocks", AES128GCM, MGF1P, NULL, NULL, ID_THUMBPRINT, &pki.c,
         &pki.k, ECHO, 0,
         "<xenc:DataReference URI=\"#ED-1\"/>"
         "<xenc:DataReference URI=\"#ED-1\"/>"
         "<xenc:DataReference URI=\"#ED-1\"/>",
         NULL},
};

static void
test_bad_messages(void **state)
{
	struct wsg_xenc_conf *c = load(pki.key, pki.cert, 0, 4, 1, WSG_OK);
	struct wsg_soap_msg m;
	struct wsg_error err;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = make(&bad[i]);
		if (run(c, text, &m, &err) != WSG_ERR_SECURITY ||
		    err.fault != WSG_FAULT_FAILED_CHECK)
			fail_msg("%s: accepted or wrong fault (%s)",
			         bad[i].name, err.reason);
		print_message("# %-24s %s\n", bad[i].name, err.reason);
		wsg_soap_msg_free(&m);
		free(text);
	}
	wsg_xenc_conf_free(c);
}

static void
test_without_decrypt_block(void **state)
{
	struct wsg_soap_msg m;
	struct wsg_error err;
	char *text = make(&good[0]);

	(void)state;
	assert_int_equal(run(NULL, text, &m, &err), WSG_ERR_SECURITY);
	assert_int_equal(err.fault, WSG_FAULT_INVALID_SECURITY);
	assert_false(m.rewritten);
	wsg_soap_msg_free(&m);
	free(text);
}

/* Plain messages: fine without `require`, refused with it; an
 * EncryptedData no key opens is refused. */
static void
test_require_and_leftovers(void **state)
{
	static const char plain[] =
	        "<soap:Envelope xmlns:soap=\"" WSG_NS_SOAP11 "\"><soap:Body>"
	        "<e:Echo xmlns:e=\"urn:e\"/></soap:Body></soap:Envelope>";
	struct wsg_xenc_conf *c = load(pki.key, pki.cert, 0, 4, 16, WSG_OK);
	struct wsg_xenc_conf *req = load(pki.key, pki.cert, 1, 4, 16, WSG_OK);
	struct wsg_soap_msg m;
	struct wsg_error err;
	char *text, *orphan;

	(void)state;
	assert_int_equal(run(NULL, plain, &m, &err), WSG_OK);
	wsg_soap_msg_free(&m);
	assert_int_equal(run(c, plain, &m, &err), WSG_OK);
	wsg_soap_msg_free(&m);
	assert_int_equal(run(req, plain, &m, &err), WSG_ERR_SECURITY);
	assert_int_equal(err.fault, WSG_FAULT_INVALID_SECURITY);
	wsg_soap_msg_free(&m);
	text = make(&good[1]);
	assert_int_equal(run(req, text, &m, &err), WSG_OK);
	wsg_soap_msg_free(&m);
	/* The same message without its EncryptedKey. */
	orphan = wsg_mem_strdup(text);
	memcpy(strstr(orphan, "<xenc:EncryptedKey"), "<xenc:EncryptedKex", 18);
	memcpy(strstr(orphan, "</xenc:EncryptedKey"), "</xenc:EncryptedKex",
	       19);
	assert_int_equal(run(c, orphan, &m, &err), WSG_ERR_SECURITY);
	assert_int_equal(err.fault, WSG_FAULT_INVALID_SECURITY);
	wsg_soap_msg_free(&m);
	free(orphan);
	free(text);
	wsg_xenc_conf_free(c);
	wsg_xenc_conf_free(req);
}

/* Two EncryptedKeys where one is allowed. */
static void
test_key_cap(void **state)
{
	struct wsg_xenc_conf *c = load(pki.key, pki.cert, 0, 1, 16, WSG_OK);
	struct wsg_soap_msg m;
	struct wsg_error err;
	char *text = make(&good[0]), *ek, *end, *two;

	(void)state;
	ek = strstr(text, "<xenc:EncryptedKey");
	end = strstr(ek, "</xenc:EncryptedKey>") + 20;
	two = wsg_mem_printf("%.*s%.*s%s", (int)(end - text), text,
	                     (int)(end - ek), ek, end);
	assert_int_equal(run(c, two, &m, &err), WSG_ERR_SECURITY);
	assert_int_equal(err.fault, WSG_FAULT_FAILED_CHECK);
	assert_non_null(strstr(err.reason, "too many EncryptedKey"));
	wsg_soap_msg_free(&m);
	free(two);
	free(text);
	wsg_xenc_conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_conf_load),
	        cmocka_unit_test(test_good_messages),
	        cmocka_unit_test(test_bad_messages),
	        cmocka_unit_test(test_without_decrypt_block),
	        cmocka_unit_test(test_require_and_leftovers),
	        cmocka_unit_test(test_key_cap),
	};
	int rc;

	wsg_soap_global_init();
	/* As src/main.c does once per process (xmlsec1 keeps global state). */
	xmlSecErrorsDefaultCallbackEnableOutput(0);
	if (xmlSecInit() < 0 || xmlSecCryptoAppInit(NULL) < 0 ||
	    xmlSecCryptoInit() < 0)
		return 1;
	rc = cmocka_run_group_tests_name("xenc", tests, setup, teardown);
	xmlSecCryptoShutdown();
	xmlSecCryptoAppShutdown();
	xmlSecShutdown();
	return rc;
}
