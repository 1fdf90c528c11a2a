/* SOAP operations: names, the Body's operation, route entries, what a WSDL
 * declares, and the SOAPAction check. */
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
#include "operations.h"
#include "soap.h"
#include "wsdl.h"

#define PUB "https://soap.example.com/services/Ops"

static char dir[] = "/tmp/test_operations.XXXXXX";

static void
test_split_name(void **state)
{
	static const struct {
		const char *name, *ns, *local;
		int ok;
	} v[] = {
	        {"{urn:example:echo}Echo", "urn:example:echo", "Echo", 1},
	        {"Echo", NULL, "Echo", 1},
	        {"{}Echo", "", "Echo", 1},
	        {"{http://x/y?z=1}Op_1.a-b", "http://x/y?z=1", "Op_1.a-b", 1},
	        {"", NULL, NULL, 0},
	        {"{urn:x}", NULL, NULL, 0},
	        {"{urn:x", NULL, NULL, 0},
	        {"urn:x}Echo", NULL, NULL, 0},
	        {"tns:Echo", NULL, NULL, 0},
	        {"{urn:x}tns:Echo", NULL, NULL, 0},
	        {"{urn:x}Echo}", NULL, NULL, 0},
	        {"{urn x}Echo", NULL, NULL, 0},
	        {"{urn:{x}Echo", NULL, NULL, 0},
	        {"Echo Op", NULL, NULL, 0},
	        {"1Echo", NULL, NULL, 0},
	        {"-Echo", NULL, NULL, 0},
	        {"{urn:x}Ec\tho", NULL, NULL, 0},
	};
	char *ns, *local;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		rc = wsg_operations_split_name(v[i].name, &ns, &local);
		if (rc != (v[i].ok ? WSG_OK : WSG_ERR_INVAL))
			fail_msg("\"%s\": rc %d", v[i].name, rc);
		if (v[i].ns == NULL)
			assert_null(ns);
		else
			assert_string_equal(ns, v[i].ns);
		if (v[i].local == NULL)
			assert_null(local);
		else
			assert_string_equal(local, v[i].local);
		free(ns);
		free(local);
	}
}

static void
body_op(const char *body, int want_rc, const char *want_ns,
        const char *want_local)
{
	char *xml = wsg_mem_printf("<s:Envelope xmlns:s=\"" WSG_NS_SOAP11
	                           "\"><s:Body>%s</s:Body>"
	                           "</s:Envelope>",
	                           body);
	struct wsg_soap_msg m;
	struct wsg_error err;
	const char *ns, *local;

	memset(&m, 0, sizeof(m));
	assert_int_equal(wsg_soap_parse(xml, strlen(xml), NULL, &m, &err),
	                 WSG_OK);
	assert_int_equal(wsg_operations_of_body(&m, &ns, &local), want_rc);
	if (want_local == NULL) {
		assert_null(ns);
		assert_null(local);
	} else {
		assert_string_equal(ns, want_ns);
		assert_string_equal(local, want_local);
	}
	wsg_soap_msg_free(&m);
	free(xml);
}

static void
test_of_body(void **state)
{
	body_op("<e:Echo xmlns:e=\"urn:e\"><m>x</m></e:Echo>", WSG_OK, "urn:e",
	        "Echo");
	body_op("\n <!-- c --> <Delete xmlns=\"urn:d\"/><e:Echo "
	        "xmlns:e=\"urn:e\"/>",
	        WSG_OK, "urn:d", "Delete");
	body_op("<Plain/>", WSG_OK, "", "Plain");
	body_op("", WSG_ERR_NOTFOUND, NULL, NULL);
	body_op("  <!-- only a comment -->  ", WSG_ERR_NOTFOUND, NULL, NULL);
}

static void
test_find(void **state)
{
	struct wsg_operation ops[] = {
	        {.name = "Echo", .local = "Echo"},
	        {.name = "{urn:a}Echo", .ns = "urn:a", .local = "Echo"},
	        {.name = "{}Bare", .ns = "", .local = "Bare"},
	        {.name = "{urn:b}Delete", .ns = "urn:b", .local = "Delete"},
	};
	size_t n = sizeof(ops) / sizeof(ops[0]);

	/* An exact QName wins over an earlier local-name entry. */
	assert_ptr_equal(wsg_operations_find(ops, n, "urn:a", "Echo"), &ops[1]);
	assert_ptr_equal(wsg_operations_find(ops, n, "urn:z", "Echo"), &ops[0]);
	assert_ptr_equal(wsg_operations_find(ops, n, "", "Echo"), &ops[0]);
	assert_ptr_equal(wsg_operations_find(ops, n, "", "Bare"), &ops[2]);
	assert_ptr_equal(wsg_operations_find(ops, n, NULL, "Bare"), &ops[2]);
	assert_null(wsg_operations_find(ops, n, "urn:x", "Bare"));
	assert_ptr_equal(wsg_operations_find(ops, n, "urn:b", "Delete"),
	                 &ops[3]);
	assert_null(wsg_operations_find(ops, n, "urn:a", "Delete"));
	assert_null(wsg_operations_find(ops, n, "urn:b", "delete"));
	assert_null(wsg_operations_find(ops, n, "urn:a", NULL));
	assert_null(wsg_operations_find(NULL, 0, "urn:a", "Echo"));
}

static void
put(const char *name, const char *text)
{
	char *path = wsg_mem_printf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

#define WSDL_HEAD                                                              \
	"<?xml version=\"1.0\"?>\n"                                            \
	"<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" "   \
	"xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" "                \
	"xmlns:soap12=\"http://schemas.xmlsoap.org/wsdl/soap12/\" "            \
	"xmlns:http=\"http://schemas.xmlsoap.org/wsdl/http/\" "                \
	"xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "

/* The main WSDL: a document/literal Read and Write (SOAP 1.1 and 1.2
 * bindings, Write with soap:body/@parts naming its second part and no
 * soapAction on 1.2), an rpc Ping, an HTTP binding, an unresolvable
 * operation; and an import of a second WSDL in another namespace. */
static const char main_wsdl[] = WSDL_HEAD
        "xmlns:tns=\"urn:ops\" xmlns:r=\"urn:records\" "
        "xmlns:a=\"urn:admin\" targetNamespace=\"urn:ops\">\n"
        "<wsdl:import namespace=\"urn:admin\" location=\"admin.wsdl\"/>\n"
        "<wsdl:types><xsd:schema targetNamespace=\"urn:records\">"
        "<xsd:element name=\"ReadRecord\" type=\"xsd:string\"/>"
        "<xsd:element name=\"WriteRecord\" type=\"xsd:string\"/>"
        "<xsd:element name=\"Header\" type=\"xsd:string\"/>"
        "</xsd:schema></wsdl:types>\n"
        "<wsdl:message name=\"ReadIn\"><wsdl:part name=\"p\" "
        "element=\"r:ReadRecord\"/></wsdl:message>\n"
        "<wsdl:message name=\"WriteIn\"><wsdl:part name=\"h\" "
        "element=\"r:Header\"/><wsdl:part name=\"body\" "
        "element=\"r:WriteRecord\"/></wsdl:message>\n"
        "<wsdl:message name=\"PingIn\"><wsdl:part name=\"x\" "
        "type=\"xsd:string\"/></wsdl:message>\n"
        "<wsdl:portType name=\"RecordsPT\">"
        "<wsdl:operation name=\"Read\"><wsdl:input message=\"tns:ReadIn\"/>"
        "</wsdl:operation>"
        "<wsdl:operation name=\"Write\"><wsdl:input "
        "message=\"tns:WriteIn\"/></wsdl:operation>"
        "<wsdl:operation name=\"Ghost\"><wsdl:input "
        "message=\"tns:NoSuchMessage\"/></wsdl:operation>"
        "</wsdl:portType>\n"
        "<wsdl:portType name=\"PingPT\"><wsdl:operation name=\"Ping\">"
        "<wsdl:input message=\"tns:PingIn\"/></wsdl:operation>"
        "</wsdl:portType>\n"
        "<wsdl:binding name=\"B11\" type=\"tns:RecordsPT\">"
        "<soap:binding style=\"document\" "
        "transport=\"http://schemas.xmlsoap.org/soap/http\"/>"
        "<wsdl:operation name=\"Read\"><soap:operation "
        "soapAction=\"urn:ops/Read\"/><wsdl:input><soap:body "
        "use=\"literal\"/></wsdl:input></wsdl:operation>"
        "<wsdl:operation name=\"Write\"><soap:operation "
        "soapAction=\"urn:ops/Write\"/><wsdl:input><soap:body use=\"literal\" "
        "parts=\"body\"/></wsdl:input></wsdl:operation>"
        "<wsdl:operation name=\"Ghost\"><soap:operation "
        "soapAction=\"urn:ops/Ghost\"/></wsdl:operation>"
        "</wsdl:binding>\n"
        "<wsdl:binding name=\"B12\" type=\"tns:RecordsPT\">"
        "<soap12:binding transport=\"http://schemas.xmlsoap.org/soap/http\"/>"
        "<wsdl:operation name=\"Read\"><soap12:operation "
        "soapAction=\"urn:ops/Read\"/><wsdl:input><soap12:body "
        "use=\"literal\"/></wsdl:input></wsdl:operation>"
        "<wsdl:operation name=\"Write\"><soap12:operation/><wsdl:input>"
        "<soap12:body use=\"literal\" parts=\"body\"/></wsdl:input>"
        "</wsdl:operation></wsdl:binding>\n"
        "<wsdl:binding name=\"Rpc\" type=\"tns:PingPT\">"
        "<soap:binding style=\"rpc\" "
        "transport=\"http://schemas.xmlsoap.org/soap/http\"/>"
        "<wsdl:operation name=\"Ping\"><soap:operation "
        "soapAction=\"\"/><wsdl:input><soap:body use=\"encoded\" "
        "namespace=\"urn:ping\"/></wsdl:input></wsdl:operation>"
        "</wsdl:binding>\n"
        "<wsdl:binding name=\"Http\" type=\"tns:PingPT\">"
        "<http:binding verb=\"GET\"/><wsdl:operation name=\"Ping\">"
        "<http:operation location=\"/ping\"/></wsdl:operation>"
        "</wsdl:binding>\n"
        "</wsdl:definitions>\n";

/* The imported WSDL: DeleteAccount, document style by default. */
static const char admin_wsdl[] =
        WSDL_HEAD "xmlns:a=\"urn:admin\" targetNamespace=\"urn:admin\">\n"
                  "<wsdl:types><xsd:schema targetNamespace=\"urn:admin\">"
                  "<xsd:element name=\"DeleteAccount\" type=\"xsd:string\"/>"
                  "</xsd:schema></wsdl:types>\n"
                  "<wsdl:message name=\"DelIn\"><wsdl:part name=\"p\" "
                  "element=\"a:DeleteAccount\"/></wsdl:message>\n"
                  "<wsdl:portType name=\"AdminPT\"><wsdl:operation "
                  "name=\"DeleteAccount\"><wsdl:input message=\"a:DelIn\"/>"
                  "</wsdl:operation></wsdl:portType>\n"
                  "<wsdl:binding name=\"AdminB\" type=\"a:AdminPT\">"
                  "<soap:binding "
                  "transport=\"http://schemas.xmlsoap.org/soap/http\"/>"
                  "<wsdl:operation name=\"DeleteAccount\"><soap:operation "
                  "soapAction=\"urn:admin/Delete\"/><wsdl:input><soap:body "
                  "use=\"literal\"/></wsdl:input></wsdl:operation>"
                  "</wsdl:binding>\n"
                  "</wsdl:definitions>\n";

static const struct wsg_op_decl *
decl(const struct wsg_op_decls *d, const char *ns, const char *local,
     const char *action)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->v[i].ns, ns) == 0 &&
		    strcmp(d->v[i].local, local) == 0 &&
		    (action == NULL
		             ? d->v[i].action == NULL
		             : d->v[i].action != NULL &&
		                       strcmp(d->v[i].action, action) == 0))
			return &d->v[i];
	return NULL;
}

static void
test_from_wsdl(void **state)
{
	struct wsg_op_decls d = {NULL, 0};
	struct wsg_wsdl *w = NULL;
	struct wsg_error err;
	char *path;

	put("ops.wsdl", main_wsdl);
	put("admin.wsdl", admin_wsdl);
	path = wsg_mem_printf("%s/ops.wsdl", dir);
	wsg_error_clear(&err);
	assert_int_equal(wsg_wsdl_load(path, PUB, NULL, 1 << 20, &w, &err),
	                 WSG_OK);
	assert_int_equal(wsg_operations_from_wsdl(w, NULL, &d, &err), WSG_OK);
	assert_non_null(decl(&d, "urn:records", "ReadRecord", "urn:ops/Read"));
	/* parts="body": the second part's element, not the first's. */
	assert_non_null(
	        decl(&d, "urn:records", "WriteRecord", "urn:ops/Write"));
	assert_non_null(decl(&d, "urn:records", "WriteRecord", NULL));
	assert_null(decl(&d, "urn:records", "Header", "urn:ops/Write"));
	assert_non_null(decl(&d, "urn:ping", "Ping", ""));
	assert_non_null(
	        decl(&d, "urn:admin", "DeleteAccount", "urn:admin/Delete"));
	/* Read twice (1.1 and 1.2) is one entry; Ghost and HTTP are none. */
	assert_int_equal(d.n, 5);
	wsg_operations_decls_clear(&d);
	assert_int_equal(d.n, 0);
	assert_null(d.v);
	wsg_wsdl_free(w);
	free(path);
}

/* An import the WSDL does not make is not read: the set is what document
 * 0 reaches. */
static void
test_from_wsdl_without_import(void **state)
{
	struct wsg_op_decls d = {NULL, 0};
	struct wsg_wsdl *w = NULL;
	struct wsg_error err;
	char *path, *text;

	text = wsg_mem_strdup(main_wsdl);
	memcpy(strstr(text, "<wsdl:import"), "<!--", 4);
	memcpy(strstr(text, "admin.wsdl\"/>") + 11, "-->", 3);
	put("lone.wsdl", text);
	path = wsg_mem_printf("%s/lone.wsdl", dir);
	wsg_error_clear(&err);
	assert_int_equal(wsg_wsdl_load(path, PUB, NULL, 1 << 20, &w, &err),
	                 WSG_OK);
	assert_int_equal(wsg_operations_from_wsdl(w, NULL, &d, &err), WSG_OK);
	assert_null(decl(&d, "urn:admin", "DeleteAccount", "urn:admin/Delete"));
	assert_int_equal(d.n, 4);
	wsg_operations_decls_clear(&d);
	wsg_wsdl_free(w);
	free(path);
	free(text);
}

static void
test_request_action(void **state)
{
	static const struct {
		enum wsg_soap_version v;
		const char *soap_action, *ctype, *want;
		int rc;
	} t[] = {
	        {WSG_SOAP_11, "\"urn:ops/Read\"", NULL, "urn:ops/Read", WSG_OK},
	        {WSG_SOAP_11, "urn:ops/Read", NULL, "urn:ops/Read", WSG_OK},
	        {WSG_SOAP_11, " \"urn:ops/Read\" ", NULL, "urn:ops/Read",
	         WSG_OK},
	        {WSG_SOAP_11, "\"\"", NULL, NULL, WSG_OK},
	        {WSG_SOAP_11, "", NULL, NULL, WSG_OK},
	        {WSG_SOAP_11, NULL, "text/xml", NULL, WSG_OK},
	        {WSG_SOAP_11, "\"urn:ops/Read", NULL, NULL, WSG_ERR_PARSE},
	        {WSG_SOAP_11, "\"urn:a\" x", NULL, NULL, WSG_ERR_PARSE},
	        {WSG_SOAP_11, "urn:a\x01", NULL, NULL, WSG_ERR_PARSE},
	        /* SOAP 1.1 reads no action parameter, 1.2 no header. */
	        {WSG_SOAP_11, NULL, "text/xml; action=\"urn:x\"", NULL, WSG_OK},
	        {WSG_SOAP_12, "\"urn:x\"", "application/soap+xml", NULL,
	         WSG_OK},
	        {WSG_SOAP_12, NULL,
	         "application/soap+xml; charset=utf-8; action=\"urn:ops/Read\"",
	         "urn:ops/Read", WSG_OK},
	        {WSG_SOAP_12, NULL,
	         "application/soap+xml;ACTION=urn:ops/Read;charset=utf-8",
	         "urn:ops/Read", WSG_OK},
	        {WSG_SOAP_12, NULL,
	         "application/soap+xml; action=\"urn:a\\\"b\"", "urn:a\"b",
	         WSG_OK},
	        {WSG_SOAP_12, NULL, "application/soap+xml; action=\"\"", NULL,
	         WSG_OK},
	        {WSG_SOAP_12, NULL, "application/soap+xml; charset=utf-8", NULL,
	         WSG_OK},
	        {WSG_SOAP_12, NULL,
	         "application/soap+xml; action=\"urn:a\"; action=\"urn:b\"",
	         NULL, WSG_ERR_PARSE},
	        {WSG_SOAP_12, NULL, "application/soap+xml; action=\"urn:a",
	         NULL, WSG_ERR_PARSE},
	        {WSG_SOAP_12, NULL, "application/soap+xml; action=\"urn:a\"x",
	         NULL, WSG_ERR_PARSE},
	        {WSG_SOAP_12, NULL, NULL, NULL, WSG_OK},
	};
	char *out;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rc = wsg_operations_request_action(t[i].v, t[i].soap_action,
		                                   t[i].ctype, &out);
		if (rc != t[i].rc)
			fail_msg("row %zu: rc %d", i, rc);
		if (t[i].want == NULL)
			assert_null(out);
		else
			assert_string_equal(out, t[i].want);
		free(out);
	}
}

static void
test_check_action(void **state)
{
	struct wsg_op_decls d = {NULL, 0};
	struct wsg_error err;

	wsg_operations_decls_add(&d, "urn:r", "Read", "urn:ops/Read");
	wsg_operations_decls_add(&d, "urn:r", "Write", "urn:ops/Write");
	wsg_operations_decls_add(&d, "urn:r", "Write", "urn:ops/Write");
	wsg_operations_decls_add(&d, "urn:r", "Both1", "urn:ops/Both");
	wsg_operations_decls_add(&d, "urn:r", "Both2", "urn:ops/Both");
	wsg_operations_decls_add(&d, NULL, "Any", "urn:ops/Any");
	wsg_operations_decls_add(&d, "urn:r", "NoAction", NULL);
	assert_int_equal(d.n, 6);
	wsg_error_clear(&err);
	assert_int_equal(
	        wsg_operations_check_action(&d, NULL, "urn:r", "Write", &err),
	        WSG_OK);
	assert_int_equal(wsg_operations_check_action(&d, "urn:ops/Read",
	                                             "urn:r", "Read", &err),
	                 WSG_OK);
	assert_int_equal(wsg_operations_check_action(&d, "urn:ops/Both",
	                                             "urn:r", "Both2", &err),
	                 WSG_OK);
	assert_int_equal(wsg_operations_check_action(&d, "urn:ops/Any", "urn:z",
	                                             "Any", &err),
	                 WSG_OK);
	/* The spoof: Read's action on Write's Body. */
	assert_int_equal(wsg_operations_check_action(&d, "urn:ops/Read",
	                                             "urn:r", "Write", &err),
	                 WSG_ERR_PARSE);
	assert_int_equal(err.fault, WSG_FAULT_CLIENT);
	assert_non_null(strstr(err.reason, "{urn:r}Write"));
	assert_int_equal(wsg_operations_check_action(&d, "urn:ops/Read",
	                                             "urn:x", "Read", &err),
	                 WSG_ERR_PARSE);
	assert_int_equal(wsg_operations_check_action(&d, "urn:ops/Read", NULL,
	                                             NULL, &err),
	                 WSG_ERR_PARSE);
	assert_int_equal(wsg_operations_check_action(&d, "urn:ops/Unknown",
	                                             "urn:r", "Read", &err),
	                 WSG_ERR_PARSE);
	assert_int_equal(err.fault, WSG_FAULT_CLIENT);
	assert_non_null(strstr(err.reason, "names no operation"));
	wsg_operations_decls_clear(&d);
}

static int
setup(void **state)
{
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char *cmd = wsg_mem_printf("rm -rf '%s'", dir);
	int rc = system(cmd);

	free(cmd);
	return rc == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_split_name),
	        cmocka_unit_test(test_of_body),
	        cmocka_unit_test(test_find),
	        cmocka_unit_test(test_from_wsdl),
	        cmocka_unit_test(test_from_wsdl_without_import),
	        cmocka_unit_test(test_request_action),
	        cmocka_unit_test(test_check_action),
	};

	wsg_soap_global_init();
	return cmocka_run_group_tests_name("operations", tests, setup,
	                                   teardown);
}
