/*
 * HTTP/1.1 message parsing (RFC 9112), strict enough that no two readers of
 * one byte stream can disagree on where a message ends: request and response
 * heads, their framing, and the chunked body coding. No I/O and no
 * allocation: every text handed back is a slice of the caller's buffer.
 *
 * Where the RFC lets a recipient choose, we refuse: bare LF line ends, an
 * empty line before the request line, obs-fold, Transfer-Encoding together
 * with Content-Length, Transfer-Encoding in HTTP/1.0, empty list elements or
 * parameters in Transfer-Encoding, any coding but one final chunked (400
 * when chunked is not last or comes twice, else 501 for the codings before
 * it), HTTP/1.x versions other than 1.0 and 1.1 (505), CONNECT (501), a
 * fragment in the target. Several Content-Length values pass only when
 * byte-identical ("5, 5"; not "5, 05").
 * OWS (SP, HTAB) around values is dropped, so "Transfer-Encoding:\tchunked"
 * is chunked. Header values may hold obs-text (bytes >= 0x80), no CTL.
 */
#ifndef WSG_H1_H
#define WSG_H1_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The caller's defaults for what config.h does not name. */
#define WSG_H1_MAX_LINE 8192     /* request or status line, without CRLF */
#define WSG_H1_MAX_HEADERS 100   /* header field lines in one head */
#define WSG_H1_MAX_CHUNK_EXT 256 /* chunk extension bytes per message */
#define WSG_H1_MAX_TRAILER 4096  /* trailer section bytes per message */

/* Bytes of the caller's buffer; never NUL-terminated. */
struct wsg_h1_slice {
	const char *p;
	size_t len;
};

/* One field line: the name as sent, the value without surrounding OWS. */
struct wsg_h1_header {
	struct wsg_h1_slice name;
	struct wsg_h1_slice value;
};

struct wsg_h1_limits {
	size_t max_line;    /* start line bytes without CRLF: 414 beyond */
	size_t max_head;    /* header section bytes after the start line: 431 */
	size_t max_headers; /* field lines: 431 beyond */
	uint64_t max_body;  /* declared or decoded body bytes: 413 beyond */
};

/* How the request-target is written (RFC 9112 3.2). */
enum wsg_h1_form {
	WSG_H1_FORM_ORIGIN = 0, /* "/path?query" */
	WSG_H1_FORM_ABSOLUTE,   /* "http://host/path": see `authority` */
	WSG_H1_FORM_ASTERISK,   /* "*", OPTIONS only */
};

/* Where the body ends (RFC 9112 6.3). */
enum wsg_h1_body {
	WSG_H1_BODY_NONE = 0, /* no body at all */
	WSG_H1_BODY_LENGTH,   /* `content_length` bytes (may be 0) */
	WSG_H1_BODY_CHUNKED,  /* wsg_h1_chunked_decode() until done */
	WSG_H1_BODY_CLOSE,    /* responses only: until the peer closes */
};

enum wsg_h1_expect {
	WSG_H1_EXPECT_NONE = 0,
	WSG_H1_EXPECT_CONTINUE, /* answer 100 before reading the body */
	WSG_H1_EXPECT_OTHER,    /* answer 417 */
};

/* What was wrong, one value per kind of refusal (see wsg_h1_error). */
enum wsg_h1_problem {
	WSG_H1_OK = 0,
	WSG_H1_LINE_TOO_LONG,       /* start line over max_line */
	WSG_H1_HEAD_TOO_LARGE,      /* header section over max_head */
	WSG_H1_TOO_MANY_HEADERS,    /* over max_headers */
	WSG_H1_BARE_CR,             /* CR not followed by LF */
	WSG_H1_BARE_LF,             /* LF not preceded by CR */
	WSG_H1_EMPTY_LINE,          /* empty line where a start line belongs */
	WSG_H1_REQUEST_LINE,        /* not "method SP target SP version" */
	WSG_H1_METHOD,              /* method not a token */
	WSG_H1_TARGET,              /* bad byte or form of the request-target */
	WSG_H1_CONNECT,             /* CONNECT: we tunnel nothing */
	WSG_H1_VERSION,             /* not "HTTP/" DIGIT "." DIGIT */
	WSG_H1_VERSION_UNSUPPORTED, /* neither HTTP/1.0 nor HTTP/1.1 */
	WSG_H1_STATUS_LINE,         /* not "version SP 3DIGIT [SP reason]" */
	WSG_H1_SWITCHING,           /* 101 that nobody asked for */
	WSG_H1_LEADING_WS,          /* whitespace before the first field line */
	WSG_H1_OBS_FOLD,            /* field line continued on the next line */
	WSG_H1_NAME,                /* field name empty or not a token */
	WSG_H1_SPACE_BEFORE_COLON,
	WSG_H1_NO_COLON,
	WSG_H1_VALUE,        /* NUL or another control byte in a value */
	WSG_H1_HOST_MISSING, /* HTTP/1.1 request without Host */
	WSG_H1_HOST_DUPLICATE,
	WSG_H1_HOST_INVALID,
	WSG_H1_CTYPE_DUPLICATE, /* a request with several Content-Type fields */
	WSG_H1_CONNECTION,      /* Connection list element not a token */
	WSG_H1_CL_INVALID,      /* Content-Length not 1*DIGIT */
	WSG_H1_CL_OVERFLOW,
	WSG_H1_CL_CONFLICT,    /* several Content-Length values that differ */
	WSG_H1_TE_INVALID,     /* Transfer-Encoding list malformed */
	WSG_H1_TE_NOT_CHUNKED, /* final coding not chunked, or chunked twice */
	WSG_H1_TE_UNSUPPORTED, /* a coding other than chunked: 501 */
	WSG_H1_TE_HTTP10,      /* Transfer-Encoding in an HTTP/1.0 message */
	WSG_H1_TE_AND_CL,      /* both Transfer-Encoding and Content-Length */
	WSG_H1_BODY_TOO_LARGE, /* declared or decoded body over max_body */
	WSG_H1_CHUNK_SIZE,     /* chunk size missing or not hex */
	WSG_H1_CHUNK_OVERFLOW, /* chunk size over 16 hex digits */
	WSG_H1_CHUNK_EXT,      /* bad byte in a chunk extension */
	WSG_H1_CHUNK_EXT_TOO_LONG,
	WSG_H1_CHUNK_CRLF, /* chunk data not followed by CRLF */
	WSG_H1_TRAILER,    /* malformed trailer field line */
	WSG_H1_TRAILER_TOO_LARGE,
	WSG_H1_TRAILER_FRAMING, /* Content-Length or Transfer-Encoding there */
	WSG_H1_PROBLEM__COUNT
};

/*
 * A refusal: the kind, the HTTP status the gateway answers (400, 413, 414,
 * 431, 501, 505 for a request; always 502 for an upstream response), a
 * static short text for logs, and the offset in the input where it was seen.
 */
struct wsg_h1_error {
	enum wsg_h1_problem problem;
	int status;
	const char *reason;
	size_t offset;
};

/* Resumable state of one head parse; see wsg_h1_parser_init(). */
struct wsg_h1_parser {
	struct wsg_h1_limits lim;
	size_t scanned;    /* bytes whose line ends and limits are checked */
	size_t line_start; /* offset of the line being scanned */
	size_t head_start; /* offset after the start line's CRLF, or 0 */
};

struct wsg_h1_request {
	struct wsg_h1_slice method;
	struct wsg_h1_slice target; /* as sent */
	enum wsg_h1_form form;
	struct wsg_h1_slice authority; /* absolute-form's host[:port] */
	int minor;                     /* HTTP/1.<minor>: 0 or 1 */
	struct wsg_h1_header *headers; /* the caller's array, n_headers used */
	size_t n_headers;
	size_t head_len;           /* bytes up to and with the empty line */
	enum wsg_h1_body body;     /* NONE, LENGTH or CHUNKED */
	uint64_t content_length;   /* with WSG_H1_BODY_LENGTH */
	int keep_alive;            /* 0: close after answering */
	enum wsg_h1_expect expect; /* always NONE for HTTP/1.0 */
	int has_host;
	struct wsg_h1_slice host; /* the Host value (may be empty) */
};

struct wsg_h1_response {
	int status;                 /* 100..599 */
	struct wsg_h1_slice reason; /* may be empty */
	int minor;
	struct wsg_h1_header *headers;
	size_t n_headers;
	size_t head_len;
	int interim;           /* 1xx: skip head_len and parse again */
	enum wsg_h1_body body; /* NONE, LENGTH, CHUNKED or CLOSE */
	uint64_t content_length;
	int keep_alive; /* 0: the connection must not be reused */
};

/* Incremental chunked-body decoder (RFC 9112 7.1); see wsg_h1_chunked_init. */
struct wsg_h1_chunked {
	int state;
	int digits;     /* hex digits of the current size */
	uint64_t left;  /* data bytes left in the current chunk */
	uint64_t total; /* data bytes so far */
	uint64_t max_body;
	size_t ext_len;     /* chunk extension bytes so far */
	size_t trailer_len; /* trailer section bytes so far */
	char name[17];      /* start of the trailer field name being read */
	size_t name_len;
	int done;
};

/* Fills `lim` for client requests from the `limits` config group. */
void wsg_h1_request_limits(const struct wsg_limits_conf *conf,
                           struct wsg_h1_limits *lim);

/* Fills `lim` for upstream responses from the `limits` config group. */
void wsg_h1_response_limits(const struct wsg_limits_conf *conf,
                            struct wsg_h1_limits *lim);

/* Starts a head parse (request or response) under `lim` (copied). One
 * parser per message: after a verdict other than WSG_ERR_AGAIN, init again. */
void wsg_h1_parser_init(struct wsg_h1_parser *p,
                        const struct wsg_h1_limits *lim);

/*
 * Parses the request head at the start of buf[0..len). Call it again with
 * the same parser and a longer buffer (the same bytes first, possibly moved)
 * as more arrives: bytes already checked are not scanned again, and the head
 * is parsed once, when its empty line is there. `headers` has room for
 * lim->max_headers entries. Returns WSG_OK with *req filled (its slices point
 * into `buf`; the body, if any, starts at buf + req->head_len),
 * WSG_ERR_AGAIN when the head is incomplete, or WSG_ERR_PARSE / WSG_ERR_LIMIT
 * with *err (then answer err->status and close). Absolute-form targets are
 * reported, not refused: the caller compares req->authority with its own.
 */
int wsg_h1_parse_request(struct wsg_h1_parser *p, const char *buf, size_t len,
                         struct wsg_h1_header *headers,
                         struct wsg_h1_request *req, struct wsg_h1_error *err);

/*
 * Parses an upstream response head, as wsg_h1_parse_request() does.
 * `head_request`: the request was HEAD, so no body follows. A 1xx other
 * than 101 is returned with res->interim set; skip it and parse again with
 * a fresh parser. Every refusal has err->status 502.
 */
int wsg_h1_parse_response(struct wsg_h1_parser *p, const char *buf, size_t len,
                          int head_request, struct wsg_h1_header *headers,
                          struct wsg_h1_response *res,
                          struct wsg_h1_error *err);

/* Starts decoding one chunked body of at most `max_body` data bytes. */
void wsg_h1_chunked_init(struct wsg_h1_chunked *c, uint64_t max_body);

/*
 * Decodes the chunked bytes buf[0..len) in place: the data found is moved to
 * buf[0..*out) and everything read is consumed, so the caller keeps its
 * decoded bytes, drops the rest and appends what arrives next. Returns
 * WSG_ERR_AGAIN when the body goes on, WSG_OK once the last chunk and the
 * trailer section (checked and dropped) are read: then *used is where the
 * message ended and buf[*used..len) is untouched (a pipelined message).
 * WSG_ERR_PARSE or WSG_ERR_LIMIT (413: more than max_body data bytes)
 * come with *err; `status` is for a request, a caller relaying a response
 * answers 502.
 */
int wsg_h1_chunked_decode(struct wsg_h1_chunked *c, char *buf, size_t len,
                          size_t *used, size_t *out, struct wsg_h1_error *err);

/* The first field named `name` (case-insensitive), or NULL. */
const struct wsg_h1_header *wsg_h1_find(const struct wsg_h1_header *headers,
                                        size_t n, const char *name);

/* Static text of a problem. */
const char *wsg_h1_reason(enum wsg_h1_problem problem);

#endif
