/* WSDL publishing: address and import rewriting, the ?wsdl / ?xsd=N
 * look-up, and the imports refused at load; for wsdl = "upstream", the
 * resolution of import URLs within the upstream's origin and loads in
 * rounds from fetched bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "wsdl.h"
#include "wsdl_fetch.h"

#define PUB "https://soap.example.com/services/Echo"
#define MAX_SIZE (1024 * 1024)

static char dir[] = "/tmp/test_wsdl.XXXXXX";

/* Writes `text` to dir/name (creating dir/sub/ when name has one). */
static void
put(const char *name, const char *text)
{
	char *path = wsg_mem_printf("%s/%s", dir, name), *slash;
	FILE *f;

	slash = strrchr(path, '/');
	*slash = '\0';
	(void)mkdir(path, 0700);
	*slash = '/';
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static int
load(const char *path, struct wsg_wsdl **w, struct wsg_error *err)
{
	wsg_error_clear(err);
	return wsg_wsdl_load(path, PUB, NULL, MAX_SIZE, w, err);
}

static int
load_tmp(const char *name, struct wsg_wsdl **w, struct wsg_error *err)
{
	char *path = wsg_mem_printf("%s/%s", dir, name);
	int rc = load(path, w, err);

	free(path);
	return rc;
}

/* The document for `query`, NUL-terminated (caller frees). */
static char *
doc(const struct wsg_wsdl *w, const char *query)
{
	const char *body;
	size_t len;

	assert_int_equal(wsg_wsdl_lookup(w, query, &body, &len), WSG_OK);
	return wsg_mem_strndup(body, len);
}

static void
test_echo_addresses_rewritten(void **state)
{
	struct wsg_wsdl *w = NULL;
	struct wsg_error err;
	const char *body;
	size_t len;
	char *s;

	(void)state;
	assert_int_equal(load(WSG_TEST_SRCDIR "/test/data/echo.wsdl", &w, &err),
	                 WSG_OK);
	s = doc(w, "wsdl");
	assert_non_null(strstr(s, "<soap:address location=\"" PUB "\"/>"));
	assert_non_null(strstr(s, "<soap12:address location=\"" PUB "\"/>"));
	assert_null(strstr(s, "127.0.0.1:8280"));
	assert_non_null(strstr(s, "EchoSoap12Binding"));
	free(s);
	/* .NET clients ask for ?WSDL. */
	assert_int_equal(wsg_wsdl_lookup(w, "WSDL", &body, &len), WSG_OK);
	assert_int_equal(wsg_wsdl_lookup(w, "wSdL", &body, &len), WSG_OK);
	assert_int_equal(wsg_wsdl_lookup(w, "wsdl=0", &body, &len), WSG_OK);
	assert_int_equal(wsg_wsdl_lookup(w, "wsdl=1", &body, &len),
	                 WSG_ERR_NOTFOUND);
	assert_int_equal(wsg_wsdl_lookup(w, "xsd=0", &body, &len),
	                 WSG_ERR_NOTFOUND);
	assert_int_equal(wsg_wsdl_lookup(w, "xsd=", &body, &len),
	                 WSG_ERR_NOTFOUND);
	assert_int_equal(wsg_wsdl_lookup(w, "xsd=1x", &body, &len),
	                 WSG_ERR_NOTFOUND);
	assert_int_equal(wsg_wsdl_lookup(w, "xsd=99999999999", &body, &len),
	                 WSG_ERR_NOTFOUND);
	assert_null(body);
	/* Not a WSDL request: the route's usual answer. */
	assert_int_equal(wsg_wsdl_lookup(w, "wsdlx", &body, &len),
	                 WSG_ERR_INVAL);
	assert_int_equal(wsg_wsdl_lookup(w, "a=b", &body, &len), WSG_ERR_INVAL);
	assert_int_equal(wsg_wsdl_lookup(w, NULL, &body, &len), WSG_ERR_INVAL);
	wsg_wsdl_free(w);
}

static void
test_two_level_import_chain(void **state)
{
	struct wsg_wsdl *w = NULL;
	struct wsg_error err;
	const char *body;
	size_t len;
	char *s;

	(void)state;
	assert_int_equal(load(WSG_TEST_SRCDIR "/test/data/wsdl-chain/echo.wsdl",
	                      &w, &err),
	                 WSG_OK);
	s = doc(w, "wsdl");
	assert_non_null(strstr(s, "schemaLocation=\"" PUB "?xsd=1\""));
	assert_null(strstr(s, "schemaLocation=\"xsd/echo.xsd\""));
	free(s);
	s = doc(w, "xsd=1");
	assert_non_null(strstr(s, "<xsd:element name=\"Echo\">"));
	assert_non_null(strstr(s, "schemaLocation=\"" PUB "?xsd=2\""));
	free(s);
	s = doc(w, "XSD=2");
	assert_non_null(strstr(s, "<xsd:simpleType name=\"Text\">"));
	free(s);
	assert_int_equal(wsg_wsdl_lookup(w, "xsd=3", &body, &len),
	                 WSG_ERR_NOTFOUND);
	/* A schema is not served as a WSDL. */
	assert_int_equal(wsg_wsdl_lookup(w, "wsdl=1", &body, &len),
	                 WSG_ERR_NOTFOUND);
	wsg_wsdl_free(w);
}

#define WSDL_HEAD                                                              \
	"<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" "   \
	"xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "                      \
	"targetNamespace=\"urn:t\">"
#define WSDL_TAIL "</wsdl:definitions>"
#define XSD_HEAD                                                               \
	"<xsd:schema xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "          \
	"targetNamespace=\"urn:t\">"
#define XSD_TAIL "</xsd:schema>"

static void
test_wsdl_import_include_and_cycle(void **state)
{
	struct wsg_wsdl *w = NULL;
	struct wsg_error err;
	char *s;

	(void)state;
	put("cyc/main.wsdl", WSDL_HEAD
	    "<wsdl:import namespace=\"urn:t\" location=\"sub/b.wsdl\"/>"
	    "<wsdl:types>" XSD_HEAD "<xsd:include schemaLocation=\"a.xsd\"/>"
	    "<xsd:import namespace=\"urn:u\"/>" XSD_TAIL
	    "</wsdl:types>" WSDL_TAIL);
	put("cyc/sub/b.wsdl",
	    WSDL_HEAD "<wsdl:import namespace=\"urn:t\" "
	              "location=\"../main.wsdl\"/>" WSDL_TAIL);
	put("cyc/a.xsd",
	    XSD_HEAD "<xsd:include schemaLocation=\"./c.xsd\"/>" XSD_TAIL);
	put("cyc/c.xsd",
	    XSD_HEAD "<xsd:include schemaLocation=\"a.xsd\"/>" XSD_TAIL);
	assert_int_equal(load_tmp("cyc/main.wsdl", &w, &err), WSG_OK);
	s = doc(w, "wsdl");
	assert_non_null(strstr(s, "location=\"" PUB "?wsdl=1\""));
	assert_non_null(strstr(s, "schemaLocation=\"" PUB "?xsd=2\""));
	/* An import by namespace alone names no file: left as it is. */
	assert_non_null(strstr(s, "<xsd:import namespace=\"urn:u\"/>"));
	free(s);
	s = doc(w, "wsdl=1");
	assert_non_null(strstr(s, "location=\"" PUB "?wsdl\""));
	free(s);
	s = doc(w, "xsd=2");
	assert_non_null(strstr(s, "schemaLocation=\"" PUB "?xsd=3\""));
	free(s);
	s = doc(w, "xsd=3");
	assert_non_null(strstr(s, "schemaLocation=\"" PUB "?xsd=2\""));
	free(s);
	wsg_wsdl_free(w);
}

static const struct {
	const char *name;
	const char *location;
	const char *reason; /* part of err.reason */
} refused[] = {
        {"remote", "http://upstream.example.com/a.xsd", "absolute URL"},
        {"scheme", "file:a.xsd", "absolute URL"},
        {"net-path", "//evil.example.com/a.xsd", "absolute path"},
        {"abs-path", "/etc/hostname", "absolute path"},
        {"escape", "../outside.xsd", "outside the WSDL's folder"},
        {"query", "a.xsd?x=1", "'?'"},
        {"encoded", "%2e%2e/outside.xsd", "'%'"},
        {"missing", "nosuch.xsd", "No such file"},
        {"empty", "", "is empty"},
        {"doctype", "doctype.xsd", "DOCTYPE"},
        {"malformed", "malformed.xsd", "doctype"},
};

static void
test_refused_imports(void **state)
{
	struct wsg_wsdl *w;
	struct wsg_error err;
	char *text, *name;
	size_t i;

	(void)state;
	put("outside.xsd", XSD_HEAD XSD_TAIL);
	put("ref/doctype.xsd",
	    "<!DOCTYPE x [<!ENTITY e SYSTEM \"/etc/passwd\">]>" XSD_HEAD
	    "<xsd:annotation><xsd:documentation>&e;</xsd:documentation>"
	    "</xsd:annotation>" XSD_TAIL);
	put("ref/malformed.xsd", XSD_HEAD "<xsd:element>" XSD_TAIL);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		name = wsg_mem_printf("ref/%s.wsdl", refused[i].name);
		text = wsg_mem_printf(WSDL_HEAD
		                      "<wsdl:types>" XSD_HEAD
		                      "<xsd:import namespace=\"urn:x\" "
		                      "schemaLocation=\"%s\"/>" XSD_TAIL
		                      "</wsdl:types>" WSDL_TAIL,
		                      refused[i].location);
		put(name, text);
		w = (struct wsg_wsdl *)1;
		assert_int_not_equal(load_tmp(name, &w, &err), WSG_OK);
		assert_null(w);
		if (strcmp(refused[i].name, "malformed") == 0)
			assert_non_null(strstr(err.reason, "malformed.xsd"));
		else if (strstr(err.reason, refused[i].reason) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", refused[i].name,
			         err.reason, refused[i].reason);
		free(text);
		free(name);
	}
}

static void
test_refused_documents(void **state)
{
	struct wsg_wsdl *w;
	struct wsg_error err;
	char *path;

	(void)state;
	assert_int_not_equal(load_tmp("nosuch.wsdl", &w, &err), WSG_OK);
	assert_null(w);
	assert_non_null(strstr(err.reason, "nosuch.wsdl"));
	assert_int_not_equal(load_tmp("ref", &w, &err), WSG_OK);
	assert_non_null(strstr(err.reason, "not a regular file"));
	put("big/x.wsdl", WSDL_HEAD WSDL_TAIL);
	path = wsg_mem_printf("%s/big/x.wsdl", dir);
	wsg_error_clear(&err);
	assert_int_not_equal(wsg_wsdl_load(path, PUB, NULL, 10, &w, &err),
	                     WSG_OK);
	assert_non_null(strstr(err.reason, "larger than 10 bytes"));
	free(path);
	put("pi/x.wsdl", "<?evil x?>" WSDL_HEAD WSDL_TAIL);
	assert_int_not_equal(load_tmp("pi/x.wsdl", &w, &err), WSG_OK);
	assert_null(w);
}

/* More documents than WSG_WSDL_MAX_DOCS: a chain of includes. */
static void
test_too_many_documents(void **state)
{
	struct wsg_wsdl *w;
	struct wsg_error err;
	char *name, *text;
	int i;

	(void)state;
	put("many/x.wsdl",
	    WSDL_HEAD "<wsdl:types>" XSD_HEAD
	              "<xsd:include schemaLocation=\"s0.xsd\"/>" XSD_TAIL
	              "</wsdl:types>" WSDL_TAIL);
	for (i = 0; i < WSG_WSDL_MAX_DOCS + 1; i++) {
		name = wsg_mem_printf("many/s%d.xsd", i);
		text = wsg_mem_printf(XSD_HEAD "<xsd:include schemaLocation="
		                               "\"s%d.xsd\"/>" XSD_TAIL,
		                      i + 1);
		put(name, text);
		free(name);
		free(text);
	}
	put("many/s65.xsd", XSD_HEAD XSD_TAIL);
	assert_int_not_equal(load_tmp("many/x.wsdl", &w, &err), WSG_OK);
	assert_null(w);
	assert_non_null(strstr(err.reason, "more than 64 documents"));
}

#define ORIGIN "http://up.example.com:9000"

static void
test_fetch_resolve(void **state)
{
	static const struct {
		const char *base, *loc, *want;
	} ok[] = {
	        {ORIGIN "/Echo?wsdl", "?xsd=1", ORIGIN "/Echo?xsd=1"},
	        {ORIGIN "/Echo?wsdl", "", ORIGIN "/Echo?wsdl"},
	        {ORIGIN "/svc/Echo?wsdl", "types.xsd", ORIGIN "/svc/types.xsd"},
	        {ORIGIN "/svc/Echo?wsdl", "../a/./b.xsd#frag",
	         ORIGIN "/a/b.xsd"},
	        {ORIGIN "/svc/Echo", "../../../x.xsd", ORIGIN "/x.xsd"},
	        {ORIGIN "/svc/Echo", "/schemas/a.xsd?v=2",
	         ORIGIN "/schemas/a.xsd?v=2"},
	        {ORIGIN "/svc/Echo", "HTTP://UP.example.com:9000/b.xsd",
	         ORIGIN "/b.xsd"},
	        {ORIGIN "/svc/Echo", "//up.example.com:9000/c?xsd=3",
	         ORIGIN "/c?xsd=3"},
	        {ORIGIN "/svc/Echo", "http://up.example.com:9000", ORIGIN "/"},
	        {ORIGIN "/svc/", "d/", ORIGIN "/svc/d/"},
	        {ORIGIN "", "e.xsd", ORIGIN "/e.xsd"},
	};
	static const struct {
		const char *loc, *reason;
	} off[] = {
	        {"http://up.example.com:9001/x.xsd", "outside the upstream's"},
	        {"http://up.example.com/x.xsd", "outside the upstream's"},
	        {"https://up.example.com:9000/x.xsd", "outside the upstream's"},
	        {"http://evil.example.com:9000/x.xsd",
	         "outside the upstream's"},
	        {"http://up.example.com:9000@evil.example.com/x.xsd",
	         "outside the upstream's"},
	        {"http://u:p@up.example.com:9000/x.xsd",
	         "outside the upstream's"},
	        {"//evil.example.com/x.xsd", "outside the upstream's"},
	        {"file:///etc/passwd", "outside the upstream's"},
	        {"ftp://up.example.com:9000/x", "outside the upstream's"},
	        {"a b.xsd", "may not hold"},
	        {"a.xsd\r\nX-Evil: 1", "may not hold"},
	        {"a\\b.xsd", "may not hold"},
	        {"\xc3\xa9.xsd", "may not hold"},
	};
	struct wsg_error err;
	char *out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		wsg_error_clear(&err);
		assert_int_equal(wsg_wsdl_fetch_resolve(ORIGIN, ok[i].base,
		                                        ok[i].loc, &out, &err),
		                 WSG_OK);
		if (strcmp(out, ok[i].want) != 0)
			fail_msg("%s + %s: %s, not %s", ok[i].base, ok[i].loc,
			         out, ok[i].want);
		free(out);
	}
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		wsg_error_clear(&err);
		assert_int_equal(wsg_wsdl_fetch_resolve(ORIGIN, ORIGIN "/E",
		                                        off[i].loc, &out, &err),
		                 WSG_ERR_CONFIG);
		assert_null(out);
		if (strstr(err.reason, off[i].reason) == NULL)
			fail_msg("%s: %s", off[i].loc, err.reason);
	}
	/* Default ports compare equal to written ones. */
	assert_int_equal(wsg_wsdl_fetch_resolve(
	                         "https://h.example", "https://h.example/E",
	                         "https://H.example:443/x", &out, &err),
	                 WSG_OK);
	assert_string_equal(out, "https://h.example/x");
	free(out);
}

/* Documents by URL, present or not yet (as a fetch sees them). */
struct mem_source {
	const char *names[4];
	const char *texts[4];
	int present[4];
	int asked[4];
};

static int
mem_resolve(void *arg, const char *from, const char *loc, char **name,
            struct wsg_error *err)
{
	if (from == NULL) {
		*name = wsg_mem_strdup(loc);
		return WSG_OK;
	}
	(void)arg;
	return wsg_wsdl_fetch_resolve(ORIGIN, from, loc, name, err);
}

static int
mem_read(void *arg, const char *name, size_t max, char **buf, size_t *len,
         struct wsg_error *err)
{
	struct mem_source *m = arg;
	size_t i;

	(void)max;
	for (i = 0; i < 4 && m->names[i] != NULL; i++) {
		if (strcmp(m->names[i], name) != 0)
			continue;
		if (!m->present[i]) {
			m->asked[i] = 1;
			return WSG_ERR_AGAIN;
		}
		*buf = wsg_mem_strdup(m->texts[i]);
		*len = strlen(m->texts[i]);
		return WSG_OK;
	}
	return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE, "no %s",
	                     name);
}

/* One round per import level, as the fetch runs them: each load reads
 * what is there and names what is missing. */
static void
test_load_source_rounds(void **state)
{
	struct mem_source m = {
	        {ORIGIN "/E?wsdl", ORIGIN "/E?xsd=a", ORIGIN "/s/b.xsd", NULL},
	        {WSDL_HEAD
	         "<wsdl:types>" XSD_HEAD "<xsd:import namespace=\"urn:a\" "
	         "schemaLocation=\"" ORIGIN "/E?xsd=a\"/>" XSD_TAIL
	         "</wsdl:types><wsdl:service name=\"S\"><wsdl:port "
	         "name=\"P\" binding=\"b\"><soap:address "
	         "xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" "
	         "location=\"" ORIGIN "/E\"/></wsdl:port>"
	         "</wsdl:service>" WSDL_TAIL,
	         XSD_HEAD "<xsd:include schemaLocation=\"s/b.xsd\"/>" XSD_TAIL,
	         XSD_HEAD XSD_TAIL, NULL},
	        {0, 0, 0, 0},
	        {0, 0, 0, 0},
	};
	struct wsg_wsdl_source src = {mem_resolve, mem_read, &m};
	struct wsg_wsdl_doc d;
	struct wsg_wsdl *w = NULL;
	struct wsg_error err;
	char *s;
	int round;

	(void)state;
	for (round = 0; round < 3; round++) {
		wsg_error_clear(&err);
		assert_int_equal(wsg_wsdl_load_source(&src, m.names[0], PUB,
		                                      NULL, MAX_SIZE, &w, &err),
		                 WSG_ERR_AGAIN);
		assert_null(w);
		assert_int_equal(m.asked[round], 1);
		assert_int_equal(m.asked[round + 1], 0);
		m.present[round] = 1;
	}
	assert_int_equal(wsg_wsdl_load_source(&src, m.names[0], PUB, NULL,
	                                      MAX_SIZE, &w, &err),
	                 WSG_OK);
	assert_int_equal(wsg_wsdl_count(w), 3);
	s = doc(w, "wsdl");
	assert_non_null(strstr(s, "location=\"" PUB "\""));
	assert_non_null(strstr(s, "schemaLocation=\"" PUB "?xsd=1\""));
	assert_null(strstr(s, "up.example.com"));
	free(s);
	s = doc(w, "xsd=1");
	assert_non_null(strstr(s, "schemaLocation=\"" PUB "?xsd=2\""));
	free(s);
	assert_int_equal(wsg_wsdl_doc(w, 2, &d), WSG_OK);
	assert_true(d.is_xsd);
	assert_string_equal(d.url, PUB "?xsd=2");
	wsg_wsdl_free(w);

	/* An import of another origin fails the load, naming both. */
	m.texts[2] = XSD_HEAD "<xsd:include schemaLocation=\"http://evil."
	                      "example.com/x.xsd\"/>" XSD_TAIL;
	wsg_error_clear(&err);
	assert_int_equal(wsg_wsdl_load_source(&src, m.names[0], PUB, NULL,
	                                      MAX_SIZE, &w, &err),
	                 WSG_ERR_CONFIG);
	assert_null(w);
	assert_non_null(strstr(err.reason, ORIGIN "/s/b.xsd"));
	assert_non_null(strstr(err.reason, "evil.example.com"));
	/* Hostile bytes from the upstream meet the request parser's rules. */
	m.texts[2] = "<!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b "
	             "\"&a;&a;&a;&a;\">]>" XSD_HEAD XSD_TAIL;
	assert_int_equal(wsg_wsdl_load_source(&src, m.names[0], PUB, NULL,
	                                      MAX_SIZE, &w, &err),
	                 WSG_ERR_CONFIG);
	assert_non_null(strstr(err.reason, "DOCTYPE"));
}

static void
test_host_url_and_query(void **state)
{
	char *u;

	(void)state;
	u = wsg_wsdl_host_url(PUB, "gw.example.org:8443");
	assert_string_equal(u, "https://gw.example.org:8443/services/Echo");
	free(u);
	u = wsg_wsdl_host_url("http://[::1]:80", "[::2]");
	assert_string_equal(u, "http://[::2]");
	free(u);
	assert_true(wsg_wsdl_is_query("WSDL"));
	assert_true(wsg_wsdl_is_query("xsd=x"));
	assert_true(wsg_wsdl_is_query("wsdl=1"));
	assert_false(wsg_wsdl_is_query("wsdlx"));
	assert_false(wsg_wsdl_is_query("a=b"));
	assert_false(wsg_wsdl_is_query(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_echo_addresses_rewritten),
	        cmocka_unit_test(test_two_level_import_chain),
	        cmocka_unit_test(test_wsdl_import_include_and_cycle),
	        cmocka_unit_test(test_refused_imports),
	        cmocka_unit_test(test_refused_documents),
	        cmocka_unit_test(test_too_many_documents),
	        cmocka_unit_test(test_fetch_resolve),
	        cmocka_unit_test(test_load_source_rounds),
	        cmocka_unit_test(test_host_url_and_query),
	};
	char *cmd;
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cmd = wsg_mem_printf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	free(cmd);
	return rc;
}
