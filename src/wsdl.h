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
 * naming the file, and so does any document wsg_soap_parse_xml()
 * refuses. On success `*out` is the caller's (wsg_wsdl_free());
 * it is immutable and may be read from any thread.
 */
int wsg_wsdl_load(const char *path, const char *public_url,
                  const struct wsg_soap_limits *limits, size_t max_size,
                  struct wsg_wsdl **out, struct wsg_error *err);

void wsg_wsdl_free(struct wsg_wsdl *w);

/*
 * Where a load reads its documents from: local files (wsg_wsdl_load) or
 * bytes fetched from an upstream (wsdl_fetch.c), never the network from
 * inside the load.
 * - resolve: the name of the document `loc` names from document `from`
 *   (`from` NULL: `loc` is the WSDL as configured), one name per
 *   document (a real path, an absolute URL), malloc'ed into `*name`; or
 *   WSG_ERR_CONFIG with err->reason when `loc` may not be served.
 * - read: the bytes of document `name`, at most `max`, malloc'ed into
 *   `*buf` (the load frees them); WSG_ERR_AGAIN when they are not there
 *   yet (the source notes the name, gets it, and loads again); or
 *   WSG_ERR_CONFIG with err->reason.
 */
struct wsg_wsdl_source {
	int (*resolve)(void *arg, const char *from, const char *loc,
	               char **name, struct wsg_error *err);
	int (*read)(void *arg, const char *name, size_t max, char **buf,
	            size_t *len, struct wsg_error *err);
	void *arg;
};

/*
 * wsg_wsdl_load() over any source, `root` naming the WSDL. Returns as
 * wsg_wsdl_load(), or WSG_ERR_AGAIN (nothing in `*out`) when some document
 * read WSG_ERR_AGAIN: every other document has been read, so one round of
 * reads per import level finds them all.
 */
int wsg_wsdl_load_source(const struct wsg_wsdl_source *src, const char *root,
                         const char *public_url,
                         const struct wsg_soap_limits *limits, size_t max_size,
                         struct wsg_wsdl **out, struct wsg_error *err);

/*
 * The public URL written for requests with Host `host`: `public_url` (an
 * absolute http(s) URL) with its authority replaced by `host`. Caller
 * frees.
 */
char *wsg_wsdl_host_url(const char *public_url, const char *host);

/*
 * The document a request query asks for: "wsdl" (any case, no value) is
 * the WSDL itself, "wsdl=N" and "xsd=N" the imported documents. Returns
 * WSG_OK with the rewritten bytes in `*body` / `*len` (owned by `w`),
 * WSG_ERR_NOTFOUND for such a query naming no document, WSG_ERR_INVAL for
 * any other query (NULL included): not a WSDL request.
 */
int wsg_wsdl_lookup(const struct wsg_wsdl *w, const char *query,
                    const char **body, size_t *len);

/* 1 when `query` (not NULL) is one wsg_wsdl_lookup() answers, found or
 * not: "wsdl", "wsdl=...", "xsd=..." in any case; else 0. */
int wsg_wsdl_is_query(const char *query);

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
