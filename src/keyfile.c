#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "hex.h"
#include "io.h"
#include "mem.h"

/* Keys are small; the cap bounds what a corrupt or hostile file makes us read.
 */
#define KEY_MAX_BYTES 1024
#define SECRET_MAX_BYTES 4096

/* Creates missing folders of `path`'s parent, each mode 0700. */
static int
make_parents(const char *path, struct wsg_error *err)
{
	char *dir = wsg_mem_strdup(path);
	char *p;
	int rc = WSG_OK;

	for (p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
			                   "cannot create folder %s: %s", dir,
			                   strerror(errno));
			goto out;
		}
		*p = '/';
	}
out:
	free(dir);
	return rc;
}

/* The folder entry must reach the disk too, or a crash may lose the key. */
static void
sync_parent(const char *path)
{
	char *dir = wsg_mem_strdup(path);
	char *slash = strrchr(dir, '/');
	int fd;

	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

int
wsg_keyfile_create(const char *path, size_t nbytes, int *created,
                   struct wsg_error *err)
{
	unsigned char *raw = NULL;
	char *text = NULL;
	size_t tlen = 2 * nbytes + 1;
	int fd = -1, rc;

	if (created != NULL)
		*created = 0;
	if (nbytes == 0 || nbytes > KEY_MAX_BYTES)
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_SERVER,
		                     "key size %zu out of range 1..%d", nbytes,
		                     KEY_MAX_BYTES);
	if ((rc = make_parents(path, err)) != WSG_OK)
		return rc;
	/* O_EXCL: an existing key is never replaced, even by a racing peer. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0 && errno == EEXIST)
		return WSG_OK;
	if (fd < 0)
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
		                     "cannot create %s: %s", path,
		                     strerror(errno));
	raw = wsg_mem_alloc(nbytes);
	text = wsg_mem_alloc(tlen);
	if (RAND_bytes(raw, (int)nbytes) != 1) {
		rc = wsg_error_set(err, WSG_ERR_CRYPTO, WSG_FAULT_SERVER,
		                   "no random bytes for %s", path);
		goto out;
	}
	wsg_hex_encode(raw, nbytes, text);
	text[tlen - 1] = '\n';
	/* The umask may have narrowed the mode; make it exactly 0600. */
	if (fchmod(fd, 0600) != 0 ||
	    wsg_io_write_all(fd, text, tlen) != WSG_OK || fsync(fd) != 0) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
		                   "cannot write %s: %s", path,
		                   strerror(errno));
		goto out;
	}
	rc = WSG_OK;
out:
	if (close(fd) != 0 && rc == WSG_OK)
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
		                   "cannot write %s: %s", path,
		                   strerror(errno));
	/* A half-written key must not be mistaken for a key next time. */
	if (rc != WSG_OK)
		unlink(path);
	else
		sync_parent(path);
	if (rc == WSG_OK && created != NULL)
		*created = 1;
	wsg_mem_free_secret(raw, nbytes);
	wsg_mem_free_secret(text, tlen);
	return rc;
}

/*
 * A secret file must be a regular file only its owner may use, and that
 * owner must be us or root: anyone else could have swapped the key.
 */
static int
check_private(const char *path, const struct stat *st, struct wsg_error *err)
{
	if (!S_ISREG(st->st_mode))
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
		                     "%s is not a regular file", path);
	if (st->st_mode & 077)
		return wsg_error_set(err, WSG_ERR_PERM, WSG_FAULT_SERVER,
		                     "%s may be used by group or others (mode "
		                     "%04o); run chmod 600 on it",
		                     path, (unsigned)(st->st_mode & 07777));
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return wsg_error_set(err, WSG_ERR_PERM, WSG_FAULT_SERVER,
		                     "%s is owned by uid %u, neither the "
		                     "gateway's user (uid %u) nor root",
		                     path, (unsigned)st->st_uid,
		                     (unsigned)geteuid());
	return WSG_OK;
}

int
wsg_keyfile_check(const char *path, struct wsg_error *err)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
		                     "cannot open %s: %s", path,
		                     strerror(errno));
	return check_private(path, &st, err);
}

/*
 * Reads at most `max` bytes of `path` into a new buffer after checking that
 * only the owner may use it. `*buf` is wiped and freed by the caller.
 */
static int
read_private(const char *path, size_t max, char **buf, size_t *len,
             struct wsg_error *err)
{
	struct stat st;
	char *b = NULL;
	size_t have = 0;
	ssize_t n;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
		                     "cannot open %s: %s", path,
		                     strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
		                   "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if ((rc = check_private(path, &st, err)) != WSG_OK)
		goto out;
	/* One byte more than allowed, so an oversized file is detected. */
	b = wsg_mem_alloc(max + 1);
	for (;;) {
		n = read(fd, b + have, max + 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
			                   "cannot read %s: %s", path,
			                   strerror(errno));
			goto out;
		}
		if (n == 0 || (have += (size_t)n) == max + 1)
			break;
	}
	if (have > max) {
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_SERVER,
		                   "%s is larger than %zu bytes", path, max);
		goto out;
	}
	*buf = b;
	*len = have;
	b = NULL;
	rc = WSG_OK;
out:
	wsg_mem_free_secret(b, max + 1);
	close(fd);
	return rc;
}

int
wsg_keyfile_load(const char *path, unsigned char *key, size_t nbytes,
                 struct wsg_error *err)
{
	char *buf = NULL;
	size_t len = 0, i, want = 2 * nbytes;
	int hi, lo, rc;

	if (nbytes == 0 || nbytes > KEY_MAX_BYTES)
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_SERVER,
		                     "key size %zu out of range 1..%d", nbytes,
		                     KEY_MAX_BYTES);
	memset(key, 0, nbytes);
	/* An oversized file (WSG_ERR_PARSE) gets the same message as a short
	 * one. */
	rc = read_private(path, want + 2, &buf, &len, err);
	if (rc != WSG_OK && rc != WSG_ERR_PARSE)
		return rc;
	/* Exactly the hex digits, optionally followed by one line end. */
	if (len > want && buf[len - 1] == '\n')
		len--;
	if (len > want && buf[len - 1] == '\r')
		len--;
	for (i = 0; rc == WSG_OK && len == want && i < nbytes; i++) {
		hi = wsg_hex_digit(buf[2 * i]);
		lo = wsg_hex_digit(buf[2 * i + 1]);
		if (hi < 0 || lo < 0)
			break;
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	if (rc != WSG_OK || len != want || i != nbytes) {
		OPENSSL_cleanse(key, nbytes);
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_SERVER,
		                   "%s does not hold a %zu-byte key as %zu hex "
		                   "digits",
		                   path, nbytes, want);
		goto out;
	}
	rc = WSG_OK;
out:
	wsg_mem_free_secret(buf, want + 3);
	return rc;
}

int
wsg_keyfile_read_secret(const char *path, char **out, size_t *len,
                        struct wsg_error *err)
{
	char *buf = NULL, *nl;
	size_t n = 0, line;
	int rc;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if ((rc = read_private(path, SECRET_MAX_BYTES, &buf, &n, err)) !=
	    WSG_OK)
		return rc;
	nl = memchr(buf, '\n', n);
	line = nl != NULL ? (size_t)(nl - buf) : n;
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	*out = wsg_mem_strndup(buf, line);
	if (len != NULL)
		*len = line;
	wsg_mem_free_secret(buf, SECRET_MAX_BYTES + 1);
	return WSG_OK;
}
