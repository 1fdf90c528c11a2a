/* Whole writes to file descriptors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "types.h"

static void
test_pipe(void **state)
{
	char got[16] = {0};
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(wsg_io_write_all(p[1], "hello\n", 6), WSG_OK);
	assert_int_equal(wsg_io_write_all(p[1], "", 0), WSG_OK);
	close(p[1]);
	assert_int_equal(read(p[0], got, sizeof(got)), 6);
	assert_memory_equal(got, "hello\n", 6);
	close(p[0]);
}

/* More than one write() may take: everything arrives, in order. */
static void
test_large_file(void **state)
{
	enum { SIZE = 1 << 20 };
	char path[] = "/tmp/test_io.XXXXXX";
	char *buf = malloc(SIZE), *back = malloc(SIZE);
	size_t i;
	int fd;

	(void)state;
	assert_non_null(buf);
	assert_non_null(back);
	for (i = 0; i < SIZE; i++)
		buf[i] = (char)(i * 31);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(wsg_io_write_all(fd, buf, SIZE), WSG_OK);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(read(fd, back, SIZE), SIZE);
	assert_memory_equal(buf, back, SIZE);
	close(fd);
	free(buf);
	free(back);
}

static void
test_failure(void **state)
{
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(wsg_io_write_all(fd, "x", 1), WSG_ERR_IO);
	close(fd);
	assert_int_equal(wsg_io_write_all(-1, "x", 1), WSG_ERR_IO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pipe),
	        cmocka_unit_test(test_large_file),
	        cmocka_unit_test(test_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
