/* XOP includes read as their attachments' base64 for a while, and the tree
 * put back exactly as parsed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "xop.h"

#define DOC                                                                    \
	"<a xmlns:xop=\"http://www.w3.org/2004/08/xop/include\">"              \
	"<d><xop:Include href=\"cid:one%40x\"/></d>"                           \
	"<e><f><xop:Include href=\"CID:two@x\"/></f></e></a>"

static int
part_cb(const char *cid, size_t len, const char **p, size_t *n, int *base64,
        void *arg)
{
	(void)arg;
	if (len == 5 && memcmp(cid, "one@x", 5) == 0) {
		*p = "\x00\xff\x10";
		*n = 3;
		return WSG_OK;
	}
	if (len == 5 && memcmp(cid, "two@x", 5) == 0) {
		/* base64 on the wire, with a line break */
		*p = "aGVs\r\nbG8=";
		*n = 10;
		*base64 = 1;
		return WSG_OK;
	}
	return WSG_ERR_NOTFOUND;
}

static char *
dump(xmlDocPtr doc)
{
	xmlChar *out = NULL;
	int n = 0;
	char *s;

	xmlDocDumpMemory(doc, &out, &n);
	s = strndup((const char *)out, (size_t)n);
	xmlFree(out);
	return s;
}

static void
test_inline_and_restore(void **state)
{
	xmlDocPtr doc = xmlReadMemory(DOC, sizeof(DOC) - 1, NULL, NULL, 0);
	xmlNodePtr root = xmlDocGetRootElement(doc);
	struct wsg_xop_swaps s;
	struct wsg_error err;
	char *before = dump(doc);
	xmlChar *d, *f;

	(void)state;
	assert_int_equal(wsg_xop_inline(root, part_cb, NULL, &s, &err), WSG_OK);
	assert_int_equal(s.n, 2);
	d = xmlNodeGetContent(root->children);
	f = xmlNodeGetContent(root->children->next);
	assert_string_equal((const char *)d, "AP8Q");
	assert_string_equal((const char *)f, "aGVsbG8=");
	xmlFree(d);
	xmlFree(f);
	wsg_xop_restore(&s);
	{
		char *after = dump(doc);

		assert_string_equal(after, before);
		free(after);
	}
	free(before);
	xmlFreeDoc(doc);
}

static void
test_refused_leave_tree(void **state)
{
	static const char *const docs[] = {
	        "<a xmlns:xop=\"http://www.w3.org/2004/08/xop/include\">"
	        "<d><xop:Include href=\"cid:one%40x\"/></d>"
	        "<d><xop:Include href=\"cid:three@x\"/></d></a>",
	        "<a xmlns:xop=\"http://www.w3.org/2004/08/xop/include\">"
	        "<d><xop:Include href=\"http://example.org/one@x\"/></d></a>",
	        "<a xmlns:xop=\"http://www.w3.org/2004/08/xop/include\">"
	        "<d><xop:Include href=\"cid:one%4\"/></d></a>",
	        "<a xmlns:xop=\"http://www.w3.org/2004/08/xop/include\">"
	        "<d><xop:Include/></d></a>",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		xmlDocPtr doc = xmlReadMemory(docs[i], (int)strlen(docs[i]),
		                              NULL, NULL, 0);
		struct wsg_xop_swaps s;
		struct wsg_error err;
		char *before = dump(doc), *after;

		wsg_error_clear(&err);
		assert_int_equal(wsg_xop_inline(xmlDocGetRootElement(doc),
		                                part_cb, NULL, &s, &err),
		                 WSG_ERR_PARSE);
		assert_int_equal(err.fault, WSG_FAULT_CLIENT);
		assert_non_null(strstr(err.reason, "xop:Include"));
		assert_int_equal(s.n, 0);
		after = dump(doc);
		assert_string_equal(after, before);
		free(after);
		free(before);
		xmlFreeDoc(doc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_inline_and_restore),
	        cmocka_unit_test(test_refused_leave_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
