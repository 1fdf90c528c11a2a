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
 * Checks that `path` is a regular file that neither group nor others may
 * use, owned by the effective user or root: WSG_OK, else WSG_ERR_PERM (or
 * WSG_ERR_IO if it is missing) with err->reason naming the file and the fix.
 * Every key and secret file passes this before it is read.
 */
int wsg_keyfile_check(const char *path, struct wsg_error *err);

/*
 * Loads exactly `nbytes` bytes from the hex file `path`. Fails with
 * WSG_ERR_PERM if group or others may read or write it or it belongs to
 * another user than ours or root, WSG_ERR_IO if it is
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
