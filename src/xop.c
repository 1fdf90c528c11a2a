#include "xop.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "hex.h"
#include "mem.h"

#define NS_XOP "http://www.w3.org/2004/08/xop/include"

static int
is_include(xmlNodePtr n)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	       strcmp((const char *)n->ns->href, NS_XOP) == 0 &&
	       strcmp((const char *)n->name, "Include") == 0;
}

/* RFC 2392: "cid:" and the Content-ID, percent-encoded. Caller frees;
 * NULL when `href` is no such URL. */
static char *
cid_of(const char *href, size_t *len)
{
	char *out, *o;
	const char *p;

	if (href == NULL || strncasecmp(href, "cid:", 4) != 0 ||
	    href[4] == '\0')
		return NULL;
	o = out = wsg_mem_alloc(strlen(href));
	for (p = href + 4; *p != '\0'; p++) {
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		if (wsg_hex_digit(p[1]) < 0 || wsg_hex_digit(p[2]) < 0) {
			free(out);
			return NULL;
		}
		*o++ = (char)(wsg_hex_digit(p[1]) * 16 + wsg_hex_digit(p[2]));
		p += 2;
	}
	*len = (size_t)(o - out);
	return out;
}

/* The base64 text of an attachment, as a text node of `doc`. */
static xmlNodePtr
base64_text(xmlDocPtr doc, const char *p, size_t n, int base64)
{
	xmlNodePtr t;
	char *b;
	size_t i, k = 0;

	if (base64) {
		/* Already base64 on the wire: its line breaks dropped. */
		b = wsg_mem_alloc(n + 1);
		for (i = 0; i < n; i++)
			if (strchr(" \t\r\n", p[i]) == NULL)
				b[k++] = p[i];
	} else {
		/* Parts are capped well below INT_MAX (max_part_size). */
		b = wsg_mem_alloc(4 * ((n + 2) / 3) + 1);
		k = (size_t)EVP_EncodeBlock((unsigned char *)b,
		                            (const unsigned char *)p, (int)n);
	}
	t = xmlNewDocTextLen(doc, (const xmlChar *)b, (int)k);
	free(b);
	return t;
}

/* Every xop:Include below `root`, in document order, without recursion. */
static void
collect(xmlNodePtr root, struct wsg_xop_swaps *out)
{
	xmlNodePtr n = root;
	size_t cap = 0;

	while (n != NULL) {
		if (is_include(n)) {
			if (out->n == cap) {
				cap = cap > 0 ? cap * 2 : 4;
				out->v = wsg_mem_realloc(out->v,
				                         cap * sizeof(*out->v));
			}
			out->v[out->n].include = n;
			out->v[out->n++].text = NULL;
		} else if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
			n = n->children;
			continue;
		}
		while (n != root && n->next == NULL)
			n = n->parent;
		n = n == root ? NULL : n->next;
	}
}

int
wsg_xop_inline(xmlNodePtr root, wsg_xop_part_cb part, void *arg,
               struct wsg_xop_swaps *out, struct wsg_error *err)
{
	const char *p;
	xmlChar *href;
	char *cid;
	size_t i, len = 0, n;
	int base64, rc = WSG_OK;

	memset(out, 0, sizeof(*out));
	collect(root, out);
	for (i = 0; i < out->n && rc == WSG_OK; i++) {
		href = xmlGetNoNsProp(out->v[i].include,
		                      (const xmlChar *)"href");
		cid = cid_of((const char *)href, &len);
		xmlFree(href);
		if (cid == NULL) {
			rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
			                   "an xop:Include href is not a cid: "
			                   "URL");
			break;
		}
		base64 = 0;
		if (part(cid, len, &p, &n, &base64, arg) != WSG_OK)
			rc = wsg_error_set(
			        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
			        "an xop:Include names no part of the "
			        "message");
		else
			out->v[i].text = base64_text(out->v[i].include->doc, p,
			                             n, base64);
		free(cid);
		if (rc == WSG_OK && out->v[i].text == NULL)
			rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_SERVER,
			                   "out of memory");
	}
	if (rc != WSG_OK) {
		for (i = 0; i < out->n; i++)
			xmlFreeNode(out->v[i].text);
		free(out->v);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	/* Only once every text exists: a failure leaves the tree alone. */
	for (i = 0; i < out->n; i++)
		xmlReplaceNode(out->v[i].include, out->v[i].text);
	return WSG_OK;
}

void
wsg_xop_restore(struct wsg_xop_swaps *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		xmlReplaceNode(s->v[i].text, s->v[i].include);
		xmlFreeNode(s->v[i].text);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}
