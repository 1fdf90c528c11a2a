#include "output.h"

#include <stdio.h>
#include <string.h>

void
wsg_output_text(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02X", *p);
		else
			putchar(*p);
	}
}

void
wsg_output_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
}

void
wsg_output_column(const json_t *list, const char *key, const char *header,
                  const char *empty)
{
	const json_t *item;
	const char *v;
	size_t i, shown = 0;

	json_array_foreach(list, i, item)
	{
		v = json_string_value(json_object_get(item, key));
		if (v == NULL)
			continue;
		if (shown++ == 0)
			printf("%s\n", header);
		wsg_output_text(v);
		putchar('\n');
	}
	if (shown == 0)
		printf("%s\n", empty);
}

void
wsg_output_field(const char *label, const char *value)
{
	printf("%s - ", label);
	wsg_output_text(value != NULL ? value : "-");
	putchar('\n');
}

void
wsg_output_list_field(const char *label, const json_t *array)
{
	const json_t *item;
	size_t i, shown = 0;

	printf("%s - ", label);
	json_array_foreach(array, i, item)
	{
		if (!json_is_string(item))
			continue;
		if (shown++ > 0)
			fputs(", ", stdout);
		wsg_output_text(json_string_value(item));
	}
	putchar('\n');
}

void
wsg_output_status(const char *action, const char *name, const json_t *answer)
{
	const char *status =
	        json_string_value(json_object_get(answer, "status"));

	printf("%s [ ", action);
	wsg_output_text(name);
	printf(" ] status: ");
	wsg_output_text(status != NULL ? status : "done");
	putchar('\n');
}
