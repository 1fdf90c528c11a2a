#include "ldap_filter.h"

#include <string.h>

/* The offset of the one "%s" of `tmpl`, or -1 (none, several, or a lone
 * '%'). */
static long
placeholder(const char *tmpl)
{
	const char *p;
	long at = -1;

	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
		} else if (p[1] == 's' && at < 0) {
			at = p - tmpl;
			p++;
		} else {
			return -1;
		}
	}
	return at;
}

int
wsg_ldap_filter_attribute(const char *tmpl, char *out, size_t len)
{
	long at = placeholder(tmpl);
	const char *eq, *start;
	size_t n;

	if (at < 1 || tmpl[at - 1] != '=' || tmpl[at + 2] != ')')
		return -1;
	eq = tmpl + at - 1;
	for (start = eq; start > tmpl && start[-1] != '('; start--)
		if (strchr("~<>:", start[-1]) != NULL)
			return -1;
	n = (size_t)(eq - start);
	if (start == tmpl || n == 0 || n >= len)
		return -1;
	memcpy(out, start, n);
	out[n] = '\0';
	return 0;
}
