/*
 * Allocation functions handed to jansson and libcurl: every block is wiped
 * before it is freed, so the passwords and session tokens those libraries
 * copy (request bodies, Authorization headers, parsed credentials) do not
 * linger in freed heap memory. Out of memory aborts, as wsg_mem_* does.
 */
#ifndef WSG_SECMEM_H
#define WSG_SECMEM_H

#include <stddef.h>

void *wsg_secmem_malloc(size_t n);
void *wsg_secmem_calloc(size_t nmemb, size_t size);
void *wsg_secmem_realloc(void *p, size_t n);
char *wsg_secmem_strdup(const char *s);
/* Wipes the whole usable size of p, then frees it; NULL is fine. */
void wsg_secmem_free(void *p);

/*
 * Makes jansson and libcurl use the functions above and initialises libcurl
 * (curl_global_init_mem). Call once, first thing in main(), before any
 * other jansson or libcurl call. Returns 0 or WSG_ERR_IO.
 */
int wsg_secmem_install(void);

#endif
