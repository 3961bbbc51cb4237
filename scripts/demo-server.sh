#!/usr/bin/env bash
# A static file server on loopback for the demo data: Debian's nginx with a
# generated config, on a free port, as a daemon whose pid lives in DIR.
#
#   demo-server.sh start DIR     serve DIR/www; prints the base URL (http://127.0.0.1:PORT)
#   demo-server.sh stop DIR      stop the server started for DIR
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
dir=$(cd "$dir" && pwd)
conf=$dir/nginx
case "$cmd" in
start)
    command -v nginx >/dev/null || { echo "demo-server: nginx is not installed (scripts/install-deps.sh)" >&2; exit 1; }
    mkdir -p "$conf/logs"
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # As root, workers would drop to nobody, who may not read DIR.
    user=""; [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$conf/nginx.conf" <<NGX
$user
worker_processes 1;
pid $conf/nginx.pid;
error_log $conf/logs/error.log;
events { worker_connections 256; }
http {
    types { image/jpeg jpg; image/png png; image/webp webp; image/gif gif; application/x-ndjson jsonl; application/json json; }
    default_type application/octet-stream;
    access_log $conf/logs/access.log;
    client_body_temp_path $conf/body; proxy_temp_path $conf/proxy;
    fastcgi_temp_path $conf/fcgi; uwsgi_temp_path $conf/uwsgi; scgi_temp_path $conf/scgi;
    server { listen 127.0.0.1:$port; root $dir/www; }
}
NGX
    nginx -p "$conf" -c "$conf/nginx.conf" 2>"$conf/logs/stderr" || { cat "$conf/logs/stderr" >&2; exit 1; }
    for _ in $(seq 50); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/demo/captions.jsonl" 2>/dev/null && break
        sleep 0.1
    done
    echo "http://127.0.0.1:$port"
    ;;
stop)
    if [ -f "$conf/nginx.pid" ]; then
        nginx -p "$conf" -c "$conf/nginx.conf" -s stop 2>/dev/null || kill "$(cat "$conf/nginx.pid")" 2>/dev/null || true
        for _ in $(seq 50); do [ -f "$conf/nginx.pid" ] || break; sleep 0.1; done
    fi
    ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
