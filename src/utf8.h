/*
 * UTF-8 as the store and the management API accept it: shortest forms
 * only, no surrogates, nothing above U+10FFFF.
 */
#ifndef WSG_UTF8_H
#define WSG_UTF8_H

#include <stddef.h>

/*
 * Decodes one UTF-8 sequence at s[0..len) (len > 0). Returns its length and
 * the code point in *cp, or 0 (leaving *cp alone) for an invalid, cut,
 * overlong, surrogate or out-of-range sequence.
 */
size_t wsg_utf8_decode(const unsigned char *s, size_t len, unsigned long *cp);

/* 1 when s[0..len) is UTF-8 by the rules of wsg_utf8_decode(), else 0. */
int wsg_utf8_valid(const char *s, size_t len);

#endif
