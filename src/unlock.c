#include "unlock.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "token.h"

/* GREATEST: a command run on a host whose clock lags never takes an
 * unlock back. */
static const char SQL_STAMP[] =
        "UPDATE users SET unlocked_at = GREATEST(unlocked_at, "
        "CAST(? AS SIGNED)) WHERE username = ?";
static const char SQL_EXISTS[] = "SELECT 1 FROM users WHERE username = ?";

int
wsg_unlock_request(struct wsg_db_conn *c, const char *user,
                   struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param p[2];
	char stamp[24];
	int rc;

	p[0].data = user;
	p[0].len = strlen(user);
	rc = wsg_db_exec(c, SQL_EXISTS, p, 1, &res, err);
	if (rc == WSG_OK && res->nrows == 0)
		rc = wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_NONE,
		                   "no user '%s'", user);
	wsg_db_result_free(res);
	if (rc != WSG_OK)
		return rc;
	snprintf(stamp, sizeof(stamp), "%lld", (long long)wsg_token_now_us());
	p[0].data = stamp;
	p[0].len = strlen(stamp);
	p[1].data = user;
	p[1].len = strlen(user);
	return wsg_db_exec(c, SQL_STAMP, p, 2, NULL, err);
}

int
wsg_unlock_apply(struct wsg_lockout *l, enum wsg_lockout_kind kind,
                 const char *user, size_t len, int64_t unlocked_at)
{
	int64_t mono = wsg_lockout_now_ms(), ago_ms;

	if (unlocked_at <= 0)
		return 0;
	/* The stamp on the lockout's monotonic clock. */
	ago_ms = (wsg_token_now_us() - unlocked_at) / 1000;
	return wsg_lockout_unlock_since(l, kind, user, len, mono - ago_ms,
	                                mono);
}
