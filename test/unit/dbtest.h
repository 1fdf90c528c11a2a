/*
 * The private MariaDB that test/unit/run-db starts for the unit tests
 * that need a store (it names its socket, user and database in
 * WSG_TEST_DB_SOCKET, WSG_TEST_DB_USER and WSG_TEST_DB_NAME).
 */
#ifndef WSG_TEST_DBTEST_H
#define WSG_TEST_DBTEST_H

#include "db.h"

/*
 * Fills `params` from the environment (statements may take
 * `query_timeout` seconds), connects `*db` and creates or upgrades the
 * schema. 0, or -1 after saying why on stderr: for a group setup.
 */
int dbtest_open(struct wsg_db_params *params, unsigned query_timeout,
                struct wsg_db_conn **db);

/* One more connection with `params`; fails the running test if none. */
void dbtest_connect(const struct wsg_db_params *params, struct wsg_db_conn **c);

#endif
