#include "fmt.h"

#include <string.h>

char *
wsg_fmt_mem(char *p, const char *end, const char *s, size_t n)
{
	if (n > (size_t)(end - p))
		n = (size_t)(end - p);
	memcpy(p, s, n);
	return p + n;
}

char *
wsg_fmt_str(char *p, const char *end, const char *s)
{
	return wsg_fmt_mem(p, end, s, strlen(s));
}

char *
wsg_fmt_uint(char *p, const char *end, unsigned long long v)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0 && p < end)
		*p++ = digits[--n];
	return p;
}
