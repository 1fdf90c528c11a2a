/*
 * wssgate: command line, config load, signals and the lifetime of the
 * shared runtime. Everything else lives in libwssgate.a.
 */
#include "autoconf.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/xmlsec.h>

#include "cli.h"
#include "config.h"
#include "credcache.h"
#include "dsig.h"
#include "err.h"
#include "keyfile.h"
#include "ldapstore.h"
#include "lockout.h"
#include "log.h"
#include "mem.h"
#include "mgmt.h"
#include "notify.h"
#include "password.h"
#include "paths.h"
#include "replay.h"
#include "request.h"
#include "server.h"
#include "schema.h"
#include "soap.h"
#include "stats.h"
#include "tls.h"
#include "metrics.h"

#define CREDCACHE_MAX 100000
/* Descriptors the gateway needs besides client connections: listeners,
 * database and upstream connections, logs, the management API. */
#define FD_RESERVE 256

static const char usage_text[] =
        "Usage: wssgate --config FILE [--check-config]\n"
        "       wssgate --config FILE db init\n"
        "       wssgate --config FILE user add NAME [--admin] [--role ROLE]... "
        "[--no-digest]\n"
        "       wssgate --config FILE user del NAME\n"
        "       wssgate --config FILE user list\n"
        "       wssgate --config FILE user passwd NAME [--no-digest]\n"
        "       wssgate --config FILE user unlock NAME\n"
        "       wssgate --config FILE user cert add NAME FILE.pem\n"
        "       wssgate --config FILE user cert del NAME FINGERPRINT\n"
        "       wssgate --config FILE user cert list NAME\n"
        "       wssgate --config FILE role add ROLE\n"
        "       wssgate --config FILE role grant NAME ROLE\n"
        "       wssgate --config FILE role revoke NAME ROLE\n"
        "       wssgate --version | --help\n"
        "\n"
        "A WS-Security UsernameToken gateway for SOAP services.\n"
        "\n"
        "  -c, --config FILE   the configuration file (libconfig syntax)\n"
        "  -t, --check-config  validate the configuration and exit 0 or 1\n"
        "  -V, --version       print the version and exit\n"
        "  -h, --help          print this help and exit\n"
        "\n"
        "Without a verb, runs the gateway in the foreground, logging to "
        "stderr;\n"
        "SIGTERM or SIGINT stops it after in-flight requests finish, SIGHUP\n"
        "reloads the configuration file.\n"
        "The verbs work directly on the database; passwords are read from\n"
        "standard input, one line. --no-digest users can use PasswordText "
        "only.\n"
        "user unlock ends NAME's lockout on every running gateway of the "
        "store\n"
        "at its next attempt (data plane: within userstore.cache_ttl).\n";

/* The process's one shared runtime; workers get a pointer to it. */
static struct wsg_runtime runtime;

/* What the main thread's signal handlers work on. */
struct daemon {
	struct event_base *base;
	struct wsg_server *server;
	struct wsg_mgmt *mgmt;      /* NULL without management */
	struct wsg_config *current; /* the config last loaded (a reference) */
};

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	wsg_log_msg("info", "signal %d: stopping", (int)sig);
	wsg_notify_stopping();
	event_base_loopbreak(d->base);
}

/*
 * SIGHUP: the file and the listeners' certificates and keys are read
 * again; when all are valid, new requests and connections of both the data
 * plane and the management API use them (routes, limits, security checks,
 * certificates) while those in flight and every open connection carry on.
 * An invalid file or TLS pair changes nothing.
 */
static int
reload(struct daemon *d)
{
	struct wsg_config *next = NULL;
	struct wsg_snapshot *snap = NULL;
	struct wsg_error err;
	char *errors = NULL, *line, *save = NULL, keys[1024];
	size_t n;

	if (wsg_config_load(runtime.cfg->path, &next, &errors) != WSG_OK) {
		for (line = strtok_r(errors, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			wsg_log_msg("error", "reload refused: %s", line);
		wsg_log_msg("error", "reload refused: the running "
		                     "configuration stays");
		free(errors);
		return WSG_ERR_CONFIG;
	}
	wsg_error_clear(&err);
	if (wsg_snapshot_new(&runtime, next, &snap, &err) != WSG_OK) {
		wsg_log_msg("error", "reload refused: %s", err.reason);
		wsg_log_msg("error", "reload refused: the running "
		                     "configuration stays");
		wsg_config_unref(next);
		return err.code;
	}
	wsg_server_reload(d->server, snap);
	wsg_mgmt_reload(d->mgmt, snap);
	wsg_snapshot_unref(snap);
	n = wsg_config_restart_keys(runtime.cfg, next, keys, sizeof(keys));
	if (n > 0)
		wsg_log_msg("warning",
		            "reload: changed but only applied at "
		            "a restart, so the running values stay: %s",
		            keys);
	wsg_log_msg("info", "configuration reloaded from %s", next->path);
	wsg_config_unref(d->current);
	d->current = next;
	return WSG_OK;
}

static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	wsg_log_msg("info", "signal %d: reloading %s", (int)sig,
	            runtime.cfg->path);
	wsg_notify_reloading();
	if (reload(d) == WSG_OK)
		wsg_notify_ready("serving; configuration reloaded");
	else
		wsg_notify_ready("serving; reload refused, see the log");
}

/*
 * Every client connection is a descriptor: take all the hard limit allows,
 * and say when max_connections cannot be reached within it.
 */
static void
raise_fd_limit(const struct wsg_config *cfg)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	was = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = was;
	}
	if (rl.rlim_cur != was)
		wsg_log_msg("info", "open file limit raised from %llu to %llu",
		            (unsigned long long)was,
		            (unsigned long long)rl.rlim_cur);
	else
		wsg_log_msg("info", "open file limit: %llu",
		            (unsigned long long)rl.rlim_cur);
	/* 0 = unlimited is the operator's explicit choice, documented as
	 * not advised: no warning at every start. */
	if (rl.rlim_cur != RLIM_INFINITY && cfg->limits.max_connections != 0 &&
	    (rlim_t)cfg->limits.max_connections + FD_RESERVE > rl.rlim_cur)
		wsg_log_msg(
		        "warning",
		        "limits.max_connections (%u) does "
		        "not fit the open file limit %llu with %d to "
		        "spare: set it to at most %llu",
		        cfg->limits.max_connections,
		        (unsigned long long)rl.rlim_cur, FD_RESERVE,
		        rl.rlim_cur > FD_RESERVE
		                ? (unsigned long long)(rl.rlim_cur - FD_RESERVE)
		                : 0ULL);
}

static void
runtime_free(struct wsg_runtime *rt)
{
	wsg_password_pool_free(rt->pwpool);
	/* After the workers: their pools are gone, so no open job is ours. */
	wsg_ldapstore_openers_free(rt->ldap_openers);
	wsg_credcache_free(rt->credcache);
	wsg_lockout_free(rt->lockout);
	wsg_replay_free(rt->replay);
	wsg_log_close(rt->log);
	wsg_stats_free(rt->stats);
	free(rt->metrics);
	if (rt->db_password != NULL)
		wsg_mem_free_secret(rt->db_password, strlen(rt->db_password));
	if (rt->ldap_password != NULL)
		wsg_mem_free_secret(rt->ldap_password,
		                    strlen(rt->ldap_password));
	OPENSSL_cleanse(rt->master_key, sizeof(rt->master_key));
	memset(rt, 0, sizeof(*rt));
}

static int
runtime_init(struct wsg_runtime *rt, struct wsg_config *cfg,
             struct wsg_error *err)
{
	unsigned char jwt_key[32];
	size_t len;
	int rc;

	memset(rt, 0, sizeof(*rt));
	rt->cfg = cfg;
	/* A directory's users have no sealed digest secrets. */
	if (!cfg->userstore.ldap) {
		rc = wsg_keyfile_load(cfg->userstore.master_key_file,
		                      rt->master_key, sizeof(rt->master_key),
		                      err);
		if (rc != WSG_OK)
			return rc;
	}
	if (cfg->userstore.ldap && cfg->ldap.bind_password_file != NULL) {
		rc = wsg_keyfile_read_secret(cfg->ldap.bind_password_file,
		                             &rt->ldap_password, &len, err);
		if (rc != WSG_OK)
			return rc;
	}
	if (cfg->management.enabled) {
		rc = wsg_keyfile_load(cfg->management.jwt_secret_file, jwt_key,
		                      sizeof(jwt_key), err);
		OPENSSL_cleanse(jwt_key, sizeof(jwt_key));
		if (rc != WSG_OK)
			return rc;
	}
	rc = wsg_cli_db_params(cfg, &rt->db_params, &rt->db_password, err);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_log_open(&cfg->log, &rt->log, err);
	if (rc != WSG_OK)
		return rc;
	rt->stats = wsg_stats_new(cfg->routes, cfg->n_routes);
	rt->metrics = wsg_metrics_new();
	rt->replay = wsg_replay_new(cfg->security.nonce_cache_max);
	rt->replay_shared = cfg->security.replay_shared;
	rt->credcache =
	        wsg_credcache_new(CREDCACHE_MAX, cfg->userstore.cache_ttl);
	rt->lockout = wsg_lockout_new(cfg->security.lockout.max_entries,
	                              cfg->security.client_limit.max_entries);
	rt->lockout_shared = cfg->security.lockout.shared;
	rt->pwpool = wsg_password_pool_new(cfg->security.verify_threads);
	if (cfg->userstore.ldap) {
		rc = wsg_ldapstore_openers_new(WSG_LDAPSTORE_OPENERS,
		                               &rt->ldap_openers, err);
		if (rc != WSG_OK)
			return rc;
	}
	/* Made now so the first unknown user is not slower than the rest. */
	wsg_password_dummy_hash();
	return WSG_OK;
}

static int
run_daemon(struct wsg_config *cfg)
{
	struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	struct daemon d = {.base = NULL};
	struct wsg_snapshot *snap = NULL;
	struct wsg_error err;
	size_t i;
	int rc;

	wsg_error_clear(&err);
	rc = runtime_init(&runtime, cfg, &err);
	if (rc != WSG_OK) {
		fprintf(stderr, "wssgate: %s\n", err.reason);
		goto out;
	}
	raise_fd_limit(cfg);
	d.base = event_base_new();
	sigterm = evsignal_new(d.base, SIGTERM, stop_cb, &d);
	sigint = evsignal_new(d.base, SIGINT, stop_cb, &d);
	sighup = evsignal_new(d.base, SIGHUP, reload_cb, &d);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	/* Certificates and keys first: a bad one fails before any bind. */
	rc = wsg_snapshot_new(&runtime, cfg, &snap, &err);
	if (rc != WSG_OK) {
		fprintf(stderr, "wssgate: %s\n", err.reason);
		goto out;
	}
	/* Management next: a bad address fails before any worker starts. */
	if (cfg->management.enabled) {
		rc = wsg_mgmt_start(&runtime, snap, &d.mgmt, &err);
		if (rc != WSG_OK) {
			fprintf(stderr, "wssgate: %s\n", err.reason);
			goto out;
		}
	}
	rc = wsg_server_start(&runtime, snap, wsg_request_handle, &d.server,
	                      &err);
	if (rc != WSG_OK) {
		fprintf(stderr, "wssgate: %s\n", err.reason);
		goto out;
	}
	d.current = wsg_config_ref(cfg);
	evsignal_add(sighup, NULL);
	for (i = 0; i < cfg->n_listen; i++)
		wsg_log_msg("info", "listening on %s (%u workers)",
		            cfg->listen[i].address, cfg->workers);
	if (d.mgmt != NULL)
		wsg_log_msg("info", "management API on %s",
		            cfg->management.address);
	wsg_notify_ready("serving on %zu listener(s)%s", cfg->n_listen,
	                 d.mgmt != NULL ? " and the management API" : "");
	event_base_dispatch(d.base);
	wsg_mgmt_stop(d.mgmt);
	d.mgmt = NULL;
	wsg_server_stop(d.server, (int)d.current->limits.drain_timeout);
	wsg_log_msg("info", "stopped");
out:
	wsg_mgmt_stop(d.mgmt);
	wsg_snapshot_unref(snap);
	wsg_config_unref(d.current);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (sighup != NULL)
		event_free(sighup);
	if (d.base != NULL)
		event_base_free(d.base);
	runtime_free(&runtime);
	return rc == WSG_OK ? 0 : 1;
}

/* --check-config: TLS private keys are checked as at start, not only named. */
static int
check_tls_keys(const struct wsg_config *cfg)
{
	struct wsg_error err;
	int bad = 0;
	size_t i;

	for (i = 0; i < cfg->n_listen; i++) {
		wsg_error_clear(&err);
		if (cfg->listen[i].has_tls &&
		    wsg_tls_check_key(&cfg->listen[i].tls, &err) != WSG_OK) {
			fprintf(stderr, "%s: listen %s: %s\n", cfg->path,
			        cfg->listen[i].address, err.reason);
			bad = 1;
		}
	}
	wsg_error_clear(&err);
	if (cfg->management.enabled && cfg->management.has_tls &&
	    wsg_tls_check_key(&cfg->management.tls, &err) != WSG_OK) {
		fprintf(stderr, "%s: management.tls: %s\n", cfg->path,
		        err.reason);
		bad = 1;
	}
	return bad;
}

/*
 * --check-config names the schema and dashboard this binary would use and
 * where that choice came from (src/paths.h); a config key naming a missing
 * one is an error, a missing default only a note.
 */
static int
check_data_paths(const struct wsg_config *cfg)
{
	static const struct {
		enum wsg_paths_item item;
		const char *what, *key;
	} items[] = {
	        {WSG_PATHS_SCHEMA, "schema", "userstore.schema_file"},
	        {WSG_PATHS_DASHBOARD, "dashboard", "management.dashboard_dir"},
	};
	const char *set[] = {cfg->userstore.schema_file,
	                     cfg->management.dashboard_dir};
	enum wsg_paths_origin origin;
	struct stat st;
	size_t i;
	char *path;
	int bad = 0, ok;

	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		path = wsg_paths_find(items[i].item, set[i], &origin);
		ok = items[i].item == WSG_PATHS_SCHEMA
		             ? access(path, R_OK) == 0
		             : stat(path, &st) == 0 && S_ISDIR(st.st_mode);
		printf("wssgate: %s %s (%s)%s\n", items[i].what, path,
		       wsg_paths_origin_name(origin), ok ? "" : ": missing");
		if (!ok && origin == WSG_PATHS_CONFIG) {
			fprintf(stderr, "%s: %s: %s is not a readable %s\n",
			        cfg->path, items[i].key, path,
			        items[i].item == WSG_PATHS_SCHEMA ? "file"
			                                          : "folder");
			bad = 1;
		}
		free(path);
	}
	return bad;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check-config", no_argument, NULL, 't'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct wsg_config *cfg = NULL;
	const char *config_path = NULL;
	char *errors = NULL;
	int c, check = 0, status;

	while ((c = getopt_long(argc, argv, "+c:tVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 't': check = 1; break;
		case 'V': printf("wssgate %s\n", PACKAGE_VERSION); return 0;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (config_path == NULL) {
		fprintf(stderr, "wssgate: --config FILE is required\n%s",
		        usage_text);
		return 2;
	}
	/* Before any XML is read: libxml2 loads nothing from files or the
	 * network from here on (schema.h). */
	wsg_schema_global_init();
	if (wsg_config_load(config_path, &cfg, &errors) != WSG_OK) {
		fprintf(stderr, "%s", errors);
		fprintf(stderr, "wssgate: configuration %s is invalid\n",
		        config_path);
		free(errors);
		return 1;
	}
	if (check) {
		status = check_tls_keys(cfg) | check_data_paths(cfg);
		if (status == 0)
			printf("wssgate: configuration %s is valid\n",
			       cfg->path);
		else
			fprintf(stderr,
			        "wssgate: configuration %s is invalid\n",
			        cfg->path);
		wsg_config_unref(cfg);
		return status;
	}
	evthread_use_pthreads();
	/* Management bodies carry passwords: jansson's blocks are wiped. */
	json_set_alloc_funcs(wsg_mem_alloc, wsg_mem_free_wiped);
	signal(SIGPIPE, SIG_IGN);
	wsg_soap_global_init();
	/* xmlsec1 keeps global state: set up once, before any thread. */
	if (wsg_dsig_global_init() != WSG_OK) {
		fprintf(stderr, "wssgate: cannot initialise xmlsec1\n");
		wsg_config_unref(cfg);
		return 1;
	}
	if (optind < argc)
		status = wsg_cli_run(cfg, argc - optind, argv + optind, stdin);
	else
		status = run_daemon(cfg);
	wsg_config_unref(cfg);
	wsg_dsig_global_cleanup();
	wsg_soap_global_cleanup();
	libevent_global_shutdown();
	return status;
}
