#include "mgmt_monitor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "log.h"
#include "logring.h"
#include "stats.h"

#define LOGS_DEFAULT_LIMIT 200
#define LOGS_MAX_LIMIT 1000

/* Upstream addresses are the inside of the network: admins only. */
void
wsg_mgmt_routes_list(struct wsg_mgmt_req *r)
{
	json_t *out = wsg_stats_routes_json(r->m->cfg, r->m->rt->stats), *o;
	size_t i;

	if (!r->admin)
		json_array_foreach(json_object_get(out, "list"), i, o)
		        json_object_del(o, "upstreams");
	wsg_mgmt_reply(r, 200, out);
}

/* A decimal parameter within [min, max]; absent or "" leaves `*out`. */
static int
number_param(struct wsg_mgmt_req *r, const char *name, unsigned long long min,
             unsigned long long max, unsigned long long *out)
{
	const char *v = wsg_mgmt_param(r, name);
	unsigned long long n;
	char *end;

	if (v == NULL || *v == '\0')
		return WSG_OK;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < min ||
	    n > max) {
		wsg_mgmt_reply_error(
		        r, 400,
		        "%sThe parameter '%s' must be a whole number "
		        "from %llu to %llu",
		        WSG_MGMT_E_REQUEST, name, min, max);
		return WSG_ERR_INVAL;
	}
	*out = n;
	return WSG_OK;
}

/* "" means no filter. */
static const char *
text_param(const struct wsg_mgmt_req *r, const char *name)
{
	const char *v = wsg_mgmt_param(r, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int
known_fault(const char *name)
{
	int f;

	for (f = WSG_FAULT_NONE; f < WSG_FAULT__COUNT; f++)
		if (strcmp(name, wsg_fault_name(f)) == 0)
			return 1;
	return 0;
}

void
wsg_mgmt_logs_list(struct wsg_mgmt_req *r)
{
	struct wsg_logring_filter f;
	unsigned long long limit = LOGS_DEFAULT_LIMIT, after = 0;
	const char *kind = text_param(r, "kind");
	json_t *out = NULL, *codes;
	int i;

	memset(&f, 0, sizeof(f));
	f.route = text_param(r, "route");
	f.user = text_param(r, "user");
	f.fault = text_param(r, "fault");
	f.kind = -1;
	if (number_param(r, "limit", 1, LOGS_MAX_LIMIT, &limit) != WSG_OK ||
	    number_param(r, "after", 0, UINT64_MAX, &after) != WSG_OK)
		return;
	if (kind != NULL && strcmp(kind, "access") == 0) {
		f.kind = WSG_LOGRING_ACCESS;
	} else if (kind != NULL && strcmp(kind, "audit") == 0) {
		f.kind = WSG_LOGRING_AUDIT;
	} else if (kind != NULL) {
		wsg_mgmt_reply_error(
		        r, 400,
		        "%sThe parameter 'kind' must be 'access' or "
		        "'audit'",
		        WSG_MGMT_E_REQUEST);
		return;
	}
	if (f.fault != NULL && !known_fault(f.fault)) {
		wsg_mgmt_reply_error(r, 400,
		                     "%sUnknown fault code in the parameter "
		                     "'fault'",
		                     WSG_MGMT_E_REQUEST);
		return;
	}
	f.limit = (size_t)limit;
	f.after = after;
	/* Other users' names and failure causes would tell a non-admin which
	 * names exist, which the data plane's identical failures hide. */
	if (!r->admin)
		f.only_user = r->user;
	if (wsg_logring_query(wsg_log_ring(r->m->rt->log), &f, &out) !=
	    WSG_OK) {
		wsg_mgmt_reply_error(r, 500, "Internal error");
		return;
	}
	codes = json_array();
	for (i = WSG_FAULT_NONE + 1; i < WSG_FAULT__COUNT; i++)
		json_array_append_new(codes, json_string(wsg_fault_name(i)));
	json_object_set_new(out, "faultCodes", codes);
	wsg_mgmt_reply(r, 200, out);
}
