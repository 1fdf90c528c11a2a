#include "utf8.h"

size_t
wsg_utf8_decode(const unsigned char *s, size_t len, unsigned long *cp)
{
	unsigned long c, min;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2, c = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, c = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

int
wsg_utf8_valid(const char *s, size_t len)
{
	unsigned long cp;
	size_t i = 0, n;

	while (i < len) {
		n = wsg_utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}
