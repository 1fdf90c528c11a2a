# shellcheck shell=bash
# Shared helpers for bench/run, bench/validate and bench/scale (source it, do not run it).
# On top of scripts/lib.sh: the benchmark's own Debian packages, an optimised build of the
# checkout in a separate directory, and small measuring helpers. CI never runs benchmarks,
# so these packages are installed here and not by scripts/test or .ci/run.

# shellcheck source=../scripts/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/lib.sh"

# wrk loads, nginx is the reference proxy (and can be the stub upstream), WSS4J + a JDK for
# bench/validate, perf, valgrind and strace to see where the time goes.
BENCH_PACKAGES="wrk nginx-light libwss4j-java default-jdk-headless linux-perf valgrind strace"

BENCH_OUT=${BENCH_OUT:-$WSG_TOP/test-output/bench}
# BENCH_REV=<git revision> measures that commit's src/ instead of the checkout (before/after
# comparisons in one go); the scripts under bench/ are always the checkout's.
BENCH_REV=${BENCH_REV:-}
# BENCH_CONFIGURE="--without-jemalloc" adds configure flags (a build of its own).
BENCH_CONFIGURE=${BENCH_CONFIGURE:-}
# The optimised build lives outside the checkout's own (usually ASan) build.
if [ -n "$BENCH_REV" ]; then
	BENCH_BUILD=${BENCH_BUILD:-$BENCH_OUT/build-$BENCH_REV}
else
	BENCH_BUILD=${BENCH_BUILD:-$BENCH_OUT/build}
fi
[ -z "$BENCH_CONFIGURE" ] || BENCH_BUILD=$BENCH_BUILD$(echo "$BENCH_CONFIGURE" | tr -c 'a-z0-9\n' -)

# Installs the project's packages (scripts/lib.sh) and the benchmark's.
bench_install_packages() {
	WSG_PACKAGES="$WSG_PACKAGES $BENCH_PACKAGES" install_packages
}

# bench_build: copies the checkout's tracked (and new, unignored) files, or BENCH_REV's tree,
# to $BENCH_BUILD/tree and builds them there with -O2, without sanitizers, so bench figures
# measure what would ship. The copy keeps modification times, so only what changed is
# rebuilt. Sets BENCH_SRC.
bench_build() {
	local tree=$BENCH_BUILD/tree
	BENCH_SRC=$tree
	mkdir -p "$tree"
	if [ -n "$BENCH_REV" ]; then
		[ -x "$tree/configure" ] ||
			(cd "$WSG_TOP" && git archive "$BENCH_REV") | (cd "$tree" && tar -xf -) ||
			die "cannot export $BENCH_REV"
	else
		copy_checkout "$tree" || die "cannot copy the checkout to $tree (is it a git clone?)"
	fi
	(
		cd "$tree" || exit 1
		if [ ! -x configure ] || [ configure.ac -nt configure ] ||
			[ Makefile.am -nt Makefile.in ]; then
			log "bench build: autoreconf -fi"
			autoreconf -fi >"$BENCH_BUILD/autoreconf.log" 2>&1 ||
				{ cat "$BENCH_BUILD/autoreconf.log" >&2; exit 1; }
			rm -f config.status
		fi
		if [ ! -x config.status ]; then
			log "bench build: ./configure CFLAGS='-O2 -g' $BENCH_CONFIGURE"
			# shellcheck disable=SC2086
			./configure CFLAGS="-O2 -g" $BENCH_CONFIGURE >"$BENCH_BUILD/configure.log" 2>&1 ||
				{ tail -n 30 config.log >&2; exit 1; }
		fi
		log "bench build: make -j2 (in $tree)"
		make -j2 src/wssgate src/libwssgate.a >"$BENCH_BUILD/make.log" 2>&1 ||
			{ tail -n 40 "$BENCH_BUILD/make.log" >&2; exit 1; }
	) || die "bench build failed"
}

# bench_src_name: which source the figures are for (a commit, "+changes" when uncommitted).
bench_src_name() {
	local flags=${BENCH_CONFIGURE:+ (configure $BENCH_CONFIGURE)}
	if [ -n "$BENCH_REV" ]; then
		echo "$(git -C "$WSG_TOP" rev-parse --short "$BENCH_REV")$flags"
	else
		echo "$(git -C "$WSG_TOP" rev-parse --short HEAD)$(git -C "$WSG_TOP" diff --quiet HEAD -- src || echo +changes)$flags"
	fi
}

# free_port: an unused TCP port on 127.0.0.1.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# cpu_ticks PID: utime+stime of PID (and its waited-for children) in clock ticks.
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat"
}
# sys_ticks PID: the kernel's part of cpu_ticks (stime + cstime).
sys_ticks() {
	awk '{ sub(/^.*\) /, ""); print $13 + $15 }' "/proc/$1/stat"
}

# peak_rss_kib PID: VmHWM of PID in KiB.
peak_rss_kib() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# rss_kib PID: VmRSS of PID in KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# reset_peak_rss PID: makes VmHWM start again from the current RSS (Linux >= 4.0).
reset_peak_rss() {
	echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true
}

# proc_tree PID: PID and its direct children (nginx: master and workers).
proc_tree() {
	echo "$1"
	pgrep -P "$1" 2>/dev/null || true
}

# tree_cpu_ticks PID: CPU ticks of PID's tree.
tree_cpu_ticks() {
	local p t=0 of=${2:-cpu_ticks}
	for p in $(proc_tree "$1"); do
		t=$((t + $("$of" "$p" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# tree_peak_rss_kib PID: summed VmHWM of PID's tree.
tree_peak_rss_kib() {
	local p t=0
	for p in $(proc_tree "$1"); do
		t=$((t + $(peak_rss_kib "$p" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# tree_rss_kib PID: summed VmRSS of PID's tree.
tree_rss_kib() {
	local p t=0
	for p in $(proc_tree "$1"); do
		t=$((t + $(rss_kib "$p" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

tree_reset_peak_rss() {
	local p
	for p in $(proc_tree "$1"); do reset_peak_rss "$p"; done
}

# ---------------------------------------------------------------- the processes under test

# bench_db_start DIR: a private MariaDB under DIR (scripts/lib.sh) and a fresh database
# "wssgate" for the account "wssgate" with a random password in DIR/db.pass.
bench_db_start() {
	local dir=$1 pw
	BENCH_DB_DIR=$dir
	mariadb_start "$dir" "$(free_port)" || die "MariaDB did not start"
	pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
	(umask 077 && printf '%s\n' "$pw" >"$dir/db.pass")
	mariadb_sql "$dir" <<-SQL || die "cannot create the bench database"
		DROP DATABASE IF EXISTS wssgate;
		CREATE DATABASE wssgate;
		CREATE USER IF NOT EXISTS 'wssgate'@'localhost' IDENTIFIED BY '$pw';
		ALTER USER 'wssgate'@'localhost' IDENTIFIED BY '$pw';
		GRANT ALL PRIVILEGES ON wssgate.* TO 'wssgate'@'localhost';
	SQL
}

# db_status NAME: a global status counter of the bench MariaDB.
db_status() {
	echo "SHOW GLOBAL STATUS LIKE '$1';" | mariadb_sql "$BENCH_DB_DIR" | awk '{ print $2 }'
}

# bench_gateway_conf FILE PORT UPSTREAM_URL [WORKERS] [CACHE_TTL] [NONCE_MAX] [STORE]
# [TRUST]: a gateway config next to the database's files, one route /services/Echo (digest
# and text, role echo-users), access and audit logs in files, no management listener; with
# TRUST (a CA file), also /services/EchoSigned, the same route with a required signature.
bench_gateway_conf() {
	local file=$1 port=$2 up=$3 workers=${4:-0} ttl=${5:-60} nonces=${6:-1000000}
	local store=${7:-memory} trust=${8:-}
	local dir signed=""
	dir=$(dirname "$file")
	[ -z "$trust" ] || signed=",
		  { name = \"echo-signed\"; path = \"/services/EchoSigned\"; upstream = ( \"$up\" );
		    password_types = ( \"PasswordDigest\" ); roles = ( \"echo-users\" );
		    signature = { require = true; trust = \"$trust\"; }; }"
	cat >"$file" <<-EOF2
		# Written by bench/lib.sh.
		listen = ( { address = "127.0.0.1:$port"; } );
		management = { enabled = false; jwt_secret_file = "jwt.key"; };
		workers = $workers;
		userstore = { host = "localhost"; socket = "$BENCH_DB_DIR/mysql.sock";
		              user = "wssgate"; password_file = "$BENCH_DB_DIR/db.pass";
		              database = "wssgate"; pool_size = 4; cache_ttl = $ttl;
		              master_key_file = "master.key"; };
		security = { nonce_cache_max = $nonces; replay_store = "$store"; };
		limits = { max_connections = 0; };
		log = { access_log = "$dir/access.log"; audit_log = "$dir/audit.log"; };
		routes = (
		  { name = "echo"; path = "/services/Echo"; upstream = ( "$up" );
		    password_types = ( "PasswordDigest", "PasswordText" ); roles = ( "echo-users" ); }$signed
		);
	EOF2
}

# bench_add_users CONF N: role echo-users and users bench-user-0..N-1 (bench/gen-requests'
# names and passwords) through the gateway's own CLI (one argon2id hash each).
bench_add_users() {
	local conf=$1 n=$2 i
	"$BENCH_SRC/src/wssgate" --config "$conf" db init >/dev/null || die "db init failed"
	"$BENCH_SRC/src/wssgate" --config "$conf" role add echo-users >/dev/null ||
		die "role add failed"
	for ((i = 0; i < n; i++)); do
		printf 'bench-secret-%d\n' "$i" |
			"$BENCH_SRC/src/wssgate" --config "$conf" user add "bench-user-$i" \
				--role echo-users >/dev/null || die "user add bench-user-$i failed"
	done
}

# bench_gateway_start CONF PORT PIDFILE: starts the optimised build's gateway.
bench_gateway_start() {
	local conf=$1 port=$2 pidfile=$3
	"$BENCH_SRC/src/wssgate" --config "$conf" </dev/null \
		>"${pidfile%.pid}.stdout" 2>"${pidfile%.pid}.stderr" &
	echo $! >"$pidfile"
	wait_http "http://127.0.0.1:$port/" 30 || {
		tail -n 20 "${pidfile%.pid}.stderr" >&2
		die "wssgate did not start"
	}
}

# The stub upstream's answer: a fixed SOAP 1.1 Echo response.
BENCH_RESPONSE='<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><e:EchoResponse xmlns:e="urn:example:echo"><e:message>bench</e:message></e:EchoResponse></soap:Body></soap:Envelope>'

# nginx_start DIR NAME PORT WORKERS ROLE [UPSTREAM_PORT]: ROLE "stub" answers every request
# with BENCH_RESPONSE (no access log); ROLE "proxy" is a plain reverse proxy (keep-alive to
# the upstream, an access log line per request like the gateway's). Pid in DIR/NAME.pid.
nginx_start() {
	local dir=$1 name=$2 port=$3 workers=$4 role=$5 upport=${6:-} body
	local conf=$dir/$name.conf user=""
	mkdir -p "$dir/$name-temp"
	[ "$(id -u)" -eq 0 ] && user="user root;"
	if [ "$role" = stub ]; then
		body="access_log off;
	server {
		listen 127.0.0.1:$port backlog=4096;
		location / { default_type \"text/xml; charset=utf-8\"; return 200 '$BENCH_RESPONSE'; }
	}"
	else
		body="access_log $dir/$name-access.log;
	upstream backend { server 127.0.0.1:$upport; keepalive 64; keepalive_requests 10000000; }
	server {
		listen 127.0.0.1:$port backlog=4096;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection \"\";
		}
	}"
	fi
	cat >"$conf" <<-EOF2
		# Written by bench/lib.sh.
		$user
		worker_processes $workers;
		worker_rlimit_nofile 65536;
		daemon off;
		pid $dir/$name.pid;
		error_log $dir/$name.err warn;
		events { worker_connections 30000; }
		http {
			client_body_temp_path $dir/$name-temp/body;
			proxy_temp_path $dir/$name-temp/proxy;
			fastcgi_temp_path $dir/$name-temp/fastcgi;
			uwsgi_temp_path $dir/$name-temp/uwsgi;
			scgi_temp_path $dir/$name-temp/scgi;
			client_max_body_size 16m;
			client_body_buffer_size 2m;
			keepalive_requests 10000000;
			keepalive_timeout 300s;
			$body
		}
	EOF2
	nginx -e "$dir/$name.err" -p "$dir" -c "$conf" </dev/null >/dev/null 2>&1 &
	wait_http "http://127.0.0.1:$port/" 30 || { cat "$dir/$name.err" >&2; die "nginx $name did not start"; }
}

# ---------------------------------------------------------------- loads

BENCH_DIR=$WSG_TOP/bench

# wrk_load SERVER_PID URL FILE EXPECTED_STATUS THREADS CONNECTIONS SECONDS LOGFILE [reuse]
# Runs wrk with bench/cycle.lua and prints one line of key=value fields: wrk's RESULT
# fields, plus the server tree's CPU ticks during the run, the clock tick rate and the
# server tree's peak RSS during the run (VmHWM reset before).
wrk_load() {
	local pid=$1 url=$2 file=$3 expect=$4 t=$5 c=$6 d=$7 out=$8 reuse=${9:-} t0 t1 k0 k1 res
	tree_reset_peak_rss "$pid"
	t0=$(tree_cpu_ticks "$pid")
	k0=$(tree_cpu_ticks "$pid" sys_ticks)
	wrk -t"$t" -c"$c" -d"$d"s --timeout 10s -s "$BENCH_DIR/cycle.lua" "$url" \
		-- "$file" "$expect" "$t" ${reuse:+"$reuse"} >"$out" 2>&1 || true
	t1=$(tree_cpu_ticks "$pid")
	k1=$(tree_cpu_ticks "$pid" sys_ticks)
	res=$(grep '^RESULT' "$out" | head -n 1)
	[ -n "$res" ] || res="RESULT requests=0 duration_us=1 p50_us=0 p99_us=0 p999_us=0 bad=1 wrapped=0 connect=0 read=0 write=0 timeout=0"
	echo "${res#RESULT } cpu_ticks=$((t1 - t0)) sys_ticks=$((k1 - k0)) hz=$(getconf CLK_TCK) peak_rss_kib=$(tree_peak_rss_kib "$pid")"
}

# field NAME LINE: the value of NAME=... in a key=value line.
field() {
	local kv
	for kv in $2; do
		[ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return 0; }
	done
	echo 0
}

# bench_cc OUT SOURCE: a C program under bench/ linked against the optimised libwssgate.a.
bench_cc() {
	local t=$BENCH_SRC pc="libxml-2.0 xmlsec1-openssl openssl libevent libevent_pthreads
		libevent_openssl libmariadb jansson libconfig libargon2 libjwt"
	# The daemon's allocator too (configure's JEMALLOC_LIBS), so drivers measure what ships.
	local alloc
	alloc=$(sed -n 's/^JEMALLOC_LIBS = //p' "$t/Makefile")
	# shellcheck disable=SC2046,SC2086
	cc -std=gnu11 -O2 -g -Wall -Wextra -I"$t/src" -I"$t" $(pkg-config --cflags $pc) \
		"$2" "$t/src/libwssgate.a" $(pkg-config --libs $pc) $alloc -lpthread -o "$1" ||
		die "cannot build $2"
}

# bench_build_drivers: bench/validate.c against the optimised libwssgate.a, and the WSS4J
# program against Debian's jars. Sets VALIDATE_BIN and WSS4J_CP.
bench_build_drivers() {
	local j=/usr/share/java
	VALIDATE_BIN=$BENCH_BUILD/validate-driver
	bench_cc "$VALIDATE_BIN" "$BENCH_DIR/validate.c"
	WSS4J_CP=$j/wss4j.jar:$j/xmlsec.jar:$j/commons-logging.jar:$j/slf4j-api.jar:$j/slf4j-nop.jar
	mkdir -p "$BENCH_BUILD/wss4j"
	javac -nowarn -d "$BENCH_BUILD/wss4j" -cp "$WSS4J_CP" "$BENCH_DIR/wss4j/BenchWss4j.java" ||
		die "cannot build bench/wss4j/BenchWss4j.java"
	WSS4J_CP=$WSS4J_CP:$BENCH_BUILD/wss4j
}
