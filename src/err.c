#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
wsg_strerror(int code)
{
	switch (code) {
	case WSG_OK: return "success";
	case WSG_ERR_NOMEM: return "out of memory";
	case WSG_ERR_IO: return "input/output error";
	case WSG_ERR_CONFIG: return "configuration error";
	case WSG_ERR_PARSE: return "malformed input";
	case WSG_ERR_DB: return "database error";
	case WSG_ERR_CRYPTO: return "cryptographic failure";
	case WSG_ERR_NOTFOUND: return "not found";
	case WSG_ERR_EXISTS: return "already exists";
	case WSG_ERR_LIMIT: return "limit exceeded";
	case WSG_ERR_TIMEOUT: return "timed out";
	case WSG_ERR_INVAL: return "invalid argument";
	case WSG_ERR_FULL: return "store full";
	case WSG_ERR_REPLAY: return "replayed";
	case WSG_ERR_AUTH: return "authentication failed";
	case WSG_ERR_SECURITY: return "security check failed";
	case WSG_ERR_PERM: return "unsafe permissions";
	case WSG_ERR_CONNECT: return "cannot connect";
	case WSG_ERR_AGAIN: return "incomplete input";
	case WSG_ERR_CONFLICT: return "conflicting change";
	}
	return "unknown error";
}

int
wsg_error_set(struct wsg_error *e, int code, enum wsg_fault fault,
              const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	e->fault = fault;
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	return code;
}

void
wsg_error_clear(struct wsg_error *e)
{
	if (e == NULL)
		return;
	e->code = WSG_OK;
	e->fault = WSG_FAULT_NONE;
	e->reason[0] = '\0';
}
