/*
 * Allocation failures on the SOAP path. wsg_mem aborts on out-of-memory by
 * design (mem.h), so the failures the gateway must answer are libxml2's:
 * here the Nth allocation libxml2 makes while one envelope is parsed, its
 * Security header cut out, relayed and serialised fails, for every N in
 * turn. Each run must end in the right result or a clean error - never an
 * envelope accepted with part of its tree missing, never a crash or (under
 * ASan) a leak, and the thread's reused parser context must parse the next
 * message as before.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libxml/globals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soap.h"
#include "wsse.h"

#define ENV_OPEN                                                               \
	"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/"         \
	"envelope/\">"
#define SECURITY                                                               \
	"<wsse:Security xmlns:wsse=\"" WSG_NS_WSSE "\">"                       \
	"<wsse:UsernameToken><wsse:Username>alice</wsse:Username>"             \
	"<wsse:Password>secret</wsse:Password></wsse:UsernameToken>"           \
	"</wsse:Security>"

static const char envelope[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>" ENV_OPEN
        "<soap:Header><h:a xmlns:h=\"urn:h\" h:x=\"1\">one</h:a>" SECURITY
        "<h:b xmlns:h=\"urn:h\"><![CDATA[two]]></h:b></soap:Header>"
        "<soap:Body><p:op xmlns:p=\"urn:p\" a=\"&amp;b\"><p:v>&#x263a;</p:v>"
        "<!-- c --><p:w/></p:op></soap:Body></soap:Envelope>";

/* The index of the libxml2 allocation to fail (-1: none) and the count. */
static long fail_at = -1;
static long n_allocs;

static void *
oom_malloc(size_t n)
{
	if (n_allocs++ == fail_at)
		return NULL;
	return malloc(n);
}

static void *
oom_realloc(void *p, size_t n)
{
	if (n_allocs++ == fail_at)
		return NULL;
	return realloc(p, n);
}

static char *
oom_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = oom_malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static void
quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void
arm(long n)
{
	n_allocs = 0;
	fail_at = n;
}

/* Whether the armed failure happened; disarms. */
static int
disarm(void)
{
	int hit = fail_at >= 0 && n_allocs > fail_at;

	fail_at = -1;
	return hit;
}

/* The input as UTF-16LE with a BOM (relayed by serialising, not by cuts). */
static char *
utf16_of(const char *s, size_t *len)
{
	size_t n = strlen(s), i, o = 2;
	unsigned char *out = malloc(2 * n + 2);
	const unsigned char *p = (const unsigned char *)s;

	assert_non_null(out);
	out[0] = 0xff;
	out[1] = 0xfe;
	for (i = 0; i < n;) {
		unsigned cp = p[i];
		size_t k = cp < 0x80 ? 1 : cp < 0xe0 ? 2 : 3;

		if (k == 2)
			cp = (cp & 0x1f) << 6 | (p[i + 1] & 0x3f);
		else if (k == 3)
			cp = (cp & 0x0f) << 12 | (p[i + 1] & 0x3f) << 6 |
			     (p[i + 2] & 0x3f);
		out[o++] = (unsigned char)(cp & 0xff);
		out[o++] = (unsigned char)(cp >> 8);
		i += k;
	}
	*len = o;
	return (char *)out;
}

static xmlNodePtr
security_of(const struct wsg_soap_msg *m)
{
	xmlNodePtr n;

	for (n = xmlFirstElementChild(m->header); n != NULL;
	     n = xmlNextElementSibling(n))
		if (wsg_soap_is_element(n, WSG_NS_WSSE, "Security"))
			return n;
	return NULL;
}

/* The tree of `m` written as UTF-8, whatever its input was. */
static char *
tree_of(struct wsg_soap_msg *m)
{
	char *out = NULL;
	size_t n;

	free(m->encoding);
	m->encoding = strdup("UTF-8");
	assert_int_equal(wsg_soap_serialize(m, &out, &n), WSG_OK);
	return out;
}

/* What one undisturbed run gives. */
struct outcome {
	char *tree;  /* the tree serialised after the cut, without failures */
	char *relay; /* wsg_soap_relay() */
	size_t relay_len;
	char *ser; /* wsg_soap_serialize() */
	size_t ser_len;
};

static void
outcome_free(struct outcome *o)
{
	free(o->tree);
	free(o->relay);
	free(o->ser);
	memset(o, 0, sizeof(*o));
}

/*
 * Parses `in`, cuts the Security header, relays and serialises, with the
 * armed failure (if any); returns the parse's code and fills `o` with what
 * succeeded. `tree` is made after disarming, so it shows what was parsed.
 */
static int
run(const char *in, size_t len, long fail, struct outcome *o, int *hit)
{
	struct wsg_soap_msg msg;
	struct wsg_error err;
	xmlNodePtr sec;
	int rc, rc_relay = WSG_OK, rc_ser = WSG_OK;

	memset(o, 0, sizeof(*o));
	memset(&err, 0, sizeof(err));
	arm(fail);
	rc = wsg_soap_parse(in, len, NULL, &msg, &err);
	if (rc != WSG_OK) {
		*hit = disarm();
		assert_true(rc < 0);
		assert_true(err.fault > WSG_FAULT_NONE &&
		            err.fault < WSG_FAULT__COUNT);
		assert_true(err.reason[0] != '\0');
		assert_null(msg.doc);
		return rc;
	}
	sec = security_of(&msg);
	if (sec != NULL)
		wsg_soap_remove_header(&msg, sec);
	rc_relay = wsg_soap_relay(&msg, in, len, &o->relay, &o->relay_len);
	rc_ser = wsg_soap_serialize(&msg, &o->ser, &o->ser_len);
	*hit = disarm();
	/* A failed step gives nothing and says so. */
	if (rc_relay != WSG_OK) {
		assert_true(rc_relay < 0);
		assert_null(o->relay);
	}
	if (rc_ser != WSG_OK) {
		assert_true(rc_ser < 0);
		assert_null(o->ser);
	}
	assert_non_null(sec);
	o->tree = tree_of(&msg);
	wsg_soap_msg_free(&msg);
	return rc;
}

/* `buf` parses (without failures) to the tree serialised as `tree`. */
static void
same_envelope(const char *buf, size_t len, const char *tree)
{
	struct wsg_soap_msg msg;
	struct wsg_error err;
	char *out;

	assert_int_equal(wsg_soap_parse(buf, len, NULL, &msg, &err), WSG_OK);
	out = tree_of(&msg);
	assert_string_equal(out, tree);
	free(out);
	wsg_soap_msg_free(&msg);
}

static void
check_every_failure(const char *in, size_t len)
{
	struct outcome ref, got, again;
	long n;
	int hit, unarmed, refused = 0, recovered = 0;

	assert_int_equal(run(in, len, -1, &ref, &unarmed), WSG_OK);
	assert_non_null(ref.relay);
	assert_non_null(ref.ser);
	for (n = 0;; n++) {
		if (run(in, len, n, &got, &hit) != WSG_OK) {
			refused++;
		} else {
			/* Accepted: then the whole tree, not a part of it. */
			assert_string_equal(got.tree, ref.tree);
			/* What is forwarded or written may differ in form
			 * (a character reference for a character the encoder
			 * could not take), never in content. */
			if (got.relay != NULL)
				same_envelope(got.relay, got.relay_len,
				              ref.tree);
			if (got.ser != NULL)
				same_envelope(got.ser, got.ser_len, ref.tree);
			recovered += got.relay == NULL || got.ser == NULL;
		}
		outcome_free(&got);
		/* The thread's parser context is as good as new. */
		assert_int_equal(run(in, len, -1, &again, &unarmed), WSG_OK);
		assert_string_equal(again.tree, ref.tree);
		assert_memory_equal(again.relay, ref.relay, ref.relay_len);
		outcome_free(&again);
		if (!hit)
			break;
	}
	print_message("%ld allocations failed in turn: %d refused, %d "
	              "relay/serialise errors\n",
	              n, refused, recovered);
	assert_true(n > 10);
	outcome_free(&ref);
}

static void
test_oom_utf8(void **state)
{
	check_every_failure(envelope, strlen(envelope));
}

static void
test_oom_utf16(void **state)
{
	size_t len;
	char *in = utf16_of(envelope + strlen("<?xml version=\"1.0\" "
	                                      "encoding=\"UTF-8\"?>"),
	                    &len);

	check_every_failure(in, len);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_oom_utf8),
	        cmocka_unit_test(test_oom_utf16),
	};
	int rc;

	/* Out-of-memory reports go to libxml2's generic handler (stderr). */
	xmlSetGenericErrorFunc(NULL, quiet);
	/* Before libxml2 allocates anything. */
	if (xmlMemSetup(free, oom_malloc, oom_realloc, oom_strdup) != 0)
		return 1;
	wsg_soap_global_init();
	rc = cmocka_run_group_tests_name("soap_oom", tests, NULL, NULL);
	wsg_soap_global_cleanup();
	return rc;
}
