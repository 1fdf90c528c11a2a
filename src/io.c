#include "io.h"

#include <errno.h>
#include <unistd.h>

#include "types.h"

int
wsg_io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return WSG_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return WSG_OK;
}
