/*
 * XML-DSig verification of the Security header's ds:Signature elements
 * (xmlsec1, OpenSSL back-end) and the signature-wrapping (XSW) defences:
 * unique Ids, only the expected elements registered as Ids, references
 * checked by node identity against the element at its expected position,
 * the signer's key taken from the STR by the gateway and its chain checked
 * with OpenSSL against the route's trust anchors and CRL.
 */
#ifndef WSG_DSIG_H
#define WSG_DSIG_H

#include <libxml/tree.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "types.h"

struct wsg_soap_msg;

#define WSG_NS_DS "http://www.w3.org/2000/09/xmldsig#"
#define WSG_DSIG_SHA256_LEN 32

/* What a signature may cover (route `parts`). */
enum wsg_dsig_part {
	WSG_DSIG_PART_BODY = 1u << 0,
	WSG_DSIG_PART_TIMESTAMP = 1u << 1,
	WSG_DSIG_PART_USERNAME_TOKEN = 1u << 2,
};

/* Algorithms a route allows (route `algorithms`). */
enum wsg_dsig_alg {
	WSG_DSIG_ALG_RSA_SHA1 = 1u << 0, /* also allows SHA-1 digests */
	WSG_DSIG_ALG_RSA_SHA256 = 1u << 1,
	WSG_DSIG_ALG_RSA_SHA384 = 1u << 2,
	WSG_DSIG_ALG_RSA_SHA512 = 1u << 3,
	WSG_DSIG_ALG_ECDSA_SHA256 = 1u << 4,
	WSG_DSIG_ALG_ECDSA_SHA384 = 1u << 5,
	WSG_DSIG_ALG_ECDSA_SHA512 = 1u << 6,
};

/* A route's `signature = { ... }` block, with its trust loaded. */
struct wsg_dsig_cert_cache;

struct wsg_dsig_conf {
	int require;         /* a valid signature over `parts` is needed */
	unsigned parts;      /* enum wsg_dsig_part bits */
	unsigned algorithms; /* enum wsg_dsig_alg bits */
	char *trust;         /* absolute path of the CA file (PEM) */
	char *crl;           /* absolute path of a PEM CRL file, or NULL */
	char *certs;         /* PEM file or folder of signer certificates for
	                        KeyIdentifier / IssuerSerial, or NULL */
	unsigned max_references;  /* per signature */
	unsigned max_transforms;  /* per reference */
	unsigned max_signatures;  /* per message */
	unsigned max_chain_depth; /* CAs above the signer */
	X509_STORE *store;        /* trust (+ CRL), built by _conf_load() */
	STACK_OF(X509) * known;   /* `certs`, or NULL */
	/* Decoded signer certificates, shared by the route's workers
	 * (locked inside; the only part of the block that changes). */
	struct wsg_dsig_cert_cache *cache;
};

/* Per message: the expected elements and what verified signatures covered. */
struct wsg_dsig_state {
	const struct wsg_dsig_conf *conf;
	xmlDocPtr doc;
	xmlNodePtr security;   /* the processed Security header */
	xmlNodePtr body;       /* the Envelope's Body child */
	xmlNodePtr timestamp;  /* wsu:Timestamp child of `security`, or NULL */
	xmlNodePtr ut;         /* wsse:UsernameToken child, or NULL */
	int64_t now;           /* seconds since the epoch, for certificates */
	unsigned signed_parts; /* enum wsg_dsig_part bits, verified */
	unsigned n_signatures; /* ds:Signature elements processed */
	X509 *signer;          /* the first verified signer (owned) */
	unsigned char fingerprint[WSG_DSIG_SHA256_LEN]; /* SHA-256 of its DER */
	/* SHA-256 of the first verified signature's canonical SignedInfo
	 * (which holds the digests of the Timestamp and Body): the replay key
	 * of a message without a nonce. */
	unsigned char replay_key[WSG_DSIG_SHA256_LEN];
};

/* Initialises xmlsec1 and its OpenSSL back-end; once per process, before
 * threads start. WSG_OK or WSG_ERR_CRYPTO. */
int wsg_dsig_global_init(void);

/* Undoes wsg_dsig_global_init() at exit, after every thread ended. */
void wsg_dsig_global_cleanup(void);

/*
 * Loads conf->trust (and conf->crl, conf->certs) into conf->store and
 * conf->known. WSG_OK, or WSG_ERR_CONFIG with err->reason naming the file.
 */
int wsg_dsig_conf_load(struct wsg_dsig_conf *conf, struct wsg_error *err);

/* Frees what `conf` holds and `conf` itself; NULL is fine. */
void wsg_dsig_conf_free(struct wsg_dsig_conf *conf);

/* Name of an algorithm as the config writes it ("rsa-sha256"), -> bit, or
 * 0 when unknown. */
unsigned wsg_dsig_alg_from_name(const char *name);
/* "Body", "Timestamp", "UsernameToken" -> bit, or 0. */
unsigned wsg_dsig_part_from_name(const char *name);

/*
 * Readies `st` for the Security header `security` of `msg`: refuses an Id
 * value that appears twice anywhere in the document (wsu:Id, any *:Id, Id,
 * xml:id), then makes the Ids of exactly the Body, the header's Timestamp,
 * UsernameToken and BinarySecurityTokens the document's only registered
 * Ids, so that a reference can resolve to nothing else. WSG_OK, or
 * WSG_ERR_SECURITY with err->fault InvalidSecurity. Free with
 * wsg_dsig_state_clear().
 */
int wsg_dsig_prepare(struct wsg_dsig_state *st,
                     const struct wsg_dsig_conf *conf,
                     const struct wsg_soap_msg *msg, xmlNodePtr security,
                     int64_t now, struct wsg_error *err);

/*
 * Verifies one ds:Signature child of the processed Security header: caps,
 * exclusive C14N, same-document references to registered Ids only, the key
 * from its STR (BST direct reference, KeyIdentifier SKI / ThumbprintSHA1,
 * X509IssuerSerial against conf->known, else an X509Certificate in the
 * X509Data), the signer's chain, dates and key
 * usage, the allowed algorithms, then xmlsec1's verdict and every
 * reference's digest. On success adds the covered parts to st->signed_parts.
 * Failures: WSG_ERR_SECURITY with fault FailedCheck (bad signature or
 * digest), SecurityTokenUnavailable / InvalidSecurityToken (key problems),
 * InvalidSecurity (structure, references, caps, algorithms).
 */
int wsg_dsig_verify(struct wsg_dsig_state *st, xmlNodePtr signature,
                    struct wsg_error *err);

/*
 * After every child of the header was processed: with conf->require, a
 * verified signature must cover each listed part, and each covered part is
 * checked again to be the element at its position. WSG_OK or
 * WSG_ERR_SECURITY (InvalidSecurity).
 */
int wsg_dsig_finish(struct wsg_dsig_state *st, struct wsg_error *err);

/* Lower-case hex of st->fingerprint into `out` (65 bytes). */
void wsg_dsig_fingerprint_hex(const struct wsg_dsig_state *st, char out[65]);

/* Frees what `st` holds; leaves it zeroed. */
void wsg_dsig_state_clear(struct wsg_dsig_state *st);

#endif
