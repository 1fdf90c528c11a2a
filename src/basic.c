#include "basic.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "mem.h"
#include "wsse.h"

/* Far beyond any real user name and password; bounds the decode. */
#define MAX_CREDENTIALS 8192

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

int
wsg_basic_parse(const char *value, char **user, size_t *user_len,
                char **password, size_t *password_len)
{
	unsigned char *raw = NULL, *colon;
	size_t raw_len = 0, len, i;
	const char *p, *end;
	int rc;

	*user = *password = NULL;
	*user_len = *password_len = 0;
	if (value == NULL)
		return WSG_ERR_NOTFOUND;
	for (p = value; is_space(*p); p++)
		;
	if (strncasecmp(p, "Basic", 5) != 0 ||
	    (p[5] != '\0' && !is_space(p[5])))
		return WSG_ERR_NOTFOUND;
	for (p += 5; is_space(*p); p++)
		;
	len = strcspn(p, " \t");
	for (end = p + len; is_space(*end); end++)
		;
	if (len == 0 || *end != '\0' || len > MAX_CREDENTIALS)
		return WSG_ERR_PARSE;
	if (wsg_wsse_base64_decode(p, len, &raw, &raw_len) != WSG_OK) {
		rc = WSG_ERR_PARSE;
		goto out;
	}
	for (i = 0; i < raw_len; i++)
		if (raw[i] < 0x20 || raw[i] == 0x7f) {
			rc = WSG_ERR_PARSE;
			goto out;
		}
	colon = memchr(raw, ':', raw_len);
	if (colon == NULL) {
		rc = WSG_ERR_PARSE;
		goto out;
	}
	*user_len = (size_t)(colon - raw);
	*user = wsg_mem_strndup((const char *)raw, *user_len);
	*password_len = raw_len - *user_len - 1;
	*password = wsg_mem_strndup((const char *)colon + 1, *password_len);
	rc = WSG_OK;
out:
	if (raw != NULL)
		wsg_mem_free_secret(raw, raw_len);
	return rc;
}

int
wsg_basic_has_security_header(const struct wsg_soap_msg *msg)
{
	xmlNodePtr n;

	if (msg->header == NULL)
		return 0;
	for (n = msg->header->children; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE && n->ns != NULL &&
		    n->ns->href != NULL &&
		    strcmp((const char *)n->ns->href, WSG_NS_WSSE) == 0 &&
		    strcmp((const char *)n->name, "Security") == 0)
			return 1;
	return 0;
}

/* Generic texts: never request data, never the precise reason. */
static const char *
json_text(enum wsg_fault fault)
{
	switch (fault) {
	case WSG_FAULT_FAILED_AUTHENTICATION: return "Authentication failed";
	case WSG_FAULT_INVALID_SECURITY:
		return "Credentials must be sent over HTTPS";
	case WSG_FAULT_UPSTREAM_ERROR:
		return "The upstream service is unavailable";
	case WSG_FAULT_UPSTREAM_TIMEOUT:
		return "The upstream service did not answer in time";
	case WSG_FAULT_METHOD: return "Method not allowed";
	case WSG_FAULT_NOT_FOUND: return "Not found";
	case WSG_FAULT_TOO_LARGE: return "The request body is too large";
	case WSG_FAULT_TRY_LATER:
		return "Too many failed authentication attempts; try again "
		       "later";
	case WSG_FAULT_BUSY: return "The server is busy; try again later";
	default: return "The server could not process the request";
	}
}

int
wsg_basic_build_reply(enum wsg_soap_version media, enum wsg_fault fault,
                      char **body, size_t *len, const char **content_type,
                      int *http_status)
{
	char *soap = NULL;
	size_t soap_len = 0;
	const char *soap_type = NULL;
	int rc, status = 0;

	*body = NULL;
	*len = 0;
	*content_type = NULL;
	*http_status = 0;
	rc = wsg_soap_build_fault(media, fault, &soap, &soap_len, &soap_type,
	                          &status);
	if (rc != WSG_OK)
		return rc;
	if (fault == WSG_FAULT_FAILED_AUTHENTICATION)
		status = 401;
	else if (fault == WSG_FAULT_INVALID_SECURITY)
		status = 403;
	if (media == WSG_SOAP_11 || media == WSG_SOAP_12) {
		*body = soap;
		*len = soap_len;
		*content_type = soap_type;
	} else {
		free(soap);
		*body = wsg_mem_printf("{\"Error\": \"%s\"}\n",
		                       json_text(fault));
		*len = strlen(*body);
		*content_type = "application/json";
	}
	*http_status = status;
	return WSG_OK;
}
