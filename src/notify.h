/*
 * What the service manager sees of the daemon (sd_notify(3), Type=notify):
 * ready once the listeners accept, reloading during a SIGHUP, stopping
 * during the drain, and a one-line status. Outside systemd ($NOTIFY_SOCKET
 * unset) and in a build without libsystemd (configure --without-systemd)
 * there is nobody to tell, and every call returns at once.
 */
#ifndef WSG_NOTIFY_H
#define WSG_NOTIFY_H

/* READY=1 with STATUS= the formatted text (at start and after a reload). */
void wsg_notify_ready(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

/* RELOADING=1 with the monotonic clock, as Type=notify-reload wants it. */
void wsg_notify_reloading(void);

/* STOPPING=1: the drain of in-flight requests has begun. */
void wsg_notify_stopping(void);

#endif
