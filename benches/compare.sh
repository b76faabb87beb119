#!/usr/bin/env bash
# Side-by-side load comparison on loopback, in one run:
#   origin        an nginx origin answering with six Set-Cookie lines (the limit)
#   nginx         nginx proxy_pass with upstream keep-alive, no consent logic (the proxying floor)
#   nginx+lua     nginx + Lua doing the same consent filtering from the same cookie
#   consentry     consentry with the equivalent configuration
# Every server under test is pinned to CPU 0 with one worker; the load generators (wrk, and
# benches/loadgen.rs for what wrk cannot do) and the origin run on CPU 1. With --workers N (N > 1)
# every server (origin included) runs N workers (nginx: a master and N worker processes) and
# everything, load generators included, shares all CPUs: a multi-core figure in which the load
# generator takes part of the cores it measures. It first checks that
# every proxy strips the same lines, then runs interleaved rounds of:
#   wrk      keep-alive HTTP/1.1 throughput at 32 and 256 connections
#   latency  a fixed moderate rate (--rate, default 2000 req/s over 16 connections): p50/p99
#            and what each proxy adds over the direct origin
#   tls      full TLS handshakes per second (new connection, no resumption, one request each)
#   h2       HTTP/2 over TLS, 2 connections x 50 streams in flight
#
# Usage: benches/compare.sh [--rounds N] [--duration SECONDS] [--connections "32 256"]
#                           [--rate REQ_PER_S] [--only "wrk latency tls h2"] [--quick]
#                           [--http1 fast|hyper]   (consentry's server.http1; default: its default)
#                           [--workers N] [--origin-on-server-cpu]
#   --origin-on-server-cpu  the origin shares CPU 0 with the server under test, the load generators
#                           alone on CPU 1 (the layout of a per-core study: proxy and origin
#                           competing for one core); with one worker only
# Installs nginx, the Lua module and wrk with apt-get when they are missing (needs root).
set -euo pipefail

ROUNDS=3
DURATION=10
CONNS="32 256"
RATE=2000
ONLY="wrk latency tls h2"
HTTP1=""
WORKERS=1
ORIGIN_ON_SERVER=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --quick) ROUNDS=1; DURATION=3; shift ;;
    --http1) HTTP1="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --origin-on-server-cpu) ORIGIN_ON_SERVER=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || [ ! -f /usr/lib/nginx/modules/ngx_http_lua_module.so ]; then
  echo "== installing nginx, libnginx-mod-http-lua and wrk"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-http-lua wrk >/dev/null
fi
for t in nginx wrk taskset curl python3; do need "$t" || { echo "missing tool: $t" >&2; exit 1; }; done
CPUS=$(nproc)
if [ "$CPUS" -lt 2 ]; then echo "needs at least 2 CPUs (found $CPUS)" >&2; exit 1; fi
# Where the servers under test, and the origin and load generators, run.
if [ "$WORKERS" -gt 1 ]; then
  SERVER_CPUS="0-$((CPUS - 1))"; LOAD_CPUS="$SERVER_CPUS"; MASTER=on
else
  SERVER_CPUS=0; LOAD_CPUS=1; MASTER=off
fi
ORIGIN_CPUS="$LOAD_CPUS"
if [ "$ORIGIN_ON_SERVER" = 1 ]; then
  [ "$WORKERS" = 1 ] || { echo "--origin-on-server-cpu needs one worker" >&2; exit 2; }
  ORIGIN_CPUS="$SERVER_CPUS"
fi

echo "== building consentry and the load generator (release)"
cargo build --release --quiet --bin consentry --example loadgen
BIN="$ROOT/target/release/consentry"
LOADGEN="$ROOT/target/release/examples/loadgen"
want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
P_ORIGIN=$(free_port); P_DIRECT=$(free_port); P_NGINX=$(free_port); P_LUA=$(free_port); P_CONSENTRY=$(free_port); P_ADMIN=$(free_port)
P_NGINX_TLS=$(free_port); P_LUA_TLS=$(free_port); P_CONSENTRY_TLS=$(free_port)
"$LOADGEN" cert "$WORK/tls" >/dev/null
TLS_NGINX="ssl_certificate $WORK/tls/cert.pem; ssl_certificate_key $WORK/tls/key.pem;"

# The origin's answer: a small body and six Set-Cookie lines, one per category plus an unclassified one.
ORIGIN_COOKIES='
    add_header Set-Cookie "_zendesk_session=BAh7CEkiD3Nlc3Npb25f; Path=/; HttpOnly" always;
    add_header Set-Cookie "ZD-settings=%7B%22a%22%3A1%7D; Path=/; Max-Age=31536000" always;
    add_header Set-Cookie "_ga=GA1.1.1234567890.1700000000; Path=/; Max-Age=63072000" always;
    add_header Set-Cookie "_ga_ABC123XYZ=GS1.1.1700000000.1.1; Path=/; Max-Age=63072000" always;
    add_header Set-Cookie "_fbp=fb.1.1700000000000.1234567890; Path=/; Max-Age=7776000" always;
    add_header Set-Cookie "experiment_bucket=b; Path=/" always;'

nginx_conf() { # name port body
  mkdir -p "$WORK/$1/logs" "$WORK/$1/tmp"
  cat > "$WORK/$1/nginx.conf" <<CONF
$4
worker_processes $WORKERS;
master_process $MASTER;
$([ "$MASTER" = on ] && echo "user root;")
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
  $3
}
CONF
}

ORIGIN_SERVER="server { listen 127.0.0.1:PORT; location / { default_type text/html; $ORIGIN_COOKIES return 200 '<html><body>hello</body></html>'; } }"
nginx_conf origin "$P_ORIGIN" "${ORIGIN_SERVER//PORT/$P_ORIGIN}" ""
nginx_conf direct "$P_DIRECT" "${ORIGIN_SERVER//PORT/$P_DIRECT}" ""

UPSTREAM="upstream origin { server 127.0.0.1:$P_ORIGIN; keepalive 64; }"
PROXY_LOC="proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto \$scheme; proxy_set_header X-Forwarded-Host \$host;"
nginx_conf nginx "$P_NGINX" "$UPSTREAM server { listen 127.0.0.1:$P_NGINX; listen 127.0.0.1:$P_NGINX_TLS ssl http2; $TLS_NGINX location / { $PROXY_LOC } }" ""

# nginx + Lua: the consent filter an operator would write by hand: read the native cookie,
# classify each Set-Cookie by name (exact names and prefix globs), drop the non-granted ones.
cat > "$WORK/filter.lua" <<'LUA'
local exact = { _zendesk_session = "essential", ["ZD-settings"] = "functional", _ga = "analytics",
                _gid = "analytics", _fbp = "advertising", IDE = "advertising" }
local prefixes = { { "_ga_", "analytics" }, { "_gcl_", "advertising" } }
local function category(name)
  local c = exact[name]
  if c then return c end
  for _, p in ipairs(prefixes) do
    if name:sub(1, #p[1]) == p[1] then return p[2] end
  end
  return nil
end
local granted = { essential = true }
local consent = ngx.var.cookie_consentry
if consent then
  if consent == "all" then
    granted.functional, granted.analytics, granted.advertising = true, true, true
  else
    for c in consent:gsub("%%2[Cc]", ","):gmatch("[^,]+") do granted[c] = true end
  end
end
local h = ngx.header["Set-Cookie"]
if h == nil then return end
if type(h) == "string" then h = { h } end
local kept, removed = {}, false
for _, line in ipairs(h) do
  local name = line:match("^%s*([^=;]-)%s*=") or ""
  local c = category(name)
  if c and granted[c] then kept[#kept + 1] = line else removed = true end
end
if removed then
  ngx.header["Set-Cookie"] = kept
  ngx.header["Cache-Control"] = "private"
end
LUA
nginx_conf lua "$P_LUA" "$UPSTREAM server { listen 127.0.0.1:$P_LUA; listen 127.0.0.1:$P_LUA_TLS ssl http2; $TLS_NGINX location / { $PROXY_LOC header_filter_by_lua_file $WORK/filter.lua; } }" \
  "load_module /usr/lib/nginx/modules/ndk_http_module.so; load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"

cat > "$WORK/consentry.toml" <<TOML
[listen]
http = "127.0.0.1:$P_CONSENTRY"
https = "127.0.0.1:$P_CONSENTRY_TLS"
[tls]
cert = "$WORK/tls/cert.pem"
key = "$WORK/tls/key.pem"
[admin]
listen = "127.0.0.1:$P_ADMIN"
[server]
workers = $WORKERS
${HTTP1:+http1 = \"$HTTP1\"}
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

start() { # cpu name cmd...
  local cpu=$1 name=$2; shift 2
  taskset -c "$cpu" "$@" > "$WORK/$name.out" 2>&1 &
  PIDS+=($!)
  eval "PID_$name=$!"
}
start "$ORIGIN_CPUS" origin nginx -c "$WORK/origin/nginx.conf"
start "$SERVER_CPUS" direct nginx -c "$WORK/direct/nginx.conf"
start "$SERVER_CPUS" nginx nginx -c "$WORK/nginx/nginx.conf"
start "$SERVER_CPUS" lua nginx -c "$WORK/lua/nginx.conf"
RUST_LOG=warn start "$SERVER_CPUS" consentry "$BIN" run --config "$WORK/consentry.toml"

wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 did not come up" >&2; cat "$WORK"/*.out >&2; exit 1; }
for p in $P_ORIGIN $P_DIRECT $P_NGINX $P_LUA $P_CONSENTRY; do wait_port "$p"; done

COOKIE='consentry=analytics; _ga=GA1.1.1234567890.1700000000; _gid=GA1.1.9.1700000000; session=abc123'
names() { curl -s -D - -o /dev/null -H "Cookie: $COOKIE" "http://127.0.0.1:$1/" | tr -d '\r' | awk -F': ' 'tolower($1)=="set-cookie"{print $2}' | sort; }
echo "== checking that every proxy strips the same lines (cookie: consentry=analytics)"
EXPECTED=$(names "$P_LUA")
for t in "nginx+lua:$P_LUA" "consentry:$P_CONSENTRY"; do
  got=$(names "${t#*:}")
  if [ "$got" != "$EXPECTED" ]; then echo "MISMATCH for ${t%%:*}:"; echo "$got"; echo "expected:"; echo "$EXPECTED"; exit 1; fi
  echo "  ${t%%:*}: $(echo "$got" | cut -d= -f1 | tr '\n' ' ')"
done
echo "  nginx (no filter): $(names "$P_NGINX" | cut -d= -f1 | tr '\n' ' ')"

# A server's CPU and peak RSS: its process and (nginx with a master) its worker processes.
family() { echo "$1"; pgrep -P "$1" || true; }
cpu_ticks() { for p in $(family "$1"); do awk '{print $14+$15}' "/proc/$p/stat"; done | awk '{n+=$1} END{print n}'; }
peak_rss() { for p in $(family "$1"); do awk '/VmHWM/{print $2}' "/proc/$p/status"; done | awk '{n+=$1} END{print n}'; }
TICK=$(getconf CLK_TCK)
RESULTS="$WORK/results.tsv"
: > "$RESULTS"

row() { # kind name conns rps p50_ms p99_ms ticks requests errors (and the round)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" "$ROUND" >> "$RESULTS"
}
ms() { # wrk's "1.23ms" / "456.00us" / "1.02s" -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[^m]s$/) n *= 1000; print n }'
}
kv() { echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1==k{print $2}'; }

wrk_one() { # name port pid conns
  local before after out errors
  before=$(cpu_ticks "$3")
  out=$(taskset -c "$LOAD_CPUS" wrk -t"$WORKERS" -c"$4" -d"${DURATION}s" --latency -H "Cookie: $COOKIE" "http://127.0.0.1:$2/" 2>&1)
  after=$(cpu_ticks "$3")
  errors=$(echo "$out" | awk '/Non-2xx/{n+=$NF} /Socket errors/{gsub(/,/,""); n+=$4+$6+$8+$10} END{print n+0}')
  [ "$errors" -eq 0 ] || echo "  $1 c=$4: $errors errors"
  row wrk "$1" "$4" "$(echo "$out" | awk '/Requests\/sec/{print $2}')" \
    "$(ms "$(echo "$out" | awk '$1=="50%"{print $2}')")" "$(ms "$(echo "$out" | awk '$1=="99%"{print $2}')")" \
    "$((after - before))" "$(echo "$out" | awk '/requests in/{print $1}')" "$errors"
}

loadgen_one() { # kind name pid conns loadgen-args...
  local kind=$1 name=$2 pid=$3 conns=$4 before after out
  shift 4
  before=$(cpu_ticks "$pid")
  out=$(taskset -c "$LOAD_CPUS" "$LOADGEN" "$kind" "$@" --duration "$DURATION" -H "Cookie: $COOKIE" 2>&1) || { echo "loadgen failed for $name: $out" >&2; exit 1; }
  after=$(cpu_ticks "$pid")
  [ "$(kv errors "$out")" = 0 ] || echo "  $kind $name: $(kv errors "$out") errors"
  row "$kind" "$name" "$conns" "$(kv rps "$out")" "$(awk -v u="$(kv p50_us "$out")" 'BEGIN{print u/1000}')" \
    "$(awk -v u="$(kv p99_us "$out")" 'BEGIN{print u/1000}')" "$((after - before))" "$(kv requests "$out")" "$(kv errors "$out")"
}

echo "== $ROUNDS interleaved rounds of ${DURATION}s per target ($ONLY)"
for r in $(seq "$ROUNDS"); do
  ROUND=$r
  if want wrk; then
    for c in $CONNS; do
      wrk_one origin "$P_DIRECT" "$PID_direct" "$c"
      wrk_one nginx "$P_NGINX" "$PID_nginx" "$c"
      wrk_one nginx+lua "$P_LUA" "$PID_lua" "$c"
      wrk_one consentry "$P_CONSENTRY" "$PID_consentry" "$c"
    done
  fi
  if want latency; then
    for t in "origin:$P_DIRECT:$PID_direct" "nginx:$P_NGINX:$PID_nginx" "nginx+lua:$P_LUA:$PID_lua" "consentry:$P_CONSENTRY:$PID_consentry"; do
      IFS=: read -r name port pid <<< "$t"
      loadgen_one rate "$name" "$pid" 16 "http://127.0.0.1:$port/" --rate "$RATE" --connections 16
    done
  fi
  if want tls; then
    for t in "nginx:$P_NGINX_TLS:$PID_nginx" "nginx+lua:$P_LUA_TLS:$PID_lua" "consentry:$P_CONSENTRY_TLS:$PID_consentry"; do
      IFS=: read -r name port pid <<< "$t"
      loadgen_one tls "$name" "$pid" 16 "https://localhost:$port/" --concurrency 16
    done
  fi
  if want h2; then
    for t in "nginx:$P_NGINX_TLS:$PID_nginx" "nginx+lua:$P_LUA_TLS:$PID_lua" "consentry:$P_CONSENTRY_TLS:$PID_consentry"; do
      IFS=: read -r name port pid <<< "$t"
      loadgen_one h2 "$name" "$pid" 100 "https://localhost:$port/" --connections 2 --streams 50
    done
  fi
  echo "  round $r done"
done

echo "== peak RSS (KiB): origin $(peak_rss "$PID_direct"), nginx $(peak_rss "$PID_nginx"), nginx+lua $(peak_rss "$PID_lua"), consentry $(peak_rss "$PID_consentry")"
python3 - "$RESULTS" "$TICK" "$RATE" "$(peak_rss "$PID_direct")" "$(peak_rss "$PID_nginx")" "$(peak_rss "$PID_lua")" "$(peak_rss "$PID_consentry")" <<'PY'
import sys, statistics
path, tick, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
order = ["origin", "nginx", "nginx+lua", "consentry"]
rss = dict(zip(order, sys.argv[4:8]))
rows = {}
by_round = {}
for line in open(path):
    kind, name, c, rps, p50, p99, ticks, reqs, errors, rnd = line.rstrip("\n").split("\t")
    rows.setdefault((kind, int(c), name), []).append(
        (float(rps), float(p50), float(p99), int(ticks), int(reqs), int(errors)))
    by_round[(kind, int(c), name, rnd)] = float(rps)
med = {}
for key, v in rows.items():
    m = lambda i: statistics.median(x[i] for x in v)
    cpu = statistics.median(x[3] / tick / max(x[4], 1) * 1e6 for x in v)
    med[key] = (m(0), m(1), m(2), cpu, sum(x[5] for x in v))
titles = {
    "wrk": "keep-alive HTTP/1.1 throughput (wrk)",
    "rate": f"fixed rate {rate} req/s over 16 connections (latency)",
    "tls": "full TLS handshakes, 16 in flight (one request per connection)",
    "h2": "HTTP/2 over TLS, 2 connections x 50 streams",
}
for kind in ("wrk", "rate", "tls", "h2"):
    keys = sorted((k for k in med if k[0] == kind), key=lambda k: (k[1], order.index(k[2])))
    if not keys:
        continue
    unit = "handshakes/s" if kind == "tls" else "req/s"
    print(f"\n{titles[kind]}")
    print(f"{'target':<11} {'conns':>5} {unit:>12} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11} {'errors':>7} {'peak RSS':>9}")
    for k in keys:
        rps, p50, p99, cpu, err = med[k]
        print(f"{k[2]:<11} {k[1]:>5} {rps:>12.0f} {p50:>8.3f} {p99:>8.3f} {cpu:>11.2f} {err:>7} {rss[k[2]]:>6} KiB")
    for c in sorted({k[1] for k in keys}):
        cs = med.get((kind, c, "consentry"))
        if not cs:
            continue
        for other in ("nginx", "nginx+lua"):
            o = med.get((kind, c, other))
            if o:
                print(f"  c={c}: consentry/{other}: throughput {cs[0]/o[0]:.2f}x, CPU per request {cs[3]/o[3]:.2f}x, p99 {cs[2]/o[2]:.2f}x")
                ratios = sorted(v / by_round[(kind, c, other, r)] for (k2, c2, n2, r), v in by_round.items()
                                if (k2, c2, n2) == (kind, c, "consentry") and by_round.get((kind, c, other, r)))
                if len(ratios) > 1:
                    print(f"    throughput per round: {' '.join(f'{x:.2f}x' for x in ratios)} (median {statistics.median(ratios):.2f}x)")
        if kind == "rate" and (kind, c, "origin") in med:
            o = med[(kind, c, "origin")]
            for name in ("nginx", "nginx+lua", "consentry"):
                if (kind, c, name) in med:
                    t = med[(kind, c, name)]
                    print(f"  added over the direct origin by {name}: p50 {(t[1]-o[1])*1000:+.0f} us, p99 {(t[2]-o[2])*1000:+.0f} us")
if any(v[4] for v in med.values()):
    print("\nsome requests failed (see the errors column)")
    sys.exit(1)
PY
