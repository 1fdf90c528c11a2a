/* Blocking writes to file descriptors: key files, logs, the terminal. */
#ifndef WSG_IO_H
#define WSG_IO_H

#include <stddef.h>

/*
 * Writes all `len` bytes at `buf` to `fd`, retrying after EINTR and short
 * writes. WSG_OK, or WSG_ERR_IO (errno set) when write() fails or writes
 * nothing; some bytes may have been written then.
 */
int wsg_io_write_all(int fd, const void *buf, size_t len);

#endif
