/*
 * WSDL publishing: a route's local WSDL and the WSDLs and schemas it
 * imports, loaded once per config load with their addresses rewritten to
 * the gateway's public URL, then served read-only to every worker.
 */
#ifndef WSG_WSDL_H
#define WSG_WSDL_H

#include <stddef.h>

#include "soap.h"
#include "types.h"

/* Documents one WSDL may pull in with its imports, itself included. */
#define WSG_WSDL_MAX_DOCS 64

struct wsg_wsdl;

/*
 * Loads the WSDL at the absolute `path` and every document it imports
 * (wsdl:import, xsd:import, xsd:include, xsd:redefine with a relative
 * location, resolved against the importing file and never outside the
 * WSDL's folder), each parsed as wsg_soap_parse_xml() does with `limits`
 * and at most `max_size` bytes. soap:address and soap12:address locations
 * become `public_url`, import locations `public_url?wsdl=N` or
 * `public_url?xsd=N`. An absolute, remote or escaping location, an
 * unreadable or malformed file fail with WSG_ERR_CONFIG and err->reason
 * naming the file. On success `*out` is the caller's (wsg_wsdl_free());
 * it is immutable and may be read from any thread.
 */
int wsg_wsdl_load(const char *path, const char *public_url,
                  const struct wsg_soap_limits *limits, size_t max_size,
                  struct wsg_wsdl **out, struct wsg_error *err);

void wsg_wsdl_free(struct wsg_wsdl *w);

/*
 * The document a request query asks for: "wsdl" (any case, no value) is
 * the WSDL itself, "wsdl=N" and "xsd=N" the imported documents. Returns
 * WSG_OK with the rewritten bytes in `*body` / `*len` (owned by `w`),
 * WSG_ERR_NOTFOUND for such a query naming no document, WSG_ERR_INVAL for
 * any other query (NULL included): not a WSDL request.
 */
int wsg_wsdl_lookup(const struct wsg_wsdl *w, const char *query,
                    const char **body, size_t *len);

/*
 * The loaded documents, for what is derived from them once per load (the
 * operations a route knows, the schemas it validates with): document `i`
 * (0 is the WSDL) as it is served, whether it is a schema, and the URL its
 * importers name it by, so that imports can be resolved among the
 * documents without reading files or the network again. The pointers are
 * owned by `w`. Returns WSG_ERR_NOTFOUND past the last document.
 */
struct wsg_wsdl_doc {
	int is_xsd;
	const char *body;
	size_t len;
	const char *url;
};

size_t wsg_wsdl_count(const struct wsg_wsdl *w);
int wsg_wsdl_doc(const struct wsg_wsdl *w, size_t i, struct wsg_wsdl_doc *out);

#endif
