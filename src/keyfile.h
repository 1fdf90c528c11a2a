/*
 * Secret key files (master key, JWT secret): created with fresh random
 * bytes and mode 0600, loaded only when nobody else can read them.
 */
#ifndef WSG_KEYFILE_H
#define WSG_KEYFILE_H

#include <stddef.h>

#include "types.h"

/*
 * Creates `path` holding `nbytes` random bytes as lowercase hex and a
 * newline, mode 0600, unless it already exists (then WSG_OK without
 * touching it). `*created` (may be NULL) tells which happened.
 */
int wsg_keyfile_create(const char *path, size_t nbytes, int *created,
		       struct wsg_error *err);

/*
 * Loads exactly `nbytes` bytes from the hex file `path`. Fails with
 * WSG_ERR_PERM if group or others may read or write it, WSG_ERR_IO if it is
 * missing, WSG_ERR_PARSE if it is not `nbytes` bytes of hex.
 */
int wsg_keyfile_load(const char *path, unsigned char *key, size_t nbytes,
		     struct wsg_error *err);

/*
 * Reads the first line of a secret file such as the database password
 * (trailing newline removed). `*out` is malloc'ed; caller frees with
 * wsg_mem_free_secret(). Same permission rule as wsg_keyfile_load().
 */
int wsg_keyfile_read_secret(const char *path, char **out, size_t *len,
			    struct wsg_error *err);

#endif
