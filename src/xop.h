/*
 * XOP (MTOM): an xop:Include element stands for the base64 text of the
 * attachment it names. What must read the envelope as the message it
 * stands for (schema validation) swaps that text in for a while and puts
 * the elements back, so the tree is left as it was parsed and forwarded.
 */
#ifndef WSG_XOP_H
#define WSG_XOP_H

#include <libxml/tree.h>
#include <stddef.h>

#include "types.h"

/*
 * The attachment whose Content-ID (without <>, percent-decoded from the
 * cid: URL) is the `len` bytes at `cid`: WSG_OK with its bytes in `*p` /
 * `*n`, `*base64` set when they are base64 text already (its transfer
 * encoding); WSG_ERR_NOTFOUND when no part has that Content-ID.
 */
typedef int (*wsg_xop_part_cb)(const char *cid, size_t len, const char **p,
                               size_t *n, int *base64, void *arg);

struct wsg_xop_swap {
	xmlNodePtr include; /* unlinked while swapped out */
	xmlNodePtr text;    /* in its place */
};

struct wsg_xop_swaps {
	struct wsg_xop_swap *v;
	size_t n;
};

/*
 * Replaces every xop:Include element below `root` with a text node of the
 * base64 of the part it names, found with `part`. WSG_OK fills `out`
 * (wsg_xop_restore() undoes it); WSG_ERR_PARSE with a Client fault in
 * `err` for an Include whose href is not a cid: URL or names no part, and
 * the tree is then unchanged.
 */
int wsg_xop_inline(xmlNodePtr root, wsg_xop_part_cb part, void *arg,
                   struct wsg_xop_swaps *out, struct wsg_error *err);

/* Puts the xop:Include elements back and frees what `s` holds. */
void wsg_xop_restore(struct wsg_xop_swaps *s);

#endif
