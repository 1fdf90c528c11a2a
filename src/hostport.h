/*
 * "host:port" and "[ipv6]:port" as the configuration writes addresses:
 * listen addresses and userstore.hosts entries, one syntax and one set of
 * error texts.
 */
#ifndef WSG_HOSTPORT_H
#define WSG_HOSTPORT_H

#include <stddef.h>

/* What the host before the colon may be. */
enum wsg_hostport_host {
	/* An IP literal or "localhost": what a listener binds. */
	WSG_HOSTPORT_IP,
	/* Also a DNS name (letters, digits, '-', '.'): a database node. */
	WSG_HOSTPORT_NAME,
};

/*
 * Splits `s` into a new string *host (caller frees; without the brackets)
 * and *port (1 to 65535). Returns NULL, or a static reason for the user
 * and sets *host to NULL and *port to 0. The reason's bracket example
 * shows port 8280 for WSG_HOSTPORT_IP, 3306 for WSG_HOSTPORT_NAME.
 */
const char *wsg_hostport_split(const char *s, enum wsg_hostport_host kind,
                               char **host, unsigned *port);

/*
 * `len` bytes of decimal digits, 1 to 65535, into *port. Returns 0, or -1
 * and leaves *port alone.
 */
int wsg_hostport_port(const char *p, size_t len, unsigned *port);

#endif
