/*
 * What wssgatectl prints on standard output: tables and details in the
 * shape of apictl's, or the server's JSON. Text that came from the server
 * is printed with control characters escaped (\xHH), so a user or role
 * name cannot drive the terminal.
 */
#ifndef WSG_OUTPUT_H
#define WSG_OUTPUT_H

#include <jansson.h>

/* j as indented JSON and a newline. */
void wsg_output_json(const json_t *j);

/*
 * A one-column table: `header`, then member `key` of each object of the
 * array `list`; `empty` alone when there is none.
 */
void wsg_output_column(const json_t *list, const char *key, const char *header,
                       const char *empty);

/* `label - value` with the value escaped; NULL prints as "-". */
void wsg_output_field(const char *label, const char *value);

/* `label - a, b, c` for a JSON array of strings. */
void wsg_output_list_field(const char *label, const json_t *array);

/* `Adding new user [ bob ] status: Added` with the answer's "status". */
void wsg_output_status(const char *action, const char *name,
                       const json_t *answer);

/* s with control characters escaped (no newline). */
void wsg_output_text(const char *s);

#endif
