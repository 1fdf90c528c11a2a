#include "password.h"

#include <argon2.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* OWASP's argon2id baseline: 19 MiB, two passes, one lane. */
#define ARGON_T_COST 2
#define ARGON_M_COST 19456
#define ARGON_LANES 1
#define ARGON_SALT_LEN 16
#define ARGON_HASH_LEN 32
#define ARGON_PREFIX "$argon2id$"

#define SEAL_VERSION 0x01
#define SEAL_IV_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_OVERHEAD (1 + SEAL_IV_LEN + SEAL_TAG_LEN)

int
wsg_password_hash(const char *pw, size_t len, char **encoded)
{
	unsigned char salt[ARGON_SALT_LEN];
	size_t enc_len;
	char *buf = NULL;
	int rc;

	*encoded = NULL;
	if (len > UINT32_MAX) {
		rc = WSG_ERR_LIMIT;
		goto out;
	}
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		rc = WSG_ERR_CRYPTO;
		goto out;
	}
	enc_len = argon2_encodedlen(ARGON_T_COST, ARGON_M_COST, ARGON_LANES,
	                            ARGON_SALT_LEN, ARGON_HASH_LEN, Argon2_id);
	buf = wsg_mem_alloc(enc_len);
	if (argon2id_hash_encoded(ARGON_T_COST, ARGON_M_COST, ARGON_LANES, pw,
	                          len, salt, sizeof(salt), ARGON_HASH_LEN, buf,
	                          enc_len) != ARGON2_OK) {
		rc = WSG_ERR_CRYPTO;
		goto out;
	}
	*encoded = buf;
	buf = NULL;
	rc = WSG_OK;
out:
	free(buf);
	return rc;
}

int
wsg_password_verify(const char *encoded, const char *pw, size_t len)
{
	if (encoded == NULL ||
	    strncmp(encoded, ARGON_PREFIX, strlen(ARGON_PREFIX)) != 0)
		return WSG_ERR_PARSE;
	switch (argon2id_verify(encoded, pw, len)) {
	case ARGON2_OK: return WSG_OK;
	case ARGON2_VERIFY_MISMATCH: return WSG_ERR_AUTH;
	case ARGON2_MEMORY_ALLOCATION_ERROR: return WSG_ERR_NOMEM;
	case ARGON2_PWD_TOO_LONG: return WSG_ERR_LIMIT;
	case ARGON2_THREAD_FAIL: return WSG_ERR_CRYPTO;
	default:
		/* Every other argon2 error is about the encoded string. */
		return WSG_ERR_PARSE;
	}
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[128];

static void
dummy_init(void)
{
	unsigned char pw[32];
	char *enc = NULL;

	/* Without it unknown users would be distinguishable; refuse to run. */
	if (RAND_bytes(pw, sizeof(pw)) != 1 ||
	    wsg_password_hash((const char *)pw, sizeof(pw), &enc) != WSG_OK ||
	    strlen(enc) >= sizeof(dummy_hash)) {
		fprintf(stderr,
		        "wssgate: cannot make the dummy password hash\n");
		abort();
	}
	memcpy(dummy_hash, enc, strlen(enc) + 1);
	OPENSSL_cleanse(pw, sizeof(pw));
	free(enc);
}

const char *
wsg_password_dummy_hash(void)
{
	pthread_once(&dummy_once, dummy_init);
	return dummy_hash;
}

/* AAD = version byte ‖ username, so the version is authenticated too. */
static int
add_aad(EVP_CIPHER_CTX *ctx, const unsigned char *version, const char *username,
        size_t ulen)
{
	int n;

	if (EVP_CipherUpdate(ctx, NULL, &n, version, 1) != 1)
		return -1;
	if (ulen > 0 &&
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)username,
	                     (int)ulen) != 1)
		return -1;
	return 0;
}

int
wsg_password_seal(const unsigned char key[WSG_PASSWORD_KEY_LEN],
                  const char *username, const char *pw, size_t len,
                  unsigned char **out, size_t *out_len)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf = NULL, *iv, *ct, *tag;
	size_t ulen, total = 0;
	int n, rc;

	*out = NULL;
	*out_len = 0;
	if (username == NULL || (pw == NULL && len > 0)) {
		rc = WSG_ERR_INVAL;
		goto out;
	}
	ulen = strlen(username);
	if (len > INT_MAX - SEAL_OVERHEAD || ulen > INT_MAX) {
		rc = WSG_ERR_LIMIT;
		goto out;
	}
	total = SEAL_OVERHEAD + len;
	buf = wsg_mem_alloc(total);
	buf[0] = SEAL_VERSION;
	iv = buf + 1;
	ct = iv + SEAL_IV_LEN;
	tag = ct + len;
	rc = WSG_ERR_CRYPTO;
	if (RAND_bytes(iv, SEAL_IV_LEN) != 1)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		rc = WSG_ERR_NOMEM;
		goto out;
	}
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) != 1 ||
	    add_aad(ctx, buf, username, ulen) != 0)
		goto out;
	if (len > 0 && EVP_EncryptUpdate(ctx, ct, &n, (const unsigned char *)pw,
	                                 (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, tag, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) !=
	            1)
		goto out;
	*out = buf;
	*out_len = total;
	buf = NULL;
	rc = WSG_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(buf);
	return rc;
}

int
wsg_password_unseal(const unsigned char key[WSG_PASSWORD_KEY_LEN],
                    const char *username, const unsigned char *in,
                    size_t in_len, char **pw, size_t *pw_len)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	const unsigned char *iv, *ct, *tag;
	size_t ulen, ct_len = 0;
	int n, rc;

	*pw = NULL;
	*pw_len = 0;
	rc = WSG_ERR_CRYPTO;
	if (username == NULL || in == NULL || in_len < SEAL_OVERHEAD ||
	    in[0] != SEAL_VERSION)
		goto out;
	ulen = strlen(username);
	ct_len = in_len - SEAL_OVERHEAD;
	if (ct_len > INT_MAX || ulen > INT_MAX) {
		rc = WSG_ERR_LIMIT;
		goto out;
	}
	iv = in + 1;
	ct = iv + SEAL_IV_LEN;
	tag = ct + ct_len;
	buf = wsg_mem_alloc(ct_len + 1);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		rc = WSG_ERR_NOMEM;
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) != 1 ||
	    add_aad(ctx, in, username, ulen) != 0)
		goto out;
	if (ct_len > 0 && EVP_DecryptUpdate(ctx, buf, &n, ct, (int)ct_len) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
	                        (void *)tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, buf + ct_len, &n) != 1)
		goto out;
	buf[ct_len] = '\0';
	*pw = (char *)buf;
	*pw_len = ct_len;
	buf = NULL;
	rc = WSG_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	wsg_mem_free_secret(buf, ct_len + 1);
	return rc;
}

/*
 * The verification pool. Each request is a waiter whose completion event is
 * made on the caller's thread and activated by the worker; libevent (with
 * evthread_use_pthreads) makes event_active() safe across threads, and the
 * callback then runs on the base's own loop, which frees the waiter.
 *
 * Single flight: a job holds every waiter whose key (keyed HMAC over
 * address, user, stored hash and password) is identical; argon2 runs once
 * for all of them. The address is in the key so that a request never ends
 * sooner because another party sent the same password (no timing channel
 * between clients) and the user so that unknown names, which share the dummy
 * hash, are never joined (joins would tell them from known names).
 */
#define ADDR_MAX 64
#define CLIENT_BUCKETS 64
#define JOB_BUCKETS 64
#define JOB_KEY_LEN 32 /* HMAC-SHA-256 */

/* Jobs queued or running for one address; exists while count > 0. */
struct client_slot {
	struct client_slot *next;
	unsigned count;
	char addr[ADDR_MAX];
};

/* One request: its own base, callback and argument. */
struct waiter {
	struct waiter *next;
	struct event *ev;
	int result;
	wsg_password_done_cb done;
	wsg_password_hash_cb hashed; /* a hash job's, instead of done */
	char *encoded;               /* a hash job's result until handed over */
	void *arg;
};

struct job {
	struct job *next;     /* FIFO */
	struct job *key_next; /* same bucket of p->jobs */
	unsigned char key[JOB_KEY_LEN];
	char *encoded;
	char *pw;
	size_t len;
	struct waiter *waiters; /* the request that queued it and the joined */
	int hash;               /* hashes `pw`: never keyed, so never joined */
	struct client_slot *slot; /* NULL: not counted per address */
	struct wsg_lockout *lockout;
	struct wsg_lockout_conf client_limit;
};

struct wsg_password_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail; /* FIFO */
	int stopping;
	unsigned nthreads;
	pthread_t *threads;
	struct client_slot *clients[CLIENT_BUCKETS];
	struct job *jobs[JOB_BUCKETS]; /* queued or running, by key */
	EVP_MAC *mac;
	unsigned char mac_key[32];            /* random per pool */
	struct wsg_password_pool_stats stats; /* under lock */
};

static void
job_free(struct job *j)
{
	free(j->encoded);
	wsg_mem_free_secret(j->pw, j->len);
	OPENSSL_cleanse(j->key, sizeof(j->key));
	free(j);
}

static void
waiter_free(struct waiter *w)
{
	if (w->ev != NULL)
		event_free(w->ev);
	free(w->encoded);
	free(w);
}

static void
waiter_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	wsg_password_done_cb done = w->done;
	wsg_password_hash_cb hashed = w->hashed;
	void *done_arg = w->arg;
	int result = w->result;
	char *encoded = w->encoded;

	/* Freed first, so the callback may do anything, even free the base. */
	w->encoded = NULL;
	waiter_free(w);
	if (hashed != NULL)
		hashed(result, encoded, done_arg);
	else
		done(result, done_arg);
}

/* One field of the key, length first so no two field lists collide. */
static int
key_field(EVP_MAC_CTX *ctx, const void *data, size_t len)
{
	uint64_t n = data != NULL ? (uint64_t)len : UINT64_MAX;
	unsigned char pre[8];
	int i;

	for (i = 0; i < 8; i++)
		pre[i] = (unsigned char)(n >> (56 - 8 * i));
	if (EVP_MAC_update(ctx, pre, sizeof(pre)) != 1)
		return -1;
	if (data != NULL && len > 0 && EVP_MAC_update(ctx, data, len) != 1)
		return -1;
	return 0;
}

static char sha256[] = "SHA256"; /* OSSL_PARAM wants it writable */

static int
job_key(struct wsg_password_pool *p, const struct wsg_password_client *who,
        const char *encoded, const char *pw, size_t len,
        unsigned char key[JOB_KEY_LEN])
{
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256,
	                                         0),
	        OSSL_PARAM_construct_end(),
	};
	const char *addr = who != NULL ? who->addr : NULL;
	const char *user = who != NULL ? who->user : NULL;
	EVP_MAC_CTX *ctx;
	size_t out = 0;
	int rc = WSG_ERR_CRYPTO;

	if ((ctx = EVP_MAC_CTX_new(p->mac)) == NULL)
		return WSG_ERR_NOMEM;
	if (EVP_MAC_init(ctx, p->mac_key, sizeof(p->mac_key), params) != 1 ||
	    key_field(ctx, addr, addr != NULL ? strlen(addr) : 0) != 0 ||
	    key_field(ctx, user, user != NULL ? who->user_len : 0) != 0 ||
	    key_field(ctx, encoded, encoded != NULL ? strlen(encoded) : 0) !=
	            0 ||
	    key_field(ctx, pw, len) != 0 ||
	    EVP_MAC_final(ctx, key, &out, JOB_KEY_LEN) != 1 ||
	    out != JOB_KEY_LEN)
		goto out;
	rc = WSG_OK;
out:
	EVP_MAC_CTX_free(ctx);
	return rc;
}

/* The HMAC is keyed with a secret, so its bytes spread jobs evenly. */
static struct job **
job_link(struct wsg_password_pool *p, const unsigned char key[JOB_KEY_LEN])
{
	struct job **link = &p->jobs[key[0] % JOB_BUCKETS];

	while (*link != NULL &&
	       CRYPTO_memcmp((*link)->key, key, JOB_KEY_LEN) != 0)
		link = &(*link)->key_next;
	return link;
}

static struct client_slot **
client_link(struct wsg_password_pool *p, const char *addr)
{
	struct client_slot **link;
	uint32_t h = 2166136261u; /* FNV-1a: addresses are not secret here */
	const char *c;

	for (c = addr; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	link = &p->clients[h % CLIENT_BUCKETS];
	while (*link != NULL && strcmp((*link)->addr, addr) != 0)
		link = &(*link)->next;
	return link;
}

/* Under p->lock: the job left the queue and its verifier; none may join. */
static void
job_release(struct wsg_password_pool *p, struct job *j)
{
	struct client_slot **link;

	if (!j->hash)
		*job_link(p, j->key) = j->key_next;
	j->key_next = NULL;
	p->stats.queued--;
	if (j->slot == NULL || --j->slot->count > 0)
		return;
	link = client_link(p, j->slot->addr);
	*link = j->slot->next;
	free(j->slot);
	j->slot = NULL;
}

static void *
worker_main(void *arg)
{
	struct wsg_password_pool *p = arg;
	struct waiter *w, *next;
	struct job *j;
	char *encoded;
	int drop, result;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		j = p->head;
		if (j != NULL) {
			p->head = j->next;
			if (p->head == NULL)
				p->tail = NULL;
		}
		pthread_mutex_unlock(&p->lock);
		if (j == NULL)
			break;
		/*
		 * An address locked while its job waited gets no argon2. All
		 * waiters share the job's address (it is in the key), so
		 * dropping them all is what each would get on its own; no
		 * other address is ever dropped with them.
		 */
		drop = j->lockout != NULL && j->slot != NULL &&
		       wsg_lockout_check(j->lockout, WSG_LOCKOUT_CLIENT,
		                         &j->client_limit, j->slot->addr,
		                         strlen(j->slot->addr),
		                         wsg_lockout_now_ms()) > 0;
		encoded = NULL;
		if (drop)
			result = WSG_ERR_LIMIT;
		else if (j->hash)
			result = wsg_password_hash(j->pw, j->len, &encoded);
		else
			result = wsg_password_verify(j->encoded, j->pw, j->len);
		OPENSSL_cleanse(j->pw, j->len);
		pthread_mutex_lock(&p->lock);
		if (drop)
			p->stats.dropped++;
		else if (j->hash)
			p->stats.hashes++;
		else
			p->stats.runs++;
		job_release(p, j);
		w = j->waiters;
		j->waiters = NULL;
		pthread_mutex_unlock(&p->lock);
		job_free(j);
		/* Each base's thread owns its waiter once activated. */
		for (; w != NULL; w = next) {
			next = w->next;
			w->result = result;
			w->encoded = encoded; /* a hash job has one waiter */
			encoded = NULL;
			event_active(w->ev, EV_READ, 0);
		}
	}
	return NULL;
}

/*
 * Also makes the dummy hash, so its argon2 run happens here at start and
 * never on an event thread. NULL if the threads cannot be started.
 */
struct wsg_password_pool *
wsg_password_pool_new(unsigned threads)
{
	struct wsg_password_pool *p;
	sigset_t all, old;
	unsigned i;

	if (threads == 0)
		threads = 1;
	(void)wsg_password_dummy_hash();
	p = wsg_mem_calloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->threads = wsg_mem_calloc(threads, sizeof(*p->threads));
	p->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (p->mac == NULL || RAND_bytes(p->mac_key, sizeof(p->mac_key)) != 1)
		goto out;
	/* Signals belong to the event threads, not to the verifiers. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
			break;
		p->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	if (p->nthreads < threads) {
		wsg_password_pool_free(p);
		p = NULL;
	}
	return p;
}

/*
 * Jobs still queued are verified before the threads exit; their completions
 * are then active on their bases and run (and free the waiters) the next
 * time those loops run, so free the pool before the bases.
 */
void
wsg_password_pool_free(struct wsg_password_pool *p)
{
	unsigned i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	EVP_MAC_free(p->mac);
	OPENSSL_cleanse(p->mac_key, sizeof(p->mac_key));
	free(p->threads);
	free(p);
}

/* Under p->lock: counts a new job in, or says which bound refuses it. */
static int
job_admit(struct wsg_password_pool *p, struct job *j,
          const struct wsg_password_client *who)
{
	struct client_slot **link;

	if (who == NULL)
		goto admit;
	link = client_link(p, who->addr);
	if (*link != NULL && (*link)->count >= who->max_per_client) {
		p->stats.refused_client++;
		return WSG_ERR_LIMIT;
	}
	if (p->stats.queued >= who->max_queued) {
		p->stats.refused_full++;
		return WSG_ERR_FULL;
	}
	if (*link == NULL) {
		*link = wsg_mem_calloc(1, sizeof(**link));
		snprintf((*link)->addr, sizeof((*link)->addr), "%s", who->addr);
	}
	(*link)->count++;
	j->slot = *link;
admit:
	p->stats.queued++;
	return WSG_OK;
}

/* Under p->lock: appends an admitted job for the workers. */
static void
job_queue(struct wsg_password_pool *p, struct job *j)
{
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cond);
}

int
wsg_password_verify_async(struct wsg_password_pool *p, struct event_base *base,
                          const char *encoded, const char *pw, size_t len,
                          const struct wsg_password_client *who,
                          wsg_password_done_cb done, void *arg)
{
	struct waiter *w;
	struct job *j = NULL, **link;
	int rc;

	w = wsg_mem_calloc(1, sizeof(*w));
	w->done = done;
	w->arg = arg;
	w->ev = event_new(base, -1, 0, waiter_done_cb, w);
	if (w->ev == NULL) {
		rc = WSG_ERR_NOMEM;
		goto out;
	}
	j = wsg_mem_calloc(1, sizeof(*j));
	rc = job_key(p, who, encoded, pw, len, j->key);
	if (rc != WSG_OK)
		goto out;
	pthread_mutex_lock(&p->lock);
	link = job_link(p, j->key);
	if (*link != NULL) {
		/* Identical work already queued or running: share its run. */
		w->next = (*link)->waiters;
		(*link)->waiters = w;
		p->stats.coalesced++;
		w = NULL;
	} else if ((rc = job_admit(p, j, who)) == WSG_OK) {
		j->encoded = encoded != NULL ? wsg_mem_strdup(encoded) : NULL;
		j->pw = wsg_mem_alloc(len);
		if (len > 0)
			memcpy(j->pw, pw, len);
		j->len = len;
		if (who != NULL && who->lockout != NULL) {
			j->lockout = who->lockout;
			j->client_limit = *who->client_limit;
		}
		j->waiters = w;
		*link = j;
		job_queue(p, j);
		j = NULL;
		w = NULL;
	}
	pthread_mutex_unlock(&p->lock);
out:
	if (j != NULL)
		job_free(j);
	if (w != NULL)
		waiter_free(w);
	return rc;
}

int
wsg_password_hash_async(struct wsg_password_pool *p, struct event_base *base,
                        const char *pw, size_t len,
                        const struct wsg_password_client *who,
                        wsg_password_hash_cb done, void *arg)
{
	struct waiter *w;
	struct job *j;
	int rc;

	w = wsg_mem_calloc(1, sizeof(*w));
	w->hashed = done;
	w->arg = arg;
	w->ev = event_new(base, -1, 0, waiter_done_cb, w);
	if (w->ev == NULL) {
		waiter_free(w);
		return WSG_ERR_NOMEM;
	}
	j = wsg_mem_calloc(1, sizeof(*j));
	j->hash = 1;
	j->pw = wsg_mem_alloc(len);
	if (len > 0)
		memcpy(j->pw, pw, len);
	j->len = len;
	j->waiters = w;
	pthread_mutex_lock(&p->lock);
	rc = job_admit(p, j, who);
	if (rc == WSG_OK)
		job_queue(p, j);
	pthread_mutex_unlock(&p->lock);
	if (rc != WSG_OK) {
		job_free(j);
		waiter_free(w);
	}
	return rc;
}

void
wsg_password_pool_stats(struct wsg_password_pool *p,
                        struct wsg_password_pool_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	pthread_mutex_unlock(&p->lock);
}
