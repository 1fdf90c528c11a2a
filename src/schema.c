#include "schema.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlschemastypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "wsdl.h"

#define NS_XSD "http://www.w3.org/2001/XMLSchema"
#define NS_WSDL "http://schemas.xmlsoap.org/wsdl/"
#define NS_WSDL_SOAP11 "http://schemas.xmlsoap.org/wsdl/soap/"
#define NS_WSDL_SOAP12 "http://schemas.xmlsoap.org/wsdl/soap12/"

/*
 * Addresses of the schema documents the compile makes up (a wsdl:types
 * schema on its own, one per namespace, the main one). Served documents
 * have the route's public URL, so these never name one of them.
 */
#define URL_MAIN "urn:wssgate:schema:main"
#define URL_NS "urn:wssgate:schema:namespace:"
#define URL_TYPES "urn:wssgate:schema:types:"

/* Bytes of an element or namespace name a client's fault text shows. */
#define NAME_MAX_SHOWN 96

struct wsg_schema {
	xmlSchemaPtr xs;
};

/* One schema document handed to libxml2 through the loader. */
struct unit {
	xmlDocPtr doc;
	char *url;    /* what imports and includes name it by */
	char *tns;    /* targetNamespace, or NULL */
	char *what;   /* how errors name it for the operator */
	int included; /* an include or redefine names it: not a root */
	xmlChar *bytes;
	int len;
};

/* One compile: its documents, and the first problem libxml2 reported. */
struct compile {
	struct unit *units;
	size_t n, cap;
	char **ns; /* distinct target namespaces; NULL stands for none */
	size_t n_ns;
	int failed;
	char first[400];
	char refused[200]; /* the first location the loader refused */
};

/*
 * The documents wsg_schema_compile() registered for the loader on this
 * thread while xmlSchemaParse() runs; NULL at any other time and on any
 * other thread, when the loader refuses everything.
 */
static __thread struct compile *loader_registered_docs;

static pthread_once_t loader_once = PTHREAD_ONCE_INIT;

/* libxml2's entry for every external load: DTDs, entities, schema
 * imports. Only the registered documents are answered, from memory. */
static xmlParserInputPtr
loader_cb(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	struct compile *c = loader_registered_docs;
	xmlParserInputBufferPtr buf;
	xmlParserInputPtr in;
	size_t i;

	(void)id;
	if (c == NULL || url == NULL)
		return NULL;
	for (i = 0; i < c->n; i++)
		if (c->units[i].bytes != NULL &&
		    strcmp(c->units[i].url, url) == 0)
			break;
	if (i == c->n) {
		if (c->refused[0] == '\0')
			snprintf(c->refused, sizeof(c->refused), "%s", url);
		return NULL;
	}
	buf = xmlParserInputBufferCreateMem((const char *)c->units[i].bytes,
	                                    c->units[i].len,
	                                    XML_CHAR_ENCODING_NONE);
	if (buf == NULL)
		return NULL;
	in = xmlNewIOInputStream(ctxt, buf, XML_CHAR_ENCODING_NONE);
	if (in == NULL) {
		xmlFreeParserInputBuffer(buf);
		return NULL;
	}
	/* The document's base URL, for libxml2's duplicate-import checks. */
	in->filename = (char *)xmlStrdup((const xmlChar *)url);
	return in;
}

static void
install_loader(void)
{
	/* The built-in types are set up once here, not lazily by the first
	 * of several threads. */
	xmlSchemaInitTypes();
	xmlSetExternalEntityLoader(loader_cb);
}

void
wsg_schema_global_init(void)
{
	pthread_once(&loader_once, install_loader);
}

static int
is_elem(xmlNodePtr n, const char *href, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	       strcmp((const char *)n->ns->href, href) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

/* The next element after `n` in document order below `root`, or NULL. */
static xmlNodePtr
next_in_tree(xmlNodePtr root, xmlNodePtr n)
{
	if (n->type == XML_ELEMENT_NODE && n->children != NULL)
		return n->children;
	while (n != root && n->next == NULL)
		n = n->parent;
	return n == root ? NULL : n->next;
}

static int
attr_is(xmlNodePtr n, const char *name, const char *value)
{
	xmlChar *tmp = NULL;
	const char *v = wsg_soap_attr(n, name, NULL, &tmp);
	int eq = v != NULL && strcmp(v, value) == 0;

	xmlFree(tmp);
	return eq;
}

/*
 * The Body children of rpc-style or encoded operations are wrappers and
 * types no schema declares as elements: validating them would refuse
 * every request, so such a WSDL is refused at load instead.
 */
static int
check_bindings(xmlDocPtr doc, const char *url, struct wsg_error *err)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), n;
	const char *ns;

	for (n = root; n != NULL; n = next_in_tree(root, n)) {
		if (n->type != XML_ELEMENT_NODE || n->ns == NULL)
			continue;
		ns = (const char *)n->ns->href;
		if (strcmp(ns, NS_WSDL_SOAP11) != 0 &&
		    strcmp(ns, NS_WSDL_SOAP12) != 0)
			continue;
		if ((strcmp((const char *)n->name, "binding") == 0 ||
		     strcmp((const char *)n->name, "operation") == 0) &&
		    attr_is(n, "style", "rpc"))
			return wsg_error_set(
			        err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
			        "%s: a binding of style \"rpc\" cannot be "
			        "validated (validate = \"wsdl\" needs "
			        "document/literal)",
			        url);
		if (attr_is(n, "use", "encoded"))
			return wsg_error_set(
			        err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
			        "%s: an operation with use=\"encoded\" cannot "
			        "be validated (validate = \"wsdl\" needs "
			        "document/literal)",
			        url);
	}
	return WSG_OK;
}

/* Adds a schema document (taken over) under `url`. */
static struct unit *
add_unit(struct compile *c, xmlDocPtr doc, char *url, char *what)
{
	struct unit *u;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->units = wsg_mem_realloc(c->units, c->cap * sizeof(*u));
	}
	u = &c->units[c->n++];
	memset(u, 0, sizeof(*u));
	u->doc = doc;
	u->url = url;
	u->what = what;
	u->tns =
	        wsg_soap_attr_dup(xmlDocGetRootElement(doc), "targetNamespace");
	return u;
}

/*
 * A wsdl:types schema as a document of its own. QNames in its attribute
 * values (type="tns:T") use prefixes the WSDL declares further up, so
 * every namespace in scope is declared on the copy's root too (libxml2
 * ignores a prefix the schema declares itself).
 */
static xmlDocPtr
schema_alone(xmlNodePtr schema)
{
	xmlDocPtr d = xmlNewDoc((const xmlChar *)"1.0");
	xmlNodePtr copy;
	xmlNsPtr *scope;
	size_t k;

	if (d == NULL)
		return NULL;
	copy = xmlDocCopyNode(schema, d, 1);
	if (copy == NULL) {
		xmlFreeDoc(d);
		return NULL;
	}
	xmlDocSetRootElement(d, copy);
	scope = xmlGetNsList(schema->doc, schema);
	for (k = 0; scope != NULL && scope[k] != NULL; k++)
		xmlNewNs(copy, scope[k]->href, scope[k]->prefix);
	xmlFree(scope);
	return d;
}

/* The schemas of WSDL document `doc` (taken over): its wsdl:types. */
static int
add_wsdl(struct compile *c, xmlDocPtr doc, size_t i, const char *url,
         struct wsg_error *err)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), t, s;
	xmlDocPtr alone;
	size_t k = 0;
	int rc;

	rc = check_bindings(doc, url, err);
	for (t = root->children; rc == WSG_OK && t != NULL; t = t->next) {
		if (!is_elem(t, NS_WSDL, "types"))
			continue;
		for (s = t->children; s != NULL; s = s->next) {
			if (!is_elem(s, NS_XSD, "schema"))
				continue;
			alone = schema_alone(s);
			if (alone == NULL) {
				rc = wsg_error_set(err, WSG_ERR_NOMEM,
				                   WSG_FAULT_NONE,
				                   "out of memory");
				break;
			}
			k++;
			add_unit(c, alone,
			         wsg_mem_printf(URL_TYPES "%zu:%zu", i, k),
			         wsg_mem_printf("%s, wsdl:types schema %zu",
			                        url, k));
		}
	}
	xmlFreeDoc(doc);
	return rc;
}

/* Every schema of `w`, parsed again under the request caps. */
static int
gather(struct compile *c, const struct wsg_wsdl *w,
       const struct wsg_soap_limits *limits, struct wsg_error *err)
{
	struct wsg_wsdl_doc d;
	xmlDocPtr doc;
	size_t i, n = wsg_wsdl_count(w);
	int rc = WSG_OK;

	for (i = 0; i < n && rc == WSG_OK; i++) {
		if (wsg_wsdl_doc(w, i, &d) != WSG_OK)
			break;
		rc = wsg_soap_parse_xml(d.body, d.len, limits, &doc, err);
		if (rc != WSG_OK) {
			char reason[sizeof(err->reason)];

			memcpy(reason, err->reason, sizeof(reason));
			return wsg_error_set(err, WSG_ERR_CONFIG,
			                     WSG_FAULT_NONE, "%s: %s", d.url,
			                     reason);
		}
		if (!d.is_xsd) {
			rc = add_wsdl(c, doc, i, d.url, err);
			continue;
		}
		if (!is_elem(xmlDocGetRootElement(doc), NS_XSD, "schema")) {
			xmlFreeDoc(doc);
			return wsg_error_set(
			        err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
			        "%s: not an XML schema (xsd:schema)", d.url);
		}
		add_unit(c, doc, wsg_mem_strdup(d.url), wsg_mem_strdup(d.url));
	}
	return rc;
}

static int
same_ns(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Index of namespace `ns` (NULL: none) in c->ns, or -1. */
static int
ns_index(const struct compile *c, const char *ns)
{
	size_t i;

	for (i = 0; i < c->n_ns; i++)
		if (same_ns(c->ns[i], ns))
			return (int)i;
	return -1;
}

/* Where the imports of namespace `i` point: the main document for no
 * namespace, a made-up one including every root schema of it otherwise. */
static char *
ns_url(const struct compile *c, int i)
{
	if (c->ns[i] == NULL)
		return wsg_mem_strdup(URL_MAIN);
	return wsg_mem_printf(URL_NS "%d", i);
}

/*
 * libxml2 takes only the first location it sees imported for a namespace,
 * so two documents with one target namespace (two wsdl:types schemas, a
 * schema next to the XSDs it includes) would lose one. Every import of a
 * namespace is pointed at one document that includes all of them instead;
 * an import of a namespace none of the documents has stays as it is.
 */
static void
link_units(struct compile *c)
{
	xmlNodePtr n;
	size_t i, j;
	char *loc, *ns, *url;
	int k;

	for (i = 0; i < c->n; i++) {
		if (ns_index(c, c->units[i].tns) < 0) {
			c->ns = wsg_mem_realloc(c->ns,
			                        (c->n_ns + 1) * sizeof(*c->ns));
			c->ns[c->n_ns++] = c->units[i].tns;
		}
	}
	for (i = 0; i < c->n; i++) {
		n = xmlDocGetRootElement(c->units[i].doc)->children;
		for (; n != NULL; n = n->next) {
			if (is_elem(n, NS_XSD, "include") ||
			    is_elem(n, NS_XSD, "redefine")) {
				loc = wsg_soap_attr_dup(n, "schemaLocation");
				for (j = 0; loc != NULL && j < c->n; j++)
					if (strcmp(c->units[j].url, loc) == 0)
						c->units[j].included = 1;
				free(loc);
			} else if (is_elem(n, NS_XSD, "import")) {
				ns = wsg_soap_attr_dup(n, "namespace");
				k = ns_index(c, ns);
				free(ns);
				if (k < 0)
					continue;
				url = ns_url(c, k);
				xmlSetProp(n, (const xmlChar *)"schemaLocation",
				           (const xmlChar *)url);
				free(url);
			}
		}
	}
}

/* A made-up schema document in namespace `tns` (NULL: none). */
static xmlNodePtr
new_schema(xmlDocPtr *doc, const char *tns)
{
	xmlNodePtr root;

	*doc = xmlNewDoc((const xmlChar *)"1.0");
	root = xmlNewDocNode(*doc, NULL, (const xmlChar *)"schema", NULL);
	xmlDocSetRootElement(*doc, root);
	xmlSetNs(root, xmlNewNs(root, (const xmlChar *)NS_XSD,
	                        (const xmlChar *)"xs"));
	if (tns != NULL)
		xmlSetProp(root, (const xmlChar *)"targetNamespace",
		           (const xmlChar *)tns);
	return root;
}

static void
add_ref(xmlNodePtr schema, const char *what, const char *ns, const char *url)
{
	xmlNodePtr e =
	        xmlNewChild(schema, schema->ns, (const xmlChar *)what, NULL);

	if (ns != NULL)
		xmlSetProp(e, (const xmlChar *)"namespace",
		           (const xmlChar *)ns);
	xmlSetProp(e, (const xmlChar *)"schemaLocation", (const xmlChar *)url);
}

/* The per-namespace documents and the main one, which includes the root
 * schemas of no namespace and imports every other namespace. */
static void
add_made_up(struct compile *c)
{
	size_t roots = c->n, i, k;
	xmlDocPtr main_doc, doc = NULL;
	xmlNodePtr main_root, root;
	char *url = NULL;

	main_root = new_schema(&main_doc, NULL);
	for (k = 0; k < c->n_ns; k++) {
		if (c->ns[k] == NULL) {
			root = main_root;
		} else {
			url = ns_url(c, (int)k);
			add_ref(main_root, "import", c->ns[k], url);
			root = new_schema(&doc, c->ns[k]);
		}
		for (i = 0; i < roots; i++)
			if (!c->units[i].included &&
			    same_ns(c->units[i].tns, c->ns[k]))
				add_ref(root, "include", NULL, c->units[i].url);
		if (c->ns[k] != NULL)
			add_unit(c, doc, url,
			         wsg_mem_printf("the schemas of namespace %s",
			                        c->ns[k]));
	}
	add_unit(c, main_doc, wsg_mem_strdup(URL_MAIN),
	         wsg_mem_strdup("the WSDL's schemas"));
}

/* The bytes the loader answers for each document. */
static int
serialise_units(struct compile *c, struct wsg_error *err)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		xmlDocDumpMemoryEnc(c->units[i].doc, &c->units[i].bytes,
		                    &c->units[i].len, "UTF-8");
		if (c->units[i].bytes == NULL)
			return wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
			                     "%s: cannot serialise",
			                     c->units[i].what);
	}
	return WSG_OK;
}

/* How the operator's error names document `url`. */
static const char *
what_of(const struct compile *c, const char *url)
{
	size_t i;

	for (i = 0; url != NULL && i < c->n; i++)
		if (strcmp(c->units[i].url, url) == 0)
			return c->units[i].what;
	return "the WSDL's schemas";
}

/* The first error of the compile, for the operator; warnings (a second
 * location for one namespace) change nothing. */
static void
compile_error_cb(void *data, xmlErrorPtr e)
{
	struct compile *c = data;
	size_t len;

	if (e == NULL || e->level < XML_ERR_ERROR || c->failed)
		return;
	c->failed = 1;
	snprintf(c->first, sizeof(c->first), "%s: %s", what_of(c, e->file),
	         e->message != NULL ? e->message : "schema error");
	len = strlen(c->first);
	while (len > 0 &&
	       (c->first[len - 1] == '\n' || c->first[len - 1] == ' '))
		c->first[--len] = '\0';
}

/* libxml2 compiles from the main document, every other one through the
 * loader, which answers from `c` on this thread only. */
static int
compile_units(struct compile *c, xmlSchemaPtr *out, struct wsg_error *err)
{
	xmlSchemaParserCtxtPtr p;
	xmlSchemaPtr xs = NULL;

	*out = NULL;
	p = xmlSchemaNewParserCtxt(URL_MAIN);
	if (p == NULL)
		return wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
		                     "cannot create a schema parser");
	xmlSchemaSetParserStructuredErrors(p, compile_error_cb, c);
	/* The documents' own parsers report to the thread's handler. */
	xmlSetStructuredErrorFunc(c, compile_error_cb);
	loader_registered_docs = c;
	xs = xmlSchemaParse(p);
	loader_registered_docs = NULL;
	xmlSetStructuredErrorFunc(NULL, NULL);
	xmlSchemaFreeParserCtxt(p);
	if (c->refused[0] != '\0') {
		xmlSchemaFree(xs);
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "schema location \"%s\" names none of the "
		                     "WSDL's documents",
		                     c->refused);
	}
	if (xs == NULL || c->failed) {
		xmlSchemaFree(xs);
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "the schema does not compile: %s",
		                     c->failed ? c->first : "unknown error");
	}
	*out = xs;
	return WSG_OK;
}

static void
compile_free(struct compile *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		xmlFreeDoc(c->units[i].doc);
		free(c->units[i].url);
		free(c->units[i].tns);
		free(c->units[i].what);
		xmlFree(c->units[i].bytes);
	}
	free(c->units);
	free(c->ns);
}

int
wsg_schema_compile(const struct wsg_wsdl *w,
                   const struct wsg_soap_limits *limits,
                   struct wsg_schema **out, struct wsg_error *err)
{
	struct compile c;
	xmlSchemaPtr xs = NULL;
	int rc;

	*out = NULL;
	wsg_schema_global_init();
	memset(&c, 0, sizeof(c));
	rc = gather(&c, w, limits, err);
	if (rc != WSG_OK)
		goto out;
	link_units(&c);
	add_made_up(&c);
	rc = serialise_units(&c, err);
	if (rc == WSG_OK)
		rc = compile_units(&c, &xs, err);
	if (rc == WSG_OK) {
		*out = wsg_mem_calloc(1, sizeof(**out));
		(*out)->xs = xs;
	}
out:
	compile_free(&c);
	return rc;
}

void
wsg_schema_free(struct wsg_schema *s)
{
	if (s == NULL)
		return;
	xmlSchemaFree(s->xs);
	free(s);
}

/* The first validation error of one request. */
struct verror {
	int have;
	int code;
	xmlNodePtr node; /* the element, also for an attribute's error */
	char message[600];
};

static void
valid_error_cb(void *data, xmlErrorPtr e)
{
	struct verror *v = data;

	if (e == NULL || e->level < XML_ERR_ERROR || v->have)
		return;
	v->have = 1;
	v->code = e->code;
	v->node = e->node;
	snprintf(v->message, sizeof(v->message), "%s",
	         e->message != NULL ? e->message : "");
}

/* What was wrong, in words that name no schema internals. */
static const char *
reason_of(const struct verror *v)
{
	switch (v->code) {
	case XML_SCHEMAV_CVC_ELT_1:
		return "no such element is declared by the service's schema";
	case XML_SCHEMAV_ELEMENT_CONTENT:
		/* One code for two cases: only the message tells them. */
		return strstr(v->message, "Missing child") != NULL
		               ? "a required child element is missing"
		               : "this element is not expected here";
	case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_1:
		return "the element must be empty";
	case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_2:
		return "the element must not have child elements";
	case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_3:
		return "character data is not allowed here";
	case XML_SCHEMAV_CVC_COMPLEX_TYPE_3_2_1:
	case XML_SCHEMAV_CVC_COMPLEX_TYPE_3_2_2:
		return "this attribute is not allowed";
	case XML_SCHEMAV_CVC_COMPLEX_TYPE_4:
		return "a required attribute is missing";
	case XML_SCHEMAV_CVC_LENGTH_VALID:
	case XML_SCHEMAV_CVC_MINLENGTH_VALID:
	case XML_SCHEMAV_CVC_MAXLENGTH_VALID:
		return "the value has a length that is not allowed";
	case XML_SCHEMAV_CVC_MININCLUSIVE_VALID:
	case XML_SCHEMAV_CVC_MAXINCLUSIVE_VALID:
	case XML_SCHEMAV_CVC_MINEXCLUSIVE_VALID:
	case XML_SCHEMAV_CVC_MAXEXCLUSIVE_VALID:
	case XML_SCHEMAV_CVC_TOTALDIGITS_VALID:
	case XML_SCHEMAV_CVC_FRACTIONDIGITS_VALID:
		return "the value is out of range";
	case XML_SCHEMAV_CVC_PATTERN_VALID:
		return "the value does not match the allowed pattern";
	case XML_SCHEMAV_CVC_ENUMERATION_VALID:
		return "the value is not one of the allowed values";
	case XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_1:
	case XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_2:
	case XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_3:
	case XML_SCHEMAV_CVC_FACET_VALID:
	case XML_SCHEMAV_CVC_TYPE_3_1_1:
	case XML_SCHEMAV_CVC_TYPE_3_1_2:
		return "the value is not valid for its type";
	case XML_SCHEMAV_CVC_ELT_2:
	case XML_SCHEMAV_CVC_TYPE_2: return "the element is abstract";
	case XML_SCHEMAV_CVC_ELT_3_1:
	case XML_SCHEMAV_CVC_ELT_3_2_1:
	case XML_SCHEMAV_CVC_ELT_3_2_2: return "xsi:nil is not allowed here";
	case XML_SCHEMAV_CVC_ELT_4_1:
	case XML_SCHEMAV_CVC_ELT_4_2:
	case XML_SCHEMAV_CVC_ELT_4_3: return "the xsi:type is not acceptable";
	case XML_SCHEMAV_CVC_ELT_5_2_2_1:
	case XML_SCHEMAV_CVC_ELT_5_2_2_2_1:
	case XML_SCHEMAV_CVC_ELT_5_2_2_2_2:
	case XML_SCHEMAV_CVC_AU: return "the value differs from the fixed one";
	case XML_SCHEMAV_CVC_IDC:
		return "a key or reference constraint is violated";
	default: return "the content does not match the service's schema";
	}
}

/* How many bytes of `s` fit in `max` without cutting a UTF-8 sequence:
 * the fault must stay well-formed. */
static int
shown(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return (int)n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

/* "{namespace}local" or "local", cut to what a fault may show. */
static void
name_of(xmlNodePtr n, char *out, size_t size)
{
	const char *local = (const char *)n->name;

	if (n->ns != NULL && n->ns->href != NULL) {
		const char *ns = (const char *)n->ns->href;

		snprintf(out, size, "{%.*s}%.*s", shown(ns, NAME_MAX_SHOWN), ns,
		         shown(local, NAME_MAX_SHOWN), local);
	} else {
		snprintf(out, size, "%.*s", shown(local, NAME_MAX_SHOWN),
		         local);
	}
}

/*
 * The attribute of `elem` libxml2's message is about: it reports the
 * element as the error's node and names the attribute only in the text,
 * so the text is matched against the element's real attributes.
 */
static xmlAttrPtr
attr_of(const struct verror *v, xmlNodePtr elem)
{
	char name[2 * NAME_MAX_SHOWN + 8], *needle;
	xmlAttrPtr a;
	int found;

	for (a = elem->properties; a != NULL; a = a->next) {
		name_of((xmlNodePtr)a, name, sizeof(name));
		needle = wsg_mem_printf("attribute '%s':", name);
		found = strstr(v->message, needle) != NULL;
		free(needle);
		if (found)
			return a;
	}
	return NULL;
}

/* The client's answer for the first error: its element (or attribute and
 * element) and the reason. */
static int
refuse(const struct verror *v, xmlNodePtr fallback, struct wsg_error *err)
{
	xmlNodePtr n = v->node;
	char elem[2 * NAME_MAX_SHOWN + 8], attr[2 * NAME_MAX_SHOWN + 8];
	xmlAttrPtr a;

	if (n == NULL || n->type != XML_ELEMENT_NODE)
		n = fallback;
	name_of(n, elem, sizeof(elem));
	a = attr_of(v, n);
	if (a != NULL) {
		name_of((xmlNodePtr)a, attr, sizeof(attr));
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                     "Schema validation failed: attribute '%s' "
		                     "of element '%s': %s",
		                     attr, elem, reason_of(v));
	}
	return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
	                     "Schema validation failed: element '%s': %s", elem,
	                     reason_of(v));
}

static int
is_blank(const xmlChar *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

int
wsg_schema_validate(const struct wsg_schema *s, xmlNodePtr body,
                    struct wsg_error *err)
{
	xmlSchemaValidCtxtPtr v;
	struct verror ve;
	xmlNodePtr n;
	int rc = WSG_OK, r;

	/* A context per request: it holds the run's state and its own
	 * dictionary; the compiled schema is only read. */
	v = xmlSchemaNewValidCtxt(s->xs);
	if (v == NULL)
		return wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_SERVER,
		                     "cannot create a schema validation "
		                     "context");
	memset(&ve, 0, sizeof(ve));
	xmlSchemaSetValidStructuredErrors(v, valid_error_cb, &ve);
	for (n = body->children; n != NULL && rc == WSG_OK; n = n->next) {
		if ((n->type == XML_TEXT_NODE ||
		     n->type == XML_CDATA_SECTION_NODE) &&
		    !is_blank(n->content)) {
			rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
			                   "Schema validation failed: the Body "
			                   "holds character data");
			break;
		}
		if (n->type != XML_ELEMENT_NODE)
			continue;
		r = xmlSchemaValidateOneElement(v, n);
		if (r < 0 || (ve.have && ve.code == XML_ERR_NO_MEMORY))
			rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_SERVER,
			                   "schema validation failed inside "
			                   "libxml2");
		else if (r > 0 || ve.have)
			rc = refuse(&ve, n, err);
	}
	xmlSchemaFreeValidCtxt(v);
	return rc;
}
