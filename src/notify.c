#include "autoconf.h"

#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"

/*
 * A lost message matters: systemd kills a service that never says READY=1
 * and shows a stale state otherwise, so a failure is logged (once per call).
 */
static void
notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	int rc = sd_notify(0, state);

	if (rc < 0)
		wsg_log_msg("warning", "sd_notify: %s", strerror(-rc));
#else
	(void)state;
#endif
}

void
wsg_notify_ready(const char *fmt, ...)
{
	char state[512];
	va_list ap;
	int n;

	n = snprintf(state, sizeof(state), "READY=1\nSTATUS=");
	va_start(ap, fmt);
	vsnprintf(state + n, sizeof(state) - (size_t)n, fmt, ap);
	va_end(ap);
	notify(state);
}

void
wsg_notify_reloading(void)
{
	struct timespec ts;
	char state[128];

	/* sd_notify(3) asks for it: Type=notify-reload (systemd >= 253)
	 * matches RELOADING=1 to its own signal by this time. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(state, sizeof(state),
	         "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	         (unsigned long long)ts.tv_sec * 1000000ULL +
	                 (unsigned long long)ts.tv_nsec / 1000ULL);
	notify(state);
}

void
wsg_notify_stopping(void)
{
	notify("STOPPING=1\nSTATUS=stopping: draining in-flight requests");
}
