#include "wsse.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "mem.h"
#include "utf8.h"

/* Java's ISO parser (WSS4J) reads at most nine fraction digits. */
#define MAX_FRACTION_DIGITS 9

/* What a dateTime failed on, for precise reasons. */
enum dt_error {
	DT_OK = 0,
	DT_SYNTAX,
	DT_RANGE,
	DT_NOT_UTC,
	DT_PRECISION,
};

/* Direct children of one UsernameToken, found by (namespace, local name). */
struct ut_parts {
	xmlNodePtr username, password, nonce, created;
	int n_username, n_password, n_nonce, n_created, n_salt, n_iteration;
};

/* Text and CDATA children concatenated, never trimmed (WSS4J getElementText).
 */
static char *
element_text(xmlNodePtr e, size_t *len)
{
	xmlNodePtr c;
	size_t n = 0, k;
	char *s;

	for (c = e->children; c != NULL; c = c->next)
		if ((c->type == XML_TEXT_NODE ||
		     c->type == XML_CDATA_SECTION_NODE) &&
		    c->content != NULL)
			n += strlen((const char *)c->content);
	s = wsg_mem_alloc(n + 1);
	n = 0;
	for (c = e->children; c != NULL; c = c->next) {
		if ((c->type != XML_TEXT_NODE &&
		     c->type != XML_CDATA_SECTION_NODE) ||
		    c->content == NULL)
			continue;
		k = strlen((const char *)c->content);
		memcpy(s + n, c->content, k);
		n += k;
	}
	s[n] = '\0';
	*len = n;
	return s;
}

static int
has_qualified_attr(xmlNodePtr e, const char *name)
{
	xmlAttrPtr a;

	for (a = e->properties; a != NULL; a = a->next)
		if (a->ns != NULL && strcmp((const char *)a->name, name) == 0)
			return 1;
	return 0;
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30,
	                             31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* YYYY-MM-DDThh:mm:ss[.f+](Z|z|+hh:mm|-hh:mm), four-digit years only;
 * utc_only 1 refuses non-zero offsets, 2 any zone but Z / z. */
static enum dt_error
parse_dt(const char *s, size_t len, int utc_only, int max_frac,
         struct wsg_time *out)
{
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	size_t i = 19, nfrac = 0, sig = 0;
	int32_t nsec = 0;

	if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || digits(s, 4, &year) ||
	    digits(s + 5, 2, &mon) || digits(s + 8, 2, &day) ||
	    digits(s + 11, 2, &hour) || digits(s + 14, 2, &min) ||
	    digits(s + 17, 2, &sec))
		return DT_SYNTAX;
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			nfrac++;
			if (s[i] != '0')
				sig = nfrac;
			if (nfrac <= 9)
				nsec = nsec * 10 + (s[i] - '0');
		}
		if (nfrac == 0)
			return DT_SYNTAX;
	}
	if (i == len)
		return DT_SYNTAX;
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
		sign = 0;
	} else if ((s[i] == '+' || s[i] == '-') && i + 6 == len &&
	           s[i + 3] == ':' && digits(s + i + 1, 2, &oh) == 0 &&
	           digits(s + i + 4, 2, &om) == 0) {
		sign = s[i] == '+' ? 1 : -1;
	} else {
		return DT_SYNTAX;
	}
	if (year < 1 || mon < 1 || mon > 12 || day < 1 ||
	    day > days_in_month(year, mon) || hour > 23 || min > 59 ||
	    sec > 59 || oh > 14 || om > 59 || (oh == 14 && om != 0))
		return DT_RANGE;
	if (nfrac > MAX_FRACTION_DIGITS)
		return DT_PRECISION;
	if (utc_only && (oh != 0 || om != 0))
		return DT_NOT_UTC;
	if (utc_only == 2 && sign != 0)
		return DT_NOT_UTC;
	if (sig > (size_t)(max_frac < 0 ? 0 : max_frac))
		return DT_PRECISION;
	for (; nfrac < 9; nfrac++)
		nsec *= 10;
	out->sec = days_from_civil(year, mon, day) * 86400 + hour * 3600 +
	           min * 60 + sec - (int64_t)sign * (oh * 3600 + om * 60);
	out->nsec = nsec;
	return DT_OK;
}

int
wsg_wsse_parse_datetime(const char *s, size_t len, int utc_only, int max_frac,
                        struct wsg_time *out)
{
	struct wsg_time t;

	memset(out, 0, sizeof(*out));
	if (parse_dt(s, len, utc_only, max_frac, &t) != DT_OK)
		return WSG_ERR_PARSE;
	*out = t;
	return WSG_OK;
}

/* Base64 alphabet value + 1; B64_SPACE for XML whitespace; 0 for the rest. */
#define B64_SPACE 65
static const unsigned char b64_table[256] = {
        0,  0,  0,  0,  0,  0,  0,  0,  0,  65, 65, 0,  0,  65, 0,  0,
        0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
        65, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  63, 0,  0,  0,  64,
        53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 0,  0,  0,  0,  0,  0,
        0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0,  0,  0,  0,  0,
        0,  27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
        42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 0,  0,  0,  0,  0,
};

int
wsg_wsse_base64_decode(const char *s, size_t len, unsigned char **out,
                       size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char *buf = NULL;
	size_t i, k, n = 0, clen = 0, pad = 0;
	unsigned long acc = 0, last_quad = 0;
	unsigned char t, last = 0, prev = 0;
	int rc;

	*out = NULL;
	*out_len = 0;
	/* XML whitespace is skipped (no copy without it: the values are
	 * short and decoded on every request); all else must be canonical. */
	for (i = 0; i < len; i++) {
		if (b64_table[u[i]] == B64_SPACE)
			continue;
		clen++;
		prev = last;
		last = u[i];
	}
	if (clen % 4 != 0)
		return WSG_ERR_PARSE;
	if (last == '=')
		pad = prev == '=' ? 2 : 1;
	buf = wsg_mem_alloc(clen / 4 * 3 + 1);
	for (i = 0, k = 0; i < len; i++) {
		t = b64_table[u[i]];
		if (t == B64_SPACE)
			continue;
		if (k < clen - pad && t == 0) {
			rc = WSG_ERR_PARSE;
			goto out;
		}
		acc = acc << 6 | (k < clen - pad ? t - 1u : 0u);
		if (++k % 4 != 0)
			continue;
		buf[n++] = (unsigned char)(acc >> 16);
		buf[n++] = (unsigned char)(acc >> 8);
		buf[n++] = (unsigned char)acc;
		last_quad = acc;
		acc = 0;
	}
	/* Canonical form: the bits the padding leaves over are zero. */
	if ((pad == 1 && (last_quad >> 6 & 0x03) != 0) ||
	    (pad == 2 && (last_quad >> 12 & 0x0f) != 0)) {
		rc = WSG_ERR_PARSE;
		goto out;
	}
	*out = buf;
	*out_len = n - pad;
	buf = NULL;
	rc = WSG_OK;
out:
	free(buf);
	return rc;
}

/*
 * Fetched once and immutable after: OpenSSL 3 looks EVP_sha1() up in its
 * provider store on every init, which cost more than hashing a token.
 */
static pthread_once_t digests_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha1_md, *sha256_md;

static void
fetch_digests(void)
{
	sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (sha1_md == NULL || sha256_md == NULL) {
		fprintf(stderr, "wssgate: SHA-1 or SHA-256 unavailable\n");
		abort();
	}
}

void
wsg_wsse_digest(const unsigned char *nonce, size_t nonce_len,
                const char *created, size_t created_len, const char *password,
                size_t password_len, unsigned char out[WSG_WSSE_DIGEST_LEN])
{
	EVP_MD_CTX *md;
	unsigned int n = 0;

	pthread_once(&digests_once, fetch_digests);
	md = EVP_MD_CTX_new();
	/* A zero digest would be forgeable: fail closed like OOM does. */
	if (md == NULL || EVP_DigestInit_ex(md, sha1_md, NULL) != 1 ||
	    EVP_DigestUpdate(md, nonce, nonce != NULL ? nonce_len : 0) != 1 ||
	    EVP_DigestUpdate(md, created, created != NULL ? created_len : 0) !=
	            1 ||
	    EVP_DigestUpdate(md, password,
	                     password != NULL ? password_len : 0) != 1 ||
	    EVP_DigestFinal_ex(md, out, &n) != 1 || n != WSG_WSSE_DIGEST_LEN) {
		fprintf(stderr, "wssgate: SHA-1 unavailable\n");
		abort();
	}
	EVP_MD_CTX_free(md);
}

static void
sha256(const void *p, size_t n, unsigned char out[32])
{
	pthread_once(&digests_once, fetch_digests);
	if (EVP_Digest(p, n, out, NULL, sha256_md, NULL) != 1) {
		fprintf(stderr, "wssgate: SHA-256 unavailable\n");
		abort();
	}
}

int
wsg_wsse_verify(const struct wsg_wsse_token *tok, const char *password,
                size_t password_len)
{
	unsigned char a[32], b[32];
	int diff;

	if (tok == NULL || password == NULL)
		return WSG_ERR_AUTH;
	if (tok->pwtype == WSG_PWTYPE_DIGEST) {
		wsg_wsse_digest(tok->nonce, tok->nonce_len, tok->created_text,
		                tok->created_len, password, password_len, a);
		diff = CRYPTO_memcmp(a, tok->digest, WSG_WSSE_DIGEST_LEN);
	} else if (tok->pwtype == WSG_PWTYPE_TEXT && tok->password != NULL) {
		/* Hashing first makes the compare independent of where bytes
		 * differ. */
		sha256(tok->password, tok->password_len, a);
		sha256(password, password_len, b);
		diff = CRYPTO_memcmp(a, b, sizeof(a)) |
		       (tok->password_len != password_len);
	} else {
		diff = 1;
	}
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	/* An empty stored password never authenticates (checklist #20). */
	if (diff != 0 || password_len == 0)
		return WSG_ERR_AUTH;
	return WSG_OK;
}

/*
 * "Ours": no actor/role, an empty one, or SOAP 1.2 ultimateReceiver - the
 * anonymous Security header WSS4J processes when no actor is configured. A
 * Security header for role next is not ours: the gateway does not process
 * it, so soap.c's intermediary rules fault it (mustUnderstand) or drop it.
 */
static int
addressed_to_us(const struct wsg_soap_msg *msg, xmlNodePtr sec)
{
	return wsg_soap_header_target(msg, sec) == WSG_SOAP_TARGET_ULTIMATE;
}

static int
check_must_understand(const struct wsg_soap_msg *msg, xmlNodePtr sec,
                      struct wsg_error *err)
{
	if (wsg_soap_must_understand(msg, sec) >= 0)
		return WSG_OK;
	return wsg_error_set(
	        err, WSG_ERR_SECURITY, WSG_FAULT_CLIENT,
	        msg->version == WSG_SOAP_12
	                ? "mustUnderstand on wsse:Security is not an xs:boolean"
	                : "mustUnderstand on wsse:Security must be \"0\" or "
	                  "\"1\" in SOAP 1.1");
}

int
wsg_wsse_find_security(const struct wsg_soap_msg *msg, xmlNodePtr *out,
                       struct wsg_error *err)
{
	xmlNodePtr n, found = NULL;

	*out = NULL;
	if (msg->header == NULL)
		return wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
		        "no SOAP Header, so no wsse:Security header");
	for (n = msg->header->children; n != NULL; n = n->next) {
		if (!wsg_soap_is_element(n, WSG_NS_WSSE, "Security") ||
		    !addressed_to_us(msg, n))
			continue;
		if (found != NULL)
			return wsg_error_set(err, WSG_ERR_SECURITY,
			                     WSG_FAULT_INVALID_SECURITY,
			                     "two wsse:Security headers "
			                     "addressed to the gateway");
		found = n;
	}
	if (found == NULL)
		return wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
		        "no wsse:Security header addressed to the gateway");
	*out = found;
	return WSG_OK;
}

char *
wsg_wsse_claimed_user(xmlNodePtr sec)
{
	xmlNodePtr n, c;
	xmlChar *text;
	char *out = NULL;
	size_t len;

	for (n = sec->children; n != NULL; n = n->next) {
		if (!wsg_soap_is_element(n, WSG_NS_WSSE, "UsernameToken"))
			continue;
		for (c = n->children; c != NULL; c = c->next) {
			if (!wsg_soap_is_element(c, WSG_NS_WSSE, "Username"))
				continue;
			text = xmlNodeGetContent(c);
			len = text != NULL ? strlen((const char *)text) : 0;
			if (len > 0 && len <= 255 &&
			    wsg_utf8_valid((const char *)text, len))
				out = wsg_mem_strndup((const char *)text, len);
			xmlFree(text);
			return out;
		}
		return NULL;
	}
	return NULL;
}

/*
 * Picks the UsernameToken and Timestamp out of the Security header in
 * document order; a wsu:Id seen twice is WSS4J's duplicate-token error.
 */
static int
find_tokens(xmlNodePtr sec, int ut_optional, xmlNodePtr *ut, xmlNodePtr *ts,
            struct wsg_error *err)
{
	/* One UT and one Timestamp at most, and what their values needed. */
	const char *ids[2] = {NULL, NULL}, *id;
	xmlChar *tmps[2] = {NULL, NULL}, *tmp = NULL;
	xmlNodePtr n;
	size_t i, n_ids = 0;
	int is_ut, rc = WSG_OK;

	*ut = NULL;
	*ts = NULL;
	for (n = sec->children; n != NULL; n = n->next) {
		is_ut = wsg_soap_is_element(n, WSG_NS_WSSE, "UsernameToken");
		if (!is_ut && !wsg_soap_is_element(n, WSG_NS_WSU, "Timestamp"))
			continue;
		id = wsg_soap_attr(n, "Id", WSG_NS_WSU, &tmp);
		for (i = 0; id != NULL && i < n_ids; i++) {
			if (strcmp(id, ids[i]) == 0) {
				rc = wsg_error_set(
				        err, WSG_ERR_SECURITY,
				        WSG_FAULT_INVALID_SECURITY_TOKEN,
				        "two security tokens share one wsu:Id");
				goto out;
			}
		}
		if (is_ut && *ut != NULL) {
			rc = wsg_error_set(err, WSG_ERR_SECURITY,
			                   WSG_FAULT_INVALID_SECURITY,
			                   "two UsernameToken elements in one "
			                   "Security header");
			goto out;
		}
		if (!is_ut && *ts != NULL) {
			rc = wsg_error_set(err, WSG_ERR_SECURITY,
			                   WSG_FAULT_INVALID_SECURITY,
			                   "two Timestamp elements in one "
			                   "Security header (BSP R3227)");
			goto out;
		}
		if (is_ut)
			*ut = n;
		else
			*ts = n;
		if (id != NULL) {
			tmps[n_ids] = tmp;
			ids[n_ids++] = id;
			tmp = NULL;
		}
		xmlFree(tmp);
		tmp = NULL;
	}
	if (*ut == NULL && !ut_optional)
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY,
		                   "wsse:Security header has no UsernameToken");
out:
	xmlFree(tmp);
	for (i = 0; i < n_ids; i++)
		xmlFree(tmps[i]);
	if (rc != WSG_OK) {
		*ut = NULL;
		*ts = NULL;
	}
	return rc;
}

static void
collect_ut_parts(xmlNodePtr ut, struct ut_parts *p)
{
	xmlNodePtr n;

	memset(p, 0, sizeof(*p));
	for (n = ut->children; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (wsg_soap_is_element(n, WSG_NS_WSSE, "Username")) {
			p->username = n;
			p->n_username++;
		} else if (wsg_soap_is_element(n, WSG_NS_WSSE, "Password")) {
			p->password = n;
			p->n_password++;
		} else if (wsg_soap_is_element(n, WSG_NS_WSSE, "Nonce")) {
			p->nonce = n;
			p->n_nonce++;
		} else if (wsg_soap_is_element(n, WSG_NS_WSU, "Created")) {
			p->created = n;
			p->n_created++;
		} else if (wsg_soap_is_element(n, WSG_NS_WSSE11, "Salt")) {
			p->n_salt++;
		} else if (wsg_soap_is_element(n, WSG_NS_WSSE11, "Iteration")) {
			p->n_iteration++;
		}
	}
}

/* BSP checks in WSS4J's order: R4222, R4201, R4223, R4225, R4220, R4221. */
static int
check_ut_bsp(const struct ut_parts *p, const struct wsg_wsse_policy *policy,
             enum wsg_pwtype *pwtype, struct wsg_error *err)
{
	xmlChar *type_tmp = NULL, *enc_tmp = NULL;
	const char *type, *enc;
	int rc = WSG_OK;

	*pwtype = WSG_PWTYPE_NONE;
	if (p->n_password > 1) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY,
		                   "two Password elements (BSP R4222)");
		goto out;
	}
	if (p->password != NULL) {
		type = wsg_soap_attr(p->password, "Type", NULL, &type_tmp);
		if (type == NULL && has_qualified_attr(p->password, "Type")) {
			rc = wsg_error_set(err, WSG_ERR_SECURITY,
			                   WSG_FAULT_INVALID_SECURITY,
			                   "Password Type attribute is "
			                   "namespace-qualified (BSP R4201)");
			goto out;
		}
		if (type == NULL && policy->strict_bsp) {
			rc = wsg_error_set(
			        err, WSG_ERR_SECURITY,
			        WSG_FAULT_INVALID_SECURITY,
			        "Password has no Type attribute (BSP R4201)");
			goto out;
		}
		if (type == NULL || strcmp(type, WSG_WSSE_PASSWORD_TEXT) == 0)
			*pwtype = WSG_PWTYPE_TEXT;
		else if (strcmp(type, WSG_WSSE_PASSWORD_DIGEST) == 0)
			*pwtype = WSG_PWTYPE_DIGEST;
		else
			*pwtype = WSG_PWTYPE_CUSTOM;
	}
	if (p->n_created > 1) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY,
		                   "two Created elements (BSP R4223)");
		goto out;
	}
	if (p->n_nonce > 1) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY,
		                   "two Nonce elements (BSP R4225)");
		goto out;
	}
	if (p->nonce != NULL) {
		enc = wsg_soap_attr(p->nonce, "EncodingType", NULL, &enc_tmp);
		if (enc == NULL && policy->strict_bsp) {
			rc = wsg_error_set(
			        err, WSG_ERR_SECURITY,
			        WSG_FAULT_INVALID_SECURITY,
			        "Nonce has no EncodingType (BSP R4220)");
			goto out;
		}
		if (enc != NULL && strcmp(enc, WSG_WSSE_BASE64_BINARY) != 0) {
			rc = wsg_error_set(err, WSG_ERR_SECURITY,
			                   WSG_FAULT_INVALID_SECURITY,
			                   "Nonce EncodingType is not "
			                   "Base64Binary (BSP R4221)");
			goto out;
		}
	}
out:
	xmlFree(type_tmp);
	xmlFree(enc_tmp);
	return rc;
}

static int
parse_nonce(xmlNodePtr e, struct wsg_wsse_token *tok, struct wsg_error *err)
{
	char *text;
	size_t len;
	int rc;

	text = element_text(e, &len);
	rc = wsg_wsse_base64_decode(text, len, &tok->nonce, &tok->nonce_len);
	free(text);
	if (rc != WSG_OK)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "Nonce is not canonical Base64");
	if (tok->nonce_len == 0)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "empty Nonce");
	if (tok->nonce_len > WSG_WSSE_MAX_NONCE)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "Nonce of %zu bytes exceeds %d bytes",
		                     tok->nonce_len, WSG_WSSE_MAX_NONCE);
	return WSG_OK;
}

static int
parse_ut_created(xmlNodePtr e, struct wsg_wsse_token *tok,
                 struct wsg_error *err)
{
	enum dt_error dt;

	tok->created_text = element_text(e, &tok->created_len);
	if (tok->created_len == 0)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "empty Created in UsernameToken");
	dt = parse_dt(tok->created_text, tok->created_len, 0,
	              MAX_FRACTION_DIGITS, &tok->created);
	if (dt != DT_OK)
		return wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
		        "UsernameToken Created \"%.64s\" is not a valid "
		        "xsd:dateTime%s",
		        tok->created_text,
		        dt == DT_PRECISION ? " (more than 9 fraction digits)"
		        : dt == DT_RANGE   ? " (field out of range)"
		                           : "");
	return WSG_OK;
}

static int
parse_digest(xmlNodePtr e, struct wsg_wsse_token *tok, struct wsg_error *err)
{
	unsigned char *raw = NULL;
	size_t len, raw_len = 0;
	char *text;
	int rc;

	text = element_text(e, &len);
	rc = wsg_wsse_base64_decode(text, len, &raw, &raw_len);
	free(text);
	if (rc != WSG_OK) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY_TOKEN,
		                   "Password digest is not canonical Base64");
		goto out;
	}
	if (raw_len != WSG_WSSE_DIGEST_LEN) {
		rc = wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY_TOKEN,
		        "Password digest decodes to %zu bytes, not %d", raw_len,
		        WSG_WSSE_DIGEST_LEN);
		goto out;
	}
	memcpy(tok->digest, raw, WSG_WSSE_DIGEST_LEN);
	rc = WSG_OK;
out:
	if (raw != NULL)
		wsg_mem_free_secret(raw, raw_len);
	return rc;
}

/* Structure and values of the UsernameToken, in WSS4J's order of checks. */
static int
parse_ut(xmlNodePtr ut, const struct wsg_wsse_policy *policy,
         struct wsg_wsse_token *tok, struct wsg_error *err)
{
	struct ut_parts p;
	int rc;

	collect_ut_parts(ut, &p);
	if (p.n_username == 0)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "UsernameToken has no Username");
	if (p.n_username > 1)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "UsernameToken has two Username elements");
	rc = check_ut_bsp(&p, policy, &tok->pwtype, err);
	if (rc != WSG_OK)
		return rc;
	if (p.n_salt > 0 || p.n_iteration > 0)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "Salt/Iteration (UsernameToken 1.1 key "
		                     "derivation) not supported");
	if (tok->pwtype == WSG_PWTYPE_DIGEST && p.nonce == NULL)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "PasswordDigest token without Nonce");
	if (tok->pwtype == WSG_PWTYPE_DIGEST && p.created == NULL)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY_TOKEN,
		                     "PasswordDigest token without Created");
	tok->username = element_text(p.username, &tok->username_len);
	if (p.nonce != NULL) {
		rc = parse_nonce(p.nonce, tok, err);
		if (rc != WSG_OK)
			return rc;
	}
	if (p.created != NULL) {
		rc = parse_ut_created(p.created, tok, err);
		if (rc != WSG_OK)
			return rc;
	}
	if (tok->pwtype == WSG_PWTYPE_DIGEST)
		return parse_digest(p.password, tok, err);
	if (tok->pwtype == WSG_PWTYPE_TEXT)
		tok->password = element_text(p.password, &tok->password_len);
	return WSG_OK;
}

/*
 * Lenient (default): any UTC zone and up to nine fraction digits, as in the
 * UsernameToken's Created (suds writes microseconds and +00:00); the
 * checks then compare at full precision, so no window widens. strict_bsp:
 * BSP R3217 / R3220 as WSS4J reads them, Z and milliseconds at most.
 */
static int
parse_ts_time(xmlNodePtr e, const char *what, int strict, struct wsg_time *out,
              struct wsg_error *err)
{
	enum dt_error dt;
	size_t len;
	char *text;
	int rc;

	if (xmlHasNsProp(e, (const xmlChar *)"ValueType", NULL) != NULL)
		return wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
		        "Timestamp %s has a ValueType attribute (BSP %s)", what,
		        strcmp(what, "Created") == 0 ? "R3225" : "R3226");
	text = element_text(e, &len);
	dt = parse_dt(text, len, strict ? 2 : 1,
	              strict ? 3 : MAX_FRACTION_DIGITS, out);
	switch (dt) {
	case DT_OK: rc = WSG_OK; break;
	case DT_NOT_UTC:
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_INVALID_SECURITY,
		                   "Timestamp %s \"%.64s\" is not in UTC%s "
		                   "(BSP R3217)",
		                   what, text, strict ? " with Z" : "");
		break;
	case DT_PRECISION:
		rc = wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
		        "Timestamp %s \"%.64s\" is finer than %s", what, text,
		        strict ? "milliseconds (BSP R3220)" : "nanoseconds");
		break;
	default:
		rc = wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
		        "Timestamp %s \"%.64s\" is not a valid xsd:dateTime",
		        what, text);
		break;
	}
	free(text);
	return rc;
}

/* BSP R3203/R3221/R3222/R3224: Created first and once, Expires at most once
 * after it. */
static int
parse_ts(xmlNodePtr ts, int strict, struct wsg_wsse_token *tok,
         struct wsg_error *err)
{
	xmlNodePtr n, created = NULL, expires = NULL;
	int rc;

	for (n = ts->children; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (wsg_soap_is_element(n, WSG_NS_WSU, "Created")) {
			if (created != NULL)
				return wsg_error_set(
				        err, WSG_ERR_SECURITY,
				        WSG_FAULT_INVALID_SECURITY,
				        "Timestamp has two Created elements "
				        "(BSP R3203)");
			if (expires != NULL)
				return wsg_error_set(
				        err, WSG_ERR_SECURITY,
				        WSG_FAULT_INVALID_SECURITY,
				        "Timestamp Expires precedes Created "
				        "(BSP R3221)");
			created = n;
		} else if (wsg_soap_is_element(n, WSG_NS_WSU, "Expires")) {
			if (expires != NULL)
				return wsg_error_set(
				        err, WSG_ERR_SECURITY,
				        WSG_FAULT_INVALID_SECURITY,
				        "Timestamp has two Expires elements "
				        "(BSP R3224)");
			if (created == NULL)
				return wsg_error_set(
				        err, WSG_ERR_SECURITY,
				        WSG_FAULT_INVALID_SECURITY,
				        "Timestamp Expires precedes Created "
				        "(BSP R3221)");
			expires = n;
		} else {
			return wsg_error_set(err, WSG_ERR_SECURITY,
			                     WSG_FAULT_INVALID_SECURITY,
			                     "unexpected element <%.64s> in "
			                     "Timestamp (BSP R3222)",
			                     (const char *)n->name);
		}
	}
	if (created == NULL)
		return wsg_error_set(err, WSG_ERR_SECURITY,
		                     WSG_FAULT_INVALID_SECURITY,
		                     "Timestamp has no Created (BSP R3203)");
	rc = parse_ts_time(created, "Created", strict, &tok->ts_created, err);
	if (rc != WSG_OK)
		return rc;
	if (expires != NULL) {
		rc = parse_ts_time(expires, "Expires", strict, &tok->ts_expires,
		                   err);
		if (rc != WSG_OK)
			return rc;
		tok->ts_has_expires = 1;
	}
	tok->has_timestamp = 1;
	return WSG_OK;
}

int
wsg_wsse_parse(const struct wsg_soap_msg *msg,
               const struct wsg_wsse_policy *policy, struct wsg_wsse_token *tok,
               struct wsg_error *err)
{
	struct wsg_wsse_token t;
	xmlNodePtr sec, ut, ts;
	int rc;

	memset(tok, 0, sizeof(*tok));
	memset(&t, 0, sizeof(t));
	if (msg == NULL || msg->doc == NULL || policy == NULL) {
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_SERVER,
		                   "no parsed envelope or policy");
		goto out;
	}
	rc = wsg_wsse_find_security(msg, &sec, err);
	if (rc != WSG_OK)
		goto out;
	rc = check_must_understand(msg, sec, err);
	if (rc != WSG_OK)
		goto out;
	rc = find_tokens(sec, policy->signature_route, &ut, &ts, err);
	if (rc != WSG_OK)
		goto out;
	if (ut != NULL) {
		t.has_ut = 1;
		rc = parse_ut(ut, policy, &t, err);
		if (rc != WSG_OK)
			goto out;
	}
	if (ts != NULL) {
		rc = parse_ts(ts, policy->strict_bsp, &t, err);
		if (rc != WSG_OK)
			goto out;
	} else if (policy->require_timestamp) {
		rc = wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
		        "route requires a wsu:Timestamp and none was sent");
		goto out;
	}
	/* Validator-stage failures come last, after every structural check. */
	if (t.has_ut && t.pwtype == WSG_PWTYPE_NONE) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_FAILED_AUTHENTICATION,
		                   "UsernameToken has no Password");
		goto out;
	}
	if (t.pwtype == WSG_PWTYPE_CUSTOM) {
		rc = wsg_error_set(err, WSG_ERR_SECURITY,
		                   WSG_FAULT_FAILED_AUTHENTICATION,
		                   "Password Type is neither PasswordText nor "
		                   "PasswordDigest");
		goto out;
	}
	t.security = sec;
	*tok = t;
	memset(&t, 0, sizeof(t));
	rc = WSG_OK;
out:
	wsg_wsse_token_clear(&t);
	return rc;
}

static double
seconds_between(struct wsg_time a, struct wsg_time b)
{
	return (double)(a.sec - b.sec) + (double)(a.nsec - b.nsec) / 1e9;
}

/* a < b */
static int
time_before(struct wsg_time a, struct wsg_time b)
{
	return a.sec < b.sec || (a.sec == b.sec && a.nsec < b.nsec);
}

static struct wsg_time
time_add(struct wsg_time t, int64_t sec)
{
	t.sec += sec;
	return t;
}

static void
format_time(struct wsg_time t, char *buf, size_t size)
{
	time_t s = (time_t)t.sec;
	struct tm tm;

	if (gmtime_r(&s, &tm) == NULL) {
		snprintf(buf, size, "@%lld", (long long)t.sec);
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, (int)(t.nsec / 1000000));
}

int
wsg_wsse_check_freshness(const struct wsg_wsse_token *tok,
                         const struct wsg_wsse_policy *policy,
                         struct wsg_time now, struct wsg_error *err)
{
	char when[96];

	if (tok->created_text != NULL) {
		if (time_before(tok->created,
		                time_add(now, -policy->created_ttl)))
			return wsg_error_set(err, WSG_ERR_SECURITY,
			                     WSG_FAULT_MESSAGE_EXPIRED,
			                     "Created %.64s is %.1f s in the "
			                     "past (created_ttl %lld s)",
			                     tok->created_text,
			                     seconds_between(now, tok->created),
			                     (long long)policy->created_ttl);
		if (time_before(time_add(now, policy->future_ttl),
		                tok->created))
			return wsg_error_set(err, WSG_ERR_SECURITY,
			                     WSG_FAULT_MESSAGE_EXPIRED,
			                     "Created %.64s is %.1f s in the "
			                     "future (future_ttl %lld s)",
			                     tok->created_text,
			                     seconds_between(tok->created, now),
			                     (long long)policy->future_ttl);
	}
	if (!tok->has_timestamp)
		return WSG_OK;
	format_time(tok->ts_created, when, sizeof(when));
	if (time_before(tok->ts_created, time_add(now, -policy->timestamp_ttl)))
		return wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_MESSAGE_EXPIRED,
		        "Timestamp Created %s is %.1f s in the past "
		        "(timestamp_ttl %lld s)",
		        when, seconds_between(now, tok->ts_created),
		        (long long)policy->timestamp_ttl);
	if (time_before(time_add(now, policy->future_ttl), tok->ts_created))
		return wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_MESSAGE_EXPIRED,
		        "Timestamp Created %s is %.1f s in the future "
		        "(future_ttl %lld s)",
		        when, seconds_between(tok->ts_created, now),
		        (long long)policy->future_ttl);
	if (tok->ts_has_expires && !time_before(now, tok->ts_expires)) {
		format_time(tok->ts_expires, when, sizeof(when));
		return wsg_error_set(
		        err, WSG_ERR_SECURITY, WSG_FAULT_MESSAGE_EXPIRED,
		        "Timestamp expired at %s, %.1f s ago", when,
		        seconds_between(now, tok->ts_expires));
	}
	return WSG_OK;
}

int64_t
wsg_wsse_nonce_expiry(const struct wsg_wsse_token *tok,
                      const struct wsg_wsse_policy *policy, struct wsg_time now)
{
	struct wsg_time base = now;

	if (tok->created_text != NULL && time_before(now, tok->created))
		base = tok->created;
	return base.sec + (base.nsec > 0) + policy->created_ttl +
	       policy->future_ttl;
}

void
wsg_wsse_token_clear(struct wsg_wsse_token *tok)
{
	if (tok == NULL)
		return;
	free(tok->username);
	if (tok->password != NULL)
		wsg_mem_free_secret(tok->password, tok->password_len);
	if (tok->nonce != NULL)
		wsg_mem_free_secret(tok->nonce, tok->nonce_len);
	free(tok->created_text);
	OPENSSL_cleanse(tok, sizeof(*tok));
	memset(tok, 0, sizeof(*tok));
}
