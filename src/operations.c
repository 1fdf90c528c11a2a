#include "operations.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "mem.h"
#include "wsdl.h"

#define NS_WSDL "http://schemas.xmlsoap.org/wsdl/"
#define NS_WSDL_SOAP11 "http://schemas.xmlsoap.org/wsdl/soap/"
#define NS_WSDL_SOAP12 "http://schemas.xmlsoap.org/wsdl/soap12/"

/* The WSDL documents of one derivation, parsed; NULL where not imported. */
struct wsdl_set {
	xmlDocPtr *docs;
	size_t n;
};

static int
is_name_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != ':' && c != '{' && c != '}';
}

int
wsg_operations_split_name(const char *name, char **ns, char **local)
{
	const char *l = name, *end, *p;

	*ns = *local = NULL;
	if (name == NULL)
		return WSG_ERR_INVAL;
	if (name[0] == '{') {
		end = strchr(name, '}');
		if (end == NULL)
			return WSG_ERR_INVAL;
		for (p = name + 1; p < end; p++)
			if ((unsigned char)*p <= 0x20 || *p == 0x7f ||
			    *p == '{')
				return WSG_ERR_INVAL;
		l = end + 1;
	}
	/* An NCName: no colon, no space, not starting with a digit, '-' or
	 * '.' (non-ASCII letters pass unchecked, as UTF-8 bytes). */
	if (*l == '\0' || (*l >= '0' && *l <= '9') || *l == '-' || *l == '.')
		return WSG_ERR_INVAL;
	for (p = l; *p != '\0'; p++)
		if (!is_name_char((unsigned char)*p))
			return WSG_ERR_INVAL;
	if (l != name)
		*ns = wsg_mem_strndup(name + 1, (size_t)(l - name - 2));
	*local = wsg_mem_strdup(l);
	return WSG_OK;
}

int
wsg_operations_of_body(const struct wsg_soap_msg *m, const char **ns,
                       const char **local)
{
	xmlNodePtr c;

	*ns = *local = NULL;
	if (m == NULL || m->body == NULL)
		return WSG_ERR_NOTFOUND;
	for (c = m->body->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			break;
	if (c == NULL)
		return WSG_ERR_NOTFOUND;
	*ns = c->ns != NULL && c->ns->href != NULL ? (const char *)c->ns->href
	                                           : "";
	*local = (const char *)c->name;
	return WSG_OK;
}

const struct wsg_operation *
wsg_operations_find(const struct wsg_operation *ops, size_t n, const char *ns,
                    const char *local)
{
	const struct wsg_operation *by_local = NULL;
	size_t i;

	if (local == NULL)
		return NULL;
	if (ns == NULL)
		ns = "";
	for (i = 0; i < n; i++) {
		if (strcmp(ops[i].local, local) != 0)
			continue;
		if (ops[i].ns == NULL) {
			if (by_local == NULL)
				by_local = &ops[i];
		} else if (strcmp(ops[i].ns, ns) == 0) {
			return &ops[i];
		}
	}
	return by_local;
}

static int
same_str(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

void
wsg_operations_decls_add(struct wsg_op_decls *d, const char *ns,
                         const char *local, const char *action)
{
	struct wsg_op_decl *e;
	size_t i;

	for (i = 0; i < d->n; i++)
		if (same_str(d->v[i].ns, ns) &&
		    strcmp(d->v[i].local, local) == 0 &&
		    same_str(d->v[i].action, action))
			return;
	d->v = wsg_mem_realloc(d->v, (d->n + 1) * sizeof(*d->v));
	e = &d->v[d->n++];
	e->ns = ns != NULL ? wsg_mem_strdup(ns) : NULL;
	e->local = wsg_mem_strdup(local);
	e->action = action != NULL ? wsg_mem_strdup(action) : NULL;
}

void
wsg_operations_decls_clear(struct wsg_op_decls *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].ns);
		free(d->v[i].local);
		free(d->v[i].action);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

void
wsg_operations_decls_free(struct wsg_op_decls *d)
{
	if (d == NULL)
		return;
	wsg_operations_decls_clear(d);
	free(d);
}

/* ---- deriving them from a WSDL ---- */

/*
 * QName `v` in the scope of `e`: `*ns` its namespace ("" unprefixed
 * without a default namespace) and `*local` pointing into `v`. -1 for an
 * undeclared prefix.
 */
static int
resolve_qname(xmlNodePtr e, const char *v, const char **ns, const char **local)
{
	const char *colon = strchr(v, ':');
	char *prefix = NULL;
	xmlNsPtr n;

	if (colon != NULL)
		prefix = wsg_mem_strndup(v, (size_t)(colon - v));
	n = xmlSearchNs(e->doc, e, (const xmlChar *)prefix);
	free(prefix);
	if (colon != NULL && n == NULL)
		return -1;
	*ns = n != NULL && n->href != NULL ? (const char *)n->href : "";
	*local = colon != NULL ? colon + 1 : v;
	return 0;
}

/* The top-level wsdl:`kind` named {ns}local in any document of `s`. */
static xmlNodePtr
find_def(const struct wsdl_set *s, const char *kind, const char *ns,
         const char *local)
{
	xmlNodePtr root, c;
	char *tns, *name;
	size_t i;
	int hit;

	for (i = 0; i < s->n; i++) {
		if (s->docs[i] == NULL)
			continue;
		root = xmlDocGetRootElement(s->docs[i]);
		if (!wsg_soap_is_element(root, NS_WSDL, "definitions"))
			continue;
		tns = wsg_soap_attr_dup(root, "targetNamespace");
		hit = strcmp(tns != NULL ? tns : "", ns) == 0;
		free(tns);
		if (!hit)
			continue;
		for (c = root->children; c != NULL; c = c->next) {
			if (!wsg_soap_is_element(c, NS_WSDL, kind))
				continue;
			name = wsg_soap_attr_dup(c, "name");
			hit = name != NULL && strcmp(name, local) == 0;
			free(name);
			if (hit)
				return c;
		}
	}
	return NULL;
}

/* The definition named by QName attribute `a` of `e`, or NULL. */
static xmlNodePtr
find_ref(const struct wsdl_set *s, xmlNodePtr e, const char *a,
         const char *kind)
{
	const char *ns, *local;
	xmlNodePtr def = NULL;
	char *v = wsg_soap_attr_dup(e, a);

	if (v != NULL && resolve_qname(e, v, &ns, &local) == 0)
		def = find_def(s, kind, ns, local);
	free(v);
	return def;
}

/* The child of `parent` (wsdl:`kind`) whose name is `name`. */
static xmlNodePtr
named_child(xmlNodePtr parent, const char *kind, const char *name)
{
	xmlNodePtr c;
	char *v;
	int hit;

	for (c = parent != NULL ? parent->children : NULL; c != NULL;
	     c = c->next) {
		if (!wsg_soap_is_element(c, NS_WSDL, kind))
			continue;
		v = wsg_soap_attr_dup(c, "name");
		hit = v != NULL && strcmp(v, name) == 0;
		free(v);
		if (hit)
			return c;
	}
	return NULL;
}

/*
 * Document style: the element of the input message's part (the one
 * soap:body/@parts names first, else the first), added with `action`.
 */
static void
add_document_op(const struct wsdl_set *s, xmlNodePtr port_type,
                const char *op_name, xmlNodePtr body, const char *action,
                struct wsg_op_decls *out)
{
	xmlNodePtr op, input, msg, part = NULL;
	const char *ns, *local;
	char *parts = NULL, *element = NULL;
	size_t len;

	op = named_child(port_type, "operation", op_name);
	input = wsg_soap_first_child(op, NS_WSDL, "input");
	msg = input != NULL ? find_ref(s, input, "message", "message") : NULL;
	if (msg == NULL)
		goto out;
	parts = body != NULL ? wsg_soap_attr_dup(body, "parts") : NULL;
	if (parts != NULL) {
		len = strcspn(parts, " \t\r\n");
		parts[len] = '\0';
		part = named_child(msg, "part", parts);
	} else {
		part = wsg_soap_first_child(msg, NS_WSDL, "part");
	}
	element = part != NULL ? wsg_soap_attr_dup(part, "element") : NULL;
	if (element != NULL && resolve_qname(part, element, &ns, &local) == 0)
		wsg_operations_decls_add(out, ns, local, action);
out:
	free(parts);
	free(element);
}

/* Every operation of one wsdl:binding, if it is a SOAP 1.1 or 1.2 one. */
static void
add_binding(const struct wsdl_set *s, xmlNodePtr binding,
            struct wsg_op_decls *out)
{
	const char *soap_ns = NS_WSDL_SOAP11;
	xmlNodePtr sb, port_type, op, sop, body;
	char *default_style, *style, *name, *action, *ns;

	sb = wsg_soap_first_child(binding, soap_ns, "binding");
	if (sb == NULL) {
		soap_ns = NS_WSDL_SOAP12;
		sb = wsg_soap_first_child(binding, soap_ns, "binding");
	}
	if (sb == NULL)
		return; /* an HTTP or MIME binding: no SOAP operations */
	default_style = wsg_soap_attr_dup(sb, "style");
	port_type = find_ref(s, binding, "type", "portType");
	for (op = binding->children; op != NULL; op = op->next) {
		if (!wsg_soap_is_element(op, NS_WSDL, "operation") ||
		    (name = wsg_soap_attr_dup(op, "name")) == NULL)
			continue;
		sop = wsg_soap_first_child(op, soap_ns, "operation");
		action = sop != NULL ? wsg_soap_attr_dup(sop, "soapAction")
		                     : NULL;
		style = sop != NULL ? wsg_soap_attr_dup(sop, "style") : NULL;
		body = wsg_soap_first_child(
		        wsg_soap_first_child(op, NS_WSDL, "input"), soap_ns,
		        "body");
		if (strcmp(style != NULL           ? style
		           : default_style != NULL ? default_style
		                                   : "document",
		           "rpc") == 0) {
			ns = body != NULL ? wsg_soap_attr_dup(body, "namespace")
			                  : NULL;
			wsg_operations_decls_add(out, ns != NULL ? ns : "",
			                         name, action);
			free(ns);
		} else {
			add_document_op(s, port_type, name, body, action, out);
		}
		free(name);
		free(action);
		free(style);
	}
	free(default_style);
}

/* Parses document `i` of `w` into s->docs[i]. */
static int
parse_doc(const struct wsg_wsdl *w, size_t i,
          const struct wsg_soap_limits *limits, struct wsdl_set *s,
          struct wsg_error *err)
{
	struct wsg_wsdl_doc d;
	int rc;

	rc = wsg_wsdl_doc(w, i, &d);
	if (rc != WSG_OK)
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_SERVER,
		                     "WSDL document %zu is missing", i);
	rc = wsg_soap_parse_xml(d.body, d.len, limits, &s->docs[i], err);
	if (rc != WSG_OK)
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_SERVER,
		                     "WSDL document %s: %s", d.url,
		                     err->reason);
	return WSG_OK;
}

/* The WSDL (document 0) and, transitively, the WSDLs it wsdl:imports. */
static int
parse_wsdls(const struct wsg_wsdl *w, const struct wsg_soap_limits *limits,
            struct wsdl_set *s, struct wsg_error *err)
{
	struct wsg_wsdl_doc d;
	xmlNodePtr root, c;
	size_t i, j;
	int rc, added;
	char *loc;

	if (s->n == 0)
		return WSG_OK;
	rc = parse_doc(w, 0, limits, s, err);
	/* Passes over the parsed documents until no import adds one: at most
	 * one pass per document. */
	do {
		added = 0;
		for (i = 0; rc == WSG_OK && i < s->n; i++) {
			if (s->docs[i] == NULL)
				continue;
			root = xmlDocGetRootElement(s->docs[i]);
			for (c = root != NULL ? root->children : NULL;
			     rc == WSG_OK && c != NULL; c = c->next) {
				if (!wsg_soap_is_element(c, NS_WSDL,
				                         "import") ||
				    (loc = wsg_soap_attr_dup(c, "location")) ==
				            NULL)
					continue;
				for (j = 0; j < s->n; j++)
					if (s->docs[j] == NULL &&
					    wsg_wsdl_doc(w, j, &d) == WSG_OK &&
					    !d.is_xsd &&
					    strcmp(d.url, loc) == 0)
						break;
				free(loc);
				if (j < s->n) {
					rc = parse_doc(w, j, limits, s, err);
					added = 1;
				}
			}
		}
	} while (rc == WSG_OK && added);
	return rc;
}

int
wsg_operations_from_wsdl(const struct wsg_wsdl *w,
                         const struct wsg_soap_limits *limits,
                         struct wsg_op_decls *out, struct wsg_error *err)
{
	struct wsdl_set s;
	xmlNodePtr root, c;
	size_t i;
	int rc;

	s.n = wsg_wsdl_count(w);
	s.docs = wsg_mem_calloc(s.n > 0 ? s.n : 1, sizeof(*s.docs));
	rc = parse_wsdls(w, limits, &s, err);
	if (rc != WSG_OK)
		goto out;
	for (i = 0; i < s.n; i++) {
		if (s.docs[i] == NULL)
			continue;
		root = xmlDocGetRootElement(s.docs[i]);
		if (!wsg_soap_is_element(root, NS_WSDL, "definitions"))
			continue;
		for (c = root->children; c != NULL; c = c->next)
			if (wsg_soap_is_element(c, NS_WSDL, "binding"))
				add_binding(&s, c, out);
	}
out:
	for (i = 0; i < s.n; i++)
		xmlFreeDoc(s.docs[i]);
	free(s.docs);
	return rc;
}

/* ---- a request's SOAPAction ---- */

static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * A token or quoted-string at `p` (RFC 9110 5.6.4) into a malloc'ed
 * `*out`; `*end` past it. -1 when a quoted string does not end.
 */
static int
param_value(const char *p, char **out, const char **end)
{
	char *v, *o;

	if (*p != '"') {
		*end = p + strcspn(p, "; \t");
		*out = wsg_mem_strndup(p, (size_t)(*end - p));
		return 0;
	}
	o = v = wsg_mem_alloc(strlen(p));
	for (p++; *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\0') {
			free(v);
			return -1;
		}
		*o++ = *p;
	}
	*o = '\0';
	*out = v;
	*end = p + 1;
	return 0;
}

/* The `action` parameter of a media type, or NULL. -1 when malformed. */
static int
action_param(const char *ctype, char **out)
{
	const char *p = ctype, *name, *end;
	size_t len;
	char *v;

	*out = NULL;
	p += strcspn(p, ";");
	while (*p == ';') {
		name = p = skip_ows(p + 1);
		len = strcspn(p, "=; \t");
		p += len;
		if (*p != '=') {
			p += strcspn(p, ";");
			continue;
		}
		if (param_value(p + 1, &v, &end) != 0) {
			free(*out);
			*out = NULL;
			return -1;
		}
		p = skip_ows(end);
		/* Two action parameters could name two operations. */
		if (len == 6 && strncasecmp(name, "action", 6) == 0) {
			if (*out != NULL) {
				free(v);
				free(*out);
				*out = NULL;
				return -1;
			}
			*out = v;
		} else {
			free(v);
		}
		if (*p != ';' && *p != '\0') {
			free(*out);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}

int
wsg_operations_request_action(enum wsg_soap_version version,
                              const char *soap_action, const char *content_type,
                              char **out)
{
	const char *end, *p;
	char *v = NULL;
	int rc = WSG_OK;

	*out = NULL;
	if (version == WSG_SOAP_12) {
		if (content_type != NULL && action_param(content_type, &v) != 0)
			return WSG_ERR_PARSE;
	} else if (soap_action != NULL) {
		p = skip_ows(soap_action);
		if (*p == '"') {
			if (param_value(p, &v, &end) != 0 ||
			    *skip_ows(end) != '\0')
				rc = WSG_ERR_PARSE;
		} else {
			end = p + strlen(p);
			while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			v = wsg_mem_strndup(p, (size_t)(end - p));
		}
	}
	for (p = v; rc == WSG_OK && p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			rc = WSG_ERR_PARSE;
	if (rc != WSG_OK || v == NULL || v[0] == '\0') {
		free(v);
		return rc;
	}
	*out = v;
	return WSG_OK;
}

int
wsg_operations_check_action(const struct wsg_op_decls *d, const char *action,
                            const char *ns, const char *local,
                            struct wsg_error *err)
{
	int known = 0;
	size_t i;

	if (action == NULL)
		return WSG_OK;
	for (i = 0; i < d->n; i++) {
		if (d->v[i].action == NULL || strcmp(d->v[i].action, action))
			continue;
		known = 1;
		if (local != NULL && strcmp(d->v[i].local, local) == 0 &&
		    (d->v[i].ns == NULL ||
		     strcmp(d->v[i].ns, ns != NULL ? ns : "") == 0))
			return WSG_OK;
	}
	if (!known)
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                     "SOAPAction \"%.128s\" names no operation "
		                     "of the route",
		                     action);
	return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
	                     "SOAPAction \"%.128s\" names another operation "
	                     "than the Body's {%.128s}%.128s",
	                     action, ns != NULL ? ns : "",
	                     local != NULL ? local : "(empty Body)");
}

int
wsg_operations_route_actions(const struct wsg_operation *ops, size_t n,
                             const struct wsg_wsdl *w,
                             const struct wsg_soap_limits *limits,
                             struct wsg_op_decls **out, struct wsg_error *err)
{
	struct wsg_op_decls *d = wsg_mem_calloc(1, sizeof(*d));
	size_t i;

	*out = NULL;
	if (w != NULL &&
	    wsg_operations_from_wsdl(w, limits, d, err) != WSG_OK) {
		wsg_operations_decls_free(d);
		return WSG_ERR_CONFIG;
	}
	for (i = 0; i < n; i++)
		if (ops[i].soap_action != NULL && ops[i].local != NULL)
			wsg_operations_decls_add(d, ops[i].ns, ops[i].local,
			                         ops[i].soap_action);
	/* Checked only where something declares what actions mean. */
	if (w == NULL && d->n == 0) {
		wsg_operations_decls_free(d);
		return WSG_OK;
	}
	*out = d;
	return WSG_OK;
}
