# shellcheck shell=bash
# Shared helpers for scripts/demo and scripts/test (bash; source it, do not run it).
# Everything here is idempotent and never touches the system MariaDB instance or /etc/mysql.

WSG_TOP=${WSG_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

WSG_PACKAGES="build-essential autoconf automake libtool pkg-config libxml2-dev libxmlsec1-dev
	libssl-dev libevent-dev libmariadb-dev mariadb-server mariadb-client libjansson-dev
	libconfig-dev libargon2-dev argon2 libjwt-dev libjemalloc-dev libcmocka-dev libcurl4-openssl-dev python3-zeep python3-xmlsec
	python3-suds python3-pytest python3-requests python3-h11 curl ca-certificates openssl tmux chromium
	strace mandoc libsystemd-dev debhelper lintian systemd clang-format
	default-jdk-headless libwss4j-java xmlsec1 python3-xmlsec python3-cryptography
	galera-4 rsync iproute2 libldap-dev slapd ldap-utils"

# A reader gone (`scripts/demo | tee` after Ctrl-C) must not stop a cleanup half-way.
log() { printf '==> %s\n' "$*" >&2 || true; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# run_logged CMD...: with WSG_BUILD_LOG set (scripts/demo), CMD's output goes to that file and a
# failure shows its last lines and names the file; without it, to the terminal.
run_logged() {
	[ -n "${WSG_BUILD_LOG:-}" ] || { "$@"; return; }
	local rc=0
	printf '\n==> %s\n' "$*" >>"$WSG_BUILD_LOG"
	"$@" >>"$WSG_BUILD_LOG" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		tail -n 40 "$WSG_BUILD_LOG" >&2
		log "failed ($rc): $* (full log: $WSG_BUILD_LOG)"
	fi
	return "$rc"
}

# Installs the Debian packages the build, the demo and the tests need (apt only when one is
# missing). Installing mariadb-server must not start the system instance: while apt runs, a
# policy-rc.d that forbids service starts is put in place, unless one already exists.
install_packages() {
	local missing=() p
	for p in $WSG_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
	if [ ${#missing[@]} -eq 0 ]; then
		log "Debian packages already installed"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "installing ${missing[*]} needs root"
	log "installing: ${missing[*]}"
	local policy=/usr/sbin/policy-rc.d own_policy=no rc=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=yes
	fi
	export DEBIAN_FRONTEND=noninteractive
	{ run_logged apt-get update &&
		run_logged apt-get install -y -o Dpkg::Options::=--force-confold "${missing[@]}"; } ||
		rc=$?
	[ "$own_policy" = yes ] && rm -f "$policy"
	[ "$rc" -eq 0 ] || die "apt-get failed ($rc)"
}

# copy_checkout DIR: the checkout's tracked and new (unignored) files into DIR, keeping
# modification times, so a build there remakes only what changed since the last copy.
copy_checkout() {
	mkdir -p "$1" || return 1
	(cd "$WSG_TOP" && git ls-files -co --exclude-standard -z) |
		(cd "$WSG_TOP" && tar --null -T - -cf -) | (cd "$1" && tar -xpf -)
}

# build [configure flags...]: autoreconf, configure and make -j2 in the repository. A change of
# configure flags (e.g. the demo's plain build vs the tests' ASan build) cleans the objects
# first, because automake does not track compiler flags.
build() {
	cd "$WSG_TOP" || return 1
	local want="" a have
	for a in "$@"; do want+="'$a' "; done
	want=${want% }
	if [ -x config.status ] && [ -f Makefile ]; then
		have=$(./config.status --config 2>/dev/null)
		if [ "$have" != "$want" ]; then
			log "configure flags changed ($have -> $want): make clean"
			make clean >/dev/null 2>&1 || true
		fi
	fi
	[ -z "${WSG_BUILD_LOG:-}" ] || log "building; the full output goes to $WSG_BUILD_LOG"
	log "autoreconf -fi"
	run_logged autoreconf -fi || return 1
	log "./configure $*"
	if [ -n "${WSG_BUILD_LOG:-}" ]; then
		run_logged ./configure "$@" || return 1
	else
		./configure "$@" >/dev/null || { tail -n 30 config.log >&2; return 1; }
	fi
	log "make -j2${WSG_BUILD_LOG:+ (a few minutes the first time)}"
	run_logged make -j2
}

# Private MariaDB under DIR: DIR/mysql-data, DIR/mysql.sock, DIR/mysql.pid, DIR/mariadb.err.
# mariadb_start DIR PORT   (reuses an instance already running on that socket)
mariadb_start() {
	local dir=$1 port=$2 user
	user=$(id -un)
	# Its own temporary folder: bootstraps running side by side in one /tmp
	# (make -j2 check) removed each other's temporary tables.
	mkdir -p "$dir/tmp"
	if mariadb_ping "$dir"; then
		log "MariaDB already running on $dir/mysql.sock"
		return 0
	fi
	if [ ! -d "$dir/mysql-data/mysql" ]; then
		log "initialising MariaDB data directory $dir/mysql-data"
		mariadb-install-db --no-defaults --user="$user" --datadir="$dir/mysql-data" \
			--tmpdir="$dir/tmp" --auth-root-authentication-method=socket --skip-test-db \
			>"$dir/mariadb-install.log" 2>&1 ||
			{ cat "$dir/mariadb-install.log" >&2; return 1; }
	fi
	log "starting private MariaDB (socket $dir/mysql.sock, port $port)"
	setsid mariadbd --no-defaults --user="$user" --datadir="$dir/mysql-data" --tmpdir="$dir/tmp" \
		--socket="$dir/mysql.sock" --port="$port" --bind-address=127.0.0.1 --skip-log-bin \
		--pid-file="$dir/mysql.pid" --log-error="$dir/mariadb.err" \
		</dev/null >/dev/null 2>&1 &
	for _ in $(seq 1 120); do
		mariadb_ping "$dir" && return 0
		sleep 0.5
	done
	tail -n 20 "$dir/mariadb.err" >&2
	return 1
}

mariadb_ping() {
	[ -S "$1/mysql.sock" ] &&
		mariadb-admin --no-defaults --socket="$1/mysql.sock" -u "$(id -un)" ping >/dev/null 2>&1
}

# mariadb_sql DIR: runs the SQL on stdin as the database's root (unix-socket authentication).
mariadb_sql() {
	mariadb --no-defaults --socket="$1/mysql.sock" -u "$(id -un)" --batch --skip-column-names
}

# mariadb_stop DIR: clean shutdown, then waits for the server process to go.
mariadb_stop() {
	local dir=$1 pid=""
	[ -f "$dir/mysql.pid" ] && pid=$(cat "$dir/mysql.pid" 2>/dev/null)
	if mariadb_ping "$dir"; then
		log "stopping private MariaDB"
		mariadb-admin --no-defaults --socket="$dir/mysql.sock" -u "$(id -un)" shutdown \
			>/dev/null 2>&1 || true
	fi
	if [ -n "$pid" ]; then
		for _ in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || return 0
			sleep 0.5
		done
		kill -TERM "$pid" 2>/dev/null || true
	fi
}

# wait_http URL SECONDS: until something answers HTTP on URL (any status).
wait_http() {
	for _ in $(seq 1 $(($2 * 4))); do
		curl -s -o /dev/null --noproxy '*' --max-time 2 "$1" && return 0
		sleep 0.25
	done
	return 1
}

# stop_pidfile FILE: TERM the process in FILE (if it is still ours and alive), wait, remove FILE.
stop_pidfile() {
	local f=$1 pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$f"
}
