/*
 * Allocation wrappers: out-of-memory aborts the process (tmux, Redis), so
 * callers never carry NULL checks for allocations. Sizes that input
 * controls must be bounded by the caller before allocating.
 */
#ifndef WSG_MEM_H
#define WSG_MEM_H

#include <stddef.h>

void *wsg_mem_alloc(size_t n);
void *wsg_mem_calloc(size_t nmemb, size_t size);
void *wsg_mem_realloc(void *p, size_t n);
char *wsg_mem_strdup(const char *s);
/* Copies len bytes of s and NUL-terminates; s may contain NULs. */
char *wsg_mem_strndup(const char *s, size_t len);
/* printf into a newly allocated string. */
char *wsg_mem_printf(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));
/* Wipes n bytes at p (not optimised away), then frees p. */
void wsg_mem_free_secret(void *p, size_t n);
/* Wipes the whole usable size of a malloc'ed block, then frees it; for
 * libraries (jansson) that copy secrets into blocks of unknown length. */
void wsg_mem_free_wiped(void *p);

#endif
