/*
 * Fuzz target: hostile bytes through the whole pure data-plane parse, as a
 * request meets it: envelope, Security header, freshness, digest check,
 * re-serialisation and the fault answer.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "soap.h"
#include "wsse.h"

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

	memset(&msg, 0, sizeof(msg));
	memset(&tok, 0, sizeof(tok));
	if (wsg_soap_parse((const char *)data, size, &limits, &msg, &err) !=
	    WSG_OK) {
		if (wsg_soap_build_fault(WSG_SOAP_11, err.fault, &out, &len,
					 &ctype, &status) == WSG_OK)
			free(out);
		return 0;
	}
	if (wsg_wsse_parse(&msg, &policy, &tok, &err) == WSG_OK) {
		wsg_wsse_check_freshness(&tok, &policy, now, &err);
		wsg_wsse_nonce_expiry(&tok, &policy, now);
		wsg_wsse_verify(&tok, "secret", 6);
		if (tok.security != NULL) {
			xmlUnlinkNode(tok.security);
			xmlFreeNode(tok.security);
			tok.security = NULL;
		}
	}
	if (wsg_soap_serialize(&msg, &out, &len) == WSG_OK)
		free(out);
	wsg_wsse_token_clear(&tok);
	wsg_soap_msg_free(&msg);
	return 0;
}
