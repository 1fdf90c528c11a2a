/* Help texts of wssgatectl: the overview and one page per command. */
#ifndef WSG_USAGE_H
#define WSG_USAGE_H

#include <stdio.h>

#include "args.h"

/* Writes the help of `cmd` (WSG_CMD_NONE: the overview) to `out`. */
void wsg_usage_print(enum wsg_cmd cmd, FILE *out);

#endif
