#include "siphash.h"

static inline uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

uint64_t
wsg_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
	const unsigned char *m = data;
	uint64_t v[4] = {
	        k0 ^ 0x736f6d6570736575ULL,
	        k1 ^ 0x646f72616e646f6dULL,
	        k0 ^ 0x6c7967656e657261ULL,
	        k1 ^ 0x7465646279746573ULL,
	};
	uint64_t w, last = (uint64_t)len << 56;
	size_t i, j;

	for (i = 0; i + 8 <= len; i += 8) {
		for (w = 0, j = 0; j < 8; j++)
			w |= (uint64_t)m[i + j] << (8 * j);
		v[3] ^= w;
		sipround(v);
		sipround(v);
		v[0] ^= w;
	}
	for (j = 0; i + j < len; j++)
		last |= (uint64_t)m[i + j] << (8 * j);
	v[3] ^= last;
	sipround(v);
	sipround(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	for (j = 0; j < 4; j++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
