#include "prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "mem.h"

/* One line being collected; wiped once the caller has its copy. */
struct line {
	char buf[WSG_PROMPT_MAX + 1];
	size_t len;
	int overlong;
	int nul;
};

/* Adds byte c; returns 1 when it ends the line. */
static int
line_add(struct line *l, char c)
{
	if (c == '\n')
		return 1;
	if (c == '\0')
		l->nul = 1;
	if (l->len < WSG_PROMPT_MAX)
		l->buf[l->len++] = c;
	else
		l->overlong = 1;
	return 0;
}

static int
line_finish(struct line *l, const char *what, char **out, struct wsg_error *err)
{
	int rc = WSG_OK;

	if (l->len > 0 && l->buf[l->len - 1] == '\r')
		l->len--;
	if (l->overlong)
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "the %s is longer than %d bytes", what,
		                   WSG_PROMPT_MAX);
	else if (l->nul)
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "the %s contains a NUL byte", what);
	else
		*out = wsg_mem_strndup(l->buf, l->len);
	OPENSSL_cleanse(l, sizeof(*l));
	return rc;
}

int
wsg_prompt_no_tty(int rc, const char *instead, struct wsg_error *err)
{
	char why[sizeof(err->reason)];

	if (rc != WSG_ERR_IO)
		return rc;
	snprintf(why, sizeof(why), "%s", err->reason);
	return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE, "%s; use %s",
	                     why, instead);
}

void
wsg_prompt_free(char *s)
{
	if (s != NULL)
		wsg_mem_free_secret(s, strlen(s));
}

int
wsg_prompt_fd_line(int fd, const char *what, char **out, struct wsg_error *err)
{
	struct line l;
	ssize_t n;
	size_t got = 0;
	char c;

	*out = NULL;
	memset(&l, 0, sizeof(l));
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			OPENSSL_cleanse(&l, sizeof(l));
			return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
			                     "cannot read the %s: %s", what,
			                     strerror(errno));
		}
		if (n == 0) {
			if (got == 0)
				return wsg_error_set(
				        err, WSG_ERR_INVAL, WSG_FAULT_NONE,
				        "no %s on standard input", what);
			break;
		}
		got++;
		if (line_add(&l, c))
			break;
	}
	c = 0;
	return line_finish(&l, what, out, err);
}

static int
any_pending(const sigset_t *which)
{
	static const int sigs[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
	                           SIGTSTP, SIGTTIN, SIGTTOU};
	sigset_t pending;
	size_t i;

	if (sigpending(&pending) != 0)
		return 0;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigismember(which, sigs[i]) &&
		    sigismember(&pending, sigs[i]))
			return 1;
	return 0;
}

/* The terminal state while a line is read, and how to undo it. */
struct tty {
	int fd;
	int sigfd;
	int secret;
	struct termios saved;
	sigset_t old_mask;
};

static int
tty_quiet(struct tty *t)
{
	struct termios quiet;

	if (!t->secret)
		return 0;
	quiet = t->saved;
	/* ECHONL still echoes the final newline, so the cursor moves on. */
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL;
	/* TCSAFLUSH drops typeahead, which was echoed while echo was on. */
	return tcsetattr(t->fd, TCSAFLUSH, &quiet);
}

static void
tty_restore(struct tty *t)
{
	if (t->secret)
		tcsetattr(t->fd, TCSAFLUSH, &t->saved);
}

/*
 * A job-control stop (Ctrl-Z) must not leave echo off: restore, let the
 * signal stop us, then quieten the terminal again and repeat the prompt.
 * Returns 1 when a terminating signal is pending instead.
 */
static int
tty_signal(struct tty *t, const char *prompt)
{
	sigset_t stops, ends;

	sigemptyset(&ends);
	sigaddset(&ends, SIGINT);
	sigaddset(&ends, SIGTERM);
	sigaddset(&ends, SIGHUP);
	sigaddset(&ends, SIGQUIT);
	if (any_pending(&ends))
		return 1;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTSTP);
	sigaddset(&stops, SIGTTIN);
	sigaddset(&stops, SIGTTOU);
	tty_restore(t);
	sigprocmask(SIG_UNBLOCK, &stops, NULL);
	sigprocmask(SIG_BLOCK, &stops, NULL);
	if (tty_quiet(t) != 0)
		return 1;
	wsg_io_write_all(t->fd, prompt, strlen(prompt));
	return 0;
}

int
wsg_prompt_tty(const char *prompt, int secret, char **out,
               struct wsg_error *err)
{
	struct tty t = {.fd = -1, .sigfd = -1, .secret = secret};
	struct pollfd p[2];
	struct line l;
	sigset_t block;
	int rc = WSG_OK, interrupted = 0;
	ssize_t n;
	char c;

	*out = NULL;
	memset(&l, 0, sizeof(l));
	t.fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t.fd < 0)
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                     "no terminal to prompt on (%s)",
		                     strerror(errno));
	if (tcgetattr(t.fd, &t.saved) != 0) {
		close(t.fd);
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                     "/dev/tty is not a terminal");
	}
	/*
	 * Signals are read through a signalfd rather than a handler, so no
	 * global state is needed to put the terminal back before they act.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGTSTP);
	sigaddset(&block, SIGTTIN);
	sigaddset(&block, SIGTTOU);
	sigprocmask(SIG_BLOCK, &block, &t.old_mask);
	t.sigfd = signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK);
	if (t.sigfd < 0 || tty_quiet(&t) != 0) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "cannot set up the terminal: %s",
		                   strerror(errno));
		goto out;
	}
	wsg_io_write_all(t.fd, prompt, strlen(prompt));
	for (;;) {
		p[0].fd = t.fd;
		p[0].events = POLLIN;
		p[1].fd = t.sigfd;
		p[1].events = POLLIN;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
			                   "cannot read the terminal: %s",
			                   strerror(errno));
			break;
		}
		if (p[1].revents & POLLIN) {
			if (tty_signal(&t, prompt)) {
				interrupted = 1;
				break;
			}
			continue;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(t.fd, &c, 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                   "end of input at the prompt");
			break;
		}
		if (line_add(&l, c))
			break;
	}
	c = 0;
	tty_restore(&t);
	if (interrupted) {
		if (secret)
			wsg_io_write_all(t.fd, "\n", 1);
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "interrupted");
	}
out:
	if (rc == WSG_OK)
		rc = line_finish(&l, secret ? "password" : "answer", out, err);
	OPENSSL_cleanse(&l, sizeof(l));
	if (t.sigfd >= 0)
		close(t.sigfd);
	close(t.fd);
	/* A pending SIGINT and the like takes effect here, terminal restored.
	 */
	sigprocmask(SIG_SETMASK, &t.old_mask, NULL);
	return rc;
}

int
wsg_prompt_password(int from_stdin, const char *what, const char *prompt,
                    char **out, struct wsg_error *err)
{
	int rc;

	if (from_stdin)
		return wsg_prompt_fd_line(0, what, out, err);
	rc = wsg_prompt_tty(prompt, 1, out, err);
	return wsg_prompt_no_tty(rc, "--password-stdin", err);
}

int
wsg_prompt_new_password(int from_stdin, const char *what, const char *prompt,
                        char **pw, struct wsg_error *err)
{
	char *again = NULL;
	int rc;

	rc = wsg_prompt_password(from_stdin, what, prompt, pw, err);
	if (rc == WSG_OK && !from_stdin) {
		rc = wsg_prompt_password(
		        0, what, "Re-enter the password: ", &again, err);
		if (rc == WSG_OK && strcmp(*pw, again) != 0)
			rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                   "the passwords do not match");
	}
	if (rc == WSG_OK && (*pw)[0] == '\0')
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "the %s is empty", what);
	wsg_prompt_free(again);
	if (rc != WSG_OK) {
		wsg_prompt_free(*pw);
		*pw = NULL;
	}
	return rc;
}
