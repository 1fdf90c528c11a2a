/* Hexadecimal text of bytes (key files, the shared replay key) and its
 * digits (percent-encoded URLs). */
#ifndef WSG_HEX_H
#define WSG_HEX_H

#include <stddef.h>

/* Writes 2 * n digits and a NUL to `out`, which holds 2 * n + 1 bytes. */
void wsg_hex_encode(const unsigned char *in, size_t n, char *out);

/* The value of hexadecimal digit `c` (either case), or -1. */
int wsg_hex_digit(char c);

#endif
