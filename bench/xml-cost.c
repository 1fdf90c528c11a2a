/*
 * bench/xml-cost driver: the CPU one request of each worst shape
 * (xml-shapes.h) costs before authentication, best of ROUNDS runs.
 *
 *   xml-cost-driver [ROUNDS]
 *
 * One line per shape: name, bytes, fault answered, best and median
 * milliseconds of CPU (CLOCK_PROCESS_CPUTIME_ID).
 */
#include "xml-shapes.h"

#include "fault.h"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	struct sbuf b = {0};
	enum wsg_fault fault;
	double t[64];
	size_t i, nu;
	int r;

	if (rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: %s [ROUNDS 1..64]\n", argv[0]);
		return 2;
	}
	wsg_soap_global_init();
	printf("%-24s %9s %-28s %8s %8s\n", "shape", "bytes", "fault",
	       "best_ms", "median_ms");
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		shapes[i].build(&b);
		for (r = 0; r < rounds; r++)
			t[r] = shape_request_cost(b.p, b.len, &fault, &nu);
		qsort(t, (size_t)rounds, sizeof(t[0]), cmp_double);
		printf("%-24s %9zu %-28s %8.1f %8.1f\n", shapes[i].name, b.len,
		       wsg_fault_name(fault), t[0] * 1e3, t[rounds / 2] * 1e3);
		fflush(stdout);
	}
	free(b.p);
	wsg_soap_global_cleanup();
	return 0;
}
