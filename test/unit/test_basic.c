/*
 * basic.c: Authorization header parsing (RFC 7617), the Security header
 * test of wsse_or_basic routes, and the answers to Basic requests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "basic.h"
#include "err.h"
#include "soap.h"

static const struct {
	const char *name;
	const char *value;
	int rc;
	const char *user;     /* when rc is WSG_OK */
	const char *password; /* when rc is WSG_OK; may hold ':' */
} parse_cases[] = {
        {"no header", NULL, WSG_ERR_NOTFOUND, NULL, NULL},
        {"empty header", "", WSG_ERR_NOTFOUND, NULL, NULL},
        {"other scheme", "Bearer YWxpY2U6c2VjcmV0", WSG_ERR_NOTFOUND, NULL,
         NULL},
        {"scheme prefix only", "Basicx YWxpY2U6c2VjcmV0", WSG_ERR_NOTFOUND,
         NULL, NULL},
        {"plain", "Basic YWxpY2U6c2VjcmV0", WSG_OK, "alice", "secret"},
        {"scheme in lower case", "basic YWxpY2U6c2VjcmV0", WSG_OK, "alice",
         "secret"},
        {"scheme in upper case, extra blanks", "  BASIC \t YWxpY2U6c2VjcmV0 ",
         WSG_OK, "alice", "secret"},
        {"password with colons", "Basic YTpiOmM=", WSG_OK, "a", "b:c"},
        {"empty password", "Basic YWxpY2U6", WSG_OK, "alice", ""},
        {"empty user", "Basic OnB3", WSG_OK, "", "pw"},
        /* "jörg:pässwörd€" in UTF-8 */
        {"UTF-8", "Basic asO2cmc6cMOkc3N3w7ZyZOKCrA==", WSG_OK, "j\xc3\xb6rg",
         "p\xc3\xa4ssw\xc3\xb6rd\xe2\x82\xac"},
        {"scheme without credentials", "Basic", WSG_ERR_PARSE, NULL, NULL},
        {"scheme and blanks", "Basic   ", WSG_ERR_PARSE, NULL, NULL},
        {"two tokens", "Basic YWxpY2U6c2VjcmV0 YQ==", WSG_ERR_PARSE, NULL,
         NULL},
        {"no colon", "Basic YWxpY2U=", WSG_ERR_PARSE, NULL, NULL},
        {"not Base64", "Basic YWxp*2U6c2VjcmV0", WSG_ERR_PARSE, NULL, NULL},
        {"missing padding", "Basic YTpiOmM", WSG_ERR_PARSE, NULL, NULL},
        {"non-canonical padding bits", "Basic YTpiOmN=", WSG_ERR_PARSE, NULL,
         NULL},
        /* "al\tice:pw", "alice:p\x7fw", "a\0b:pw" */
        {"control character in user", "Basic YWwJaWNlOnB3", WSG_ERR_PARSE, NULL,
         NULL},
        {"DEL in password", "Basic YWxpY2U6cH93", WSG_ERR_PARSE, NULL, NULL},
        {"NUL in user", "Basic YQBiOnB3", WSG_ERR_PARSE, NULL, NULL},
};

static void
test_parse(void **state)
{
	char *user, *password;
	size_t user_len, password_len, i;
	int rc;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		user = password = (char *)"stale";
		user_len = password_len = 99;
		rc = wsg_basic_parse(parse_cases[i].value, &user, &user_len,
		                     &password, &password_len);
		if (rc != parse_cases[i].rc)
			fail_msg("%s: rc %d, want %d", parse_cases[i].name, rc,
			         parse_cases[i].rc);
		if (rc != WSG_OK) {
			/* Out-params are cleared on failure too. */
			assert_null(user);
			assert_null(password);
			assert_int_equal(user_len, 0);
			assert_int_equal(password_len, 0);
			continue;
		}
		assert_string_equal(user, parse_cases[i].user);
		assert_int_equal(user_len, strlen(parse_cases[i].user));
		assert_string_equal(password, parse_cases[i].password);
		assert_int_equal(password_len, strlen(parse_cases[i].password));
		free(user);
		free(password);
	}
}

/* Headers longer than any real credentials are refused, not decoded. */
static void
test_parse_bounds_length(void **state)
{
	size_t n = 20000, user_len, password_len;
	char *value = malloc(n + 7), *user, *password;

	assert_non_null(value);
	memcpy(value, "Basic ", 6);
	memset(value + 6, 'A', n);
	value[6 + n] = '\0';
	assert_int_equal(wsg_basic_parse(value, &user, &user_len, &password,
	                                 &password_len),
	                 WSG_ERR_PARSE);
	free(value);
}

static const char env11_with[] =
        "<s:Envelope xmlns:s=\"" WSG_NS_SOAP11 "\"><s:Header>"
        "<o:Other xmlns:o=\"urn:x\"/>"
        "<w:Security xmlns:w=\"http://docs.oasis-open.org/wss/2004/01/"
        "oasis-200401-wss-wssecurity-secext-1.0.xsd\" "
        "s:actor=\"urn:someone-else\"/>"
        "</s:Header><s:Body/></s:Envelope>";
static const char env11_other_ns[] =
        "<s:Envelope xmlns:s=\"" WSG_NS_SOAP11 "\"><s:Header>"
        "<Security xmlns=\"urn:not-wsse\"/>"
        "</s:Header><s:Body/></s:Envelope>";
static const char env12_no_header[] =
        "<s:Envelope xmlns:s=\"" WSG_NS_SOAP12 "\"><s:Body/></s:Envelope>";

static int
has_security(const char *xml)
{
	struct wsg_soap_msg m;
	struct wsg_error err;
	int has;

	memset(&m, 0, sizeof(m));
	wsg_error_clear(&err);
	assert_int_equal(wsg_soap_parse(xml, strlen(xml), NULL, &m, &err),
	                 WSG_OK);
	has = wsg_basic_has_security_header(&m);
	wsg_soap_msg_free(&m);
	return has;
}

static void
test_has_security_header(void **state)
{
	/* Any actor counts: the WS-Security path then decides what is ours. */
	assert_int_equal(has_security(env11_with), 1);
	assert_int_equal(has_security(env11_other_ns), 0);
	assert_int_equal(has_security(env12_no_header), 0);
}

static void
test_build_reply(void **state)
{
	static const struct {
		enum wsg_soap_version media;
		enum wsg_fault fault;
		int status;
		const char *ctype;
		const char *body_part;
	} cases[] = {
	        {WSG_SOAP_UNKNOWN, WSG_FAULT_FAILED_AUTHENTICATION, 401,
	         "application/json", "{\"Error\": \"Authentication failed\"}"},
	        {WSG_SOAP_UNKNOWN, WSG_FAULT_INVALID_SECURITY, 403,
	         "application/json", "HTTPS"},
	        {WSG_SOAP_UNKNOWN, WSG_FAULT_UPSTREAM_ERROR, 502,
	         "application/json", "unavailable"},
	        {WSG_SOAP_UNKNOWN, WSG_FAULT_UPSTREAM_TIMEOUT, 504,
	         "application/json", "in time"},
	        {WSG_SOAP_UNKNOWN, WSG_FAULT_SERVER, 500, "application/json",
	         "could not process"},
	        {WSG_SOAP_UNKNOWN, WSG_FAULT_METHOD, 405, "application/json",
	         "Method not allowed"},
	        {WSG_SOAP_11, WSG_FAULT_FAILED_AUTHENTICATION, 401, "text/xml",
	         "<faultcode>wsse:FailedAuthentication</faultcode>"},
	        {WSG_SOAP_12, WSG_FAULT_FAILED_AUTHENTICATION, 401,
	         "application/soap+xml",
	         "<env:Value>wsse:FailedAuthentication</env:Value>"},
	        {WSG_SOAP_11, WSG_FAULT_INVALID_SECURITY, 403, "text/xml",
	         "wsse:InvalidSecurity"},
	        {WSG_SOAP_12, WSG_FAULT_UPSTREAM_ERROR, 502,
	         "application/soap+xml", "env:Receiver"},
	        {WSG_SOAP_UNKNOWN, WSG_FAULT_TRY_LATER, 429, "application/json",
	         "{\"Error\": \"Too many failed authentication attempts; try "
	         "again later\"}"},
	        {WSG_SOAP_11, WSG_FAULT_TRY_LATER, 429, "text/xml",
	         "<faultcode>soap:Server</faultcode>"},
	};
	const char *ctype;
	char *body;
	size_t len, i;
	int status;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(wsg_basic_build_reply(cases[i].media,
		                                       cases[i].fault, &body,
		                                       &len, &ctype, &status),
		                 WSG_OK);
		assert_int_equal(status, cases[i].status);
		assert_int_equal(
		        strncmp(ctype, cases[i].ctype, strlen(cases[i].ctype)),
		        0);
		assert_int_equal(len, strlen(body));
		if (strstr(body, cases[i].body_part) == NULL)
			fail_msg("case %zu: \"%s\" not in %s", i,
			         cases[i].body_part, body);
		free(body);
	}
	assert_int_equal(wsg_basic_build_reply(WSG_SOAP_11, WSG_FAULT_NONE,
	                                       &body, &len, &ctype, &status),
	                 WSG_ERR_INVAL);
	assert_null(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_parse_bounds_length),
	        cmocka_unit_test(test_has_security_header),
	        cmocka_unit_test(test_build_reply),
	};
	int rc;

	wsg_soap_global_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	wsg_soap_global_cleanup();
	return rc;
}
