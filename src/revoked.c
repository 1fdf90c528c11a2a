#include "revoked.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"

struct entry {
	char jti[WSG_TOKEN_JTI_LEN + 1];
	int64_t exp;
};

struct wsg_revoked {
	pthread_mutex_t mu;
	size_t max, n;
	struct entry *e; /* unordered; a logout is rare, a check cheap enough */
};

struct wsg_revoked *
wsg_revoked_new(size_t max)
{
	struct wsg_revoked *l = wsg_mem_calloc(1, sizeof(*l));

	pthread_mutex_init(&l->mu, NULL);
	l->max = max;
	return l;
}

void
wsg_revoked_free(struct wsg_revoked *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->e);
	free(l);
}

static size_t
find(const struct wsg_revoked *l, const char *jti)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->e[i].jti, jti) == 0)
			return i;
	return l->n;
}

int
wsg_revoked_add(struct wsg_revoked *l, const struct wsg_token *t, int64_t now)
{
	size_t i = 0;
	int rc = WSG_OK;

	pthread_mutex_lock(&l->mu);
	/* A token past its exp is refused anyway: its entry can go. */
	while (i < l->n) {
		if (l->e[i].exp < now)
			l->e[i] = l->e[--l->n];
		else
			i++;
	}
	if (find(l, t->jti) < l->n)
		goto out;
	if (l->n == l->max) {
		rc = WSG_ERR_FULL;
		goto out;
	}
	if ((l->n & (l->n - 1)) == 0)
		l->e = wsg_mem_realloc(l->e,
		                       (l->n ? 2 * l->n : 1) * sizeof(*l->e));
	memcpy(l->e[l->n].jti, t->jti, sizeof(l->e[l->n].jti));
	l->e[l->n].exp = t->exp;
	l->n++;
out:
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int
wsg_revoked_has(struct wsg_revoked *l, const struct wsg_token *t)
{
	int has;

	pthread_mutex_lock(&l->mu);
	has = find(l, t->jti) < l->n;
	pthread_mutex_unlock(&l->mu);
	return has;
}
