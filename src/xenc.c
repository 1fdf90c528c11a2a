#include "xenc.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <ctype.h>
#include <string.h>
#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmlenc.h>
#include <xmlsec/xmlsec.h>

#include "certid.h"
#include "err.h"
#include "keyfile.h"
#include "mem.h"
#include "wsse.h"

#define DSIG "http://www.w3.org/2000/09/xmldsig#"
#define XENC_TYPE_CONTENT WSG_NS_XENC "Content"
#define XENC_TYPE_ELEMENT WSG_NS_XENC "Element"
#define X509_PROFILE                                                           \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-x509-token-profile-1.0"
#define VT_X509V3 X509_PROFILE "#X509v3"
#define VT_SKI X509_PROFILE "#X509SubjectKeyIdentifier"
#define VT_THUMBPRINT                                                          \
	"http://docs.oasis-open.org/wss/"                                      \
	"oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
/* Base64 text of any element here: bounded so a hostile message cannot
 * make us decode megabytes into a key. */
#define MAX_KEY_B64 4096

struct wsg_xenc_conf {
	EVP_PKEY *key;
	X509 *cert;
	unsigned char *der; /* the certificate, for BST direct references */
	int der_len;
	int require;
	size_t max_keys, max_blocks;
};

/* What a content algorithm needs: key bytes and the xmlsec transform. */
struct content_alg {
	const char *href;
	size_t key_len;
	xmlSecTransformId (*id)(void);
};

static const struct content_alg content_algs[] = {
        {WSG_NS_XENC "aes128-cbc", 16, xmlSecOpenSSLTransformAes128CbcGetKlass},
        {WSG_NS_XENC "aes256-cbc", 32, xmlSecOpenSSLTransformAes256CbcGetKlass},
        {WSG_NS_XENC11 "aes128-gcm", 16,
         xmlSecOpenSSLTransformAes128GcmGetKlass},
        {WSG_NS_XENC11 "aes256-gcm", 32,
         xmlSecOpenSSLTransformAes256GcmGetKlass},
};

/* Digests RSA-OAEP may use, by their DigestMethod / MGF URIs. */
struct digest_alg {
	const char *href;
	const char *mgf; /* xmlenc11 MGF URI */
	const char *name;
};

static const struct digest_alg digest_algs[] = {
        {DSIG "sha1", WSG_NS_XENC11 "mgf1sha1", "SHA1"},
        {WSG_NS_XENC "sha256", WSG_NS_XENC11 "mgf1sha256", "SHA256"},
        {WSG_NS_XENC "sha512", WSG_NS_XENC11 "mgf1sha512", "SHA512"},
};

/* ---- configuration ---- */

int
wsg_xenc_conf_load(const struct wsg_xenc_settings *s,
                   struct wsg_xenc_conf **out, struct wsg_error *err)
{
	struct wsg_xenc_conf *c = wsg_mem_calloc(1, sizeof(*c));
	BIO *b = NULL;
	int rc;

	*out = NULL;
	if ((rc = wsg_keyfile_check(s->key, err)) != WSG_OK)
		goto out;
	rc = WSG_ERR_CONFIG;
	if ((b = BIO_new_file(s->key, "r")) == NULL ||
	    (c->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL) {
		wsg_error_set(err, rc, WSG_FAULT_NONE,
		              "%s: no PEM private key (encrypted keys are not "
		              "supported)",
		              s->key);
		goto out;
	}
	BIO_free(b);
	b = NULL;
	if (EVP_PKEY_get_base_id(c->key) != EVP_PKEY_RSA) {
		wsg_error_set(err, rc, WSG_FAULT_NONE,
		              "%s: not an RSA key (key transport is RSA-OAEP)",
		              s->key);
		goto out;
	}
	if ((b = BIO_new_file(s->cert, "r")) == NULL ||
	    (c->cert = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		wsg_error_set(err, rc, WSG_FAULT_NONE, "%s: no PEM certificate",
		              s->cert);
		goto out;
	}
	if (X509_check_private_key(c->cert, c->key) != 1) {
		wsg_error_set(err, rc, WSG_FAULT_NONE,
		              "%s is not the certificate of key %s", s->cert,
		              s->key);
		goto out;
	}
	c->der_len = i2d_X509(c->cert, &c->der);
	if (c->der_len <= 0) {
		wsg_error_set(err, rc, WSG_FAULT_NONE,
		              "%s: cannot encode the certificate", s->cert);
		goto out;
	}
	c->require = s->require;
	c->max_keys = (size_t)s->max_encrypted_keys;
	c->max_blocks = (size_t)s->max_encrypted_blocks;
	*out = c;
	c = NULL;
	rc = WSG_OK;
out:
	BIO_free(b);
	ERR_clear_error();
	wsg_xenc_conf_free(c);
	return rc;
}

void
wsg_xenc_conf_free(struct wsg_xenc_conf *c)
{
	if (c == NULL)
		return;
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	OPENSSL_free(c->der);
	free(c);
}

void
wsg_xenc_settings_clear(struct wsg_xenc_settings *s)
{
	free(s->key);
	free(s->cert);
	memset(s, 0, sizeof(*s));
}

/* 1 when attribute `name` (no namespace) of `e` is `value`. */
static int
attr_is(xmlNodePtr e, const char *name, const char *href, const char *value)
{
	xmlChar *tmp = NULL;
	const char *v = wsg_soap_attr(e, name, href, &tmp);
	int same = v != NULL && value != NULL && strcmp(v, value) == 0;

	xmlFree(tmp);
	return same;
}

/* The Algorithm of `e`'s child `name` in namespace `href`; caller frees. */
static char *
algorithm_of(xmlNodePtr e, const char *href, const char *name)
{
	xmlNodePtr m = wsg_soap_first_child(e, href, name);

	return m != NULL ? wsg_soap_attr_dup(m, "Algorithm") : NULL;
}

/* Base64 text of `e` decoded (caller frees), bounded by `max` characters. */
static int
base64_of(xmlNodePtr e, size_t max, unsigned char **out, size_t *len)
{
	xmlChar *text;
	size_t n;
	int rc;

	*out = NULL;
	*len = 0;
	if (e == NULL || (text = xmlNodeGetContent(e)) == NULL)
		return WSG_ERR_PARSE;
	n = strlen((const char *)text);
	rc = n > max ? WSG_ERR_LIMIT
	             : wsg_wsse_base64_decode((const char *)text, n, out, len);
	xmlFree(text);
	return rc;
}

static int
fail(struct wsg_error *err, const char *why)
{
	return wsg_error_set(err, WSG_ERR_SECURITY, WSG_FAULT_FAILED_CHECK,
	                     "decryption failed: %s", why);
}

/* ---- the key identifier ---- */

/* A wsse:Reference "#id" to a BST of `sec` holding exactly our certificate. */
static int
bst_is_ours(const struct wsg_xenc_conf *c, xmlNodePtr sec, xmlNodePtr ref)
{
	xmlChar *tmp = NULL;
	const char *uri = wsg_soap_attr(ref, "URI", NULL, &tmp);
	unsigned char *der = NULL;
	size_t len = 0;
	xmlNodePtr n;
	int ok = 0;

	for (n = sec->children; uri != NULL && uri[0] == '#' && n != NULL;
	     n = n->next) {
		if (!wsg_soap_is_element(n, WSG_NS_WSSE,
		                         "BinarySecurityToken") ||
		    !attr_is(n, "Id", WSG_NS_WSU, uri + 1))
			continue;
		ok = attr_is(n, "ValueType", NULL, VT_X509V3) &&
		     base64_of(n, (size_t)c->der_len * 2 + 64, &der, &len) ==
		             WSG_OK &&
		     len == (size_t)c->der_len && memcmp(der, c->der, len) == 0;
		break;
	}
	free(der);
	xmlFree(tmp);
	return ok;
}

static int
issuer_serial_is_ours(const struct wsg_xenc_conf *c, xmlNodePtr is)
{
	xmlChar *name = xmlNodeGetContent(
	        wsg_soap_first_child(is, DSIG, "X509IssuerName"));
	xmlChar *serial = xmlNodeGetContent(
	        wsg_soap_first_child(is, DSIG, "X509SerialNumber"));
	BIGNUM *want = NULL, *have = NULL;
	int ok = 0;

	if (name != NULL && serial != NULL && strlen((char *)serial) < 128 &&
	    BN_dec2bn(&want, (const char *)serial) ==
	            (int)strlen((char *)serial) &&
	    (have = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->cert),
	                               NULL)) != NULL) {
		ok = BN_cmp(want, have) == 0 &&
		     wsg_certid_issuer_is(c->cert, (const char *)name);
	}
	BN_free(want);
	BN_free(have);
	xmlFree(name);
	xmlFree(serial);
	return ok;
}

static int
key_identifier_is_ours(const struct wsg_xenc_conf *c, xmlNodePtr ki)
{
	unsigned char *v = NULL;
	size_t len = 0;
	int ok = 0;

	if (base64_of(ki, MAX_KEY_B64, &v, &len) != WSG_OK)
		return 0;
	if (attr_is(ki, "ValueType", NULL, VT_SKI))
		ok = wsg_certid_digest_is(c->cert, v, len, 0);
	else if (attr_is(ki, "ValueType", NULL, VT_THUMBPRINT))
		ok = wsg_certid_digest_is(c->cert, v, len, 1);
	free(v);
	return ok;
}

/*
 * The EncryptedKey's ds:KeyInfo must name the gateway's certificate through
 * a wsse:SecurityTokenReference: X509IssuerSerial, SKI or thumbprint key
 * identifier, or a direct reference to a BST of the same header.
 */
static int
names_our_cert(const struct wsg_xenc_conf *c, xmlNodePtr sec, xmlNodePtr ek)
{
	xmlNodePtr str =
	        wsg_soap_first_child(wsg_soap_first_child(ek, DSIG, "KeyInfo"),
	                             WSG_NS_WSSE, "SecurityTokenReference");
	xmlNodePtr n;

	if (str == NULL)
		return 0;
	if ((n = wsg_soap_first_child(str, WSG_NS_WSSE, "Reference")) != NULL)
		return bst_is_ours(c, sec, n);
	if ((n = wsg_soap_first_child(str, WSG_NS_WSSE, "KeyIdentifier")) !=
	    NULL)
		return key_identifier_is_ours(c, n);
	if ((n = wsg_soap_first_child(
	             wsg_soap_first_child(str, DSIG, "X509Data"), DSIG,
	             "X509IssuerSerial")) != NULL)
		return issuer_serial_is_ours(c, n);
	return 0;
}

/* ---- key transport ---- */

static const struct digest_alg *
digest_by(const char *uri, int mgf)
{
	size_t i;

	for (i = 0; i < sizeof(digest_algs) / sizeof(digest_algs[0]); i++)
		if (uri != NULL && strcmp(uri, mgf ? digest_algs[i].mgf
		                                   : digest_algs[i].href) == 0)
			return &digest_algs[i];
	return NULL;
}

/* RSA-OAEP's parameters from the EncryptionMethod `em`. */
struct oaep {
	const struct digest_alg *md, *mgf;
	unsigned char *label;
	size_t label_len;
};

static int
oaep_params(xmlNodePtr em, struct oaep *p, const char **why)
{
	char *alg = wsg_soap_attr_dup(em, "Algorithm");
	char *md = algorithm_of(em, DSIG, "DigestMethod");
	char *mgf = algorithm_of(em, WSG_NS_XENC11, "MGF");
	xmlNodePtr label = wsg_soap_first_child(em, WSG_NS_XENC, "OAEPparams");
	int rc = WSG_ERR_SECURITY, xenc11;

	memset(p, 0, sizeof(*p));
	if (alg != NULL && strcmp(alg, WSG_NS_XENC "rsa-1_5") == 0) {
		*why = "RSA-1.5 key transport is refused (Bleichenbacher)";
		goto out;
	}
	xenc11 = alg != NULL && strcmp(alg, WSG_NS_XENC11 "rsa-oaep") == 0;
	if (!xenc11 &&
	    (alg == NULL || strcmp(alg, WSG_NS_XENC "rsa-oaep-mgf1p") != 0)) {
		*why = "key transport algorithm not allowed";
		goto out;
	}
	p->md = md != NULL ? digest_by(md, 0) : &digest_algs[0];
	/* rsa-oaep-mgf1p fixes MGF1 with SHA-1; xmlenc11 names it. */
	p->mgf = xenc11 && mgf != NULL ? digest_by(mgf, 1) : &digest_algs[0];
	if (p->md == NULL || p->mgf == NULL || (!xenc11 && mgf != NULL)) {
		*why = "RSA-OAEP digest or MGF not allowed";
		goto out;
	}
	if (label != NULL &&
	    base64_of(label, MAX_KEY_B64, &p->label, &p->label_len) != WSG_OK) {
		*why = "malformed OAEPparams";
		goto out;
	}
	rc = WSG_OK;
out:
	free(alg);
	free(md);
	free(mgf);
	return rc;
}

/*
 * RSA-OAEP decryption of `in` into `key` (`*len` on entry its room). No
 * early exit tells a bad padding from a good one: OpenSSL's OAEP check is
 * constant-time, and the caller goes on with a random key either way.
 */
static int
unwrap(const struct wsg_xenc_conf *c, const struct oaep *p,
       const unsigned char *in, size_t in_len, unsigned char *key, size_t *len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(c->key, NULL);
	unsigned char *label = NULL;
	int ok;

	ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, p->md->name, NULL) == 1 &&
	     EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, p->mgf->name, NULL) == 1;
	if (ok && p->label_len > 0) {
		label = OPENSSL_memdup(p->label, p->label_len);
		ok = label != NULL &&
		     EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label,
		                                      (int)p->label_len) == 1;
		if (ok)
			label = NULL;
	}
	ok = ok && EVP_PKEY_decrypt(ctx, key, len, in, in_len) == 1;
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok ? WSG_OK : WSG_ERR_SECURITY;
}

/* ---- content ---- */

/* The element whose Id or wsu:Id is `id`, when exactly one has it. */
static xmlNodePtr
element_by_id(xmlNodePtr root, const char *id)
{
	xmlNodePtr n = root, found = NULL;
	size_t hits = 0;

	while (n != NULL) {
		if (n->type == XML_ELEMENT_NODE &&
		    (attr_is(n, "Id", NULL, id) ||
		     attr_is(n, "Id", WSG_NS_WSU, id))) {
			found = n;
			hits++;
		}
		if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
			n = n->children;
			continue;
		}
		while (n != root && n->next == NULL)
			n = n->parent;
		n = n == root ? NULL : n->next;
	}
	return hits == 1 ? found : NULL;
}

static int
is_within(xmlNodePtr n, xmlNodePtr ancestor)
{
	for (n = n->parent; n != NULL; n = n->parent)
		if (n == ancestor)
			return 1;
	return 0;
}

static const struct content_alg *
content_alg_of(xmlNodePtr ed)
{
	char *alg = algorithm_of(ed, WSG_NS_XENC, "EncryptionMethod");
	size_t i;

	for (i = 0;
	     alg != NULL && i < sizeof(content_algs) / sizeof(content_algs[0]);
	     i++)
		if (strcmp(alg, content_algs[i].href) == 0)
			break;
	free(alg);
	return alg == NULL || i == sizeof(content_algs) /
	                                       sizeof(content_algs[0])
	               ? NULL
	               : &content_algs[i];
}

static size_t
depth_of(xmlNodePtr n)
{
	size_t d = 0;

	for (; n != NULL && n->type == XML_ELEMENT_NODE; n = n->parent)
		d++;
	return d;
}

/*
 * The plaintext that replaced an EncryptedData, between `prev` and `next`
 * under `parent`, under the envelope's rules: no processing instruction,
 * entity reference or DTD, the depth and node caps; an Element-type block
 * gives exactly one element, and the Body's children are elements (SOAP):
 * stray bytes of a tampered CBC block never pass as text.
 */
static int
check_plaintext(xmlNodePtr parent, xmlNodePtr prev, xmlNodePtr next,
                int element, int strict, const struct wsg_soap_limits *limits)
{
	size_t base = depth_of(parent), depth, nodes = 0, elements = 0;
	xmlNodePtr first = prev != NULL ? prev->next : parent->children, n, top;

	for (top = first; top != NULL && top != next; top = top->next) {
		if (top->type == XML_ELEMENT_NODE)
			elements++;
		else if ((element || strict) && top->type != XML_COMMENT_NODE &&
		         (top->type != XML_TEXT_NODE || !xmlIsBlankNode(top)))
			return WSG_ERR_PARSE;
		for (n = top, depth = base + 1; n != NULL;) {
			if (n->type == XML_PI_NODE ||
			    n->type == XML_ENTITY_REF_NODE ||
			    n->type == XML_DTD_NODE ||
			    ++nodes > limits->max_nodes ||
			    depth > limits->max_depth)
				return WSG_ERR_LIMIT;
			if (n->type == XML_ELEMENT_NODE &&
			    n->children != NULL) {
				n = n->children;
				depth++;
				continue;
			}
			while (n != top && n->next == NULL) {
				n = n->parent;
				depth--;
			}
			n = n == top ? NULL : n->next;
		}
	}
	return !element || elements == 1 ? WSG_OK : WSG_ERR_PARSE;
}

static void
quiet_cb(void *arg, xmlErrorPtr e)
{
	(void)arg;
	(void)e;
}

/* xmlsec's allow-list for one EncryptedData: its algorithm and Base64. */
static int
restrict_transforms(xmlSecEncCtxPtr ctx, const struct content_alg *alg)
{
	ctx->transformCtx.enabledUris = xmlSecTransformUriTypeNone;
	return xmlSecPtrListAdd(&ctx->transformCtx.enabledTransforms,
	                        (void *)alg->id()) == 0 &&
	                       xmlSecPtrListAdd(
	                               &ctx->transformCtx.enabledTransforms,
	                               (void *)xmlSecTransformBase64Id) == 0
	               ? WSG_OK
	               : WSG_ERR_NOMEM;
}

/*
 * Decrypts `ed` in place with the `len` bytes of `key` (the caller made
 * sure its length fits `alg`); the plaintext is checked as it lands.
 */
static int
decrypt_data(struct wsg_soap_msg *m, xmlNodePtr ed,
             const struct content_alg *alg, const unsigned char *key,
             int element, const struct wsg_soap_limits *limits)
{
	xmlNodePtr parent = ed->parent, prev = ed->prev, next = ed->next;
	xmlSecEncCtxPtr ctx = xmlSecEncCtxCreate(NULL);
	int rc = WSG_ERR_SECURITY, decrypted;

	if (ctx == NULL)
		return WSG_ERR_NOMEM;
	if (restrict_transforms(ctx, alg) != WSG_OK)
		goto out;
	ctx->encKey = xmlSecKeyReadMemory(xmlSecKeyDataAesId, key,
	                                  (xmlSecSize)alg->key_len);
	if (ctx->encKey == NULL)
		goto out;
	/* From here the tree may differ from the bytes received. */
	m->rewritten = 1;
	/* libxml2 would print a bad plaintext's parse errors to stderr: the
	 * gateway answers and audits them itself. */
	xmlSetStructuredErrorFunc(NULL, quiet_cb);
	decrypted = xmlSecEncCtxDecrypt(ctx, ed) == 0 && ctx->resultReplaced;
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (!decrypted)
		goto out;
	rc = check_plaintext(parent, prev, next, element, parent == m->body,
	                     limits);
out:
	xmlSecEncCtxDestroy(ctx);
	return rc;
}

/*
 * One DataReference: the EncryptedData it names, which must be in the Body
 * or a child of the processed Security header, and of a Type that fits.
 */
static int
referenced_data(struct wsg_soap_msg *m, xmlNodePtr sec, xmlNodePtr ref,
                xmlNodePtr *out, int *element, const char **why)
{
	char *uri = wsg_soap_attr_dup(ref, "URI");
	xmlNodePtr ed = NULL;
	int rc = WSG_ERR_SECURITY;

	*out = NULL;
	if (uri == NULL || uri[0] != '#' || uri[1] == '\0') {
		*why = "a DataReference is not a same-document #id";
		goto out;
	}
	ed = element_by_id(m->envelope, uri + 1);
	if (ed == NULL ||
	    !wsg_soap_is_element(ed, WSG_NS_XENC, "EncryptedData")) {
		*why = "a DataReference names no single EncryptedData";
		goto out;
	}
	*element = attr_is(ed, "Type", NULL, XENC_TYPE_ELEMENT);
	if (!*element && !attr_is(ed, "Type", NULL, XENC_TYPE_CONTENT)) {
		*why = "EncryptedData Type is neither Element nor Content";
		goto out;
	}
	if (!is_within(ed, m->body) && !(ed->parent == sec && *element)) {
		*why = "EncryptedData outside the Body and the Security "
		       "header";
		goto out;
	}
	if (wsg_soap_first_child(
	            wsg_soap_first_child(ed, WSG_NS_XENC, "CipherData"),
	            WSG_NS_XENC, "CipherValue") == NULL) {
		*why = "EncryptedData without a CipherValue";
		goto out;
	}
	*out = ed;
	rc = WSG_OK;
out:
	free(uri);
	return rc;
}

int
wsg_xenc_decrypt_key(const struct wsg_xenc_conf *c, struct wsg_soap_msg *m,
                     xmlNodePtr ek, const struct wsg_soap_limits *limits,
                     size_t *n_blocks, struct wsg_error *err)
{
	xmlNodePtr sec = ek->parent, em, list, ref, ed;
	const struct content_alg *alg;
	/* OpenSSL wants room for a whole modulus, whatever OAEP yields. */
	size_t room = (size_t)EVP_PKEY_get_size(c->key), key_len = room;
	unsigned char *key = wsg_mem_alloc(room), used[32], *wrapped = NULL;
	const char *why = NULL;
	struct oaep p;
	size_t wrapped_len = 0;
	int rc, unwrapped, element;

	memset(&p, 0, sizeof(p));
	em = wsg_soap_first_child(ek, WSG_NS_XENC, "EncryptionMethod");
	if (em == NULL || oaep_params(em, &p, &why) != WSG_OK) {
		rc = fail(err, why != NULL ? why
		                           : "EncryptedKey has no "
		                             "EncryptionMethod");
		goto out;
	}
	if (!names_our_cert(c, sec, ek)) {
		rc = fail(err, "the EncryptedKey is not for the gateway's "
		               "certificate");
		goto out;
	}
	if (base64_of(wsg_soap_first_child(wsg_soap_first_child(ek, WSG_NS_XENC,
	                                                        "CipherData"),
	                                   WSG_NS_XENC, "CipherValue"),
	              MAX_KEY_B64, &wrapped, &wrapped_len) != WSG_OK) {
		rc = fail(err, "malformed EncryptedKey CipherValue");
		goto out;
	}
	list = wsg_soap_first_child(ek, WSG_NS_XENC, "ReferenceList");
	if (list == NULL ||
	    wsg_soap_first_child(list, WSG_NS_XENC, "DataReference") == NULL) {
		rc = fail(err, "EncryptedKey without a DataReference");
		goto out;
	}
	unwrapped =
	        unwrap(c, &p, wrapped, wrapped_len, key, &key_len) == WSG_OK;
	rc = WSG_OK;
	for (ref = list->children; ref != NULL && rc == WSG_OK;
	     ref = ref->next) {
		if (!wsg_soap_is_element(ref, WSG_NS_XENC, "DataReference"))
			continue;
		if (++*n_blocks > c->max_blocks) {
			rc = fail(err, "too many encrypted blocks");
			break;
		}
		if (referenced_data(m, sec, ref, &ed, &element, &why) !=
		    WSG_OK) {
			rc = fail(err, why);
			break;
		}
		if ((alg = content_alg_of(ed)) == NULL) {
			rc = fail(err, "content encryption algorithm not "
			               "allowed");
			break;
		}
		/* A key that did not unwrap, or does not fit, is replaced by a
		 * random one: the content is decrypted all the same. */
		if (unwrapped && key_len == alg->key_len)
			memcpy(used, key, alg->key_len);
		else if (RAND_bytes(used, (int)alg->key_len) != 1) {
			rc = wsg_error_set(err, WSG_ERR_CRYPTO,
			                   WSG_FAULT_SERVER,
			                   "no random bytes for decryption");
			break;
		}
		rc = decrypt_data(m, ed, alg, used, element, limits);
		if (rc == WSG_ERR_NOMEM) {
			rc = wsg_error_set(err, rc, WSG_FAULT_SERVER,
			                   "out of memory decrypting");
			break;
		}
		if (!unwrapped || key_len != alg->key_len)
			rc = fail(err, "the key did not unwrap (wrong key, bad "
			               "OAEP) or does not fit the algorithm");
		else if (rc != WSG_OK)
			rc = fail(err,
			          rc == WSG_ERR_SECURITY
			                  ? "bad ciphertext, padding or tag"
			                  : "the plaintext breaks the XML "
			                    "rules or caps");
	}
out:
	wsg_mem_free_secret(key, room);
	OPENSSL_cleanse(used, sizeof(used));
	free(wrapped);
	free(p.label);
	return rc;
}

/* ---- the message ---- */

/* 1 when an EncryptedData is in the Body (anywhere) or a child of `sec`. */
static int
has_encrypted_data(const struct wsg_soap_msg *m, xmlNodePtr sec)
{
	xmlNodePtr n = m->body;

	while (n != NULL) {
		if (wsg_soap_is_element(n, WSG_NS_XENC, "EncryptedData"))
			return 1;
		if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
			n = n->children;
			continue;
		}
		while (n != m->body && n->next == NULL)
			n = n->parent;
		n = n == m->body ? NULL : n->next;
	}
	return wsg_soap_first_child(sec, WSG_NS_XENC, "EncryptedData") != NULL;
}

int
wsg_xenc_process(const struct wsg_xenc_conf *c, struct wsg_soap_msg *m,
                 xmlNodePtr sec, const struct wsg_soap_limits *limits,
                 wsg_xenc_visit_cb visit, void *arg, struct wsg_error *err)
{
	xmlNodePtr n, *kids = NULL;
	size_t n_kids = 0, n_keys = 0, n_blocks = 0, i;
	int rc = WSG_OK, body_encrypted, is_key;

	body_encrypted = has_encrypted_data(m, NULL);
	if (c == NULL &&
	    (body_encrypted || has_encrypted_data(m, sec) ||
	     wsg_soap_first_child(sec, WSG_NS_XENC, "EncryptedKey") != NULL))
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "encrypted content on a route without "
		                     "decrypt");
	if (c != NULL && c->require && !body_encrypted)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "the route requires an encrypted Body");
	/* Collected first, without the EncryptedData children: decryption
	 * replaces (frees) those, never another element. */
	for (n = sec != NULL ? sec->children : NULL; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE ||
		    wsg_soap_is_element(n, WSG_NS_XENC, "EncryptedData"))
			continue;
		kids = wsg_mem_realloc(kids, (n_kids + 1) * sizeof(*kids));
		kids[n_kids++] = n;
	}
	for (i = 0; i < n_kids && rc == WSG_OK; i++) {
		is_key = c != NULL && wsg_soap_is_element(kids[i], WSG_NS_XENC,
		                                          "EncryptedKey");
		if (is_key && n_keys++ == c->max_keys)
			rc = fail(err, "too many EncryptedKey elements");
		else if (is_key)
			rc = wsg_xenc_decrypt_key(c, m, kids[i], limits,
			                          &n_blocks, err);
		else if (visit != NULL)
			rc = visit(kids[i], arg, err);
	}
	if (rc == WSG_OK && c != NULL && has_encrypted_data(m, sec))
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY,
		                   "an EncryptedData that no EncryptedKey of "
		                   "the Security header opens");
	free(kids);
	return rc;
}
