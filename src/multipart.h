/*
 * multipart/related requests (MTOM/XOP and SOAP with Attachments): the MIME
 * framing of RFC 2046/2387 checked strictly, the root part found, and the
 * slices to forward around its envelope. No XML, no network: the envelope
 * is parsed by soap.c like a single-part body.
 */
#ifndef WSG_MULTIPART_H
#define WSG_MULTIPART_H

#include <stddef.h>
#include <sys/uio.h>

#include "types.h"

/* Slices wsg_multipart_relay_parts() adds around the root's envelope. */
#define WSG_MULTIPART_FRAME_PARTS 4

/* Bytes of an action parameter inside a multipart's media types. */
#define WSG_MULTIPART_MAX_ACTION 1024

/* A zero field means the default shown. */
struct wsg_multipart_limits {
	size_t max_parts;            /* parts in one message, e.g. 100 */
	size_t max_part_size;        /* bytes of one part's body, e.g. 10 MiB */
	size_t max_part_header_size; /* bytes of one part's headers, e.g. 8192
	                              */
};

/* A checked message; offsets are into the body it was parsed from. */
struct wsg_multipart {
	enum wsg_soap_version version; /* announced by the media types */
	int xop;           /* MTOM: the envelope's namespace decides the
	                      version (node-soap announces text/xml for both) */
	size_t root_start; /* the root part's body: the envelope */
	size_t root_end;
	size_t cl_start; /* the root part's Content-Length value, */
	size_t cl_end;   /* when it has one (cl_end > 0) */
	size_t n_parts;
	char cl[24]; /* its new value, for wsg_multipart_relay_parts() */
	/* The SOAP 1.2 action the message names in its media types besides
	 * its own Content-Type's `action` parameter: in `start-info`, and in
	 * the root part's Content-Type and its `type` parameter. They must
	 * agree; "" when none names one. */
	char action[WSG_MULTIPART_MAX_ACTION + 1];
};

/* 1 when the Content-Type value `ctype` (may be NULL) is multipart/related. */
int wsg_multipart_is(const char *ctype);

/*
 * The SOAP version a multipart/related Content-Type announces through its
 * `type` and `start-info` parameters, for faults before the body is read;
 * WSG_SOAP_UNKNOWN when it says none (or is not multipart/related).
 */
enum wsg_soap_version wsg_multipart_media(const char *ctype);

/*
 * Checks the `len` bytes at `body`, sent with Content-Type `ctype`, as a
 * multipart/related SOAP message: boundary parameter, delimiters and close
 * delimiter, part headers (no folding, no duplicates of Content-Type,
 * Content-ID or Content-Length, a part's Content-Length equal to its body's
 * length), unique Content-IDs, no nested multipart, the `limits`, and the
 * root part (named by `start`, else the first) of a SOAP or XOP type
 * agreeing with the message's `type`, not transfer-encoded. WSG_OK fills
 * `out`; otherwise WSG_ERR_PARSE or WSG_ERR_LIMIT with err->fault
 * WSG_FAULT_MULTIPART and err->reason saying why (no request bytes in it).
 */
int wsg_multipart_parse(const char *ctype, const char *body, size_t len,
                        const struct wsg_multipart_limits *limits,
                        struct wsg_multipart *out, struct wsg_error *err);

/* One part of a checked message; offsets into its body. */
struct wsg_multipart_part {
	size_t cid_start, cid_len; /* Content-ID without its <>; 0: none */
	size_t body_start, body_end;
	int base64; /* Content-Transfer-Encoding: base64 */
};

/*
 * Every part of the message wsg_multipart_parse() accepts with the same
 * arguments, in order, for what must find parts by Content-ID (XOP
 * includes). `*parts` is malloc'ed (caller frees); on an error, as
 * wsg_multipart_parse() fails, it is NULL.
 */
int wsg_multipart_index(const char *ctype, const char *body, size_t len,
                        const struct wsg_multipart_limits *limits,
                        struct wsg_multipart_part **parts, size_t *n,
                        struct wsg_error *err);

/*
 * The whole message to forward, as slices of `body` (no copy): the bytes
 * before the root's envelope (its Content-Length, if any, rewritten into
 * mp->cl when the envelope's length changed), the `n_root` slices of the
 * envelope to send, and the bytes after it: `*n` slices into `out`, which has
 * room for `max` >= `n_root` + WSG_MULTIPART_FRAME_PARTS.
 */
void wsg_multipart_relay_parts(struct wsg_multipart *mp, const char *body,
                               size_t len, const struct iovec *root,
                               size_t n_root, struct iovec *out, size_t max,
                               size_t *n);

#endif
