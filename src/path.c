#include "path.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "types.h"

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* pchar (RFC 3986 3.3) as a raw byte, less ';' (refused) and '%'. */
static int
is_raw_pchar(unsigned char c)
{
	return is_unreserved(c) ||
	       (c != '\0' && strchr("!$&'()*+,=:@", c) != NULL);
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Why an encoded byte is refused, or NULL when it may stay encoded. */
static const char *
refused_encoding(unsigned char v)
{
	switch (v) {
	case '/': return "encoded '/' (%2F) in the path";
	case '\\': return "encoded '\\' (%5C) in the path";
	case '%': return "encoded '%' (%25) in the path";
	case ';': return "encoded ';' (%3B) in the path";
	case '\0': return "encoded NUL (%00) in the path";
	default: break;
	}
	if (v < 0x20 || v == 0x7f)
		return "encoded control character in the path";
	return NULL;
}

/* "." and ".." segments of the decoded path (so %2E counts as '.'). */
static int
has_dot_segment(const char *p)
{
	while (*p != '\0') {
		size_t n;

		p++; /* past the '/' */
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 1;
		p += n;
	}
	return 0;
}

int
wsg_path_normalize(const char *raw, size_t len, char **out, const char **reason)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *why = NULL;
	char *buf;
	size_t i, k = 0;

	*out = NULL;
	*reason = NULL;
	/* Decoding and merging only shrink: len + 1 bytes are enough. */
	buf = wsg_mem_alloc(len + 1);
	if (len == 0 || raw[0] != '/') {
		why = "the path does not start with '/'";
		goto out;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];
		int hi, lo;

		if (c == '%') {
			hi = i + 2 < len ? hex_value((unsigned char)raw[i + 1])
			                 : -1;
			lo = hi >= 0 ? hex_value((unsigned char)raw[i + 2])
			             : -1;
			if (lo < 0) {
				why = "invalid percent-encoding in the path";
				goto out;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			if (is_unreserved(c)) {
				buf[k++] = (char)c;
				continue;
			}
			if ((why = refused_encoding(c)) != NULL)
				goto out;
			buf[k++] = '%';
			buf[k++] = hex[c >> 4];
			buf[k++] = hex[c & 0x0f];
		} else if (c == '/') {
			if (k == 0 || buf[k - 1] != '/')
				buf[k++] = '/';
		} else if (c == ';') {
			why = "';' parameters in the path";
			goto out;
		} else if (c == '\\') {
			why = "'\\' in the path";
			goto out;
		} else if (is_raw_pchar(c)) {
			buf[k++] = (char)c;
		} else {
			why = "a byte that is not allowed in a path";
			goto out;
		}
	}
	buf[k] = '\0';
	if (has_dot_segment(buf)) {
		why = "a '.' or '..' segment in the path";
		goto out;
	}
out:
	if (why != NULL) {
		free(buf);
		*reason = why;
		return WSG_ERR_INVAL;
	}
	*out = buf;
	return WSG_OK;
}

/* Visible ASCII but '#': what a query may hold as sent. */
static int
query_ok(const char *q)
{
	for (; *q != '\0'; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f ||
		    *q == '#')
			return 0;
	return 1;
}

int
wsg_path_from_target(const char *target, char **path, char **query,
                     const char **reason)
{
	const char *p = target, *q;
	int rc;

	*path = NULL;
	*query = NULL;
	*reason = NULL;
	if (strncasecmp(p, "http://", 7) == 0 ||
	    strncasecmp(p, "https://", 8) == 0) {
		p = strstr(p, "//") + 2;
		p += strcspn(p, "/?#");
	} else if (p[0] != '/') {
		*reason = "the request target is not origin-form or "
		          "absolute-form";
		return WSG_ERR_INVAL;
	}
	q = p + strcspn(p, "?");
	if (*q == '?' && !query_ok(q + 1)) {
		*reason = "a byte that is not allowed in the query";
		return WSG_ERR_INVAL;
	}
	/* An absolute-form target's empty path is "/" (RFC 9112 3.2.2). */
	if (q == p)
		rc = wsg_path_normalize("/", 1, path, reason);
	else
		rc = wsg_path_normalize(p, (size_t)(q - p), path, reason);
	if (rc == WSG_OK && *q == '?')
		*query = wsg_mem_strdup(q + 1);
	return rc;
}
