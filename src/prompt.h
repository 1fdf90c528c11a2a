/*
 * Reading what the operator types: lines from the controlling terminal
 * (passwords with echo off) or from standard input (--password-stdin).
 * Lines are at most WSG_PROMPT_MAX bytes, hold no NUL byte and lose their
 * "\n" or "\r\n". Every returned string is malloc'ed; free it with
 * wsg_prompt_free(), which wipes it.
 */
#ifndef WSG_PROMPT_H
#define WSG_PROMPT_H

#include "types.h"

#define WSG_PROMPT_MAX 1024

/*
 * Writes `prompt` to /dev/tty and reads one line from it; with `secret` the
 * terminal does not echo what is typed. SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * during the read restore the terminal before they take effect. Returns 0,
 * WSG_ERR_IO when there is no terminal (the caller suggests
 * --password-stdin), WSG_ERR_INVAL on end of input or an overlong line.
 */
int wsg_prompt_tty(const char *prompt, int secret, char **out,
                   struct wsg_error *err);

/*
 * Reads one line from file descriptor `fd` byte by byte (nothing beyond the
 * line is consumed, so several calls can read consecutive lines). `what`
 * names the line in messages. Returns 0 or WSG_ERR_INVAL (end of input,
 * overlong line, NUL byte) or WSG_ERR_IO.
 */
int wsg_prompt_fd_line(int fd, const char *what, char **out,
                       struct wsg_error *err);

/*
 * Turns WSG_ERR_IO from wsg_prompt_tty() (no terminal) into a usage error
 * that says what to use instead (`instead`, e.g. "--password-stdin");
 * other values pass through. Returns the new code.
 */
int wsg_prompt_no_tty(int rc, const char *instead, struct wsg_error *err);

/*
 * A password: one line of standard input when `from_stdin` (`what` names
 * it in messages), else typed at the terminal after `prompt` without
 * echo, no terminal being a usage error that suggests --password-stdin.
 * Returns as wsg_prompt_fd_line() and wsg_prompt_tty().
 */
int wsg_prompt_password(int from_stdin, const char *what, const char *prompt,
                        char **out, struct wsg_error *err);

/*
 * A new password: as wsg_prompt_password(), but typed twice at the terminal
 * (the second time after "Re-enter the password: "); mismatching or empty
 * passwords are WSG_ERR_INVAL.
 */
int wsg_prompt_new_password(int from_stdin, const char *what,
                            const char *prompt, char **out,
                            struct wsg_error *err);

/* Wipes and frees a string returned above; NULL is fine. */
void wsg_prompt_free(char *s);

#endif
