/* Error values: names for enum wsg_err and filling struct wsg_error. */
#ifndef WSG_ERR_H
#define WSG_ERR_H

#include "types.h"

/* Static, human-readable name of an enum wsg_err value. */
const char *wsg_strerror(int code);

/*
 * Records a failure in `e` (may be NULL) and returns `code`, so callers can
 * write `return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT, "...")`.
 */
int wsg_error_set(struct wsg_error *e, int code, enum wsg_fault fault,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Resets `e` to "no error". */
void wsg_error_clear(struct wsg_error *e);

#endif
