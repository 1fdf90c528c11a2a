/*
 * Replays a checked-in fuzz corpus through its target without libFuzzer, so
 * every finding stays a regression test in `make check` (TAP, one line per
 * input). The corpus folder is $WSG_TOP_SRCDIR/test/fuzz/corpus/<name>.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
replay_file(const char *path)
{
	unsigned char *buf;
	FILE *f = fopen(path, "rb");
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	buf = malloc((size_t)len + 1);
	if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

int
main(void)
{
	const char *top = getenv("WSG_TOP_SRCDIR");
	char dir[4096], path[8192];
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;
	int failed = 0;

	snprintf(dir, sizeof(dir), "%s/test/fuzz/corpus/%s", top ? top : ".",
		 WSG_FUZZ_CORPUS);
	d = opendir(dir);
	if (d == NULL) {
		printf("Bail out! cannot open corpus %s\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (replay_file(path) == 0) {
			printf("ok %zu - %s/%s\n", i + 1, WSG_FUZZ_CORPUS,
			       names[i]);
		} else {
			printf("not ok %zu - %s/%s unreadable\n", i + 1,
			       WSG_FUZZ_CORPUS, names[i]);
			failed = 1;
		}
		free(names[i]);
	}
	free(names);
	return failed;
}
