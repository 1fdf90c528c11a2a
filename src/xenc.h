/*
 * XML Encryption in the Security header (WSS 1.1 SOAP Message Security §9):
 * xenc:EncryptedKey elements addressed to the gateway's certificate, whose
 * key (RSA-OAEP only) opens the xenc:EncryptedData their ReferenceList
 * names: the Body's content and encrypted blocks of the Security header.
 * The content is decrypted with xmlsec1 and replaces the EncryptedData in
 * the tree. No network, no database.
 */
#ifndef WSG_XENC_H
#define WSG_XENC_H

#include <libxml/tree.h>
#include <stdint.h>

#include "soap.h"
#include "types.h"

#define WSG_NS_XENC "http://www.w3.org/2001/04/xmlenc#"
#define WSG_NS_XENC11 "http://www.w3.org/2009/xmlenc11#"

/* A route's `decrypt = { ... }` block as the config file writes it. */
struct wsg_xenc_settings {
	char *key;                    /* PEM private key, absolute path */
	char *cert;                   /* PEM certificate of that key */
	int require;                  /* the Body must come encrypted */
	int64_t max_encrypted_keys;   /* EncryptedKey elements per message */
	int64_t max_encrypted_blocks; /* EncryptedData opened per message */
};

/* The loaded keys: immutable, shared by every worker of a config. */
struct wsg_xenc_conf;

/*
 * Loads the private key and certificate named by `s` (the key file must
 * pass wsg_keyfile_check()) and checks that they belong together. On
 * success `*out` is the caller's (wsg_xenc_conf_free()); on failure it is
 * NULL, WSG_ERR_CONFIG (or WSG_ERR_PERM / WSG_ERR_IO from the key file
 * check) with err->reason naming the file and the problem.
 */
int wsg_xenc_conf_load(const struct wsg_xenc_settings *s,
                       struct wsg_xenc_conf **out, struct wsg_error *err);

void wsg_xenc_conf_free(struct wsg_xenc_conf *c);

/* Frees what wsg_xenc_settings holds; leaves it zeroed. */
void wsg_xenc_settings_clear(struct wsg_xenc_settings *s);

/*
 * Opens one xenc:EncryptedKey `ek`, a child of the processed Security
 * header of `m` (the caller checked which header that is): its key identifier
 * must name c's certificate, its algorithm RSA-OAEP (xmlenc rsa-oaep-mgf1p with
 * a SHA-1 or SHA-256 digest, or xmlenc11 rsa-oaep with MGF1 SHA-1/SHA-256);
 * RSA-1.5 and anything else is refused. Every EncryptedData its ReferenceList
 * names (AES-128/256-CBC or -GCM; Content type as the Body's child, Element
 * type as a child of that header) is decrypted and replaced by its plaintext,
 * which must hold no processing instruction and keep within `limits`.
 * `*n_blocks` counts the blocks opened so far in the message against
 * c's cap. A key that does not unwrap is replaced by a random one and the
 * content decryption still runs: every failure costs the same work and
 * fails with WSG_ERR_SECURITY, err->fault = WSG_FAULT_FAILED_CHECK and
 * err->reason naming the cause (for the audit log only). After any change
 * m->rewritten is set (the envelope must be serialised again).
 */
int wsg_xenc_decrypt_key(const struct wsg_xenc_conf *c, struct wsg_soap_msg *m,
                         xmlNodePtr ek, const struct wsg_soap_limits *limits,
                         size_t *n_blocks, struct wsg_error *err);

/* Called for each child element of the Security header that is not an
 * EncryptedKey the route opens; a non-WSG_OK answer stops the walk. */
typedef int (*wsg_xenc_visit_cb)(xmlNodePtr child, void *arg,
                                 struct wsg_error *err);

/*
 * The processed Security header `sec` of `m`, child by child in document
 * order (WSS 1.1 §5: what a header element says applies to what follows
 * it): each EncryptedKey through wsg_xenc_decrypt_key() (at most c's
 * max_encrypted_keys), every other child element to `visit` (may be NULL),
 * so that a signature before an EncryptedKey is checked over the
 * ciphertext and one after it over the plaintext. `c` NULL (the route has
 * no decrypt block): a message with an EncryptedKey or EncryptedData in
 * that header or an EncryptedData in its Body cannot be checked and fails
 * with WSG_FAULT_INVALID_SECURITY. Afterwards any EncryptedData left in the
 * Body or the header, and a plaintext Body under `require`, fail the same
 * way. WSG_OK when nothing is wrong (also for a message without any
 * encryption, unless `require`).
 */
int wsg_xenc_process(const struct wsg_xenc_conf *c, struct wsg_soap_msg *m,
                     xmlNodePtr sec, const struct wsg_soap_limits *limits,
                     wsg_xenc_visit_cb visit, void *arg, struct wsg_error *err);

#endif
