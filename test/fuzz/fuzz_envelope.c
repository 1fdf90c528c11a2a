/*
 * Fuzz target: hostile bytes through the whole pure data-plane parse, as a
 * request meets it: envelope, intermediary rules, Security header,
 * freshness, digest check, re-serialisation, the relayed envelope (copy and
 * slices alike) and the fault answer; and that none of it changes how the
 * next message parses. Beyond "no crash" it checks what soap.h and wsse.h
 * promise:
 * - an accepted envelope is an Envelope in the namespace of its version,
 *   with exactly one Body (and at most one Header before it) as children,
 *   within every limit it was parsed with; parsed again with its own
 *   counts as the limits it is accepted, with any one of them one lower it
 *   is a Client fault;
 * - every refusal carries a fault and a reason, leaves nothing behind, and
 *   its fault answer is itself an envelope we parse, of the right version;
 * - an accepted token has what its type needs (digest: a non-empty Nonce
 *   within bounds and Created), a text password verifies only as itself,
 *   freshness fails only as MessageExpired, the nonce outlives the window;
 * - what is relayed parses again to the same envelope, carrying the same
 *   Security-header verdict (the same token or the same refusal) while the
 *   header is kept, and no Security header for the gateway once it is cut;
 * - the operation is the Body's first child element, and the input read as
 *   a SOAPAction header or a Content-Type gives no action or a non-empty
 *   one without control characters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mem.h"
#include "operations.h"
#include "soap.h"
#include "wsse.h"

#define PROBE_ENV                                                              \
	"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/"         \
	"envelope/\">"

static const struct wsg_soap_limits limits = {
        .max_depth = 100,
        .max_attributes = 500,
        .max_attribute_len = 65536,
        .max_nodes = 100000,
        .max_namespaces = 100,
        .max_total_attributes = 200000,
};

static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_envelope: broken promise: %s\n", what);
		abort();
	}
}

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
	require(wsg_soap_serialize(&msg, &out, &len) == WSG_OK,
	        "a probe serialises");
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
		require(strcmp(got, reference[i]) == 0,
		        "a probe parses the same after any input");
		free(got);
	}
}

static const char *
soap_ns(enum wsg_soap_version v)
{
	return v == WSG_SOAP_12 ? WSG_NS_SOAP12 : WSG_NS_SOAP11;
}

/* A fault answer is a whole envelope of the version asked for, with a Fault
 * in its Body, and the status DESIGN 3.3 gives it. */
static void
check_fault_answer(enum wsg_soap_version v, const char *body, size_t len,
                   const char *ctype, int status)
{
	struct wsg_soap_msg f;
	struct wsg_error err;
	xmlNodePtr fault;

	require(ctype != NULL && status >= 400 && status <= 599,
	        "a fault answer has a content type and an error status");
	require(wsg_soap_parse(body, len, NULL, &f, &err) == WSG_OK,
	        "a fault answer parses as an envelope");
	require(f.version == (v == WSG_SOAP_12 ? WSG_SOAP_12 : WSG_SOAP_11),
	        "a fault answer has the version asked for");
	fault = xmlFirstElementChild(f.body);
	require(fault != NULL &&
	                wsg_soap_is_element(fault, soap_ns(f.version), "Fault"),
	        "a fault answer's Body holds a Fault");
	wsg_soap_msg_free(&f);
}

static void
check_fault(enum wsg_soap_version v, enum wsg_fault fault)
{
	const char *ctype = NULL;
	char *out = NULL;
	size_t len = 0;
	int status = 0;

	require(wsg_soap_build_fault(v, fault, &out, &len, &ctype, &status) ==
	                WSG_OK,
	        "every refusal's fault can be answered");
	check_fault_answer(v, out, len, ctype, status);
	free(out);
}

static void
check_refusal(int rc, const struct wsg_error *err)
{
	require(rc < 0, "a refusal is a negative code");
	require(err->fault > WSG_FAULT_NONE && err->fault < WSG_FAULT__COUNT,
	        "a refusal carries a fault");
	require(err->reason[0] != '\0', "a refusal says why");
}

/* What the tree of an accepted envelope holds, to compare with limits. */
struct counts {
	size_t depth, nodes, attributes, total_attributes, namespaces;
	size_t attribute_len;
};

static void
count_tree(xmlNodePtr e, size_t depth, size_t ns_in_scope, struct counts *c)
{
	xmlNodePtr k;
	xmlAttrPtr a;
	xmlNsPtr ns;
	size_t n_attr, n_ns, len;
	xmlChar *v;

	n_attr = 0;
	for (a = e->properties; a != NULL; a = a->next)
		n_attr++;
	n_ns = 0;
	for (ns = e->nsDef; ns != NULL; ns = ns->next)
		n_ns++;
	c->nodes++;
	if (depth > c->depth)
		c->depth = depth;
	if (n_attr + n_ns > c->attributes)
		c->attributes = n_attr + n_ns;
	c->total_attributes += n_attr + n_ns;
	ns_in_scope += n_ns;
	if (ns_in_scope > c->namespaces)
		c->namespaces = ns_in_scope;
	/* Entity and character references only shorten a value. */
	for (a = e->properties; a != NULL; a = a->next) {
		v = xmlNodeListGetString(e->doc, a->children, 1);
		len = v != NULL ? strlen((const char *)v) : 0;
		if (len > c->attribute_len)
			c->attribute_len = len;
		xmlFree(v);
	}
	for (ns = e->nsDef; ns != NULL; ns = ns->next) {
		len = ns->href != NULL ? strlen((const char *)ns->href) : 0;
		if (len > c->attribute_len)
			c->attribute_len = len;
	}
	for (k = e->children; k != NULL; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			count_tree(k, depth + 1, ns_in_scope, c);
}

static void
check_shape(const struct wsg_soap_msg *m, size_t size)
{
	const char *ns = soap_ns(m->version);
	xmlNodePtr n;
	size_t bodies = 0, headers = 0, i;

	require(m->version == WSG_SOAP_11 || m->version == WSG_SOAP_12,
	        "an accepted envelope has a known version");
	require(m->envelope == xmlDocGetRootElement(m->doc) &&
	                wsg_soap_is_element(m->envelope, ns, "Envelope"),
	        "the root is Envelope in its version's namespace");
	require(m->body != NULL && m->body->parent == m->envelope,
	        "an accepted envelope has a Body child");
	require(m->header == NULL || m->header->parent == m->envelope,
	        "the Header is a child of Envelope");
	require(m->encoding != NULL, "an accepted envelope has an encoding");
	for (n = xmlFirstElementChild(m->envelope); n != NULL;
	     n = xmlNextElementSibling(n)) {
		if (wsg_soap_is_element(n, ns, "Body")) {
			require(n == m->body, "m->body is the Body");
			bodies++;
		} else if (wsg_soap_is_element(n, ns, "Header")) {
			require(n == m->header && bodies == 0,
			        "m->header is the Header, before Body");
			headers++;
		}
	}
	require(bodies == 1, "exactly one Body");
	require(headers == (m->header != NULL), "at most one Header");
	for (i = 0; m->spans_ok && i < m->n_spans; i++)
		require(m->spans[i].start < m->spans[i].end &&
		                m->spans[i].end <= size &&
		                (i == 0 ||
		                 m->spans[i - 1].end <= m->spans[i].start),
		        "header spans are ordered ranges of the input");
}

static void
check_limits(const struct wsg_soap_msg *m, const char *in, size_t size)
{
	struct counts c;
	struct wsg_soap_limits exact, lower;
	struct wsg_soap_msg again;
	struct wsg_error err;
	size_t *field;
	int rc;

	memset(&c, 0, sizeof(c));
	count_tree(m->envelope, 1, 0, &c);
	require(c.depth <= limits.max_depth && c.nodes <= limits.max_nodes &&
	                c.attributes <= limits.max_attributes &&
	                c.total_attributes <= limits.max_total_attributes &&
	                c.namespaces <= limits.max_namespaces &&
	                c.attribute_len <= limits.max_attribute_len,
	        "an accepted envelope is within every limit");
	/* A zero limit means the default: only counts of 2 and more can be
	 * lowered by one. */
	exact.max_depth = c.depth;
	exact.max_nodes = c.nodes;
	exact.max_attributes = c.attributes ? c.attributes : 1;
	exact.max_total_attributes =
	        c.total_attributes ? c.total_attributes : 1;
	exact.max_namespaces = c.namespaces ? c.namespaces : 1;
	exact.max_attribute_len = limits.max_attribute_len;
	rc = wsg_soap_parse(in, size, &exact, &again, &err);
	require(rc == WSG_OK, "accepted with its own counts as the limits");
	wsg_soap_msg_free(&again);
	lower = exact;
	switch (size % 6) {
	case 0: field = &lower.max_depth; break;
	case 1: field = &lower.max_nodes; break;
	case 2: field = &lower.max_attributes; break;
	case 3: field = &lower.max_total_attributes; break;
	case 4: field = &lower.max_namespaces; break;
	default:
		lower.max_attribute_len = c.attribute_len;
		field = &lower.max_attribute_len;
		break;
	}
	if (*field < 2)
		return;
	(*field)--;
	rc = wsg_soap_parse(in, size, &lower, &again, &err);
	require(rc != WSG_OK && err.fault == WSG_FAULT_CLIENT &&
	                again.doc == NULL,
	        "a limit one below what the envelope holds refuses it");
}

/* The facts a Security header gave, to compare with a parse of the relayed
 * bytes. */
static void
check_same_token(const struct wsg_wsse_token *a, const struct wsg_wsse_token *b)
{
	require(a->username_len == b->username_len &&
	                memcmp(a->username, b->username, a->username_len) == 0,
	        "relayed: the same Username");
	require(a->pwtype == b->pwtype, "relayed: the same Password Type");
	require(a->password_len == b->password_len &&
	                (a->password == NULL) == (b->password == NULL) &&
	                (a->password == NULL || memcmp(a->password, b->password,
	                                               a->password_len) == 0),
	        "relayed: the same password");
	require(memcmp(a->digest, b->digest, sizeof(a->digest)) == 0,
	        "relayed: the same digest");
	require(a->nonce_len == b->nonce_len &&
	                (a->nonce == NULL) == (b->nonce == NULL) &&
	                (a->nonce == NULL ||
	                 memcmp(a->nonce, b->nonce, a->nonce_len) == 0),
	        "relayed: the same Nonce");
	require((a->created_text == NULL) == (b->created_text == NULL) &&
	                (a->created_text == NULL ||
	                 strcmp(a->created_text, b->created_text) == 0),
	        "relayed: the same Created");
	require(a->has_timestamp == b->has_timestamp &&
	                a->ts_has_expires == b->ts_has_expires &&
	                a->ts_created.sec == b->ts_created.sec &&
	                a->ts_expires.sec == b->ts_expires.sec,
	        "relayed: the same Timestamp");
}

struct verdict {
	int rc;
	struct wsg_error err;
	struct wsg_wsse_token tok;
};

/*
 * The relayed bytes of `m` parse again, to a tree that serialises as `m`
 * does, and their Security header gives `expect` again (or, when `cut`,
 * none addressed to the gateway is left).
 */
static void
check_relay(const struct wsg_soap_msg *m, const char *in, size_t len,
            const struct wsg_wsse_policy *policy, const struct verdict *expect,
            int cut)
{
	struct iovec parts[8];
	struct wsg_soap_limits relay_limits;
	struct wsg_soap_msg again;
	struct verdict v;
	char *out = NULL, *s1 = NULL, *s2 = NULL;
	size_t out_len = 0, n = 0, i, o = 0, l1 = 0, l2 = 0;

	require(wsg_soap_relay(m, in, len, &out, &out_len) == WSG_OK,
	        "an accepted envelope can be relayed");
	/* The slices of wsg_soap_relay_parts(), when it gives them, are
	 * exactly wsg_soap_relay()'s copy. */
	if (wsg_soap_relay_parts(m, in, len, parts, 8, &n) == WSG_OK) {
		for (i = 0; i < n; i++) {
			require(o + parts[i].iov_len <= out_len &&
			                memcmp(out + o, parts[i].iov_base,
			                       parts[i].iov_len) == 0,
			        "relay slices are the relayed copy");
			o += parts[i].iov_len;
		}
		require(o == out_len, "relay slices are the whole copy");
	}
	/* Serialising escapes more than a client may have ('>' as "&gt;"):
	 * only attribute values can grow. */
	relay_limits = limits;
	relay_limits.max_attribute_len = (size_t)-1;
	require(wsg_soap_parse(out, out_len, &relay_limits, &again, &v.err) ==
	                WSG_OK,
	        "the relayed envelope parses again");
	require(again.version == m->version, "relayed: the same version");
	require(wsg_soap_serialize(m, &s1, &l1) == WSG_OK &&
	                wsg_soap_serialize(&again, &s2, &l2) == WSG_OK &&
	                l1 == l2 && memcmp(s1, s2, l1) == 0,
	        "the relayed envelope is the envelope that was checked");
	v.rc = wsg_wsse_parse(&again, policy, &v.tok, &v.err);
	if (cut) {
		require(v.rc != WSG_OK &&
		                v.err.fault == WSG_FAULT_INVALID_SECURITY,
		        "no Security header for the gateway is relayed once "
		        "it is consumed");
	} else {
		require(v.rc == expect->rc &&
		                (v.rc == WSG_OK ||
		                 v.err.fault == expect->err.fault),
		        "relayed: the same Security verdict");
		if (v.rc == WSG_OK)
			check_same_token(&expect->tok, &v.tok);
	}
	wsg_wsse_token_clear(&v.tok);
	wsg_soap_msg_free(&again);
	free(s1);
	free(s2);
	free(out);
}

static void
check_token(const struct wsg_soap_msg *m, struct wsg_wsse_token *tok,
            const struct wsg_wsse_policy *policy, struct wsg_time now)
{
	struct wsg_error err;
	char *wrong;
	int rc;

	require(tok->security != NULL && tok->security->parent == m->header,
	        "the consumed Security header is a child of Header");
	require(tok->username != NULL &&
	                strlen(tok->username) == tok->username_len,
	        "a token has a Username without NUL bytes");
	require(tok->pwtype == WSG_PWTYPE_TEXT ||
	                tok->pwtype == WSG_PWTYPE_DIGEST,
	        "an accepted token is PasswordText or PasswordDigest");
	require(tok->nonce_len <= WSG_WSSE_MAX_NONCE, "the Nonce is bounded");
	if (tok->pwtype == WSG_PWTYPE_DIGEST) {
		require(tok->nonce != NULL && tok->nonce_len > 0 &&
		                tok->created_text != NULL,
		        "a digest token has a non-empty Nonce and Created");
	} else {
		require(tok->password != NULL, "a text token has a password");
		require(wsg_wsse_verify(tok, tok->password,
		                        tok->password_len) == WSG_OK,
		        "a text password verifies as itself");
		wrong = wsg_mem_printf("%sx", tok->password);
		require(wsg_wsse_verify(tok, wrong, tok->password_len + 1) !=
		                WSG_OK,
		        "a text password does not verify as a longer one");
		free(wrong);
	}
	wsg_wsse_verify(tok, "secret", 6);
	rc = wsg_wsse_check_freshness(tok, policy, now, &err);
	require(rc == WSG_OK || (rc == WSG_ERR_SECURITY &&
	                         err.fault == WSG_FAULT_MESSAGE_EXPIRED),
	        "freshness fails only as MessageExpired");
	require(wsg_wsse_nonce_expiry(tok, policy, now) >=
	                now.sec + policy->created_ttl + policy->future_ttl,
	        "a nonce is kept for the whole window");
}

static void
check_must_understand(const struct wsg_soap_msg *m)
{
	struct wsg_error err;
	const char *ctype = NULL;
	char *out = NULL;
	size_t len = 0;
	int status = 0, rc;

	rc = wsg_soap_check_next_headers(m, &err);
	if (rc == WSG_OK)
		return;
	check_refusal(rc, &err);
	require(err.fault == WSG_FAULT_MUST_UNDERSTAND ||
	                err.fault == WSG_FAULT_CLIENT,
	        "role next headers fail as MustUnderstand or Client");
	if (err.fault == WSG_FAULT_MUST_UNDERSTAND) {
		require(wsg_soap_build_must_understand_fault(
		                m, &out, &len, &ctype, &status) == WSG_OK,
		        "a MustUnderstand fault can be answered");
		check_fault_answer(m->version, out, len, ctype, status);
		free(out);
	} else {
		check_fault(m->version, err.fault);
	}
}

static void
check_operation(const struct wsg_soap_msg *m, const char *in, size_t size)
{
	static const enum wsg_soap_version versions[] = {WSG_SOAP_11,
	                                                 WSG_SOAP_12};
	const char *ns, *local, *p;
	char *text, *action;
	size_t i;
	int rc;

	rc = wsg_operations_of_body(m, &ns, &local);
	require(rc == WSG_OK
	                ? ns != NULL && local != NULL &&
	                          xmlFirstElementChild(m->body) != NULL &&
	                          strcmp((const char *)xmlFirstElementChild(
	                                         m->body)
	                                         ->name,
	                                 local) == 0
	                : rc == WSG_ERR_NOTFOUND &&
	                          xmlFirstElementChild(m->body) == NULL,
	        "the operation is the Body's first child element");
	text = wsg_mem_strndup(in, size);
	for (i = 0; i < 2; i++) {
		rc = wsg_operations_request_action(versions[i], text, text,
		                                   &action);
		require(rc == WSG_OK || (rc == WSG_ERR_PARSE && action == NULL),
		        "an action is read or refused as malformed");
		for (p = action; p != NULL && *p != '\0'; p++)
			require((unsigned char)*p >= 0x20 && *p != 0x7f,
			        "an action holds no control character");
		require(action == NULL || action[0] != '\0',
		        "an empty action is none");
		free(action);
	}
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsg_wsse_policy policy = {
	        .strict_bsp = (size & 1) != 0,
	        .require_timestamp = 0,
	        .created_ttl = 300,
	        .future_ttl = 60,
	        .timestamp_ttl = 300,
	};
	/* A fixed clock near the reference vectors, so they can pass. */
	struct wsg_time now = {.sec = 1704067200, .nsec = 0};
	const char *in = (const char *)data;
	struct wsg_soap_msg msg;
	struct verdict v;
	struct wsg_error err;
	char *out = NULL;
	size_t len = 0;
	int rc;

	check_probes();
	memset(&v, 0, sizeof(v));
	rc = wsg_soap_parse(in, size, &limits, &msg, &err);
	if (rc != WSG_OK) {
		check_refusal(rc, &err);
		require(msg.doc == NULL && msg.spans == NULL,
		        "a refused envelope leaves nothing behind");
		require(err.fault == WSG_FAULT_CLIENT ||
		                err.fault == WSG_FAULT_VERSION_MISMATCH,
		        "a refused envelope is a Client or VersionMismatch "
		        "fault");
		check_fault(WSG_SOAP_11, err.fault);
		check_fault(WSG_SOAP_12, err.fault);
		check_probes();
		return 0;
	}
	check_shape(&msg, size);
	check_limits(&msg, in, size);
	check_operation(&msg, in, size);
	check_must_understand(&msg);
	v.rc = wsg_wsse_parse(&msg, &policy, &v.tok, &v.err);
	if (v.rc == WSG_OK) {
		check_token(&msg, &v.tok, &policy, now);
	} else {
		check_refusal(v.rc, &v.err);
		require(v.rc == WSG_ERR_SECURITY,
		        "a refused Security header is WSG_ERR_SECURITY");
		check_fault(msg.version, v.err.fault);
	}
	/* As request.c forwards: role-next blocks dropped, then the consumed
	 * Security header. */
	wsg_soap_remove_next_headers(&msg);
	check_relay(&msg, in, size, &policy, &v, 0);
	if (v.rc == WSG_OK) {
		wsg_soap_remove_header(&msg, v.tok.security);
		v.tok.security = NULL;
		check_relay(&msg, in, size, &policy, &v, 1);
	}
	if (wsg_soap_serialize(&msg, &out, &len) == WSG_OK)
		free(out);
	wsg_wsse_token_clear(&v.tok);
	wsg_soap_msg_free(&msg);
	check_probes();
	return 0;
}
