#include "http.h"

#include "autoconf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "secmem.h"

#define MAX_BODY (16 * 1024 * 1024)
#define CONNECT_TIMEOUT 10L
#define TOTAL_TIMEOUT 60L

/* The answer body as it arrives, bounded by MAX_BODY. */
struct sink {
	char *buf;
	size_t len;
	size_t cap;
	int overflow;
};

static size_t
body_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb, cap;

	if (n > MAX_BODY - s->len) {
		s->overflow = 1;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		cap = s->cap ? s->cap * 2 : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		s->buf = wsg_secmem_realloc(s->buf, cap);
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

/* Failures where no answer came back at all: exit status 3. */
static int
is_transport_error(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_UNSUPPORTED_PROTOCOL: return 1;
	default: return 0;
	}
}

static const char *
tls_hint(CURLcode c)
{
	switch (c) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return " (the server's certificate is not trusted: name its "
		       "CA with --ca-file FILE, or skip verification with "
		       "--insecure)";
	default: return "";
	}
}

int
wsg_http_request(const struct wsg_http_opts *opts,
                 const struct wsg_http_req *req, struct wsg_http_resp *resp,
                 struct wsg_error *err)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers = NULL;
	struct sink sink = {0};
	char *auth = NULL;
	CURLcode c;
	CURL *h;
	int rc = WSG_OK;

	memset(resp, 0, sizeof(*resp));
	errbuf[0] = '\0';
	h = curl_easy_init();
	if (h == NULL)
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                     "cannot initialise libcurl");
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, TOTAL_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "wssgatectl/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	if (opts->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (opts->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, opts->ca_file);
	headers = curl_slist_append(headers, "Accept: application/json");
	headers = curl_slist_append(headers, "Expect:");
	if (req->body != NULL)
		headers = curl_slist_append(headers,
		                            "Content-Type: application/json");
	if (req->user != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, req->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, req->password);
	} else if (req->bearer != NULL) {
		auth = wsg_mem_printf("Authorization: Bearer %s", req->bearer);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else if (strcmp(req->method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
		                 (long)strlen(req->body));
	}
	if (opts->verbose)
		fprintf(stderr, "> %s %s\n", req->method, req->url);
	c = curl_easy_perform(h);
	if (c == CURLE_WRITE_ERROR && sink.overflow) {
		rc = wsg_error_set(err, WSG_ERR_LIMIT, WSG_FAULT_NONE,
		                   "the answer from %s is larger than %d bytes",
		                   req->url, MAX_BODY);
	} else if (c != CURLE_OK) {
		rc = wsg_error_set(
		        err,
		        is_transport_error(c) ? WSG_ERR_CONNECT : WSG_ERR_IO,
		        WSG_FAULT_NONE, "cannot connect to %s: %s%s", req->url,
		        errbuf[0] ? errbuf : curl_easy_strerror(c),
		        tls_hint(c));
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		if (sink.buf == NULL)
			sink.buf = wsg_mem_calloc(1, 1);
		resp->body = sink.buf;
		resp->len = sink.len;
		sink.buf = NULL;
		if (opts->verbose)
			fprintf(stderr, "< %ld (%zu bytes)\n", resp->status,
			        resp->len);
	}
	wsg_secmem_free(sink.buf);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	if (auth != NULL)
		wsg_mem_free_secret(auth, strlen(auth));
	return rc;
}

void
wsg_http_resp_free(struct wsg_http_resp *resp)
{
	wsg_secmem_free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

char *
wsg_http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i, j = 0;
	char *out = wsg_mem_alloc(n * 3 + 1);

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			out[j++] = (char)c;
		} else {
			out[j++] = '%';
			out[j++] = hex[c >> 4];
			out[j++] = hex[c & 15];
		}
	}
	out[j] = '\0';
	return out;
}

char *
wsg_http_path(const char *collection, const char *item)
{
	char *esc = wsg_http_escape(item), *path;

	path = wsg_mem_printf("%s/%s", collection, esc);
	free(esc);
	return path;
}

/* 1 when curl_url_get() finds the part set. */
static int
has_part(CURLU *u, CURLUPart part)
{
	char *v = NULL;
	int set = curl_url_get(u, part, &v, 0) == CURLUE_OK && v != NULL &&
	          v[0] != '\0';

	curl_free(v);
	return set;
}

/*
 * Loopback by address, never by prefix ("127.example.com" is a name that
 * resolves anywhere): 127.0.0.0/8, [::1], or the name localhost.
 */
static int
is_loopback_host(const char *host)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	struct in_addr a4;
	size_t n = strlen(host);

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return ntohl(a4.s_addr) >> 24 == 127;
	if (n < 3 || n - 2 >= sizeof(buf) || host[0] != '[' ||
	    host[n - 1] != ']')
		return 0;
	memcpy(buf, host + 1, n - 2);
	buf[n - 2] = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int
wsg_http_check_url(const char *url, int *is_https, int *is_loopback,
                   struct wsg_error *err)
{
	char *scheme = NULL, *host = NULL;
	CURLU *u = curl_url();
	int rc = WSG_OK;

	*is_https = 0;
	*is_loopback = 0;
	if (u == NULL)
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                     "cannot initialise libcurl");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "'%s' is not a URL such as "
		                   "https://gateway.example:9164",
		                   url);
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "'%s': the scheme must be http or https",
		                   url);
		goto out;
	}
	if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
	    has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT)) {
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "'%s': a management URL holds no user "
		                   "name, password, query or fragment",
		                   url);
		goto out;
	}
	*is_https = strcmp(scheme, "https") == 0;
	*is_loopback = is_loopback_host(host);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}
