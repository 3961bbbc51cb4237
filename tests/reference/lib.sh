# Shared harness for the shell cross-checks tests/reference/check_*.sh, sourced
# (never run) after the script has done `cd "$(dirname "$0")/../.."`:
#   . tests/reference/lib.sh
# Provides
#   BUILD (default build), TESSERA (default $PWD/$BUILD/tessera), PY (Debian's python3)
#   counters passed/failed; ok NAME, bad NAME; check NAME 'shell condition' (eval'd)
#   finish: prints the closing line "N passed, N failed" and exits non-zero on failure
#   add_counts LABEL RC OUTPUT: folds the closing line of another checker's OUTPUT
#     (its exit status RC) into ours; no such line, or a non-zero RC with no
#     failure counted, is a failure named LABEL
#   run_checker LINES LABEL COMMAND...: runs a checker, shows the last LINES of
#     its output that are not "ok" lines, then add_counts LABEL
#   make_tmp NAME: a fresh folder under $TS_TEST_TMP (or /tmp), printed
#   pids: background processes killed (and reaped) on exit; add yours with pids+=($!)
#   free_port: a free loopback TCP port, printed
#   wait_url URL [curl options]: waits up to 10 s until curl can fetch URL
#   nginx_run SERVERS: nginx on loopback under $T/nginx (logs in $T/nginx/logs,
#     access.log by default) with the given server blocks; needs T set;
#     NGINX_CONNECTIONS sets worker_connections (default 256)
#   start_nginx ROOT [extra http config]: nginx serving ROOT on a free port,
#     left in NGINX_PORT once it answers
#   start_fault_server IMAGE: tests/reference/fault_server.py (serving IMAGE),
#     its port left in FAULT_PORT once it is listening
BUILD=${BUILD:-build}
TESSERA=${TESSERA:-$PWD/$BUILD/tessera}
PY=/usr/bin/python3

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; } # name, shell condition
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
add_counts() {
    local line p f
    line=$(echo "$3" | tail -n 1)
    p=$(echo "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p')
    f=$(echo "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p')
    if [ -z "$p" ]; then bad "$1: no result line (exit $2)"; return; fi
    passed=$((passed + p)); failed=$((failed + f))
    [ "$2" -eq 0 ] || [ "$f" -gt 0 ] || bad "$1: exit $2"
}
run_checker() {
    local lines=$1 label=$2 out rc; shift 2
    out=$("$@" 2>&1); rc=$?
    echo "$out" | grep -v '^ok' | tail -n "$lines"
    add_counts "$label" "$rc" "$out"
}

make_tmp() { mktemp -d "${TS_TEST_TMP:-/tmp}/$1.XXXXXX"; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_url() {
    local url=$1; shift
    for _ in $(seq 100); do
        curl -s -o /dev/null "$@" "$url" && return 0
        sleep 0.1
    done
    return 1
}

nginx_run() {
    mkdir -p "$T/nginx/logs"
    # As root, workers would drop to nobody, who cannot read the private temp dir.
    local user=""; [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$T/nginx/nginx.conf" <<NGX
$user
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log;
events { worker_connections ${NGINX_CONNECTIONS:-256}; }
http {
    types { image/jpeg jpg; image/png png; image/webp webp; image/gif gif; application/octet-stream bin; }
    access_log $T/nginx/logs/access.log;
    client_body_temp_path $T/nginx/body; proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fcgi; uwsgi_temp_path $T/nginx/uwsgi; scgi_temp_path $T/nginx/scgi;
$1
}
NGX
    nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;' 2>"$T/nginx/stderr" &
    pids+=($!)
}

start_nginx() {
    NGINX_PORT=$(free_port)
    nginx_run "    server { listen 127.0.0.1:$NGINX_PORT; root $1; }
${2:-}"
    wait_url "http://127.0.0.1:$NGINX_PORT/"
}

start_fault_server() {
    rm -f "$T/fport"
    $PY tests/reference/fault_server.py "$T/fport" "$1" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$T/fport" ] && break; sleep 0.1; done
    FAULT_PORT=$(cat "$T/fport")
}
