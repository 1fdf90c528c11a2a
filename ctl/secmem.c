#include "secmem.h"

#include <curl/curl.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "types.h"

void *
wsg_secmem_malloc(size_t n)
{
	return wsg_mem_alloc(n);
}

void *
wsg_secmem_calloc(size_t nmemb, size_t size)
{
	return wsg_mem_calloc(nmemb, size);
}

/* A plain realloc() would free the old block unwiped when it moves. */
void *
wsg_secmem_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (p == NULL)
		return wsg_mem_alloc(n);
	q = wsg_mem_alloc(n);
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	wsg_secmem_free(p);
	return q;
}

char *
wsg_secmem_strdup(const char *s)
{
	return wsg_mem_strdup(s);
}

void
wsg_secmem_free(void *p)
{
	wsg_mem_free_wiped(p);
}

int
wsg_secmem_install(void)
{
	json_set_alloc_funcs(wsg_secmem_malloc, wsg_secmem_free);
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, wsg_secmem_malloc,
	                         wsg_secmem_free, wsg_secmem_realloc,
	                         wsg_secmem_strdup,
	                         wsg_secmem_calloc) != CURLE_OK)
		return WSG_ERR_IO;
	return WSG_OK;
}
