/*
 * The read-only LDAP user store (userstore.type = "ldap", docs/ldap.md):
 * a per-worker pool of directory connections on the worker's event_base.
 * A lookup searches the user (user_base, user_filter) and its groups
 * (group_base, group_filter) on service connections, bound as bind_dn or
 * anonymous; a password is checked by a simple bind as the user's DN on
 * connections kept for user binds, never on a service connection.
 *
 * Searches and binds use libldap's asynchronous calls, read when the
 * socket is readable (ldap_result with a zero timeout). Opening a
 * connection (TCP connect, the TLS handshake of ldaps:// or StartTLS, the
 * service bind) blocks inside libldap 2.5 - its TLS layer polls until the
 * handshake ends - so that part alone runs on the opener threads
 * (struct wsg_ldap_openers, one set the workers' pools share) and the
 * open connection is handed to the loop.
 */
#ifndef WSG_LDAPSTORE_H
#define WSG_LDAPSTORE_H

#include <event2/event.h>
#include <ldap.h>
#include <stddef.h>

#include "types.h"

struct wsg_ldap_conf;
struct wsg_ldap_openers;
struct wsg_ldap_pool;

/* Opener threads the gateway starts when userstore.type is "ldap". */
#define WSG_LDAPSTORE_OPENERS 2

/*
 * `len` bytes of `in` as an RFC 4515 assertion value: '*', '(', ')', '\\',
 * NUL and the other control bytes become \XX; everything else (UTF-8
 * included) stays. Malloc'ed; caller frees.
 */
char *wsg_ldapstore_escape(const char *in, size_t len);

/* `filter` (one %s, as config.c checks) with %s replaced by `value`
 * escaped. Malloc'ed; caller frees. */
char *wsg_ldapstore_filter(const char *filter, const char *value, size_t len);

/*
 * Opens one connection for `conf`, blocking (for threads, never an event
 * loop): connect, TLS (ldaps:// or StartTLS, verified against ca_file),
 * then a bind as bind_dn with `bind_password` when `service` and bind_dn
 * is set. Referrals are not chased. Each step waits at most conf->timeout
 * seconds. On success `*out` is the handle (ldap_unbind_ext() frees it).
 */
int wsg_ldapstore_open(const struct wsg_ldap_conf *conf,
                       const char *bind_password, int service, LDAP **out,
                       struct wsg_error *err);

/*
 * Starts `nthreads` (>= 1) threads that open connections for the pools
 * given `*out` (cleared first, set on success). WSG_ERR_NOMEM: a thread
 * cannot be started (`err` says why); nothing is left running. Free with
 * wsg_ldapstore_openers_free().
 */
int wsg_ldapstore_openers_new(unsigned nthreads, struct wsg_ldap_openers **out,
                              struct wsg_error *err);

/*
 * Stops and joins the threads and frees the jobs still queued; NULL is
 * fine. Every pool given `o` must be freed first: the join then waits at
 * most for the opens in progress (ldap.timeout for each step), whose
 * cancelled jobs their threads free, and no thread touches a loop.
 */
void wsg_ldapstore_openers_free(struct wsg_ldap_openers *o);

/*
 * A pool on `base` for `conf` (kept by the caller, with `admin_role`, for
 * the pool's lifetime): conf->pool_size service and as many bind
 * connections, opened when needed by `openers` (which must outlive the
 * pool). `bind_password` is bind_dn's (copied; NULL for anonymous
 * searches); at most `max_waiting` operations wait for a connection. Free
 * with wsg_ldapstore_pool_free() on the loop's thread.
 */
struct wsg_ldap_pool *wsg_ldapstore_pool_new(struct event_base *base,
                                             struct wsg_ldap_openers *openers,
                                             const struct wsg_ldap_conf *conf,
                                             const char *admin_role,
                                             const char *bind_password,
                                             unsigned max_waiting);

/* Fails every operation (their callbacks run with WSG_ERR_CONNECT), closes
 * the connections and frees `p` (NULL is fine). */
void wsg_ldapstore_pool_free(struct wsg_ldap_pool *p);

/* Fails every operation and closes the connections; later calls are
 * refused (the worker is stopping). */
void wsg_ldapstore_pool_shutdown(struct wsg_ldap_pool *p);

/* One user as the directory has it. */
struct wsg_ldap_user {
	char *dn;
	char *name;  /* wsg_ldapstore_entry_name(): the one name of the entry */
	char *roles; /* role_attribute values of its groups, sorted, ','
	                separated, plus management.admin_role for members of
	                admin_group; "" for none */
};

void wsg_ldapstore_user_free(struct wsg_ldap_user *u);

/*
 * The name entry `e` (DN `dn`) of `ld` goes by on both planes (X-WSS-User,
 * the lockout key, the management userId), malloc'ed: the value of the
 * attribute that ldap.user_filter compares (`name_attr`, "" when unknown)
 * when the entry has exactly one, else its DN. The directory matched the
 * client's spelling under its own rules (case, insignificant spaces), so every
 * spelling of one account must come out as one name, or each spelling
 * would get its own lockout counter.
 */
char *wsg_ldapstore_entry_name(LDAP *ld, LDAPMessage *e, const char *name_attr,
                               const char *dn);

/* `status`: WSG_OK (`u` set, callee frees it with
 * wsg_ldapstore_user_free()), WSG_ERR_NOTFOUND (no entry, or more than
 * one, matches the filter), WSG_ERR_TIMEOUT, WSG_ERR_CONNECT or WSG_ERR_DB
 * (the directory is unreachable or refused the search). */
typedef void (*wsg_ldapstore_lookup_cb)(int status, struct wsg_ldap_user *u,
                                        void *arg);

/*
 * Looks `username` up. WSG_OK: `done` runs exactly once on the pool's
 * loop (before this returns when the connections it tried were found
 * dead). WSG_ERR_CONNECT (the directory is down and the pool backs
 * off before trying again), WSG_ERR_FULL (max_waiting reached) or
 * WSG_ERR_CONNECT after shutdown: `done` never runs.
 */
int wsg_ldapstore_lookup(struct wsg_ldap_pool *p, const char *username,
                         wsg_ldapstore_lookup_cb done, void *arg);

/* `status`: WSG_OK (the password is right), WSG_ERR_AUTH (wrong, or
 * `dn` NULL), or the errors of a lookup. */
typedef void (*wsg_ldapstore_bind_cb)(int status, void *arg);

/*
 * Checks `pw` (`len` > 0 bytes, copied) by a simple bind as `dn`. With
 * `dn` NULL the bind is made as an entry that does not exist, with a
 * fixed password, so an unknown user or an empty password costs the same
 * round trip and never sends the password. Returns as
 * wsg_ldapstore_lookup().
 */
int wsg_ldapstore_bind(struct wsg_ldap_pool *p, const char *dn, const char *pw,
                       size_t len, wsg_ldapstore_bind_cb done, void *arg);

#endif
