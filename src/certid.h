/*
 * How a WS-Security key identifier names an X.509 certificate: its issuer
 * name as RFC 2253 text (compared the way WSS4J, .NET and xmlsec spellings
 * of one name agree), its SubjectKeyIdentifier and its SHA-1 thumbprint.
 * Shared by signature verification (dsig.c) and decryption (xenc.c).
 */
#ifndef WSG_CERTID_H
#define WSG_CERTID_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * An RFC 2253 name in the form names are compared in: no white space
 * around ',', '+' and '=', one case throughout (escaped characters kept).
 * Malloc'ed; the caller frees.
 */
char *wsg_certid_dn(const char *rfc2253);

/* 1 when `name` (RFC 2253 text as a message writes it) is x's issuer. */
int wsg_certid_issuer_is(X509 *x, const char *name);

/*
 * x's SubjectKeyIdentifier, or without the extension the SHA-1 of its
 * public key bits (RFC 5280 4.2.1.2 method 1, as WSS4J computes it), into
 * `out` (EVP_MAX_MD_SIZE bytes). Returns its length, 0 on failure.
 */
unsigned wsg_certid_ski(X509 *x, unsigned char *out);

/* 1 when `want` (`len` bytes) is x's SKI, or with `thumbprint` its SHA-1
 * thumbprint (a ThumbprintSHA1 KeyIdentifier). */
int wsg_certid_digest_is(X509 *x, const unsigned char *want, size_t len,
                         int thumbprint);

#endif
