#include "dsig.h"

#include <dirent.h>
#include <libxml/hash.h>
#include <libxml/valid.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "certid.h"
#include "err.h"
#include "mem.h"
#include "soap.h"
#include "wsse.h"

#define ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
/* BSP allows it as a reference transform (node-soap sends it first): it
 * removes only the ds:Signature holding it, which no part it may cover
 * (Body, Timestamp, UsernameToken) contains. */
#define ALG_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define NS_XML "http://www.w3.org/XML/1998/namespace"
#define WSSE_X509V3                                                            \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-x509-token-profile-1.0#X509v3"
#define WSSE_SKI                                                               \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
#define WSSE_THUMBPRINT                                                        \
	"http://docs.oasis-open.org/wss/"                                      \
	"oasis-wss-soap-message-security-1.1#ThumbprintSHA1"

#define MAX_ID_LEN 256        /* bytes of a referenced Id */
#define MAX_REFS_HARD 64      /* what the config may allow at most */
#define MAX_KNOWN_CERTS 10000 /* certificates read from `certs` */
#define CERT_CACHE_SLOTS 256  /* decoded certificates kept, direct-mapped */

static const struct {
	const char *name;
	unsigned bit;
} alg_names[] = {
        {"rsa-sha1", WSG_DSIG_ALG_RSA_SHA1},
        {"rsa-sha256", WSG_DSIG_ALG_RSA_SHA256},
        {"rsa-sha384", WSG_DSIG_ALG_RSA_SHA384},
        {"rsa-sha512", WSG_DSIG_ALG_RSA_SHA512},
        {"ecdsa-sha256", WSG_DSIG_ALG_ECDSA_SHA256},
        {"ecdsa-sha384", WSG_DSIG_ALG_ECDSA_SHA384},
        {"ecdsa-sha512", WSG_DSIG_ALG_ECDSA_SHA512},
};

/* What one ds:Reference points at, as the pre-check resolved it. */
struct ref_target {
	xmlChar *uri;
	xmlNodePtr node;
};

/* xmlsec1 prints every failure on stderr by default; reasons go to the
 * audit log instead, from our own checks and the verdict. */
static void
quiet_errors_cb(const char *file, int line, const char *func,
                const char *errorObject, const char *errorSubject, int reason,
                const char *msg)
{
	(void)file;
	(void)line;
	(void)func;
	(void)errorObject;
	(void)errorSubject;
	(void)reason;
	(void)msg;
}

static int global_done;

int
wsg_dsig_global_init(void)
{
	if (global_done)
		return WSG_OK;
	if (xmlSecInit() < 0)
		return WSG_ERR_CRYPTO;
	if (xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0 ||
	    xmlSecCryptoInit() < 0) {
		xmlSecShutdown();
		return WSG_ERR_CRYPTO;
	}
	xmlSecErrorsSetCallback(quiet_errors_cb);
	global_done = 1;
	return WSG_OK;
}

void
wsg_dsig_global_cleanup(void)
{
	if (!global_done)
		return;
	global_done = 0;
	xmlSecCryptoShutdown();
	xmlSecCryptoAppShutdown();
	xmlSecShutdown();
}

unsigned
wsg_dsig_alg_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
		if (strcmp(alg_names[i].name, name) == 0)
			return alg_names[i].bit;
	return 0;
}

unsigned
wsg_dsig_part_from_name(const char *name)
{
	if (strcmp(name, "Body") == 0)
		return WSG_DSIG_PART_BODY;
	if (strcmp(name, "Timestamp") == 0)
		return WSG_DSIG_PART_TIMESTAMP;
	if (strcmp(name, "UsernameToken") == 0)
		return WSG_DSIG_PART_USERNAME_TOKEN;
	return 0;
}

/* ---- configuration ---- */

static int
add_known_file(STACK_OF(X509) * known, const char *path, struct wsg_error *err)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x;
	int n = 0;

	if (b == NULL)
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "cannot read certificates %s", path);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_num(known) >= MAX_KNOWN_CERTS) {
			X509_free(x);
			BIO_free(b);
			return wsg_error_set(err, WSG_ERR_CONFIG,
			                     WSG_FAULT_NONE,
			                     "more than %d certificates in %s",
			                     MAX_KNOWN_CERTS, path);
		}
		sk_X509_push(known, x);
		n++;
	}
	ERR_clear_error();
	BIO_free(b);
	if (n == 0)
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "no PEM certificate in %s", path);
	return WSG_OK;
}

/* `certs`: one PEM file, or a folder whose *.pem / *.crt files are read. */
static int
load_known(struct wsg_dsig_conf *conf, struct wsg_error *err)
{
	struct dirent *de;
	struct stat sb;
	size_t len;
	char *path;
	DIR *d;
	int rc = WSG_OK;

	conf->known = sk_X509_new_null();
	if (stat(conf->certs, &sb) != 0)
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "cannot read certificates %s",
		                     conf->certs);
	if (!S_ISDIR(sb.st_mode))
		return add_known_file(conf->known, conf->certs, err);
	if ((d = opendir(conf->certs)) == NULL)
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "cannot read folder %s", conf->certs);
	while (rc == WSG_OK && (de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 5 || (strcmp(de->d_name + len - 4, ".pem") != 0 &&
		                strcmp(de->d_name + len - 4, ".crt") != 0))
			continue;
		path = wsg_mem_printf("%s/%s", conf->certs, de->d_name);
		rc = add_known_file(conf->known, path, err);
		free(path);
	}
	closedir(d);
	return rc;
}

/*
 * Decoded certificates by the SHA-256 of their DER, one cache per signature
 * block, shared by its route's workers under a lock: OpenSSL 3's d2i_X509
 * is half the cost of a verification, and a client sends the same
 * certificate every time. Only the decoding is kept; chain, dates, CRL and
 * key usage are checked for every message.
 */
struct wsg_dsig_cert_cache {
	pthread_mutex_t lock;
	struct cert_slot {
		unsigned char der_hash[WSG_DSIG_SHA256_LEN];
		X509 *x;
	} slots[CERT_CACHE_SLOTS];
};

static X509 *
cert_cache_get(struct wsg_dsig_cert_cache *c, const unsigned char *hash)
{
	struct cert_slot *s = &c->slots[hash[0] % CERT_CACHE_SLOTS];
	X509 *x = NULL;

	pthread_mutex_lock(&c->lock);
	if (s->x != NULL &&
	    memcmp(s->der_hash, hash, sizeof(s->der_hash)) == 0) {
		x = s->x;
		X509_up_ref(x);
	}
	pthread_mutex_unlock(&c->lock);
	return x;
}

static void
cert_cache_put(struct wsg_dsig_cert_cache *c, const unsigned char *hash,
               X509 *x)
{
	struct cert_slot *s = &c->slots[hash[0] % CERT_CACHE_SLOTS];
	X509 *old;

	X509_up_ref(x);
	pthread_mutex_lock(&c->lock);
	old = s->x;
	memcpy(s->der_hash, hash, sizeof(s->der_hash));
	s->x = x;
	pthread_mutex_unlock(&c->lock);
	X509_free(old);
}

static void
cert_cache_free(struct wsg_dsig_cert_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < CERT_CACHE_SLOTS; i++)
		X509_free(c->slots[i].x);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int
wsg_dsig_conf_load(struct wsg_dsig_conf *conf, struct wsg_error *err)
{
	X509_LOOKUP *lu;

	conf->cache = wsg_mem_calloc(1, sizeof(*conf->cache));
	pthread_mutex_init(&conf->cache->lock, NULL);
	conf->store = X509_STORE_new();
	if (conf->store == NULL)
		return wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
		                     "out of memory");
	if (X509_STORE_load_file(conf->store, conf->trust) != 1) {
		ERR_clear_error();
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "cannot load trusted CAs from %s",
		                     conf->trust);
	}
	if (conf->crl != NULL) {
		lu = X509_STORE_add_lookup(conf->store, X509_LOOKUP_file());
		if (lu == NULL ||
		    X509_load_crl_file(lu, conf->crl, X509_FILETYPE_PEM) <= 0) {
			ERR_clear_error();
			return wsg_error_set(
			        err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
			        "cannot load a PEM CRL from %s", conf->crl);
		}
		/* The signer's issuer must have a CRL: a missing one is an
		 * error, not a pass. */
		X509_STORE_set_flags(conf->store, X509_V_FLAG_CRL_CHECK);
	}
	if (conf->certs != NULL)
		return load_known(conf, err);
	return WSG_OK;
}

void
wsg_dsig_conf_free(struct wsg_dsig_conf *conf)
{
	if (conf == NULL)
		return;
	free(conf->trust);
	free(conf->crl);
	free(conf->certs);
	X509_STORE_free(conf->store);
	sk_X509_pop_free(conf->known, X509_free);
	cert_cache_free(conf->cache);
	free(conf);
}

/* ---- Ids ---- */

static int
is_id_attr(xmlAttrPtr a)
{
	if (strcmp((const char *)a->name, "Id") == 0)
		return 1;
	return a->ns != NULL && strcmp((const char *)a->name, "id") == 0 &&
	       strcmp((const char *)a->ns->href, NS_XML) == 0;
}

/* Every Id value once in the whole document (XSW variant 2). */
static int
check_unique_ids(xmlDocPtr doc, struct wsg_error *err)
{
	xmlHashTablePtr seen = xmlHashCreate(64);
	xmlNodePtr n = xmlDocGetRootElement(doc);
	xmlAttrPtr a;
	xmlChar *v;
	int rc = WSG_OK;

	while (n != NULL && rc == WSG_OK) {
		if (n->type == XML_ELEMENT_NODE) {
			for (a = n->properties; a != NULL && rc == WSG_OK;
			     a = a->next) {
				if (!is_id_attr(a))
					continue;
				v = xmlNodeListGetString(doc, a->children, 1);
				if (v == NULL ||
				    xmlHashAddEntry(seen, v, n) != 0)
					rc = wsg_error_set(
					        err, WSG_ERR_SECURITY,
					        WSG_FAULT_INVALID_SECURITY,
					        "Id \"%.64s\" appears twice in "
					        "the document",
					        v != NULL ? (const char *)v
					                  : "");
				xmlFree(v);
			}
			if (n->children != NULL) {
				n = n->children;
				continue;
			}
		}
		while (n != NULL && n->next == NULL)
			n = n->parent != (xmlNodePtr)doc ? n->parent : NULL;
		if (n != NULL)
			n = n->next;
	}
	xmlHashFree(seen, NULL);
	return rc;
}

/* Registers `e`'s wsu:Id and unqualified Id as the document's Ids. */
static void
register_ids(xmlDocPtr doc, xmlNodePtr e)
{
	xmlAttrPtr a;
	xmlChar *v;

	for (a = e->properties; a != NULL; a = a->next) {
		if (strcmp((const char *)a->name, "Id") != 0 ||
		    (a->ns != NULL &&
		     strcmp((const char *)a->ns->href, WSG_NS_WSU) != 0))
			continue;
		v = xmlNodeListGetString(doc, a->children, 1);
		if (v != NULL)
			xmlAddID(NULL, doc, v, a);
		xmlFree(v);
	}
}

static int
is_bst(xmlNodePtr n)
{
	return wsg_soap_is_element(n, WSG_NS_WSSE, "BinarySecurityToken");
}

int
wsg_dsig_prepare(struct wsg_dsig_state *st, const struct wsg_dsig_conf *conf,
                 const struct wsg_soap_msg *msg, xmlNodePtr security,
                 int64_t now, struct wsg_error *err)
{
	xmlNodePtr n;
	int rc;

	memset(st, 0, sizeof(*st));
	st->conf = conf;
	st->doc = msg->doc;
	st->security = security;
	st->body = msg->body;
	st->now = now;
	rc = check_unique_ids(msg->doc, err);
	if (rc != WSG_OK)
		return rc;
	/* Whatever the parser registered (xml:id) goes: a reference may
	 * resolve only to the elements registered below. */
	if (msg->doc->ids != NULL) {
		xmlFreeIDTable(msg->doc->ids);
		msg->doc->ids = NULL;
	}
	if (st->body != NULL)
		register_ids(msg->doc, st->body);
	for (n = security->children; n != NULL; n = n->next) {
		if (wsg_soap_is_element(n, WSG_NS_WSU, "Timestamp")) {
			if (st->timestamp == NULL)
				st->timestamp = n;
		} else if (wsg_soap_is_element(n, WSG_NS_WSSE,
		                               "UsernameToken")) {
			if (st->ut == NULL)
				st->ut = n;
		} else if (!is_bst(n)) {
			continue;
		}
		register_ids(msg->doc, n);
	}
	return WSG_OK;
}

static int
count_children(xmlNodePtr e, const char *href, const char *name)
{
	xmlNodePtr n;
	int c = 0;

	for (n = e->children; n != NULL; n = n->next)
		if (wsg_soap_is_element(n, href, name))
			c++;
	return c;
}

static char *
text_of(xmlNodePtr e, size_t *len)
{
	xmlChar *v = xmlNodeGetContent(e);
	char *s = wsg_mem_strdup(v != NULL ? (const char *)v : "");

	xmlFree(v);
	*len = strlen(s);
	return s;
}

static X509 *
decode_cert(struct wsg_dsig_cert_cache *cache, xmlNodePtr e)
{
	unsigned char hash[WSG_DSIG_SHA256_LEN];
	const unsigned char *p;
	unsigned char *der = NULL;
	size_t der_len = 0, len;
	char *text = text_of(e, &len);
	unsigned int hlen = 0;
	X509 *x = NULL;

	if (wsg_wsse_base64_decode(text, len, &der, &der_len) != WSG_OK ||
	    der_len == 0 || der_len >= (size_t)INT32_MAX)
		goto out;
	if (EVP_Digest(der, der_len, hash, &hlen, EVP_sha256(), NULL) != 1)
		goto out;
	if ((x = cert_cache_get(cache, hash)) != NULL)
		goto out;
	p = der;
	x = d2i_X509(NULL, &p, (long)der_len);
	if (x != NULL && p != der + der_len) {
		X509_free(x);
		x = NULL;
	}
	if (x != NULL)
		cert_cache_put(cache, hash, x);
out:
	ERR_clear_error();
	free(text);
	free(der);
	return x;
}

/* A wsse:Reference URI="#id" to a BinarySecurityToken of this header. */
static int
key_from_bst(struct wsg_dsig_state *st, xmlNodePtr ref, X509 **out,
             struct wsg_error *err)
{
	xmlChar *tmp = NULL, *tmp2 = NULL;
	const char *uri, *vt;
	xmlNodePtr n, bst = NULL;
	xmlAttrPtr id;
	int rc;

	uri = wsg_soap_attr(ref, "URI", NULL, &tmp);
	if (uri == NULL || uri[0] != '#' || uri[1] == '\0') {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE,
		                   "STR Reference is not a same-document #id");
		goto out;
	}
	id = xmlGetID(st->doc, (const xmlChar *)uri + 1);
	for (n = st->security->children; n != NULL; n = n->next)
		if (id != NULL && id->parent == n && is_bst(n))
			bst = n;
	if (bst == NULL) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE,
		                   "STR Reference %.64s names no "
		                   "BinarySecurityToken of the Security header",
		                   uri);
		goto out;
	}
	vt = wsg_soap_attr(bst, "ValueType", NULL, &tmp2);
	if (vt == NULL || strcmp(vt, WSSE_X509V3) != 0) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_UNSUPPORTED_SECURITY_TOKEN,
		                   "BinarySecurityToken is not X509v3");
		goto out;
	}
	xmlFree(tmp2);
	tmp2 = NULL;
	vt = wsg_soap_attr(bst, "EncodingType", NULL, &tmp2);
	if (vt != NULL && strcmp(vt, WSG_WSSE_BASE64_BINARY) != 0) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_UNSUPPORTED_SECURITY_TOKEN,
		                   "BinarySecurityToken is not Base64Binary");
		goto out;
	}
	if ((*out = decode_cert(st->conf->cache, bst)) == NULL) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY_TOKEN,
		                   "BinarySecurityToken is not a DER "
		                   "certificate in canonical Base64");
		goto out;
	}
	rc = WSG_OK;
out:
	xmlFree(tmp);
	xmlFree(tmp2);
	return rc;
}

static X509 *
known_by_digest(const struct wsg_dsig_conf *conf, const unsigned char *want,
                size_t want_len, int thumbprint)
{
	X509 *x;
	int i;

	for (i = 0; conf->known != NULL && i < sk_X509_num(conf->known); i++) {
		x = sk_X509_value(conf->known, i);
		if (wsg_certid_digest_is(x, want, want_len, thumbprint))
			return x;
	}
	return NULL;
}

/* A wsse:KeyIdentifier (SKI or ThumbprintSHA1) among the known certs. */
static int
key_from_identifier(struct wsg_dsig_state *st, xmlNodePtr ki, X509 **out,
                    struct wsg_error *err)
{
	unsigned char *raw = NULL;
	size_t raw_len = 0, len;
	xmlChar *tmp = NULL;
	const char *vt;
	char *text;
	X509 *x = NULL;
	int rc;

	vt = wsg_soap_attr(ki, "ValueType", NULL, &tmp);
	if (vt == NULL ||
	    (strcmp(vt, WSSE_SKI) != 0 && strcmp(vt, WSSE_THUMBPRINT) != 0)) {
		rc = wsg_error_set(
		        err, WSG_ERR_SECURITY,
		        WSG_FAULT_UNSUPPORTED_SECURITY_TOKEN,
		        "KeyIdentifier ValueType is neither "
		        "X509SubjectKeyIdentifier nor ThumbprintSHA1");
		goto out;
	}
	text = text_of(ki, &len);
	rc = wsg_wsse_base64_decode(text, len, &raw, &raw_len);
	free(text);
	if (rc == WSG_OK)
		x = known_by_digest(st->conf, raw, raw_len,
		                    strcmp(vt, WSSE_THUMBPRINT) == 0);
	if (x == NULL) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE,
		                   "KeyIdentifier matches no configured "
		                   "certificate");
		goto out;
	}
	X509_up_ref(x);
	*out = x;
	rc = WSG_OK;
out:
	free(raw);
	xmlFree(tmp);
	return rc;
}

/* ds:X509Data/ds:X509IssuerSerial among the known certs. */
static int
key_from_issuer_serial(struct wsg_dsig_state *st, xmlNodePtr is, X509 **out,
                       struct wsg_error *err)
{
	xmlNodePtr name = wsg_soap_first_child(is, WSG_NS_DS, "X509IssuerName");
	xmlNodePtr serial =
	        wsg_soap_first_child(is, WSG_NS_DS, "X509SerialNumber");
	ASN1_INTEGER *want = NULL;
	BIGNUM *bn = NULL;
	char *issuer = NULL, *num = NULL;
	size_t len;
	X509 *x;
	int i, rc;

	if (name == NULL || serial == NULL) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY_TOKEN,
		                   "X509IssuerSerial lacks a name or serial");
		goto out;
	}
	issuer = text_of(name, &len);
	num = text_of(serial, &len);
	if (len == 0 || len > 128 || strspn(num, "0123456789") != len ||
	    BN_dec2bn(&bn, num) == 0 ||
	    (want = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY_TOKEN,
		                   "X509SerialNumber is not a decimal number");
		goto out;
	}
	for (i = 0; st->conf->known != NULL && i < sk_X509_num(st->conf->known);
	     i++) {
		x = sk_X509_value(st->conf->known, i);
		if (ASN1_INTEGER_cmp(X509_get0_serialNumber(x), want) == 0 &&
		    wsg_certid_issuer_is(x, issuer)) {
			X509_up_ref(x);
			*out = x;
			rc = WSG_OK;
			goto out;
		}
	}
	rc = wsg_error_set(err, WSG_ERR_SECURITY,
	                   WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE,
	                   "X509IssuerSerial matches no configured "
	                   "certificate");
out:
	ASN1_INTEGER_free(want);
	BN_free(bn);
	free(issuer);
	free(num);
	ERR_clear_error();
	return rc;
}

/* The signer's certificate, from KeyInfo as WS-Security writes it. */
static int
resolve_key(struct wsg_dsig_state *st, xmlNodePtr sig, X509 **out,
            struct wsg_error *err)
{
	xmlNodePtr ki = wsg_soap_first_child(sig, WSG_NS_DS, "KeyInfo");
	xmlNodePtr str =
	        wsg_soap_first_child(ki, WSG_NS_WSSE, "SecurityTokenReference");
	xmlNodePtr where = str != NULL ? str : ki, n, xd;

	*out = NULL;
	if ((n = wsg_soap_first_child(str, WSG_NS_WSSE, "Reference")) != NULL)
		return key_from_bst(st, n, out, err);
	if ((n = wsg_soap_first_child(str, WSG_NS_WSSE, "KeyIdentifier")) !=
	    NULL)
		return key_from_identifier(st, n, out, err);
	xd = wsg_soap_first_child(where, WSG_NS_DS, "X509Data");
	n = wsg_soap_first_child(xd, WSG_NS_DS, "X509IssuerSerial");
	/* An empty IssuerSerial next to the certificate is what zeep's
	 * Signature sends; the certificate then speaks. */
	if (n != NULL &&
	    wsg_soap_first_child(n, WSG_NS_DS, "X509SerialNumber") != NULL)
		return key_from_issuer_serial(st, n, out, err);
	if ((n = wsg_soap_first_child(xd, WSG_NS_DS, "X509Certificate")) !=
	    NULL) {
		if ((*out = decode_cert(st->conf->cache, n)) != NULL)
			return WSG_OK;
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "X509Certificate is not a DER certificate "
		                     "in canonical Base64");
	}
	return wsg_error_set(err, WSG_ERR_SECURITY,
	                     WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE,
	                     "signature names no key the gateway can resolve "
	                     "(BST Reference, KeyIdentifier, X509IssuerSerial "
	                     "or X509Certificate)");
}

/* The chain to `trust` (and the CRL), at st->now, within the depth cap;
 * then key usage when the certificate states one. */
static int
check_chain(struct wsg_dsig_state *st, X509 *cert, struct wsg_error *err)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *p;
	int rc, e;

	if (ctx == NULL ||
	    X509_STORE_CTX_init(ctx, st->conf->store, cert, NULL) != 1) {
		rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_SERVER,
		                   "cannot set up certificate verification");
		goto out;
	}
	p = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(p, (time_t)st->now);
	X509_VERIFY_PARAM_set_depth(p, (int)st->conf->max_chain_depth);
	if (X509_verify_cert(ctx) != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY_TOKEN,
		                   "signer certificate refused: %s",
		                   X509_verify_cert_error_string(e));
		goto out;
	}
	if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0 &&
	    (X509_get_key_usage(cert) &
	     (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY_TOKEN,
		                   "signer certificate's key usage allows "
		                   "neither digitalSignature nor "
		                   "nonRepudiation");
		goto out;
	}
	rc = WSG_OK;
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* ---- SignedInfo pre-check ---- */

static int
is_ncname(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > MAX_ID_LEN ||
	    !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
	      s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])))
			return 0;
	return 1;
}

static int
alg_is(xmlNodePtr e, const char *uri)
{
	xmlChar *tmp = NULL;
	const char *v =
	        e != NULL ? wsg_soap_attr(e, "Algorithm", NULL, &tmp) : NULL;
	int same = v != NULL && strcmp(v, uri) == 0;

	xmlFree(tmp);
	return same;
}

/* The node one reference's "#id" names, if it is one the gateway expects. */
static xmlNodePtr
expected_target(struct wsg_dsig_state *st, const char *id)
{
	xmlAttrPtr a = xmlGetID(st->doc, (const xmlChar *)id);
	xmlNodePtr n;

	if (a == NULL || a->type != XML_ATTRIBUTE_NODE)
		return NULL;
	n = a->parent;
	if (n == st->body || n == st->timestamp || n == st->ut)
		return n;
	if (n != NULL && n->parent == st->security && is_bst(n))
		return n;
	return NULL;
}

static int
check_reference(struct wsg_dsig_state *st, xmlNodePtr ref, struct ref_target *t,
                struct wsg_error *err)
{
	xmlNodePtr trs = wsg_soap_first_child(ref, WSG_NS_DS, "Transforms"), n;
	unsigned nt = 0;
	xmlChar *uri = xmlGetNoNsProp(ref, (const xmlChar *)"URI");

	t->uri = uri;
	if (uri == NULL || uri[0] != '#' || !is_ncname((const char *)uri + 1))
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "Reference URI \"%.64s\" is not a "
		                     "same-document #id",
		                     uri != NULL ? (const char *)uri : "");
	t->node = expected_target(st, (const char *)uri + 1);
	if (t->node == NULL)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "Reference %.64s names no element at an "
		                     "expected position (Body, or a Timestamp, "
		                     "UsernameToken or BinarySecurityToken of "
		                     "the processed Security header)",
		                     (const char *)uri);
	for (n = trs != NULL ? trs->children : NULL; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (++nt > st->conf->max_transforms)
			return wsg_error_set(err, WSG_ERR_SECURITY,
			                     WSG_FAULT_INVALID_SECURITY,
			                     "Reference %.64s has more than %u "
			                     "transforms",
			                     (const char *)uri,
			                     st->conf->max_transforms);
		if (!wsg_soap_is_element(n, WSG_NS_DS, "Transform") ||
		    !(alg_is(n, ALG_EXC_C14N) || alg_is(n, ALG_ENVELOPED)))
			return wsg_error_set(
			        err, WSG_ERR_SECURITY,
			        WSG_FAULT_INVALID_SECURITY,
			        "Reference %.64s: only the exclusive C14N "
			        "and enveloped-signature transforms are "
			        "allowed",
			        (const char *)uri);
	}
	return WSG_OK;
}

/* Structure, caps and references of one Signature, before any crypto. */
static int
check_signed_info(struct wsg_dsig_state *st, xmlNodePtr sig,
                  struct ref_target *refs, unsigned *n_refs,
                  struct wsg_error *err)
{
	xmlNodePtr si = wsg_soap_first_child(sig, WSG_NS_DS, "SignedInfo"), n;
	int rc;

	*n_refs = 0;
	if (si == NULL || count_children(sig, WSG_NS_DS, "SignedInfo") != 1)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "Signature needs exactly one SignedInfo");
	/* WS-Security signs by reference; an Object is where XSW hides the
	 * original element. */
	if (wsg_soap_first_child(sig, WSG_NS_DS, "Object") != NULL)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "Signature carries a ds:Object");
	if (!alg_is(wsg_soap_first_child(si, WSG_NS_DS,
	                                 "CanonicalizationMethod"),
	            ALG_EXC_C14N))
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "CanonicalizationMethod is not exclusive "
		                     "C14N");
	for (n = si->children; n != NULL; n = n->next) {
		if (!wsg_soap_is_element(n, WSG_NS_DS, "Reference"))
			continue;
		if (*n_refs >= st->conf->max_references)
			return wsg_error_set(err, WSG_ERR_SECURITY,
			                     WSG_FAULT_INVALID_SECURITY,
			                     "Signature has more than %u "
			                     "references",
			                     st->conf->max_references);
		rc = check_reference(st, n, &refs[*n_refs], err);
		(*n_refs)++;
		if (rc != WSG_OK)
			return rc;
	}
	if (*n_refs == 0)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "Signature has no Reference");
	return WSG_OK;
}

/* ---- xmlsec1 ---- */

static void
enable_algorithms(xmlSecDSigCtxPtr ctx, unsigned algs)
{
	xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId);
	xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId);
	xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId);
	xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id);
	xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha384Id);
	xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha512Id);
	if (algs & WSG_DSIG_ALG_RSA_SHA1) {
		xmlSecDSigCtxEnableSignatureTransform(ctx,
		                                      xmlSecTransformRsaSha1Id);
		xmlSecDSigCtxEnableReferenceTransform(ctx,
		                                      xmlSecTransformSha1Id);
	}
	if (algs & WSG_DSIG_ALG_RSA_SHA256)
		xmlSecDSigCtxEnableSignatureTransform(
		        ctx, xmlSecTransformRsaSha256Id);
	if (algs & WSG_DSIG_ALG_RSA_SHA384)
		xmlSecDSigCtxEnableSignatureTransform(
		        ctx, xmlSecTransformRsaSha384Id);
	if (algs & WSG_DSIG_ALG_RSA_SHA512)
		xmlSecDSigCtxEnableSignatureTransform(
		        ctx, xmlSecTransformRsaSha512Id);
	if (algs & WSG_DSIG_ALG_ECDSA_SHA256)
		xmlSecDSigCtxEnableSignatureTransform(
		        ctx, xmlSecTransformEcdsaSha256Id);
	if (algs & WSG_DSIG_ALG_ECDSA_SHA384)
		xmlSecDSigCtxEnableSignatureTransform(
		        ctx, xmlSecTransformEcdsaSha384Id);
	if (algs & WSG_DSIG_ALG_ECDSA_SHA512)
		xmlSecDSigCtxEnableSignatureTransform(
		        ctx, xmlSecTransformEcdsaSha512Id);
}

static xmlSecKeyPtr
xmlsec_key_of(X509 *cert)
{
	EVP_PKEY *pk = X509_get_pubkey(cert);
	xmlSecKeyDataPtr data;
	xmlSecKeyPtr key;

	if (pk == NULL)
		return NULL;
	if ((data = xmlSecOpenSSLEvpKeyAdopt(pk)) == NULL) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	if ((key = xmlSecKeyCreate()) == NULL ||
	    xmlSecKeySetValue(key, data) < 0) {
		xmlSecKeyDataDestroy(data);
		if (key != NULL)
			xmlSecKeyDestroy(key);
		return NULL;
	}
	return key;
}

/*
 * xmlsec1's verdict, then each stored reference against the pre-check. On
 * success `signed_hash` is the SHA-256 of the canonical SignedInfo: unlike
 * the SignatureValue (an ECDSA signature has a second valid form anyone
 * can compute, and Base64 text has variants), no one without the key can
 * make it differ for the same message.
 */
static int
run_xmlsec(struct wsg_dsig_state *st, xmlNodePtr sig, X509 *cert,
           const struct ref_target *refs, unsigned n_refs,
           unsigned char signed_hash[WSG_DSIG_SHA256_LEN],
           struct wsg_error *err)
{
	xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
	xmlSecDSigReferenceCtxPtr r;
	xmlSecBufferPtr pre;
	unsigned int len = 0;
	xmlSecSize i, n;
	int rc;

	if (ctx == NULL) {
		rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_SERVER,
		                   "cannot create a signature context");
		goto out;
	}
	ctx->flags |= XMLSEC_DSIG_FLAGS_STORE_SIGNEDINFO_REFERENCES |
	              XMLSEC_DSIG_FLAGS_STORE_SIGNATURE;
	ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
	enable_algorithms(ctx, st->conf->algorithms);
	if ((ctx->signKey = xmlsec_key_of(cert)) == NULL) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY_TOKEN,
		                   "signer certificate holds no RSA or EC key");
		goto out;
	}
	if (xmlSecDSigCtxVerify(ctx, sig) < 0) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY,
		                   "signature cannot be processed (algorithm "
		                   "not allowed, key of the wrong type, or "
		                   "malformed)");
		goto out;
	}
	if (ctx->status != xmlSecDSigStatusSucceeded) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_FAILED_CHECK,
		                   "signature or digest does not verify");
		goto out;
	}
	n = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
	if (n != n_refs) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY,
		                   "xmlsec1 saw %u references, the gateway %u",
		                   (unsigned)n, n_refs);
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = xmlSecPtrListGetItem(&ctx->signedInfoReferences, i);
		if (r == NULL || r->status != xmlSecDSigStatusSucceeded ||
		    r->uri == NULL || xmlStrcmp(r->uri, refs[i].uri) != 0) {
			rc = wsg_error_set(err, WSG_ERR_SECURITY,
			                   WSG_FAULT_FAILED_CHECK,
			                   "digest of reference %u does not "
			                   "verify",
			                   (unsigned)i);
			goto out;
		}
	}
	pre = xmlSecDSigCtxGetPreSignBuffer(ctx);
	if (pre == NULL ||
	    EVP_Digest(xmlSecBufferGetData(pre), xmlSecBufferGetSize(pre),
	               signed_hash, &len, EVP_sha256(), NULL) != 1) {
		rc = wsg_error_set(
		        err, WSG_ERR_CRYPTO, WSG_FAULT_SERVER,
		        "no canonical SignedInfo after verification");
		goto out;
	}
	rc = WSG_OK;
out:
	if (ctx != NULL)
		xmlSecDSigCtxDestroy(ctx);
	return rc;
}

static void
remember_signer(struct wsg_dsig_state *st, X509 *cert,
                const unsigned char signed_hash[WSG_DSIG_SHA256_LEN])
{
	unsigned int len = 0;

	X509_up_ref(cert);
	st->signer = cert;
	X509_digest(cert, EVP_sha256(), st->fingerprint, &len);
	memcpy(st->replay_key, signed_hash, WSG_DSIG_SHA256_LEN);
}

int
wsg_dsig_verify(struct wsg_dsig_state *st, xmlNodePtr sig,
                struct wsg_error *err)
{
	struct ref_target refs[MAX_REFS_HARD];
	unsigned char signed_hash[WSG_DSIG_SHA256_LEN];
	unsigned n_refs = 0, i;
	X509 *cert = NULL;
	int rc;

	memset(refs, 0, sizeof(refs));
	if (++st->n_signatures > st->conf->max_signatures) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY,
		                   "more than %u signatures in the message",
		                   st->conf->max_signatures);
		goto out;
	}
	rc = check_signed_info(st, sig, refs, &n_refs, err);
	if (rc != WSG_OK)
		goto out;
	rc = resolve_key(st, sig, &cert, err);
	if (rc != WSG_OK)
		goto out;
	rc = check_chain(st, cert, err);
	if (rc != WSG_OK)
		goto out;
	rc = run_xmlsec(st, sig, cert, refs, n_refs, signed_hash, err);
	if (rc != WSG_OK)
		goto out;
	for (i = 0; i < n_refs; i++) {
		/* Ids registered are only ours: this holds by construction,
		 * and is what the defence rests on, so it is checked. */
		if (expected_target(st, (const char *)refs[i].uri + 1) !=
		    refs[i].node) {
			rc = wsg_error_set(err, WSG_ERR_SECURITY,
			                   WSG_FAULT_INVALID_SECURITY,
			                   "reference target moved");
			goto out;
		}
		if (refs[i].node == st->body)
			st->signed_parts |= WSG_DSIG_PART_BODY;
		else if (refs[i].node == st->timestamp)
			st->signed_parts |= WSG_DSIG_PART_TIMESTAMP;
		else if (refs[i].node == st->ut)
			st->signed_parts |= WSG_DSIG_PART_USERNAME_TOKEN;
	}
	if (st->signer == NULL)
		remember_signer(st, cert, signed_hash);
out:
	for (i = 0; i < n_refs && i < MAX_REFS_HARD; i++)
		xmlFree(refs[i].uri);
	X509_free(cert);
	ERR_clear_error();
	return rc;
}

int
wsg_dsig_finish(struct wsg_dsig_state *st, struct wsg_error *err)
{
	static const struct {
		unsigned bit;
		const char *name;
	} parts[] = {
	        {WSG_DSIG_PART_BODY, "Body"},
	        {WSG_DSIG_PART_TIMESTAMP, "Timestamp"},
	        {WSG_DSIG_PART_USERNAME_TOKEN, "UsernameToken"},
	};
	size_t i;

	if (!st->conf->require)
		return WSG_OK;
	if (st->n_signatures == 0)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "route requires a signature and none was "
		                     "sent");
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if ((st->conf->parts & parts[i].bit) != 0 &&
		    (st->signed_parts & parts[i].bit) == 0)
			return wsg_error_set(err, WSG_ERR_SECURITY,
			                     WSG_FAULT_INVALID_SECURITY,
			                     "required part %s is not signed",
			                     parts[i].name);
	return WSG_OK;
}

void
wsg_dsig_fingerprint_hex(const struct wsg_dsig_state *st, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < WSG_DSIG_SHA256_LEN; i++) {
		out[2 * i] = hex[st->fingerprint[i] >> 4];
		out[2 * i + 1] = hex[st->fingerprint[i] & 15];
	}
	out[64] = '\0';
}

void
wsg_dsig_state_clear(struct wsg_dsig_state *st)
{
	if (st == NULL)
		return;
	X509_free(st->signer);
	memset(st, 0, sizeof(*st));
}
