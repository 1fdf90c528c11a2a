#include "wsdl.h"

#include <errno.h>
#include <fcntl.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"

#define NS_WSDL "http://schemas.xmlsoap.org/wsdl/"
#define NS_WSDL_SOAP11 "http://schemas.xmlsoap.org/wsdl/soap/"
#define NS_WSDL_SOAP12 "http://schemas.xmlsoap.org/wsdl/soap12/"
#define NS_XSD "http://www.w3.org/2001/XMLSchema"

enum doc_kind { DOC_WSDL, DOC_XSD };

struct wsdl_doc {
	char *name; /* real path or URL: the same name is one document */
	enum doc_kind kind;
	char *body; /* rewritten, UTF-8 */
	size_t len;
	char *url; /* the gateway URL its importers name it by */
};

struct wsg_wsdl {
	struct wsdl_doc docs[WSG_WSDL_MAX_DOCS]; /* [0]: the WSDL itself */
	size_t n;
};

/* What one load needs while it walks the documents. */
struct loader {
	struct wsg_wsdl *w;
	const struct wsg_wsdl_source *src;
	const char *public_url;
	const struct wsg_soap_limits *limits;
	size_t max_size;
	int again; /* some document is not there yet */
	struct wsg_error *err;
};

/* Local files: everything lies in the WSDL's folder. */
struct file_source {
	char *root_dir; /* real folder of the WSDL, with no final '/' */
};

void
wsg_wsdl_free(struct wsg_wsdl *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++) {
		free(w->docs[i].name);
		free(w->docs[i].body);
		free(w->docs[i].url);
	}
	free(w);
}

/* The whole file, at most `max` bytes (caller frees `*out`). */
static int
read_file(const char *path, size_t max, char **out, size_t *len,
          struct wsg_error *err)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, rc = WSG_OK;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "cannot read \"%s\": %s", path,
		                     strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "\"%s\" is not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "\"%s\" is larger than %zu bytes "
		                   "(limits.max_body_size)",
		                   path, max);
		goto out;
	}
	buf = wsg_mem_alloc((size_t)st.st_size + 1);
	/* One byte more than expected tells a file that grew meanwhile. */
	while (got <= (size_t)st.st_size &&
	       (n = read(fd, buf + got, (size_t)st.st_size + 1 - got)) > 0)
		got += (size_t)n;
	if (got != (size_t)st.st_size) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "cannot read \"%s\": it changed while read",
		                   path);
		goto out;
	}
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Index of the document for `file`, added when new; -1 after an error. */
static int
doc_index(struct loader *l, const char *name, enum doc_kind kind)
{
	struct wsg_wsdl *w = l->w;
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->docs[i].name, name) == 0)
			return (int)i;
	if (w->n == WSG_WSDL_MAX_DOCS) {
		wsg_error_set(l->err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		              "more than %d documents imported",
		              WSG_WSDL_MAX_DOCS);
		return -1;
	}
	w->docs[w->n].name = wsg_mem_strdup(name);
	w->docs[w->n].kind = kind;
	if (w->n == 0)
		w->docs[0].url = wsg_mem_printf("%s?wsdl", l->public_url);
	else
		w->docs[w->n].url =
		        wsg_mem_printf("%s?%s=%zu", l->public_url,
		                       kind == DOC_WSDL ? "wsdl" : "xsd", w->n);
	return (int)w->n++;
}

/* A location that names a file next to its document, as a path: no
 * scheme, no absolute path, nothing to decode. */
static const char *
check_location(const char *loc)
{
	size_t colon = strcspn(loc, ":/?#");

	if (loc[0] == '\0')
		return "is empty";
	if (loc[colon] == ':')
		return "is an absolute URL (only files next to the WSDL are "
		       "served)";
	if (loc[0] == '/')
		return "is an absolute path (only relative ones are served)";
	if (strpbrk(loc, "?#%\\") != NULL)
		return "holds '?', '#', '%' or '\\' (only plain relative "
		       "paths are served)";
	return NULL;
}

/*
 * The real path of `loc` relative to the folder of `from`, which must lie
 * inside the WSDL's folder; `from` NULL: the WSDL itself, whose folder
 * bounds the others.
 */
static int
file_resolve(void *arg, const char *from, const char *loc, char **name,
             struct wsg_error *err)
{
	struct file_source *fs = arg;
	const char *why, *slash;
	char *joined, *real;
	size_t rl;

	if (from == NULL) {
		real = realpath(loc, NULL);
		if (real == NULL)
			return wsg_error_set(
			        err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
			        "cannot read \"%s\": %s", loc, strerror(errno));
		fs->root_dir = wsg_mem_strndup(
		        real, (size_t)(strrchr(real, '/') - real));
		*name = real;
		return WSG_OK;
	}
	if ((why = check_location(loc)) != NULL)
		return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                     "%s: import location \"%.200s\" %s", from,
		                     loc, why);
	slash = strrchr(from, '/');
	joined = wsg_mem_printf("%.*s/%s", (int)(slash - from), from, loc);
	real = realpath(joined, NULL);
	if (real == NULL) {
		wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		              "%s: import location \"%.200s\": cannot read "
		              "\"%s\": %s",
		              from, loc, joined, strerror(errno));
		free(joined);
		return WSG_ERR_CONFIG;
	}
	free(joined);
	rl = strlen(fs->root_dir);
	if (strncmp(real, fs->root_dir, rl) != 0 || real[rl] != '/') {
		wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		              "%s: import location \"%.200s\" lies outside the "
		              "WSDL's folder %s",
		              from, loc, fs->root_dir);
		free(real);
		return WSG_ERR_CONFIG;
	}
	*name = real;
	return WSG_OK;
}

static int
file_read(void *arg, const char *name, size_t max, char **buf, size_t *len,
          struct wsg_error *err)
{
	(void)arg;
	return read_file(name, max, buf, len, err);
}

static int
is_elem(xmlNodePtr n, const char *href, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	       strcmp((const char *)n->ns->href, href) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

/* The import attribute of `n` and the kind of document it names, or NULL
 * when `n` imports nothing. */
static const char *
import_attr(xmlNodePtr n, enum doc_kind *kind)
{
	if (is_elem(n, NS_WSDL, "import")) {
		*kind = DOC_WSDL;
		return "location";
	}
	*kind = DOC_XSD;
	if (is_elem(n, NS_XSD, "import") || is_elem(n, NS_XSD, "include") ||
	    is_elem(n, NS_XSD, "redefine"))
		return "schemaLocation";
	return NULL;
}

/* Points one import of document `from` at the gateway's copy. */
static int
rewrite_import(struct loader *l, const char *from, xmlNodePtr n,
               const char *attr, enum doc_kind kind)
{
	xmlChar *tmp = NULL;
	char *name = NULL;
	const char *loc;
	int i, rc;

	loc = wsg_soap_attr(n, attr, NULL, &tmp);
	if (loc == NULL) /* xsd:import by namespace only */
		return WSG_OK;
	rc = l->src->resolve(l->src->arg, from, loc, &name, l->err);
	xmlFree(tmp);
	if (rc != WSG_OK)
		return WSG_ERR_CONFIG;
	i = doc_index(l, name, kind);
	free(name);
	if (i < 0)
		return WSG_ERR_CONFIG;
	xmlSetProp(n, (const xmlChar *)attr,
	           (const xmlChar *)l->w->docs[i].url);
	return WSG_OK;
}

/* Every element below `n`, in document order, without recursion: the
 * depth is capped by the parse, but the stack need not be. */
static int
rewrite_tree(struct loader *l, const char *from, xmlNodePtr root)
{
	xmlNodePtr n = root;
	enum doc_kind kind;
	const char *attr;

	while (n != NULL) {
		if (is_elem(n, NS_WSDL_SOAP11, "address") ||
		    is_elem(n, NS_WSDL_SOAP12, "address"))
			xmlSetProp(n, (const xmlChar *)"location",
			           (const xmlChar *)l->public_url);
		else if ((attr = import_attr(n, &kind)) != NULL &&
		         rewrite_import(l, from, n, attr, kind) != WSG_OK)
			return WSG_ERR_CONFIG;
		if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
			n = n->children;
			continue;
		}
		while (n != root && n->next == NULL)
			n = n->parent;
		n = n == root ? NULL : n->next;
	}
	return WSG_OK;
}

/* Reads, checks and rewrites document `i`; it may add documents. */
static int
load_doc(struct loader *l, size_t i)
{
	struct wsdl_doc *d = &l->w->docs[i];
	xmlDocPtr doc = NULL;
	xmlChar *out = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc, n = 0;

	rc = l->src->read(l->src->arg, d->name, l->max_size, &buf, &len,
	                  l->err);
	if (rc == WSG_ERR_AGAIN) {
		/* Its imports are found once it is there. */
		l->again = 1;
		rc = WSG_OK;
		goto out;
	}
	if (rc != WSG_OK)
		goto out;
	rc = wsg_soap_parse_xml(buf, len, l->limits, &doc, l->err);
	if (rc != WSG_OK) {
		/* The reason names the fault, prefixed with the file. */
		char reason[sizeof(l->err->reason)];

		memcpy(reason, l->err->reason, sizeof(reason));
		rc = wsg_error_set(l->err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "%s: %s", d->name, reason);
		goto out;
	}
	rc = rewrite_tree(l, d->name, xmlDocGetRootElement(doc));
	if (rc != WSG_OK)
		goto out;
	xmlDocDumpMemoryEnc(doc, &out, &n, "UTF-8");
	if (out == NULL) {
		rc = wsg_error_set(l->err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
		                   "%s: cannot serialise", d->name);
		goto out;
	}
	d->body = wsg_mem_strndup((const char *)out, (size_t)n);
	d->len = (size_t)n;
out:
	xmlFree(out);
	if (doc != NULL)
		xmlFreeDoc(doc);
	free(buf);
	return rc;
}

int
wsg_wsdl_load_source(const struct wsg_wsdl_source *src, const char *root,
                     const char *public_url,
                     const struct wsg_soap_limits *limits, size_t max_size,
                     struct wsg_wsdl **out, struct wsg_error *err)
{
	struct loader l;
	char *name = NULL;
	size_t i;
	int rc;

	*out = NULL;
	memset(&l, 0, sizeof(l));
	l.w = wsg_mem_calloc(1, sizeof(*l.w));
	l.src = src;
	l.public_url = public_url;
	l.limits = limits;
	l.max_size = max_size;
	l.err = err;
	rc = src->resolve(src->arg, NULL, root, &name, err);
	if (rc != WSG_OK)
		goto out;
	doc_index(&l, name, DOC_WSDL);
	/* Imports append documents while the loop walks them. */
	for (i = 0; i < l.w->n && rc == WSG_OK; i++)
		rc = load_doc(&l, i);
	if (rc == WSG_OK && l.again)
		rc = WSG_ERR_AGAIN;
	if (rc == WSG_OK) {
		*out = l.w;
		l.w = NULL;
	}
out:
	free(name);
	wsg_wsdl_free(l.w);
	return rc;
}

int
wsg_wsdl_load(const char *path, const char *public_url,
              const struct wsg_soap_limits *limits, size_t max_size,
              struct wsg_wsdl **out, struct wsg_error *err)
{
	struct file_source fs = {NULL};
	struct wsg_wsdl_source src = {file_resolve, file_read, &fs};
	int rc;

	rc = wsg_wsdl_load_source(&src, path, public_url, limits, max_size, out,
	                          err);
	free(fs.root_dir);
	return rc;
}

/* A decimal document number of at most 3 digits, or -1. */
static int
doc_number(const char *s)
{
	int v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i == 3)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return i == 0 ? -1 : v;
}

/* The document `query` asks for and its kind; -1 for a WSDL query naming
 * no document, -2 for any other query. */
static int
query_doc(const char *query, enum doc_kind *kind)
{
	*kind = DOC_WSDL;
	if (strcasecmp(query, "wsdl") == 0)
		return 0;
	if (strncasecmp(query, "wsdl=", 5) == 0)
		return doc_number(query + 5);
	*kind = DOC_XSD;
	if (strncasecmp(query, "xsd=", 4) == 0)
		return doc_number(query + 4);
	return -2;
}

int
wsg_wsdl_is_query(const char *query)
{
	enum doc_kind kind;

	return query_doc(query, &kind) != -2;
}

int
wsg_wsdl_lookup(const struct wsg_wsdl *w, const char *query, const char **body,
                size_t *len)
{
	enum doc_kind kind;
	int i;

	*body = NULL;
	*len = 0;
	if (query == NULL || (i = query_doc(query, &kind)) == -2)
		return WSG_ERR_INVAL;
	if (i < 0 || (size_t)i >= w->n || w->docs[i].kind != kind)
		return WSG_ERR_NOTFOUND;
	*body = w->docs[i].body;
	*len = w->docs[i].len;
	return WSG_OK;
}

size_t
wsg_wsdl_count(const struct wsg_wsdl *w)
{
	return w->n;
}

int
wsg_wsdl_doc(const struct wsg_wsdl *w, size_t i, struct wsg_wsdl_doc *out)
{
	if (i >= w->n)
		return WSG_ERR_NOTFOUND;
	out->is_xsd = w->docs[i].kind == DOC_XSD;
	out->body = w->docs[i].body;
	out->len = w->docs[i].len;
	out->url = w->docs[i].url;
	return WSG_OK;
}

char *
wsg_wsdl_host_url(const char *public_url, const char *host)
{
	const char *auth = strstr(public_url, "://") + 3;
	size_t end = strcspn(auth, "/");

	return wsg_mem_printf("%.*s%s%s", (int)(auth - public_url), public_url,
	                      host, auth + end);
}
