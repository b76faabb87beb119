#!/usr/bin/env bash
# Instructions per proxied request under callgrind: consentry against nginx `proxy_pass`, the
# same request through each to the same nginx origin (six Set-Cookie lines, the configuration of
# benches/compare.sh). Unlike req/s on a shared machine, the count hardly moves between runs.
#
# For each target: start it under `valgrind --tool=callgrind`, send --warmup requests (wrk, one
# thread, --connections keep-alive connections), zero the counters (`callgrind_control -z`),
# send --requests more, dump (`callgrind_control -d`) and print the user-space instructions (Ir)
# of the dump divided by the requests wrk completed. Requests still in flight when wrk stops are
# at most --connections, so the figure is exact to within connections/requests.
#
# Usage: benches/instructions.sh [--requests N] [--warmup N] [--connections N]
#                                [--only "consentry nginx"] [--http1 VALUE]
#                                [--server-extra "key = value"] [--cookie VALUE] [--bin PATH]
#                                [--keep]
#   --http1 VALUE        adds `http1 = "VALUE"` to consentry's [server] table (omitted by default,
#                        so the script also runs on versions without that key)
#   --server-extra TEXT  more lines for consentry's [server] table
#   --cookie VALUE       the request's Cookie header (default: compare.sh's, with consentry=analytics)
#   --bin PATH           measure this consentry binary instead of building the release one
#   --keep               keep the callgrind output (for callgrind_annotate) and print where
# Needs valgrind (callgrind_control), nginx, wrk, taskset, curl, python3; installs nothing.
# Debian: apt-get install -y valgrind nginx wrk curl python3
set -euo pipefail

REQUESTS=20000
WARMUP=2000
CONNS=32
ONLY="consentry nginx"
HTTP1=""
SERVER_EXTRA=""
BIN=""
KEEP=0
COOKIE='consentry=analytics; _ga=GA1.1.1234567890.1700000000; _gid=GA1.1.9.1700000000; session=abc123'
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --http1) HTTP1="$2"; shift 2 ;;
    --server-extra) SERVER_EXTRA="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    --cookie) COOKIE="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)

missing=()
for t in valgrind callgrind_control nginx wrk taskset curl python3; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing tools: ${missing[*]} (Debian: apt-get install -y valgrind nginx wrk curl python3)" >&2
  exit 1
fi
want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
CPU_TARGET=0; CPU_LOAD=0
if [ "$(nproc)" -ge 2 ]; then CPU_TARGET=1; fi

if want consentry && [ -z "$BIN" ]; then
  echo "== building consentry (release)"
  cargo build --release --quiet --bin consentry
  BIN="$ROOT/target/release/consentry"
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then echo "callgrind output kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
P_ORIGIN=$(free_port); P_NGINX=$(free_port); P_CONSENTRY=$(free_port); P_ADMIN=$(free_port)

nginx_conf() { # name server-block
  mkdir -p "$WORK/$1/logs" "$WORK/$1/tmp"
  cat > "$WORK/$1/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/$1/tmp/body;
  proxy_temp_path $WORK/$1/tmp/proxy;
  fastcgi_temp_path $WORK/$1/tmp/fastcgi;
  uwsgi_temp_path $WORK/$1/tmp/uwsgi;
  scgi_temp_path $WORK/$1/tmp/scgi;
  keepalive_requests 1000000;
  $2
}
CONF
}

# The origin of benches/compare.sh: a small page and six Set-Cookie lines.
nginx_conf origin "server { listen 127.0.0.1:$P_ORIGIN; location / { default_type text/html;
    add_header Set-Cookie \"_zendesk_session=BAh7CEkiD3Nlc3Npb25f; Path=/; HttpOnly\" always;
    add_header Set-Cookie \"ZD-settings=%7B%22a%22%3A1%7D; Path=/; Max-Age=31536000\" always;
    add_header Set-Cookie \"_ga=GA1.1.1234567890.1700000000; Path=/; Max-Age=63072000\" always;
    add_header Set-Cookie \"_ga_ABC123XYZ=GS1.1.1700000000.1.1; Path=/; Max-Age=63072000\" always;
    add_header Set-Cookie \"_fbp=fb.1.1700000000000.1234567890; Path=/; Max-Age=7776000\" always;
    add_header Set-Cookie \"experiment_bucket=b; Path=/\" always;
    return 200 '<html><body>hello</body></html>'; } }"
nginx_conf nginx "upstream origin { server 127.0.0.1:$P_ORIGIN; keepalive 64; }
  server { listen 127.0.0.1:$P_NGINX; location / { proxy_pass http://origin; proxy_http_version 1.1;
    proxy_set_header Connection \"\"; proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto \$scheme; proxy_set_header X-Forwarded-Host \$host; } }"

SERVER_LINES=""
[ -n "$HTTP1" ] && SERVER_LINES="http1 = \"$HTTP1\""
[ -n "$SERVER_EXTRA" ] && SERVER_LINES="$SERVER_LINES
$SERVER_EXTRA"
cat > "$WORK/consentry.toml" <<TOML
[listen]
http = "127.0.0.1:$P_CONSENTRY"
[admin]
listen = "127.0.0.1:$P_ADMIN"
[server]
workers = 1
$SERVER_LINES
[upstream]
url = "http://127.0.0.1:$P_ORIGIN"
[consent]
sources = ["consentry"]
cleanup = false
[categories.essential]
required = true
cookies = ["_zendesk_session"]
[categories.functional]
cookies = ["ZD-settings"]
[categories.analytics]
cookies = ["_ga", "_ga_*", "_gid"]
[categories.advertising]
cookies = ["_fbp", "IDE", "_gcl_*"]
TOML

# wrk stops sending after the given number of responses and leaves a mark; it then waits out
# its duration, so the script ends it (SIGINT: wrk prints its summary) once the mark is there.
cat > "$WORK/count.lua" <<'LUA'
init = function(args) limit = tonumber(args[1]); mark = args[2]; seen = 0 end
response = function(status)
  seen = seen + 1
  if seen == limit then
    local f = io.open(mark, "w"); f:write("done\n"); f:close()
    wrk.thread:stop()
  end
end
LUA

wait_port() { # port pid
  for _ in $(seq 600); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "port $1 did not come up" >&2; cat "$WORK"/*.log >&2 || true; exit 1
}

# Sends N requests; prints the count wrk completed (and fails on any error).
load() { # port n
  local out n errors pid mark="$WORK/mark.$RANDOM"
  taskset -c "$CPU_LOAD" wrk -t1 -c"$CONNS" -d3600s --timeout 60s -s "$WORK/count.lua" -H "Cookie: $COOKIE" \
    "http://127.0.0.1:$1/" -- "$2" "$mark" > "$WORK/wrk.out" 2>&1 &
  pid=$!
  while [ ! -e "$mark" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || true
  out=$(cat "$WORK/wrk.out")
  n=$(echo "$out" | awk '/requests in/{print $1}')
  errors=$(echo "$out" | awk '/Non-2xx/{n+=$NF} /Socket errors/{gsub(/,/,""); n+=$4+$6+$8+$10} END{print n+0}')
  if [ -z "$n" ] || [ "$errors" -ne 0 ] || [ ! -e "$mark" ]; then
    echo "wrk failed or saw errors:" >&2; echo "$out" >&2; exit 1
  fi
  echo "$n"
}

taskset -c "$CPU_LOAD" nginx -c "$WORK/origin/nginx.conf" > "$WORK/origin.log" 2>&1 &
PIDS+=($!)
wait_port "$P_ORIGIN" "$!"

dumps() { # name pid: how many dumps callgrind wrote
  local f=("$WORK/$1.$2.out".*)
  if [ -e "${f[0]}" ]; then echo "${#f[@]}"; else echo 0; fi
}

measure() { # name port cmd...
  local name=$1 port=$2 pid n before dump ir
  shift 2
  RUST_LOG=warn taskset -c "$CPU_TARGET" valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.%p.out" \
    "$@" > "$WORK/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid"
  load "$port" "$WARMUP" > /dev/null
  callgrind_control -z "$pid" > /dev/null 2>&1
  n=$(load "$port" "$REQUESTS")
  before=$(dumps "$name" "$pid")
  callgrind_control -d "$pid" > /dev/null 2>&1
  for _ in $(seq 100); do
    [ "$(dumps "$name" "$pid")" -gt "$before" ] && break
    sleep 0.1
  done
  dump=$(ls -t "$WORK/$name.$pid.out".* | head -1)
  ir=$(awk '/^summary:/{s=$2} /^totals:/{t=$2} END{print (t != "" ? t : s)}' "$dump")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  printf '%-10s %12s Ir / %6s requests = %8.0f Ir per request\n' "$name" "$ir" "$n" \
    "$(awk -v i="$ir" -v n="$n" 'BEGIN{print i/n}')"
  [ "$KEEP" = 1 ] && echo "           dump: $dump (callgrind_annotate $dump)"
  return 0
}

echo "== instructions per request: $WARMUP warm-up, then $REQUESTS requests, $CONNS connections"
want nginx && measure nginx "$P_NGINX" nginx -c "$WORK/nginx/nginx.conf"
want consentry && measure consentry "$P_CONSENTRY" "$BIN" run --config "$WORK/consentry.toml"
exit 0
