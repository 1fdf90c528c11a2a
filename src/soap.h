/*
 * SOAP envelopes: hardened parsing, version detection, header access,
 * serialisation and fault building. No network, no database.
 */
#ifndef WSG_SOAP_H
#define WSG_SOAP_H

#include <libxml/tree.h>
#include <stddef.h>
#include <sys/uio.h>

#include "types.h"

#define WSG_NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
#define WSG_NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define WSG_SOAP11_ACTOR_NEXT "http://schemas.xmlsoap.org/soap/actor/next"
#define WSG_SOAP12_ROLE_NEXT "http://www.w3.org/2003/05/soap-envelope/role/next"
#define WSG_SOAP12_ROLE_NONE "http://www.w3.org/2003/05/soap-envelope/role/none"
#define WSG_SOAP12_ROLE_ULTIMATE_RECEIVER                                      \
	"http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"

/* The CXF "safe" fault of security.opaque_faults (reference §4.3). */
#define WSG_NS_WSS4J "http://ws.apache.org/wss4j"

/*
 * Caps checked while parsing, before the tree is complete (SAX callbacks).
 * A NULL struct or a zero field means the default shown.
 */
struct wsg_soap_limits {
	size_t max_depth;         /* element nesting, e.g. 100 */
	size_t max_attributes;    /* attributes (incl. namespace decls) per
	                             element, e.g. 500 */
	size_t max_attribute_len; /* bytes per attribute value, e.g. 65536 */
	size_t max_nodes;         /* elements in the document, e.g. 100000 */
	size_t max_namespaces; /* namespace declarations in scope, e.g. 100 */
	size_t max_total_attributes; /* ... and namespace decls in the document,
	                                e.g. 200000 */
};

/* Where a child element of Header lay in the parsed bytes: [start, end). */
struct wsg_soap_span {
	xmlNodePtr node;
	size_t start, end;
	int removed; /* taken out by wsg_soap_remove_header() */
};

/* A parsed envelope. `doc` owns every node; free with wsg_soap_msg_free(). */
struct wsg_soap_msg {
	xmlDocPtr doc;
	enum wsg_soap_version version;
	xmlNodePtr envelope;
	xmlNodePtr header; /* NULL when the envelope has no Header */
	xmlNodePtr body;
	int has_xml_decl; /* the input began with an XML declaration */
	char *encoding;   /* encoding to serialise in, e.g. "UTF-8", "UTF-16" */
	struct wsg_soap_span *spans; /* Header's child elements, in order */
	size_t n_spans;
	int spans_ok;     /* spans are byte offsets of the (UTF-8) input */
	size_t span_hint; /* where wsg_soap_remove_header() looks first */
	int rewritten;    /* changed other than by wsg_soap_remove_header() (a
	                     decrypted block): relayed by serialising the tree */
};

/* Process-wide libxml2 setup; call once from main before threads start. */
void wsg_soap_global_init(void);
void wsg_soap_global_cleanup(void);

/*
 * Parses `len` bytes at `buf` as a SOAP envelope with `XML_PARSE_NONET`,
 * never expanding entities or loading DTDs. Any DOCTYPE, any processing
 * instruction (the XML declaration is not one), a limit exceeded, malformed
 * XML, a root that is not Envelope, a missing or misplaced Body or Header
 * fail with err->fault = WSG_FAULT_CLIENT; an Envelope in an unknown
 * namespace with WSG_FAULT_VERSION_MISMATCH. The encoding comes from the
 * XML declaration / BOM: UTF-8 and UTF-16 work; any other declared encoding,
 * UCS-4, EBCDIC or broken UTF-16 is a Client fault (WS-I BP R1012).
 * Bodies past libxml2's 10 MB look-up limit are parsed as a stream; a single
 * text node, comment, CDATA section or tag of over 10 000 000 bytes is still
 * a Client fault (never XML_PARSE_HUGE).
 * On success fills `out` (caller frees with wsg_soap_msg_free()); on failure
 * `out` is left empty and err->reason says why.
 */
int wsg_soap_parse(const char *buf, size_t len,
                   const struct wsg_soap_limits *limits,
                   struct wsg_soap_msg *out, struct wsg_error *err);

/*
 * Any XML document (a WSDL, a schema) under the same rules and caps as
 * wsg_soap_parse(), without the envelope checks. On success `*out` is the
 * caller's (xmlFreeDoc()); on failure it is NULL and err->reason says why.
 */
int wsg_soap_parse_xml(const char *buf, size_t len,
                       const struct wsg_soap_limits *limits, xmlDocPtr *out,
                       struct wsg_error *err);

/* Frees the document and clears `m`; safe on an empty or freed msg. */
void wsg_soap_msg_free(struct wsg_soap_msg *m);

/*
 * Serialises the (possibly modified) envelope back to bytes in the
 * document's original encoding, with an XML declaration only if the input
 * had one. `*out` is malloc'ed; caller frees.
 */
int wsg_soap_serialize(const struct wsg_soap_msg *m, char **out, size_t *len);

/*
 * Unlinks and frees the header block `header` (a child of m->header),
 * remembering it for wsg_soap_relay().
 */
void wsg_soap_remove_header(struct wsg_soap_msg *m, xmlNodePtr header);

/*
 * The envelope to forward after header blocks were removed, given the
 * `len` bytes at `in` that `m` was parsed from. When the input was UTF-8
 * and every change to the tree went through wsg_soap_remove_header(), it
 * is the input without the removed blocks' bytes, everything else exactly
 * as the client sent it (no second serialisation: cheaper, and byte-exact
 * for the upstream); otherwise it is wsg_soap_serialize(). `*out` is
 * malloc'ed and NUL-terminated; caller frees.
 */
int wsg_soap_relay(const struct wsg_soap_msg *m, const char *in, size_t len,
                   char **out, size_t *out_len);

/*
 * The same envelope as slices of `in` (no copy), in order, when
 * wsg_soap_relay() would cut the input: WSG_OK with `*n` (<= `max`) parts;
 * WSG_ERR_LIMIT when it takes more than `max`, WSG_ERR_INVAL when the
 * envelope must be serialised again. Then use wsg_soap_relay().
 */
int wsg_soap_relay_parts(const struct wsg_soap_msg *m, const char *in,
                         size_t len, struct iovec *parts, size_t max,
                         size_t *n);

/*
 * Builds a complete fault envelope for `fault` in SOAP `version`
 * (WSG_SOAP_UNKNOWN is treated as 1.1). SOAP 1.1: faultcode is the WSS
 * QName (wsse prefix declared) or soap:Client / soap:Server /
 * soap:VersionMismatch / soap:MustUnderstand; SOAP 1.2: Code Sender /
 * Receiver / VersionMismatch / MustUnderstand with the WSS QName as Subcode,
 * Reason/Text xml:lang="en". The text is the standard generic one for the
 * code, never request data. `*body` is malloc'ed (caller frees);
 * `*content_type` is a static string; `*http_status` follows DESIGN 3.3
 * (1.1: 500; 1.2: 400 Sender, 500 Receiver), except that 413/415/404/405/
 * 429/502/504 faults carry those statuses in either version.
 */
int wsg_soap_build_fault(enum wsg_soap_version version, enum wsg_fault fault,
                         char **body, size_t *len, const char **content_type,
                         int *http_status);

/*
 * The same fault with `text` (plain text, escaped here) as its faultstring
 * / Reason, for faults whose cause the client may read (a Body refused by
 * its schema). The WS-Security faults keep their standard text:
 * WSG_ERR_INVAL for them. Outputs as for wsg_soap_build_fault().
 */
int wsg_soap_build_fault_text(enum wsg_soap_version version,
                              enum wsg_fault fault, const char *text,
                              char **body, size_t *len,
                              const char **content_type, int *http_status);

/*
 * Whom a header block is addressed to, from its SOAP 1.1 actor or SOAP 1.2
 * role attribute (only the one in the message's own envelope namespace
 * counts). The gateway is a SOAP intermediary: it plays role `next`, while
 * ULTIMATE blocks belong to the ultimate receiver (the upstream) - except
 * the wsse:Security header, which the gateway consumes on its behalf.
 */
enum wsg_soap_target {
	WSG_SOAP_TARGET_ULTIMATE = 0, /* none, empty, or 1.2 ultimateReceiver */
	WSG_SOAP_TARGET_NEXT,         /* 1.1 actor next, 1.2 role next */
	WSG_SOAP_TARGET_NONE,         /* 1.2 role none: processed by nobody */
	WSG_SOAP_TARGET_OTHER,        /* any other actor / role URI */
};

enum wsg_soap_target wsg_soap_header_target(const struct wsg_soap_msg *m,
                                            xmlNodePtr header);

/*
 * The mustUnderstand attribute of a header block: 1 for "1" (and "true" in
 * SOAP 1.2), 0 for "0" ("false" in 1.2) or no attribute, WSG_ERR_PARSE for
 * any other value (SOAP 1.1 allows only 0/1, SOAP 1.2 an xs:boolean).
 */
int wsg_soap_must_understand(const struct wsg_soap_msg *m, xmlNodePtr header);

/*
 * SOAP intermediary rule for the blocks targeted at role next, none of which
 * the gateway processes: any with mustUnderstand true fails with
 * WSG_ERR_PARSE and err->fault WSG_FAULT_MUST_UNDERSTAND (answer it with
 * wsg_soap_build_must_understand_fault()); an invalid mustUnderstand value
 * on such a block is a WSG_FAULT_CLIENT. Headers for other targets are not
 * looked at. WSG_OK when nothing is wrong.
 */
int wsg_soap_check_next_headers(const struct wsg_soap_msg *m,
                                struct wsg_error *err);

/*
 * Removes the blocks targeted at role next that an intermediary must not
 * relay: all of them in SOAP 1.1 (§4.2.2), those without relay="true" in
 * SOAP 1.2 (part 1 §2.7.2). Returns how many were removed.
 */
size_t wsg_soap_remove_next_headers(struct wsg_soap_msg *m);

/*
 * The MustUnderstand fault for `m`, in its version, HTTP 500. SOAP 1.2 adds
 * one env:NotUnderstood header block (qname attribute with its namespace
 * declared) per block wsg_soap_check_next_headers() refused, for the first
 * 100 of them. Linear in the size of `m`. Outputs as for
 * wsg_soap_build_fault().
 */
int wsg_soap_build_must_understand_fault(const struct wsg_soap_msg *m,
                                         char **body, size_t *len,
                                         const char **content_type,
                                         int *http_status);

/*
 * The value of `e`'s attribute `name` in namespace `href` (NULL: in no
 * namespace), as xmlGetNsProp() / xmlGetNoNsProp() give it, or NULL when
 * there is none. A value that is one text node is returned in place (valid
 * while the node lives); any other is built into `*tmp`, which the caller
 * always xmlFree()s (NULL when unused).
 */
const char *wsg_soap_attr(xmlNodePtr e, const char *name, const char *href,
                          xmlChar **tmp);

/* A malloc'ed copy of attribute `name` (no namespace) of `e`, or NULL. */
char *wsg_soap_attr_dup(xmlNodePtr e, const char *name);

/* 1 when `n` is an element named `name` in namespace `href`, else 0. */
int wsg_soap_is_element(xmlNodePtr n, const char *href, const char *name);

/* The first child element of `e` (may be NULL) named {href}name, or NULL. */
xmlNodePtr wsg_soap_first_child(xmlNodePtr e, const char *href,
                                const char *name);

/* True for the WS-Security fault codes (FailedAuthentication ...
 * MessageExpired, FailedCheck, SecurityTokenUnavailable). */
int wsg_soap_fault_is_security(enum wsg_fault fault);

/*
 * The opaque fault that replaces every security fault when
 * security.opaque_faults is set (CXF's default): QName
 * {http://ws.apache.org/wss4j}SecurityError, text "A security error was
 * encountered when verifying the message"; SOAP 1.1 faultcode, HTTP 500;
 * SOAP 1.2 Sender + Subcode, HTTP 400. Outputs as for wsg_soap_build_fault().
 */
int wsg_soap_build_opaque_fault(enum wsg_soap_version version, char **body,
                                size_t *len, const char **content_type,
                                int *http_status);

#endif
