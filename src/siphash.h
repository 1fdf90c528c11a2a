/*
 * SipHash-2-4 (Aumasson and Bernstein), 64-bit output: keyed hashing of
 * names and nonces chosen by clients, so that table collisions cannot be
 * aimed. Inline, without OpenSSL's per-call context.
 */
#ifndef WSG_SIPHASH_H
#define WSG_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * The hash of `len` bytes at `data` under the key (k0, k1), the key's two
 * little-endian halves; the same value as OpenSSL's SIPHASH MAC of 8
 * bytes read as a little-endian integer.
 */
uint64_t wsg_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif
