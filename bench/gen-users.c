/*
 * bench/scale's user generator: rows for LOAD DATA, so a million users load
 * in seconds instead of a million argon2 runs.
 *
 *   gen-users MASTER_KEY_FILE FIRST COUNT PASSWORD OUT
 *
 * Writes COUNT tab-separated lines "scale-user-I<TAB>HASH<TAB>SEALED_HEX"
 * for I = FIRST .. FIRST+COUNT-1. Every user has the same PASSWORD, so one
 * argon2id hash (made once, with the gateway's parameters) is valid for all
 * of them; the digest secret is sealed for each user separately, because
 * the seal is bound to the username. Each row is thus distinct and valid
 * for PasswordText and PasswordDigest, exactly as `wssgate user add` would
 * store it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "keyfile.h"
#include "mem.h"
#include "password.h"

int
main(int argc, char **argv)
{
	unsigned char key[WSG_PASSWORD_KEY_LEN], *sealed;
	static const char hex[] = "0123456789abcdef";
	unsigned long first, count, i;
	struct wsg_error err;
	size_t sealed_len, j;
	char *hash, name[64];
	const char *pw;
	FILE *out;

	if (argc != 6) {
		fprintf(stderr,
		        "usage: %s MASTER_KEY_FILE FIRST COUNT PASSWORD OUT\n",
		        argv[0]);
		return 2;
	}
	memset(&err, 0, sizeof(err));
	if (wsg_keyfile_load(argv[1], key, sizeof(key), &err) != WSG_OK) {
		fprintf(stderr, "gen-users: %s\n", err.reason);
		return 1;
	}
	first = strtoul(argv[2], NULL, 10);
	count = strtoul(argv[3], NULL, 10);
	pw = argv[4];
	if (wsg_password_hash(pw, strlen(pw), &hash) != WSG_OK) {
		fprintf(stderr, "gen-users: cannot hash the password\n");
		return 1;
	}
	if ((out = fopen(argv[5], "w")) == NULL) {
		perror(argv[5]);
		return 1;
	}
	for (i = first; i < first + count; i++) {
		snprintf(name, sizeof(name), "scale-user-%lu", i);
		if (wsg_password_seal(key, name, pw, strlen(pw), &sealed,
		                      &sealed_len) != WSG_OK) {
			fprintf(stderr, "gen-users: cannot seal for %s\n",
			        name);
			return 1;
		}
		fprintf(out, "%s\t%s\t", name, hash);
		for (j = 0; j < sealed_len; j++) {
			putc(hex[sealed[j] >> 4], out);
			putc(hex[sealed[j] & 15], out);
		}
		putc('\n', out);
		free(sealed);
	}
	if (fclose(out) != 0) {
		perror(argv[5]);
		return 1;
	}
	free(hash);
	return 0;
}
