/*
 * Cross-module types shared by several concerns. Types only, no functions.
 */
#ifndef WSG_TYPES_H
#define WSG_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* 0 is success; every failure is one of these negative values. */
enum wsg_err {
	WSG_OK = 0,
	WSG_ERR_NOMEM = -1,
	WSG_ERR_IO = -2,
	WSG_ERR_CONFIG = -3,
	WSG_ERR_PARSE = -4, /* malformed input */
	WSG_ERR_DB = -5,    /* database unreachable or failed */
	WSG_ERR_CRYPTO = -6,
	WSG_ERR_NOTFOUND = -7,
	WSG_ERR_EXISTS = -8,
	WSG_ERR_LIMIT = -9, /* input exceeds a configured cap */
	WSG_ERR_TIMEOUT = -10,
	WSG_ERR_INVAL = -11,    /* caller passed something invalid */
	WSG_ERR_FULL = -12,     /* a bounded store holds no room */
	WSG_ERR_REPLAY = -13,   /* key already present */
	WSG_ERR_AUTH = -14,     /* credentials do not match */
	WSG_ERR_SECURITY = -15, /* a WS-Security rule failed; see the fault */
	WSG_ERR_PERM = -16,     /* file permissions unsafe */
	WSG_ERR_CONNECT = -17,  /* a server could not be reached or went away */
	WSG_ERR_AGAIN = -18, /* input incomplete so far: call again with more */
	/* a transaction lost to a concurrent one (deadlock, or a Galera
	 * certification failure): nothing of it was applied */
	WSG_ERR_CONFLICT = -19,
};

/* Faults the data plane answers; each maps to a SOAP 1.1 / 1.2 form (soap.c).
 */
enum wsg_fault {
	WSG_FAULT_NONE = 0,
	WSG_FAULT_FAILED_AUTHENTICATION,
	WSG_FAULT_INVALID_SECURITY,
	WSG_FAULT_INVALID_SECURITY_TOKEN,
	WSG_FAULT_UNSUPPORTED_SECURITY_TOKEN,
	WSG_FAULT_MESSAGE_EXPIRED,
	WSG_FAULT_VERSION_MISMATCH,
	WSG_FAULT_MUST_UNDERSTAND,
	WSG_FAULT_CLIENT, /* malformed or hostile request: Client / Sender */
	WSG_FAULT_SERVER, /* internal or database error: Server / Receiver */
	WSG_FAULT_UPSTREAM_ERROR,    /* upstream unreachable or broken: Server,
	                                HTTP 502 */
	WSG_FAULT_UPSTREAM_TIMEOUT,  /* upstream too slow: Server, HTTP 504 */
	WSG_FAULT_UNSUPPORTED_MEDIA, /* wrong Content-Type: Client, HTTP 415 */
	WSG_FAULT_NOT_FOUND,         /* no route: Client, HTTP 404 */
	WSG_FAULT_METHOD,            /* not POST: Client, HTTP 405 */
	WSG_FAULT_TOO_LARGE,         /* body over the cap: Client, HTTP 413 */
	WSG_FAULT_TRY_LATER, /* client address over security.client_limit:
	                        Server / Receiver, HTTP 429 */
	WSG_FAULT_BUSY,      /* a bounded queue is full: Server /
	                        Receiver, HTTP 503 */
	WSG_FAULT_BAD_PATH,  /* path refused by path.c: Client, HTTP 400 */
	WSG_FAULT_MULTIPART, /* malformed multipart/related: Client / Sender */
	WSG_FAULT_FAILED_CHECK, /* wsse:FailedCheck: a signature or decryption
	                           failed (one generic answer for all) */
	WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE, /* the signing key is not found */
	WSG_FAULT__COUNT
};

enum wsg_soap_version {
	WSG_SOAP_UNKNOWN = 0,
	WSG_SOAP_11,
	WSG_SOAP_12,
};

/* Password types as a bitmask, so a route can allow several. */
enum wsg_pwtype {
	WSG_PWTYPE_NONE = 0,
	WSG_PWTYPE_TEXT = 1,
	WSG_PWTYPE_DIGEST = 2,
	WSG_PWTYPE_CUSTOM = 4, /* a Type URI we do not support */
};

enum wsg_auth_mode {
	WSG_AUTH_WSSE = 0,
	WSG_AUTH_BASIC,
	WSG_AUTH_WSSE_OR_BASIC,
	WSG_AUTH_X509,         /* the signer's certificate names the user */
	WSG_AUTH_WSSE_OR_X509, /* a UsernameToken, else the signer's */
};

/* A point in time with sub-second precision (UTC, seconds since the epoch). */
struct wsg_time {
	int64_t sec;
	int32_t nsec;
};

/*
 * The reason an operation failed. `code` is the enum wsg_err, `fault` what
 * the peer is told, `reason` the precise cause for logs (never a secret).
 */
struct wsg_error {
	int code;
	enum wsg_fault fault;
	char reason[512];
};

#endif
