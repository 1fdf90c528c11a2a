#include "certid.h"

#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "mem.h"

char *
wsg_certid_dn(const char *s)
{
	char *out = wsg_mem_alloc(strlen(s) + 1);
	size_t o = 0;

	for (; *s != '\0'; s++) {
		if (*s == ' ' && (o == 0 || strchr(",+=", out[o - 1]) ||
		                  s[1] == '\0' || strchr(",+= ", s[1])))
			continue;
		if (*s == '\\' && s[1] != '\0') {
			out[o++] = *s++;
			out[o++] = *s;
			continue;
		}
		out[o++] = (char)tolower((unsigned char)*s);
	}
	out[o] = '\0';
	return out;
}

int
wsg_certid_issuer_is(X509 *x, const char *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *have, *a, *want;
	long len;
	int same;

	if (b == NULL)
		return 0;
	X509_NAME_print_ex(b, X509_get_issuer_name(x), 0,
	                   XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	len = BIO_get_mem_data(b, &p);
	have = wsg_mem_strndup(p, (size_t)len);
	BIO_free(b);
	a = wsg_certid_dn(have);
	want = wsg_certid_dn(name);
	same = strcmp(a, want) == 0;
	free(have);
	free(a);
	free(want);
	return same;
}

unsigned
wsg_certid_ski(X509 *x, unsigned char *out)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
	const ASN1_BIT_STRING *bits;
	unsigned len = 0;

	if (ski != NULL && ASN1_STRING_length(ski) <= EVP_MAX_MD_SIZE) {
		len = (unsigned)ASN1_STRING_length(ski);
		memcpy(out, ASN1_STRING_get0_data(ski), len);
		return len;
	}
	bits = X509_get0_pubkey_bitstr(x);
	if (bits == NULL || EVP_Digest(ASN1_STRING_get0_data(bits),
	                               (size_t)ASN1_STRING_length(bits), out,
	                               &len, EVP_sha1(), NULL) != 1)
		return 0;
	return len;
}

int
wsg_certid_digest_is(X509 *x, const unsigned char *want, size_t len,
                     int thumbprint)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;

	if (thumbprint) {
		if (X509_digest(x, EVP_sha1(), md, &md_len) != 1)
			return 0;
	} else {
		md_len = wsg_certid_ski(x, md);
	}
	return md_len > 0 && md_len == len && memcmp(md, want, len) == 0;
}
