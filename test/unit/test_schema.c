/* Schema validation: compiling a WSDL's schemas from its loaded documents
 * only, the answers for valid and invalid Bodies, WSDLs refused at load,
 * the entity loader outside a compile, and one schema shared by threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "schema.h"
#include "soap.h"
#include "wsdl.h"

#define PUB "https://soap.example.com/services/Orders"
#define MAX_SIZE (1024 * 1024)
#define DATA WSG_TEST_SRCDIR "/test/data/"

#define S11 "http://schemas.xmlsoap.org/soap/envelope/"
#define S12 "http://www.w3.org/2003/05/soap-envelope"

static char dir[] = "/tmp/test_schema.XXXXXX";

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

/* Loads the WSDL at `path` and compiles its schemas. */
static int
compile(const char *path, struct wsg_schema **s, struct wsg_error *err)
{
	struct wsg_wsdl *w = NULL;
	int rc;

	*s = NULL;
	wsg_error_clear(err);
	rc = wsg_wsdl_load(path, PUB, NULL, MAX_SIZE, &w, err);
	assert_int_equal(rc, WSG_OK);
	rc = wsg_schema_compile(w, NULL, s, err);
	/* The compiled schema needs none of the documents afterwards. */
	wsg_wsdl_free(w);
	return rc;
}

static int
compile_tmp(const char *name, struct wsg_schema **s, struct wsg_error *err)
{
	char *path = wsg_mem_printf("%s/%s", dir, name);
	int rc = compile(path, s, err);

	free(path);
	return rc;
}

/* Validates the Body of SOAP 1.1 envelope around `body`, whose prefixes
 * are declared on the Envelope: "o" (orders), "t" (order types), "e"
 * (echo), "xsi". */
static int
check_version(const struct wsg_schema *s, const char *env_ns, const char *body,
              struct wsg_error *err)
{
	struct wsg_soap_msg m;
	char *xml = wsg_mem_printf(
	        "<s:Envelope xmlns:s=\"%s\" xmlns:o=\"urn:example:orders\" "
	        "xmlns:t=\"urn:example:orders:types\" "
	        "xmlns:e=\"urn:example:echo\" "
	        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
	        "<s:Header><x:Other xmlns:x=\"urn:other\">not "
	        "validated</x:Other></s:Header><s:Body>%s</s:Body>"
	        "</s:Envelope>",
	        env_ns, body);
	int rc;

	assert_int_equal(wsg_soap_parse(xml, strlen(xml), NULL, &m, err),
	                 WSG_OK);
	wsg_error_clear(err);
	rc = wsg_schema_validate(s, m.body, err);
	wsg_soap_msg_free(&m);
	free(xml);
	return rc;
}

static int
check(const struct wsg_schema *s, const char *body, struct wsg_error *err)
{
	return check_version(s, S11, body, err);
}

static void
assert_refused(const struct wsg_schema *s, const char *body, const char *needle)
{
	struct wsg_error err;

	assert_int_equal(check(s, body, &err), WSG_ERR_PARSE);
	assert_int_equal(err.fault, WSG_FAULT_CLIENT);
	if (strstr(err.reason, needle) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\" for %s", err.reason,
		         needle, body);
	/* Nothing of the gateway's own naming or of the schema's files. */
	assert_null(strstr(err.reason, "urn:wssgate"));
	assert_null(strstr(err.reason, "xsd="));
	assert_null(strstr(err.reason, "soap.example.com"));
}

#define ITEM(sku, q)                                                           \
	"<o:item><t:sku>" sku "</t:sku><t:quantity>" q "</t:quantity></"       \
	"o:item>"
#define ORDER(inner)                                                           \
	"<o:PlaceOrder><o:message>m</o:message>" inner "</o:PlaceOrder>"

static void
test_echo(void **state)
{
	struct wsg_schema *s;
	struct wsg_error err;

	(void)state;
	assert_int_equal(compile(DATA "echo.wsdl", &s, &err), WSG_OK);
	assert_int_equal(
	        check(s, "<e:Echo><e:message>hi</e:message></e:Echo>", &err),
	        WSG_OK);
	assert_int_equal(check_version(s, S12,
	                               "<e:Echo><e:message>hi</e:message>"
	                               "</e:Echo>",
	                               &err),
	                 WSG_OK);
	/* A default namespace declared on the child is as good. */
	assert_int_equal(check(s,
	                       "<Echo xmlns=\"urn:example:echo\"><message/>"
	                       "</Echo>",
	                       &err),
	                 WSG_OK);
	assert_int_equal(check(s, "", &err), WSG_OK);
	assert_int_equal(check(s, "  <!-- c -->\n ", &err), WSG_OK);
	assert_refused(s, "<e:Echo/>",
	               "element '{urn:example:echo}Echo': a required child "
	               "element is missing");
	assert_refused(s,
	               "<e:Echo><e:message>a</e:message><e:message>b"
	               "</e:message></e:Echo>",
	               "element '{urn:example:echo}message': this element is "
	               "not expected here");
	assert_refused(s, "<e:Echo><message>hi</message></e:Echo>",
	               "element 'message': this element is not expected");
	assert_refused(s, "<e:Nope/>",
	               "element '{urn:example:echo}Nope': no such element is "
	               "declared");
	/* The response element is declared too, but only as an element. */
	assert_refused(s,
	               "<e:Echo><e:message>hi</e:message></e:Echo><e:Extra/>",
	               "'{urn:example:echo}Extra'");
	assert_refused(s, "text<e:Echo><e:message>hi</e:message></e:Echo>",
	               "the Body holds character data");
	wsg_schema_free(s);
}

static void
test_import_chain(void **state)
{
	struct wsg_schema *s;
	struct wsg_error err;
	char *big, *body;

	(void)state;
	assert_int_equal(compile(DATA "wsdl-chain/echo.wsdl", &s, &err),
	                 WSG_OK);
	assert_int_equal(
	        check(s, "<e:Echo><e:message>hi</e:message></e:Echo>", &err),
	        WSG_OK);
	/* txt:Text, two imports down, caps the length. */
	big = wsg_mem_alloc(100002);
	memset(big, 'x', 100001);
	big[100001] = '\0';
	body = wsg_mem_printf("<e:Echo><e:message>%s</e:message></e:Echo>",
	                      big);
	assert_refused(s, body,
	               "'{urn:example:echo}message': the value has a length");
	big[100000] = '\0';
	free(body);
	body = wsg_mem_printf("<e:Echo><e:message>%s</e:message></e:Echo>",
	                      big);
	assert_int_equal(check(s, body, &err), WSG_OK);
	free(body);
	free(big);
	wsg_schema_free(s);
}

static void
test_orders(void **state)
{
	struct wsg_schema *s;
	struct wsg_error err;

	(void)state;
	assert_int_equal(compile(DATA "schema/orders.wsdl", &s, &err), WSG_OK);
	assert_int_equal(check(s,
	                       ORDER(ITEM("ABC-1", "5") ITEM(
	                               "XYZ-22",
	                               "1000") "<o:priority>high</o:priority>"),
	                       &err),
	                 WSG_OK);
	/* The second schema of one namespace, next to the first's element. */
	assert_int_equal(check(s,
	                       "<o:GetOrder><o:message>m</o:message><o:id>7"
	                       "</o:id></o:GetOrder>" ORDER(ITEM("ABC-1", "5")),
	                       &err),
	                 WSG_OK);
	assert_int_equal(check(s,
	                       "<o:PlaceOrder version=\"2\"><o:message/>" ITEM(
	                               "ABC-1", "5") "</o:PlaceOrder>",
	                       &err),
	                 WSG_OK);
	assert_refused(s, ORDER(ITEM("ABC-1", "many")),
	               "element '{urn:example:orders:types}quantity': the "
	               "value is not valid for its type");
	assert_refused(s, ORDER(ITEM("ABC-1", "0")),
	               "'{urn:example:orders:types}quantity': the value is "
	               "out of range");
	assert_refused(s, ORDER(ITEM("abc-1", "1")),
	               "'{urn:example:orders:types}sku': the value does not "
	               "match the allowed pattern");
	assert_refused(s,
	               ORDER(ITEM("ABC-1", "1") "<o:priority>urgent"
	                                        "</o:priority>"),
	               "'{urn:example:orders}priority': the value is not one "
	               "of the allowed values");
	assert_refused(s,
	               "<o:PlaceOrder><o:message>m</o:message></o:PlaceOrder>",
	               "'{urn:example:orders}PlaceOrder': a required child "
	               "element is missing");
	assert_refused(s, ORDER(ITEM("ABC-1", "1") "<o:coupon>x</o:coupon>"),
	               "element '{urn:example:orders}coupon': this element is "
	               "not expected here");
	assert_refused(s,
	               ORDER(ITEM("A-1", "1") ITEM("A-1", "1") ITEM("A-1", "1")
	                             ITEM("A-1", "1") ITEM("A-1", "1")
	                                     ITEM("A-1", "1")),
	               "'{urn:example:orders:types}sku'");
	assert_refused(s,
	               "<o:PlaceOrder version=\"two\"><o:message/>" ITEM(
	                       "ABC-1", "5") "</o:PlaceOrder>",
	               "attribute 'version' of element "
	               "'{urn:example:orders}PlaceOrder': the value is not "
	               "valid for its type");
	assert_refused(
	        s,
	        "<o:PlaceOrder colour=\"red\"><o:message/>" ITEM(
	                "ABC-1", "5") "</o:PlaceOrder>",
	        "attribute 'colour' of element "
	        "'{urn:example:orders}PlaceOrder': this attribute is not "
	        "allowed");
	/* xsi:type names a type the client may not substitute. */
	assert_refused(s,
	               "<o:GetOrder><o:message/><o:id xsi:type=\"t:Item\">1"
	               "</o:id></o:GetOrder>",
	               "'{urn:example:orders}id'");
	wsg_schema_free(s);
}

#define WSDL_HEAD                                                              \
	"<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" "   \
	"xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "                      \
	"xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" "                \
	"xmlns:tns=\"urn:t\" targetNamespace=\"urn:t\">"

static void
test_refused_at_compile(void **state)
{
	struct wsg_schema *s;
	struct wsg_error err;

	(void)state;
	put("unresolved.wsdl",
	    WSDL_HEAD "<wsdl:types><xsd:schema targetNamespace=\"urn:t\">"
	              "<xsd:element name=\"E\" type=\"tns:Missing\"/>"
	              "</xsd:schema></wsdl:types></wsdl:definitions>");
	assert_int_equal(compile_tmp("unresolved.wsdl", &s, &err),
	                 WSG_ERR_CONFIG);
	assert_null(s);
	assert_non_null(strstr(err.reason, "does not compile"));
	assert_non_null(strstr(err.reason, "wsdl:types schema 1"));
	assert_non_null(strstr(err.reason, "Missing"));

	put("rpc.wsdl", WSDL_HEAD "<wsdl:binding name=\"B\" type=\"tns:P\">"
	                          "<soap:binding style=\"rpc\"/></wsdl:binding>"
	                          "</wsdl:definitions>");
	assert_int_equal(compile_tmp("rpc.wsdl", &s, &err), WSG_ERR_CONFIG);
	assert_non_null(strstr(err.reason, "\"rpc\""));

	put("encoded.wsdl",
	    WSDL_HEAD "<wsdl:binding name=\"B\" type=\"tns:P\"><wsdl:operation "
	              "name=\"O\"><wsdl:input><soap:body use=\"encoded\"/>"
	              "</wsdl:input></wsdl:operation></wsdl:binding>"
	              "</wsdl:definitions>");
	assert_int_equal(compile_tmp("encoded.wsdl", &s, &err), WSG_ERR_CONFIG);
	assert_non_null(strstr(err.reason, "encoded"));

	/* An import of a document that is no schema. */
	put("notxsd.xml", "<x/>");
	put("notxsd.wsdl",
	    WSDL_HEAD "<wsdl:types><xsd:schema targetNamespace=\"urn:t\">"
	              "<xsd:import namespace=\"urn:u\" "
	              "schemaLocation=\"notxsd.xml\"/></xsd:schema>"
	              "</wsdl:types></wsdl:definitions>");
	assert_int_equal(compile_tmp("notxsd.wsdl", &s, &err), WSG_ERR_CONFIG);
	assert_non_null(strstr(err.reason, PUB "?xsd=1: not an XML schema"));
}

static void
quiet_cb(void *data, xmlErrorPtr e)
{
	(void)data;
	(void)e;
}

/*
 * Outside a compile the loader answers nothing: neither a schema file
 * named directly nor an external entity of a document parsed with the
 * options the gateway never uses.
 */
static void
test_loader_refuses_outside_compile(void **state)
{
	xmlSchemaParserCtxtPtr p;
	xmlSchemaPtr xs;
	xmlDocPtr doc;
	char *path, *xml;

	(void)state;
	put("file.xsd", "<xs:schema "
	                "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">"
	                "<xs:element name=\"E\"/></xs:schema>");
	path = wsg_mem_printf("%s/file.xsd", dir);
	p = xmlSchemaNewParserCtxt(path);
	assert_non_null(p);
	xmlSchemaSetParserStructuredErrors(p, quiet_cb, NULL);
	xmlSetStructuredErrorFunc(NULL, quiet_cb);
	xs = xmlSchemaParse(p);
	xmlSetStructuredErrorFunc(NULL, NULL);
	assert_null(xs);
	xmlSchemaFreeParserCtxt(p);

	put("secret.txt", "SECRET");
	xml = wsg_mem_printf("<!DOCTYPE d [<!ENTITY e SYSTEM \"file://%s/"
	                     "secret.txt\">]><d>&e;</d>",
	                     dir);
	doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL,
	                    XML_PARSE_NOENT | XML_PARSE_DTDLOAD |
	                            XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc != NULL) {
		xmlChar *text = xmlNodeGetContent(xmlDocGetRootElement(doc));

		assert_null(strstr((const char *)text, "SECRET"));
		xmlFree(text);
		xmlFreeDoc(doc);
	}
	free(xml);
	free(path);
}

/* One schema, four threads validating with it at once. */
static struct wsg_schema *shared;

static void *
validate_many(void *arg)
{
	struct wsg_error err;
	int i, *bad = arg;

	for (i = 0; i < 200; i++) {
		if (check(shared, ORDER(ITEM("ABC-1", "5")), &err) != WSG_OK)
			(*bad)++;
		if (check(shared, ORDER(ITEM("ABC-1", "x")), &err) !=
		            WSG_ERR_PARSE ||
		    strstr(err.reason, "quantity") == NULL)
			(*bad)++;
	}
	return NULL;
}

static void
test_threads_share_one_schema(void **state)
{
	struct wsg_error err;
	pthread_t t[4];
	int bad[4] = {0}, i;

	(void)state;
	assert_int_equal(compile(DATA "schema/orders.wsdl", &shared, &err),
	                 WSG_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(
		        pthread_create(&t[i], NULL, validate_many, &bad[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(bad[i], 0);
	}
	wsg_schema_free(shared);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_echo),
	        cmocka_unit_test(test_import_chain),
	        cmocka_unit_test(test_orders),
	        cmocka_unit_test(test_refused_at_compile),
	        cmocka_unit_test(test_loader_refuses_outside_compile),
	        cmocka_unit_test(test_threads_share_one_schema),
	};
	char cmd[64];
	int rc;

	wsg_soap_global_init();
	wsg_schema_global_init();
	assert_non_null(mkdtemp(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	wsg_soap_global_cleanup();
	return rc;
}
