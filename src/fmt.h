/*
 * Appending text to a buffer without printf, for the lines written for
 * every request (access log, HTTP heads): printf's format parsing cost
 * more than the rest of each such line (bench/README.md).
 */
#ifndef WSG_FMT_H
#define WSG_FMT_H

#include <stddef.h>

/* Each appends at `p`, never past `end`, and returns the new end; the
 * result is not NUL-terminated. */
char *wsg_fmt_mem(char *p, const char *end, const char *s, size_t n);
char *wsg_fmt_str(char *p, const char *end, const char *s);
/* `v` in decimal. */
char *wsg_fmt_uint(char *p, const char *end, unsigned long long v);

#endif
