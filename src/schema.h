/*
 * XML Schema validation of request bodies against the schemas of a
 * route's WSDL: compiled once per config load, then shared read-only by
 * every worker, each validation with a context of its own.
 */
#ifndef WSG_SCHEMA_H
#define WSG_SCHEMA_H

#include <libxml/tree.h>

#include "soap.h"
#include "types.h"

struct wsg_wsdl;
struct wsg_schema;

/*
 * Installs the process-wide libxml2 external entity loader that answers
 * only while wsg_schema_compile() runs on the calling thread, and only
 * with the documents it registered; every other load (any thread, any
 * URL) is refused. Call once from main before threads start;
 * wsg_schema_compile() also makes sure it is installed.
 */
void wsg_schema_global_init(void);

/*
 * Compiles the schemas of `w`: every wsdl:types/xsd:schema of its WSDL
 * documents and its XSD documents, whose imports and includes resolve
 * among these documents only (never a file or the network). Each document
 * is parsed again as wsg_soap_parse_xml() does with `limits`. A WSDL with
 * an rpc-style or encoded binding (whose Body children no schema declares)
 * or a schema that does not compile fail with WSG_ERR_CONFIG and
 * err->reason saying which document and why. On success `*out` is the
 * caller's (wsg_schema_free()); it is immutable and may be used by any
 * number of threads at once.
 */
int wsg_schema_compile(const struct wsg_wsdl *w,
                       const struct wsg_soap_limits *limits,
                       struct wsg_schema **out, struct wsg_error *err);

void wsg_schema_free(struct wsg_schema *s);

/*
 * Validates every element child of the SOAP `body` against the global
 * element declarations of `s` (namespaces declared above `body` are in
 * scope). WSG_OK when all are valid (an empty Body is); an invalid one,
 * or character data in the Body, fails with WSG_ERR_PARSE, err->fault
 * WSG_FAULT_CLIENT and err->reason naming the first error's element or
 * attribute and a short reason, fit for the client (no schema file, line
 * or type internals; names of at most a few hundred bytes). libxml2
 * failing (out of memory) is WSG_ERR_NOMEM with WSG_FAULT_SERVER. The
 * tree is left as it is (libxml2 only registers xs:ID attributes in its
 * document's ID table).
 */
int wsg_schema_validate(const struct wsg_schema *s, xmlNodePtr body,
                        struct wsg_error *err);

#endif
