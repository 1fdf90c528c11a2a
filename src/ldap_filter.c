#include "ldap_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

char *
wsg_ldap_filter_escape(const char *value, int keep_star)
{
	char *out = wsg_mem_alloc(3 * strlen(value) + 1), *o = out;
	const unsigned char *p;

	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if ((*p == '*' && !keep_star) || *p == '(' || *p == ')' ||
		    *p == '\\') {
			sprintf(o, "\\%02x", *p);
			o += 3;
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

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

char *
wsg_ldap_filter_build(const char *tmpl, const char *value, int keep_star)
{
	char *esc, *out, *o;
	const char *p;
	long at = placeholder(tmpl);

	if (at < 0)
		return NULL;
	esc = wsg_ldap_filter_escape(value, keep_star);
	out = wsg_mem_alloc(strlen(tmpl) + strlen(esc) + 1);
	o = out;
	for (p = tmpl; *p != '\0'; p++) {
		if (p - tmpl == at) {
			o = stpcpy(o, esc);
			p++;
		} else {
			if (*p == '%')
				p++;
			*o++ = *p;
		}
	}
	*o = '\0';
	free(esc);
	return out;
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
