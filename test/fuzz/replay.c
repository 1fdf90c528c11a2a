/*
 * Replays a checked-in fuzz corpus through its target without libFuzzer, so
 * every finding stays a regression test in `make check` (TAP, one line per
 * input). The corpus folder is $WSG_TOP_SRCDIR/test/fuzz/corpus/<name>.
 * Each input gets REPLAY_SECONDS times the harness's time factor
 * (WSG_TIME_SCALE, as test/integration/wsg.py reads it): a hang fails the
 * replay naming its input instead of stalling the run. What a target itself
 * prints on stdout (libconfig's scanner echoes stray bytes there) goes to
 * stderr, so that only TAP reaches the TAP stream.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

/* Far above any input's time (the slowest takes ~0.1 s under ASan). */
#define REPLAY_SECONDS 5

/* Written by the alarm handler, so prepared before each input. */
static char timeout_line[4096];
static size_t timeout_line_len;
static int tap_fd = STDOUT_FILENO;

static void
on_alarm(int sig)
{
	ssize_t w;

	(void)sig;
	w = write(tap_fd, timeout_line, timeout_line_len);
	(void)w;
	_exit(1);
}

/* The seconds an input may take: WSG_TIME_SCALE as the integration harness
 * reads it (default 10 under WSG_VALGRIND=1, else 1). */
static unsigned
replay_seconds(void)
{
	const char *scale = getenv("WSG_TIME_SCALE");
	const char *vg = getenv("WSG_VALGRIND");
	double f = vg != NULL && strcmp(vg, "1") == 0 ? 10 : 1;
	unsigned s;

	if (scale != NULL && atof(scale) > 0)
		f = atof(scale);
	s = (unsigned)(REPLAY_SECONDS * f + 0.5);
	return s > 0 ? s : 1;
}

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
	unsigned seconds = replay_seconds();
	int failed = 0;
	FILE *tap;

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
	fflush(stdout);
	if ((tap_fd = dup(STDOUT_FILENO)) < 0 ||
	    (tap = fdopen(tap_fd, "w")) == NULL ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		printf("Bail out! cannot set up the TAP stream\n");
		return 1;
	}
	signal(SIGALRM, on_alarm);
	fprintf(tap, "1..%zu\n", n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(timeout_line, sizeof(timeout_line),
		         "not ok %zu - %s/%s timed out after %u s\n"
		         "Bail out! %s/%s hangs\n",
		         i + 1, WSG_FUZZ_CORPUS, names[i], seconds,
		         WSG_FUZZ_CORPUS, names[i]);
		timeout_line_len = strlen(timeout_line);
		fflush(tap);
		alarm(seconds);
		if (replay_file(path) == 0) {
			fprintf(tap, "ok %zu - %s/%s\n", i + 1, WSG_FUZZ_CORPUS,
			        names[i]);
		} else {
			fprintf(tap, "not ok %zu - %s/%s unreadable\n", i + 1,
			        WSG_FUZZ_CORPUS, names[i]);
			failed = 1;
		}
		alarm(0);
		free(names[i]);
	}
	free(names);
	fclose(tap);
	return failed;
}
