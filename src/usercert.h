/*
 * Certificates that stand for users (user_certs, schema version 6): a PEM
 * file or body read into what the store keeps, and fingerprints as the
 * store writes them. The CLI's `user cert` verbs and the management API's
 * certificates resource both read certificates here, so they accept and
 * refuse the same files.
 */
#ifndef WSG_USERCERT_H
#define WSG_USERCERT_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

#define WSG_USERCERT_FP_LEN 64      /* hex digits of a SHA-256 */
#define WSG_USERCERT_MAX_PEM 65536  /* bytes of a PEM we read */
#define WSG_USERCERT_MAX_NAME 1024  /* bytes of an RFC 2253 subject/issuer */
#define WSG_USERCERT_MAX_SERIAL 128 /* hex digits of a serial number */

/* One certificate as the store keeps it; strings NUL-terminated. */
struct wsg_usercert {
	char fingerprint[WSG_USERCERT_FP_LEN + 1]; /* lowercase hex SHA-256
	                                              of the DER */
	char subject[WSG_USERCERT_MAX_NAME + 1];   /* RFC 2253, ASCII */
	char issuer[WSG_USERCERT_MAX_NAME + 1];
	char serial[WSG_USERCERT_MAX_SERIAL + 1]; /* uppercase hex */
	int64_t not_before;                       /* seconds since the epoch */
	int64_t not_after;
};

/*
 * Reads `len` bytes of PEM text: exactly one CERTIFICATE block, no private
 * key (a key in the file is refused, so that it is not passed around
 * further), no other block; text around the blocks is ignored. A
 * certificate that expired before `now` (seconds since the epoch) is
 * refused. WSG_OK with `out` filled; else WSG_ERR_PARSE, WSG_ERR_LIMIT or
 * WSG_ERR_INVAL (expired, a private key) with a one-line reason in `err`.
 */
int wsg_usercert_parse(const char *pem, size_t len, int64_t now,
                       struct wsg_usercert *out, struct wsg_error *err);

/*
 * A fingerprint as operators write it: 64 hex digits of either case,
 * optionally in pairs separated by ':' (`openssl x509 -fingerprint
 * -sha256`). Writes the store's form (lowercase, no ':') to `out`.
 * WSG_OK or WSG_ERR_INVAL with the reason in `err`.
 */
int wsg_usercert_fingerprint(const char *in, char out[WSG_USERCERT_FP_LEN + 1],
                             struct wsg_error *err);

/* `t` (seconds since the epoch) as "YYYY-MM-DDTHH:MM:SSZ". */
void wsg_usercert_time(int64_t t, char out[32]);

#endif
