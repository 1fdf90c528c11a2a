/*
 * WS-Security header processing: locates the Security header addressed to
 * us, turns its UsernameToken and Timestamp into structs applying the BSP
 * rules, checks freshness, computes and verifies digests. Pure functions:
 * no clock (time is passed in), no network, no database.
 */
#ifndef WSG_WSSE_H
#define WSG_WSSE_H

#include <libxml/tree.h>

#include "soap.h"
#include "types.h"

#define WSG_NS_WSSE                                                            \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define WSG_NS_WSU                                                             \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define WSG_NS_WSSE11                                                          \
	"http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
#define WSG_WSSE_PASSWORD_TEXT                                                 \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-username-token-profile-1.0#PasswordText"
#define WSG_WSSE_PASSWORD_DIGEST                                               \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
#define WSG_WSSE_BASE64_BINARY                                                 \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-soap-message-security-1.0#Base64Binary"

#define WSG_WSSE_DIGEST_LEN 20
#define WSG_WSSE_MAX_NONCE 256 /* decoded bytes; longer nonces are refused */

/* What the parse and freshness rules need to know from the config/route. */
struct wsg_wsse_policy {
	/* Missing Password Type / Nonce EncodingType are errors; Timestamp
	 * times need Z and at most milliseconds. */
	int strict_bsp;
	int require_timestamp; /* a wsu:Timestamp must be present */
	int64_t created_ttl;   /* seconds a UT Created may lie in the past */
	int64_t future_ttl; /* seconds it may lie in the future (clock skew) */
	int64_t timestamp_ttl; /* seconds a Timestamp Created may lie in the
	                          past */
	int signature_route;   /* the route verifies signatures: a Security
	                          header without UsernameToken is parsed */
};

/* A parsed UsernameToken (and the Timestamp of the same header, if any). */
struct wsg_wsse_token {
	char *username; /* NUL-terminated UTF-8; "" when empty */
	size_t username_len;
	enum wsg_pwtype pwtype; /* NONE when there is no Password element */
	char *password;         /* PasswordText: the UTF-8 text, verbatim */
	size_t password_len;
	unsigned char digest[WSG_WSSE_DIGEST_LEN]; /* PasswordDigest: decoded */
	unsigned char *nonce; /* decoded Nonce bytes, NULL when absent */
	size_t nonce_len;
	char *created_text; /* UT Created exactly as sent, NULL when absent */
	size_t created_len;
	struct wsg_time created;
	int has_timestamp;
	struct wsg_time ts_created;
	int ts_has_expires;
	struct wsg_time ts_expires;
	xmlNodePtr
	        security; /* the consumed Security header (in the msg's doc) */
	int has_ut;       /* 0: no UsernameToken (signature_route only); then
	                     username is NULL */
};

/*
 * The one wsse:Security header addressed to the gateway (no actor/role, or
 * SOAP 1.2 role ultimateReceiver); others stay in the document untouched.
 * WSG_OK with `*out`, or WSG_ERR_SECURITY (InvalidSecurity) when there is
 * none or there are two.
 */
int wsg_wsse_find_security(const struct wsg_soap_msg *msg, xmlNodePtr *out,
                           struct wsg_error *err);

/*
 * The Username a plaintext UsernameToken child of `sec` names, for the
 * logs of what is refused before the header is parsed (the client limit):
 * malloc'ed (caller frees), NULL when there is none (it may be encrypted)
 * or it is not UTF-8 of at most 255 bytes. Nothing is checked beyond.
 */
char *wsg_wsse_claimed_user(xmlNodePtr sec);

/*
 * Finds the one wsse:Security header for the gateway (no actor/role, or
 * SOAP 1.2 role ultimateReceiver; not one for role next, which the gateway
 * does not process - see wsg_soap_check_next_headers()) and parses it into
 * `tok`, applying the rules of DESIGN 3.3 and reference §3 (BSP R4201/
 * R4220/R4221/R4222/R4223/R4225, Timestamp R3203...R3227, digest needs
 * non-empty Nonce and Created,
 * canonical Base64, one UsernameToken, one Security header, Salt/Iteration
 * refused, duplicate wsu:Id). Headers for other actors are left alone.
 * With policy->signature_route a header without UsernameToken is parsed
 * (tok->has_ut 0): its signature is then what authenticates (dsig.h).
 * Returns WSG_OK and fills `tok` (free with wsg_wsse_token_clear()), or
 * WSG_ERR_SECURITY with err->fault set to the WSS fault and err->reason
 * saying precisely why (never containing a password or a whole nonce).
 */
int wsg_wsse_parse(const struct wsg_soap_msg *msg,
                   const struct wsg_wsse_policy *policy,
                   struct wsg_wsse_token *tok, struct wsg_error *err);

/*
 * Checks UT Created against [now - created_ttl, now + future_ttl] and the
 * Timestamp (Created against [now - timestamp_ttl, now + future_ttl],
 * Expires strictly after now), bounds inclusive. Failure: WSG_ERR_SECURITY
 * with WSG_FAULT_MESSAGE_EXPIRED.
 */
int wsg_wsse_check_freshness(const struct wsg_wsse_token *tok,
                             const struct wsg_wsse_policy *policy,
                             struct wsg_time now, struct wsg_error *err);

/*
 * How long the token's nonce must stay in the replay cache, in seconds since
 * the epoch: max(now, Created) + created_ttl + future_ttl (DESIGN 3.3).
 */
int64_t wsg_wsse_nonce_expiry(const struct wsg_wsse_token *tok,
                              const struct wsg_wsse_policy *policy,
                              struct wsg_time now);

/* out = SHA-1(nonce || created || password); absent parts are empty. */
void wsg_wsse_digest(const unsigned char *nonce, size_t nonce_len,
                     const char *created, size_t created_len,
                     const char *password, size_t password_len,
                     unsigned char out[WSG_WSSE_DIGEST_LEN]);

/*
 * Verifies the token's password against the clear `password` in constant
 * time: digest tokens by recomputing the digest, text tokens by comparing
 * bytes (lengths compared without early exit). WSG_OK or WSG_ERR_AUTH.
 */
int wsg_wsse_verify(const struct wsg_wsse_token *tok, const char *password,
                    size_t password_len);

/*
 * Parses an xsd:dateTime. `utc_only` 1 (Timestamp, BSP R3217) refuses
 * non-zero offsets, 2 (with strict_bsp) any zone but Z; `max_frac` caps
 * significant fraction digits (3 for a strict Timestamp, 9 otherwise). Accepts
 * Z, z, +hh:mm, -hh:mm; refuses no zone, leading or trailing whitespace, second
 * 60, hour 24. WSG_OK or WSG_ERR_PARSE.
 */
int wsg_wsse_parse_datetime(const char *s, size_t len, int utc_only,
                            int max_frac, struct wsg_time *out);

/*
 * Decodes canonical Base64 after removing XML whitespace (space, tab, CR,
 * LF): any other non-alphabet byte, missing or misplaced padding, or
 * non-zero trailing bits fail with WSG_ERR_PARSE. `*out` is malloc'ed
 * (caller frees); an empty input yields len 0 and a non-NULL buffer.
 */
int wsg_wsse_base64_decode(const char *s, size_t len, unsigned char **out,
                           size_t *out_len);

/* Frees everything the token holds, wiping the password; leaves it zeroed. */
void wsg_wsse_token_clear(struct wsg_wsse_token *tok);

#endif
