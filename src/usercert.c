#include "usercert.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "hex.h"

#define MAX_BLOCKS 16 /* PEM blocks looked at in one file */

/* Seconds since the epoch of an ASN.1 time; WSG_ERR_PARSE if unreadable. */
static int
epoch_of(const ASN1_TIME *t, int64_t *out)
{
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days = 0, secs = 0, ok;

	*out = 0;
	ok = epoch != NULL && ASN1_TIME_diff(&days, &secs, epoch, t);
	ASN1_TIME_free(epoch);
	if (!ok)
		return WSG_ERR_PARSE;
	*out = (int64_t)days * 86400 + secs;
	return WSG_OK;
}

/* The RFC 2253 text of `name` (escaped to ASCII by OpenSSL's flags). */
static int
name_of(const X509_NAME *name, const char *what, char *out, size_t size,
        struct wsg_error *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;
	int rc = WSG_OK;

	if (b == NULL || X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0) {
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                   "the certificate's %s is unreadable", what);
		goto out;
	}
	n = BIO_get_mem_data(b, &data);
	if (n < 0 || (size_t)n >= size) {
		rc = wsg_error_set(err, WSG_ERR_LIMIT, WSG_FAULT_CLIENT,
		                   "the certificate's %s is longer than %zu "
		                   "bytes",
		                   what, size - 1);
		goto out;
	}
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
out:
	BIO_free(b);
	return rc;
}

static int
serial_of(const X509 *x, char *out, size_t size, struct wsg_error *err)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	int rc = WSG_OK;

	if (hex == NULL || strlen(hex) >= size)
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                   "the certificate's serial number is "
		                   "unreadable or longer than %zu digits",
		                   size - 1);
	else
		snprintf(out, size, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* The fields the store keeps, from a parsed certificate. */
static int
fields_of(X509 *x, int64_t now, struct wsg_usercert *out, struct wsg_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char when[32];
	int rc;

	if (!X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                     "cannot compute the certificate's "
		                     "fingerprint");
	wsg_hex_encode(md, mdlen, out->fingerprint);
	if (epoch_of(X509_get0_notBefore(x), &out->not_before) != WSG_OK ||
	    epoch_of(X509_get0_notAfter(x), &out->not_after) != WSG_OK)
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                     "the certificate's validity dates are "
		                     "unreadable");
	/* Mapping an expired certificate is a mistake: it could never
	 * authenticate anyone. */
	if (out->not_after < now) {
		wsg_usercert_time(out->not_after, when);
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_CLIENT,
		                     "the certificate expired on %s", when);
	}
	rc = name_of(X509_get_subject_name(x), "subject", out->subject,
	             sizeof(out->subject), err);
	if (rc == WSG_OK)
		rc = name_of(X509_get_issuer_name(x), "issuer", out->issuer,
		             sizeof(out->issuer), err);
	if (rc == WSG_OK)
		rc = serial_of(x, out->serial, sizeof(out->serial), err);
	return rc;
}

/* Exactly the bytes of one DER certificate, nothing after it. */
static X509 *
der_cert(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);

	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* 1 when `s[0..len)` holds `needle`. */
static int
has_text(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(s + i, needle, n) == 0)
			return 1;
	return 0;
}

int
wsg_usercert_parse(const char *pem, size_t len, int64_t now,
                   struct wsg_usercert *out, struct wsg_error *err)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL, *der = NULL;
	long dlen = 0, derlen = 0;
	unsigned long e;
	int ncerts = 0, nblocks = 0, rc = WSG_OK;
	X509 *x = NULL;
	BIO *b = NULL;

	memset(out, 0, sizeof(*out));
	if (len > WSG_USERCERT_MAX_PEM)
		return wsg_error_set(err, WSG_ERR_LIMIT, WSG_FAULT_CLIENT,
		                     "the PEM text is larger than %d bytes",
		                     WSG_USERCERT_MAX_PEM);
	/* Looked for as text too: a key whose block is damaged is still a
	 * key that should not travel with the certificate. */
	if (has_text(pem, len, "PRIVATE KEY-----"))
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_CLIENT,
		                     "the PEM text holds a private key: give "
		                     "the certificate only");
	ERR_clear_error();
	b = BIO_new_mem_buf(pem, (int)len);
	if (b == NULL) {
		rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_SERVER,
		                   "out of memory");
		goto out;
	}
	while (nblocks < MAX_BLOCKS &&
	       PEM_read_bio(b, &name, &header, &data, &dlen) == 1) {
		nblocks++;
		if (strcmp(name, "CERTIFICATE") != 0) {
			rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
			                   "unexpected PEM block '%.64s': give "
			                   "one CERTIFICATE block",
			                   name);
			goto out;
		}
		if (++ncerts == 1) {
			der = data;
			derlen = dlen;
			data = NULL;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	/* The loop ends at the end of the text (no more BEGIN line), or at a
	 * damaged block, which is refused. */
	e = ERR_peek_last_error();
	if (nblocks < MAX_BLOCKS &&
	    !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
	      ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                   "malformed PEM text");
		goto out;
	}
	if (ncerts != 1 || nblocks >= MAX_BLOCKS) {
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                   ncerts == 0
		                           ? "no PEM CERTIFICATE block found"
		                           : "more than one certificate: give "
		                             "exactly one");
		goto out;
	}
	x = der_cert(der, derlen);
	if (x == NULL) {
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                   "the CERTIFICATE block is not an X.509 "
		                   "certificate");
		goto out;
	}
	rc = fields_of(x, now, out, err);
out:
	if (rc != WSG_OK)
		memset(out, 0, sizeof(*out));
	ERR_clear_error();
	X509_free(x);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	OPENSSL_free(der);
	BIO_free(b);
	return rc;
}

/* The store's form of `in` in `out`; 0, or -1 when `in` is no fingerprint. */
static int
normalise(const char *in, char *out)
{
	size_t n = 0, i, len = strlen(in);
	int colons = len == WSG_USERCERT_FP_LEN + WSG_USERCERT_FP_LEN / 2 - 1;

	if (len != WSG_USERCERT_FP_LEN && !colons)
		return -1;
	for (i = 0; i < len; i++) {
		if (colons && i % 3 == 2) {
			if (in[i] != ':')
				return -1;
			continue;
		}
		if (wsg_hex_digit(in[i]) < 0)
			return -1;
		out[n++] = "0123456789abcdef"[wsg_hex_digit(in[i])];
	}
	out[n] = '\0';
	return 0;
}

int
wsg_usercert_fingerprint(const char *in, char out[WSG_USERCERT_FP_LEN + 1],
                         struct wsg_error *err)
{
	if (in != NULL && normalise(in, out) == 0)
		return WSG_OK;
	out[0] = '\0';
	return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_CLIENT,
	                     "a certificate fingerprint is 64 hexadecimal "
	                     "digits (SHA-256), optionally in ':'-separated "
	                     "pairs");
}

void
wsg_usercert_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%lld", (long long)t);
}
