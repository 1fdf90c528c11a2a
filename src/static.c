#include "static.h"

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"

#define NAME_MAX_LEN 64

struct file {
	char name[NAME_MAX_LEN + 1];
	const char *type; /* Content-Type */
	char etag[40];
	char *data;
	size_t len;
};

struct wsg_static {
	struct file files[WSG_STATIC_MAX_FILES];
	size_t n_files;
};

static const struct {
	const char *ext;
	const char *type;
} types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
};

/* The content type of a servable name, or NULL to skip the file. */
static const char *
type_of(const char *name)
{
	size_t i, len = strlen(name), el;

	if (len == 0 || len > NAME_MAX_LEN || name[0] == '.' ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                 "0123456789_.-") != len)
		return NULL;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		el = strlen(types[i].ext);
		if (len > el && strcmp(name + len - el, types[i].ext) == 0)
			return types[i].type;
	}
	return NULL;
}

/* Reads the regular file `name` of folder `dfd` into `f`. */
static int
load_file(int dfd, const char *dir, const char *name, struct file *f,
          struct wsg_error *err)
{
	struct stat st;
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: a cache validator only */
	size_t got = 0, i;
	ssize_t n;
	int fd, rc = WSG_OK;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		/* A symbolic link (ELOOP) is skipped, not an error. */
		if (errno == ELOOP)
			return WSG_ERR_NOTFOUND;
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                     "cannot open %s/%s: %s", dir, name,
		                     strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = WSG_ERR_NOTFOUND;
		goto out;
	}
	if ((uintmax_t)st.st_size > WSG_STATIC_MAX_SIZE) {
		rc = wsg_error_set(err, WSG_ERR_LIMIT, WSG_FAULT_NONE,
		                   "%s/%s is larger than %u bytes", dir, name,
		                   WSG_STATIC_MAX_SIZE);
		goto out;
	}
	f->data = wsg_mem_alloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, f->data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
			                   "cannot read %s/%s: %s", dir, name,
			                   n < 0 ? strerror(errno)
			                         : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	f->len = got;
	for (i = 0; i < got; i++)
		h = (h ^ (unsigned char)f->data[i]) * 0x100000001b3ull;
	snprintf(f->etag, sizeof(f->etag), "\"%016llx-%zx\"",
	         (unsigned long long)h, got);
	memcpy(f->name, name, strlen(name) + 1); /* type_of() bounded it */
	f->type = type_of(name);
out:
	close(fd);
	if (rc != WSG_OK) {
		free(f->data);
		f->data = NULL;
	}
	return rc;
}

static const struct file *
lookup(const struct wsg_static *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_files; i++)
		if (strcmp(s->files[i].name, name) == 0)
			return &s->files[i];
	return NULL;
}

int
wsg_static_load(const char *dir, struct wsg_static **out, struct wsg_error *err)
{
	struct wsg_static *s;
	struct dirent *de;
	DIR *d = NULL;
	int dfd = -1, rc = WSG_OK;

	*out = NULL;
	s = wsg_mem_calloc(1, sizeof(*s));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "cannot open the dashboard folder %s: %s",
		                   dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (type_of(de->d_name) == NULL)
			continue;
		if (s->n_files == WSG_STATIC_MAX_FILES) {
			rc = wsg_error_set(err, WSG_ERR_LIMIT, WSG_FAULT_NONE,
			                   "%s holds more than %d files", dir,
			                   WSG_STATIC_MAX_FILES);
			goto out;
		}
		rc = load_file(dfd, dir, de->d_name, &s->files[s->n_files],
		               err);
		if (rc == WSG_ERR_NOTFOUND)
			continue;
		if (rc != WSG_OK)
			goto out;
		s->n_files++;
	}
	rc = WSG_OK;
	if (lookup(s, "index.html") == NULL) {
		rc = wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_NONE,
		                   "%s holds no index.html", dir);
		goto out;
	}
	*out = s;
	s = NULL;
out:
	if (d != NULL)
		closedir(d); /* closes dfd too */
	else if (dfd >= 0)
		close(dfd);
	wsg_static_free(s);
	return rc;
}

void
wsg_static_free(struct wsg_static *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_files; i++)
		free(s->files[i].data);
	free(s);
}

void
wsg_static_add_security_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy", WSG_STATIC_CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
	evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
}

static int
reply_text(struct evhttp_request *req, int code, const char *phrase)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "Content-Type", "text/plain; charset=utf-8");
	evbuffer_add_printf(b, "%d %s\n", code, phrase);
	evhttp_send_reply(req, code, phrase, b);
	evbuffer_free(b);
	return code;
}

int
wsg_static_serve(const struct wsg_static *s, struct evhttp_request *req,
                 const char *mount, const char *rest)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct file *f = NULL;
	const char *inm;
	char *location, len[24];
	struct evbuffer *b;

	wsg_static_add_security_headers(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(h, "Allow", "GET, HEAD");
		return reply_text(req, 405, "Method Not Allowed");
	}
	if (*rest == '\0') {
		location = wsg_mem_printf("%s/", mount);
		evhttp_add_header(h, "Location", location);
		free(location);
		return reply_text(req, 301, "Moved Permanently");
	}
	/* Only "/" and "/NAME" exist; NAME is compared, never opened. */
	if (s != NULL && rest[0] == '/')
		f = lookup(s, rest[1] == '\0' ? "index.html" : rest + 1);
	if (f == NULL)
		return reply_text(req, 404, "Not Found");
	evhttp_add_header(h, "ETag", f->etag);
	/* Revalidate every time, so an upgrade shows at the next load. */
	evhttp_add_header(h, "Cache-Control", "no-cache");
	inm = evhttp_find_header(evhttp_request_get_input_headers(req),
	                         "If-None-Match");
	if (inm != NULL && strcmp(inm, f->etag) == 0) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return 304;
	}
	evhttp_add_header(h, "Content-Type", f->type);
	snprintf(len, sizeof(len), "%zu", f->len);
	evhttp_add_header(h, "Content-Length", len);
	b = evbuffer_new();
	if (cmd == EVHTTP_REQ_GET)
		evbuffer_add_reference(b, f->data, f->len, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
	return 200;
}
