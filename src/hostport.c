#include "hostport.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

int
wsg_hostport_port(const char *p, size_t len, unsigned *port)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* A DNS name or IPv4 literal: letters, digits, '-' and '.', not starting
 * with either punctuation. */
static int
host_name_ok(const char *h, size_t len)
{
	size_t i;

	if (len == 0 || len > 253 || h[0] == '-' || h[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return 0;
	return 1;
}

/* The unbracketed host `h` (`len` bytes, no ':') of `kind`. */
static int
host_ok(const char *h, size_t len, enum wsg_hostport_host kind)
{
	unsigned char buf[sizeof(struct in_addr)];
	char *ip;
	int ok;

	if (kind == WSG_HOSTPORT_NAME)
		return host_name_ok(h, len);
	if (len == strlen("localhost") && memcmp(h, "localhost", len) == 0)
		return 1;
	ip = wsg_mem_strndup(h, len);
	ok = inet_pton(AF_INET, ip, buf) == 1;
	free(ip);
	return ok;
}

const char *
wsg_hostport_split(const char *s, enum wsg_hostport_host kind, char **host,
                   unsigned *port)
{
	unsigned char buf[sizeof(struct in6_addr)];
	const char *colon, *close;
	char *h;
	unsigned p;

	*host = NULL;
	*port = 0;
	if (s[0] == '[') {
		close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return "expected \"[ipv6]:port\"";
		h = wsg_mem_strndup(s + 1, (size_t)(close - s - 1));
		if (inet_pton(AF_INET6, h, buf) != 1) {
			free(h);
			return "the host in brackets is not an IPv6 address";
		}
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return "expected \"host:port\"";
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return kind == WSG_HOSTPORT_NAME
			               ? "an IPv6 host must be written in "
			                 "brackets, e.g. \"[::1]:3306\""
			               : "an IPv6 host must be written in "
			                 "brackets, e.g. \"[::1]:8280\"";
		if (!host_ok(s, (size_t)(colon - s), kind))
			return kind == WSG_HOSTPORT_NAME
			               ? "the host must be a host name or an "
			                 "IP address"
			               : "the host must be an IP address or "
			                 "\"localhost\"";
		h = wsg_mem_strndup(s, (size_t)(colon - s));
	}
	if (wsg_hostport_port(colon + 1, strlen(colon + 1), &p) != 0) {
		free(h);
		return "the port must be a number from 1 to 65535";
	}
	*host = h;
	*port = p;
	return NULL;
}
