/*
 * SOAP operations of a route: which operation a request carries (the first
 * child element of its Body), the roles the route lists for it, the
 * operations and SOAPActions a WSDL declares, and whether a request's
 * SOAPAction names the operation its Body carries.
 */
#ifndef WSG_OPERATIONS_H
#define WSG_OPERATIONS_H

#include <stddef.h>

#include "soap.h"
#include "types.h"

struct wsg_wsdl;

/* One entry of a route's `operations` list. */
struct wsg_operation {
	char *name;   /* as written: "{ns}local" (Clark notation) or "local" */
	char **roles; /* a user needs one of them; none: any user */
	size_t n_roles;
	char *soap_action; /* NULL: the entry names no SOAPAction */
	/* split from name by wsg_operations_split_name() */
	char *ns;    /* NULL: a local name, matching in any namespace */
	char *local; /* never NULL once split */
};

/* An operation as a binding (or a soap_action entry) declares it: the
 * Body's first element and the SOAPAction that names it. */
struct wsg_op_decl {
	char *ns;     /* "" for no namespace; NULL: any (a local-name entry) */
	char *local;  /* the element's local name */
	char *action; /* NULL: none declared */
};

struct wsg_op_decls {
	struct wsg_op_decl *v;
	size_t n;
};

/*
 * Splits `name` ("{ns}local" or "local") into `*ns` (NULL for a bare local
 * name, "" for "{}local") and `*local`, both malloc'ed (caller frees).
 * WSG_ERR_INVAL, with both NULL, when the local part is empty or not an
 * XML name without a colon, or the braces are unbalanced.
 */
int wsg_operations_split_name(const char *name, char **ns, char **local);

/*
 * The operation of `m`: the namespace ("" for none) and local name of the
 * Body's first child element, pointing into m's tree. WSG_ERR_NOTFOUND
 * with both NULL when the Body has no child element.
 */
int wsg_operations_of_body(const struct wsg_soap_msg *m, const char **ns,
                           const char **local);

/*
 * The entry of `ops` for the operation `ns` / `local`: an entry with this
 * exact QName, else one with this local name only, else NULL (not listed).
 * `ns` "" is no namespace; `local` NULL (no operation) matches nothing.
 */
const struct wsg_operation *wsg_operations_find(const struct wsg_operation *ops,
                                                size_t n, const char *ns,
                                                const char *local);

/*
 * Appends the operations that the WSDL `w` declares, with their SOAPAction,
 * to `out`: for every SOAP 1.1 and SOAP 1.2 binding of the WSDL and the
 * WSDL documents it wsdl:imports (found among w's documents by URL), each
 * operation's soapAction and its Body element: the element of the input
 * message's part for document style, {soap:body/@namespace}operation for
 * rpc. Each document is parsed with wsg_soap_parse_xml() under `limits`;
 * what cannot be resolved (a message or portType named but not declared)
 * is skipped. Duplicates are added once. WSG_ERR_CONFIG with err->reason
 * when a document does not parse; `out` then keeps what it had.
 */
int wsg_operations_from_wsdl(const struct wsg_wsdl *w,
                             const struct wsg_soap_limits *limits,
                             struct wsg_op_decls *out, struct wsg_error *err);

/* Appends one declaration (copies made; ns NULL: any namespace) unless
 * the same one is there already. */
void wsg_operations_decls_add(struct wsg_op_decls *d, const char *ns,
                              const char *local, const char *action);

/* Frees what `d` holds and empties it. */
void wsg_operations_decls_clear(struct wsg_op_decls *d);

/*
 * What a route's SOAPAction may name: the operations the WSDL `w` declares
 * (NULL: the route has none) and the soap_action entries of its `ops`.
 * `*out` is malloc'ed (wsg_operations_decls_free()), NULL when neither a
 * WSDL nor an entry says what actions mean: they are then not checked.
 * WSG_ERR_CONFIG with err->reason, and `*out` NULL, as
 * wsg_operations_from_wsdl() fails.
 */
int wsg_operations_route_actions(const struct wsg_operation *ops, size_t n,
                                 const struct wsg_wsdl *w,
                                 const struct wsg_soap_limits *limits,
                                 struct wsg_op_decls **out,
                                 struct wsg_error *err);

void wsg_operations_decls_free(struct wsg_op_decls *d);

/*
 * The action a request names: the SOAPAction header `soap_action` for
 * SOAP 1.1, the `action` parameter of `content_type` for SOAP 1.2, with
 * its quotes removed. `*out` is malloc'ed (caller frees), NULL when the
 * request names none or an empty one. WSG_ERR_PARSE for a malformed value
 * (an unterminated quoted string, a control character).
 */
int wsg_operations_request_action(enum wsg_soap_version version,
                                  const char *soap_action,
                                  const char *content_type, char **out);

/*
 * Whether `action` (NULL: none) may come with the Body operation `ns` /
 * `local` (NULL local: an empty Body) under the declarations `d`: WSG_OK
 * for no action, or one that some declaration pairs with this operation;
 * WSG_ERR_PARSE with a Client fault in `err` when the action names other
 * operations only, or none that `d` knows (the upstream might dispatch on
 * it to an operation the gateway cannot authorize).
 */
int wsg_operations_check_action(const struct wsg_op_decls *d,
                                const char *action, const char *ns,
                                const char *local, struct wsg_error *err);

#endif
