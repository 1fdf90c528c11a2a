#include "dbtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "err.h"
#include "userstore.h"

int
dbtest_open(struct wsg_db_params *params, unsigned query_timeout,
            struct wsg_db_conn **db)
{
	const char *top = getenv("WSG_TOP_SRCDIR");
	struct wsg_error err;
	char schema[4096];

	params->socket = getenv("WSG_TEST_DB_SOCKET");
	params->user = getenv("WSG_TEST_DB_USER");
	params->database = getenv("WSG_TEST_DB_NAME");
	params->host = "localhost";
	params->connect_timeout = 10;
	params->query_timeout = query_timeout;
	if (params->socket == NULL || params->user == NULL ||
	    params->database == NULL || top == NULL) {
		fprintf(stderr, "run through test/unit/run-db\n");
		return -1;
	}
	wsg_error_clear(&err);
	if (wsg_db_connect(params, db, &err) != WSG_OK) {
		fprintf(stderr, "connect: %s\n", err.reason);
		return -1;
	}
	snprintf(schema, sizeof(schema), "%s/schemas/userstore.sql", top);
	if (wsg_userstore_init_schema(*db, schema, &err) != WSG_OK) {
		fprintf(stderr, "schema: %s\n", err.reason);
		return -1;
	}
	return 0;
}

void
dbtest_connect(const struct wsg_db_params *params, struct wsg_db_conn **c)
{
	struct wsg_error err;

	wsg_error_clear(&err);
	if (wsg_db_connect(params, c, &err) != WSG_OK)
		fail_msg("cannot connect to the test database: %s", err.reason);
}
