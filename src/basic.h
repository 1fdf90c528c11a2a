/*
 * HTTP Basic authentication (RFC 7617) against the user store: the
 * Authorization header, which requests of a wsse_or_basic route take it,
 * and the answers to Basic requests. The credential check itself is
 * auth.c's pipeline (wsg_auth_start_basic()). Pure functions.
 */
#ifndef WSG_BASIC_H
#define WSG_BASIC_H

#include <stddef.h>

#include "soap.h"
#include "types.h"

/* RFC 7617 2.1: the charset parameter says we read credentials as UTF-8. */
#define WSG_BASIC_CHALLENGE "Basic realm=\"wssgate\", charset=\"UTF-8\""

/*
 * Parses an Authorization header value. The scheme is matched without
 * regard to case; the credentials must be canonical Base64 of
 * "user-id:password", split at the first colon, with no control
 * characters (RFC 7617 2). Returns WSG_OK with `*user` and `*password`
 * malloc'ed and NUL-terminated (caller frees; wipe the password),
 * WSG_ERR_NOTFOUND when `value` is NULL or another scheme, WSG_ERR_PARSE
 * when the Basic credentials are malformed. Out-params are cleared first.
 */
int wsg_basic_parse(const char *value, char **user, size_t *user_len,
                    char **password, size_t *password_len);

/*
 * 1 when `msg` carries any wsse:Security header, whatever its actor or
 * role: a wsse_or_basic route then processes it as WS-Security (WSO2's
 * POX security handler makes the same test). 0 otherwise.
 */
int wsg_basic_has_security_header(const struct wsg_soap_msg *msg);

/*
 * The answer to a failed request that took the Basic path: HTTP 401 for
 * WSG_FAULT_FAILED_AUTHENTICATION (the caller adds WWW-Authenticate), 403
 * for WSG_FAULT_INVALID_SECURITY (credentials refused over plain HTTP),
 * otherwise the status wsg_soap_build_fault() gives. The body is a SOAP
 * fault when the request's media type was SOAP (`media`), else a JSON
 * {"Error": "..."} with generic text. `*body` is malloc'ed (caller frees);
 * `*content_type` is static.
 */
int wsg_basic_build_reply(enum wsg_soap_version media, enum wsg_fault fault,
                          char **body, size_t *len, const char **content_type,
                          int *http_status);

#endif
