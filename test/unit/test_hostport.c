/* "host:port" / "[ipv6]:port": the listen addresses' and userstore.hosts'
 * one syntax, each with its own kind of host. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hostport.h"

struct good {
	const char *s, *host;
	unsigned port;
};

struct bad {
	const char *s, *why;
};

static void
check(enum wsg_hostport_host kind, const struct good *good, size_t ngood,
      const struct bad *bad, size_t nbad)
{
	const char *why;
	char *host;
	unsigned port;
	size_t i;

	for (i = 0; i < ngood; i++) {
		assert_null(wsg_hostport_split(good[i].s, kind, &host, &port));
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
		free(host);
	}
	for (i = 0; i < nbad; i++) {
		why = wsg_hostport_split(bad[i].s, kind, &host, &port);
		assert_non_null(why);
		assert_non_null(strstr(why, bad[i].why));
		assert_null(host);
		assert_int_equal(port, 0);
	}
}

static void
test_name_kind(void **state)
{
	static const struct good good[] = {
	        {"127.0.0.1:3307", "127.0.0.1", 3307},
	        {"db-2.example.com:3306", "db-2.example.com", 3306},
	        {"localhost:1", "localhost", 1},
	        {"[::1]:65535", "::1", 65535},
	        {"[fe80::1:2]:3306", "fe80::1:2", 3306},
	};
	static const struct bad bad[] = {
	        {"127.0.0.1", "expected \"host:port\""},
	        {"127.0.0.1:", "number from 1 to 65535"},
	        {"127.0.0.1:0", "number from 1 to 65535"},
	        {"h:65536", "number from 1 to 65535"},
	        {"h:33a", "number from 1 to 65535"},
	        {":3306", "must be a host name or an IP address"},
	        {"::1:3306", "brackets, e.g. \"[::1]:3306\""},
	        {"[::1]3306", "expected \"[ipv6]:port\""},
	        {"[::1:3306", "expected \"[ipv6]:port\""},
	        {"[db]:3306", "not an IPv6 address"},
	        {"db_1:3306", "must be a host name or an IP address"},
	        {"-db:3306", "must be a host name or an IP address"},
	        {"db 1:3306", "must be a host name or an IP address"},
	        {"h:+3306", "number from 1 to 65535"},
	        {"", "expected \"host:port\""},
	};

	(void)state;
	check(WSG_HOSTPORT_NAME, good, sizeof(good) / sizeof(good[0]), bad,
	      sizeof(bad) / sizeof(bad[0]));
}

static void
test_ip_kind(void **state)
{
	static const struct good good[] = {
	        {"127.0.0.1:8280", "127.0.0.1", 8280},
	        {"0.0.0.0:1", "0.0.0.0", 1},
	        {"localhost:65535", "localhost", 65535},
	        {"[::1]:8280", "::1", 8280},
	        {"[::]:443", "::", 443},
	};
	static const struct bad bad[] = {
	        {"8280", "expected \"host:port\""},
	        {"db.example.com:8280", "an IP address or \"localhost\""},
	        {"localhost.:8280", "an IP address or \"localhost\""},
	        {":8280", "an IP address or \"localhost\""},
	        {"::1:8280", "brackets, e.g. \"[::1]:8280\""},
	        {"[::1]", "expected \"[ipv6]:port\""},
	        {"[127.0.0.1]:8280", "not an IPv6 address"},
	        {"127.0.0.1:65536", "number from 1 to 65535"},
	        {"127.0.0.1:123456", "number from 1 to 65535"},
	};

	(void)state;
	check(WSG_HOSTPORT_IP, good, sizeof(good) / sizeof(good[0]), bad,
	      sizeof(bad) / sizeof(bad[0]));
}

static void
test_port(void **state)
{
	unsigned port = 7;

	(void)state;
	assert_int_equal(wsg_hostport_port("443/x", 3, &port), 0);
	assert_int_equal(port, 443);
	assert_int_equal(wsg_hostport_port("", 0, &port), -1);
	assert_int_equal(wsg_hostport_port("00080", 5, &port), 0);
	assert_int_equal(port, 80);
	assert_int_equal(wsg_hostport_port("000080", 6, &port), -1);
	assert_int_equal(wsg_hostport_port("0", 1, &port), -1);
	assert_int_equal(port, 80);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_name_kind),
	        cmocka_unit_test(test_ip_kind),
	        cmocka_unit_test(test_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
