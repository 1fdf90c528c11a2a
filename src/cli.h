/*
 * The offline verbs (`db init`, `user ...`, `role ...`): they work directly
 * on the database, so an operator can bootstrap without a running server.
 */
#ifndef WSG_CLI_H
#define WSG_CLI_H

#include <stdio.h>

#include "config.h"
#include "db.h"
#include "types.h"

/*
 * Runs the verb in argv[0..argc) against `cfg`'s user store, reading any
 * password from `in`. Prints a one-line reason on stderr on failure.
 * Returns the process exit status: 0 success, 1 failure, 2 usage error.
 */
int wsg_cli_run(const struct wsg_config *cfg, int argc, char **argv, FILE *in);

/* Fills `params` from `cfg`, reading the password file into `*password`
 * (caller frees with wsg_mem_free_secret()). */
int wsg_cli_db_params(const struct wsg_config *cfg,
                      struct wsg_db_params *params, char **password,
                      struct wsg_error *err);

#endif
