/*
 * Fuzz target: hostile bytes through the whole pure data-plane parse, as a
 * request meets it: envelope, Security header, freshness, digest check,
 * re-serialisation, the relayed envelope (copy and slices alike) and the
 * fault answer; and that none of it changes how the next message parses.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mem.h"
#include "soap.h"
#include "wsse.h"

#define PROBE_ENV                                                              \
	"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/"         \
	"envelope/\">"

/*
 * Parsed after every input: soap.c reuses the thread's parser context, so
 * what a probe gives must never depend on what came before it. The first
 * outcome, from a context that parsed nothing yet, is the reference.
 */
static const char *const probes[] = {
        PROBE_ENV "<soap:Header><h:a xmlns:h='urn:h'>1</h:a></soap:Header>"
                  "<soap:Body><a>x</a></soap:Body></soap:Envelope>",
        PROBE_ENV "<soap:Body><p:a/></soap:Body></soap:Envelope>",
};

static char *
probe_outcome(const char *xml)
{
	struct wsg_soap_msg msg;
	struct wsg_error err;
	char *out = NULL;
	size_t len = 0;

	if (wsg_soap_parse(xml, strlen(xml), NULL, &msg, &err) != WSG_OK)
		return wsg_mem_printf("refused %d: %s", err.fault, err.reason);
	if (wsg_soap_serialize(&msg, &out, &len) != WSG_OK)
		abort();
	wsg_soap_msg_free(&msg);
	return out;
}

static void
check_probes(void)
{
	static char *reference[sizeof(probes) / sizeof(probes[0])];
	size_t i;
	char *got;

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		got = probe_outcome(probes[i]);
		if (reference[i] == NULL) {
			reference[i] = got;
			continue;
		}
		if (strcmp(got, reference[i]) != 0)
			abort();
		free(got);
	}
}

/* What is forwarded: the slices of wsg_soap_relay_parts(), when it gives
 * them, are exactly wsg_soap_relay()'s copy. */
static void
check_relay(const struct wsg_soap_msg *m, const char *in, size_t len)
{
	struct iovec parts[8];
	char *out = NULL;
	size_t out_len = 0, n = 0, i, o = 0;

	if (wsg_soap_relay(m, in, len, &out, &out_len) != WSG_OK)
		return;
	if (wsg_soap_relay_parts(m, in, len, parts, 8, &n) == WSG_OK) {
		for (i = 0; i < n; i++) {
			if (o + parts[i].iov_len > out_len ||
			    memcmp(out + o, parts[i].iov_base,
			           parts[i].iov_len) != 0)
				abort();
			o += parts[i].iov_len;
		}
		if (o != out_len)
			abort();
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct wsg_soap_limits limits = {
		.max_depth = 100, .max_attributes = 500,
		.max_attribute_len = 65536, .max_nodes = 100000,
		.max_namespaces = 100, .max_total_attributes = 200000,
	};
	struct wsg_wsse_policy policy = {
		.strict_bsp = (size & 1) != 0, .require_timestamp = 0,
		.created_ttl = 300, .future_ttl = 60, .timestamp_ttl = 300,
	};
	/* A fixed clock near the reference vectors, so they can pass. */
	struct wsg_time now = { .sec = 1704067200, .nsec = 0 };
	struct wsg_soap_msg msg;
	struct wsg_wsse_token tok;
	struct wsg_error err;
	char *out = NULL;
	size_t len = 0;
	const char *ctype;
	int status;

	check_probes();
	memset(&msg, 0, sizeof(msg));
	memset(&tok, 0, sizeof(tok));
	if (wsg_soap_parse((const char *)data, size, &limits, &msg, &err) !=
	    WSG_OK) {
		if (wsg_soap_build_fault(WSG_SOAP_11, err.fault, &out, &len,
					 &ctype, &status) == WSG_OK)
			free(out);
		check_probes();
		return 0;
	}
	if (wsg_wsse_parse(&msg, &policy, &tok, &err) == WSG_OK) {
		wsg_wsse_check_freshness(&tok, &policy, now, &err);
		wsg_wsse_nonce_expiry(&tok, &policy, now);
		wsg_wsse_verify(&tok, "secret", 6);
		if (tok.security != NULL) {
			wsg_soap_remove_header(&msg, tok.security);
			tok.security = NULL;
		}
	}
	wsg_soap_remove_next_headers(&msg);
	check_relay(&msg, (const char *)data, size);
	if (wsg_soap_serialize(&msg, &out, &len) == WSG_OK)
		free(out);
	wsg_wsse_token_clear(&tok);
	wsg_soap_msg_free(&msg);
	check_probes();
	return 0;
}
