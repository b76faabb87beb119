#!/usr/bin/env bash
# Side-by-side load comparison on loopback, in one run:
#   origin        an nginx origin answering with six Set-Cookie lines (the limit)
#   nginx         nginx proxy_pass with upstream keep-alive, no consent logic (the proxying floor)
#   nginx+lua     nginx + Lua doing the same consent filtering from the same cookie
#   consentry     consentry with the equivalent configuration
# Every server under test is pinned to CPU 0 with one worker; wrk and the origin run on CPU 1.
# It first checks that every proxy strips the same lines, then runs interleaved rounds.
#
# Usage: benches/compare.sh [--rounds N] [--duration SECONDS] [--connections "32 256"] [--quick]
# Installs nginx, the Lua module and wrk with apt-get when they are missing (needs root).
set -euo pipefail

ROUNDS=3
DURATION=10
CONNS="32 256"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --quick) ROUNDS=1; DURATION=3; shift ;;
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

echo "== building consentry (release)"
cargo build --release --quiet
BIN="$ROOT/target/release/consentry"

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
  $3
}
CONF
}

ORIGIN_SERVER="server { listen 127.0.0.1:PORT; location / { default_type text/html; $ORIGIN_COOKIES return 200 '<html><body>hello</body></html>'; } }"
nginx_conf origin "$P_ORIGIN" "${ORIGIN_SERVER//PORT/$P_ORIGIN}" ""
nginx_conf direct "$P_DIRECT" "${ORIGIN_SERVER//PORT/$P_DIRECT}" ""

UPSTREAM="upstream origin { server 127.0.0.1:$P_ORIGIN; keepalive 64; }"
PROXY_LOC="proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto \$scheme; proxy_set_header X-Forwarded-Host \$host;"
nginx_conf nginx "$P_NGINX" "$UPSTREAM server { listen 127.0.0.1:$P_NGINX; location / { $PROXY_LOC } }" ""

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
nginx_conf lua "$P_LUA" "$UPSTREAM server { listen 127.0.0.1:$P_LUA; location / { $PROXY_LOC header_filter_by_lua_file $WORK/filter.lua; } }" \
  "load_module /usr/lib/nginx/modules/ndk_http_module.so; load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"

cat > "$WORK/consentry.toml" <<TOML
[listen]
http = "127.0.0.1:$P_CONSENTRY"
[admin]
listen = "127.0.0.1:$P_ADMIN"
[server]
workers = 1
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
start 1 origin nginx -c "$WORK/origin/nginx.conf"
start 0 direct nginx -c "$WORK/direct/nginx.conf"
start 0 nginx nginx -c "$WORK/nginx/nginx.conf"
start 0 lua nginx -c "$WORK/lua/nginx.conf"
RUST_LOG=warn start 0 consentry "$BIN" run --config "$WORK/consentry.toml"

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

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
peak_rss() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)
RESULTS="$WORK/results.tsv"
: > "$RESULTS"

run_one() { # name port pid conns
  local before after out rps p50 p99 reqs
  before=$(cpu_ticks "$3")
  out=$(taskset -c 1 wrk -t1 -c"$4" -d"${DURATION}s" --latency -H "Cookie: $COOKIE" "http://127.0.0.1:$2/" 2>&1)
  after=$(cpu_ticks "$3")
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "$out" | grep "Non-2xx\|Socket errors" | sed "s/^/  $1 c=$4: /"; fi
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$4" "$rps" "$p50" "$p99" "$(( (after-before) ))" "$reqs" >> "$RESULTS"
}

echo "== $ROUNDS interleaved rounds of ${DURATION}s per target and connection count ($CONNS)"
for r in $(seq "$ROUNDS"); do
  for c in $CONNS; do
    run_one origin "$P_DIRECT" "$PID_direct" "$c"
    run_one nginx "$P_NGINX" "$PID_nginx" "$c"
    run_one nginx+lua "$P_LUA" "$PID_lua" "$c"
    run_one consentry "$P_CONSENTRY" "$PID_consentry" "$c"
  done
  echo "  round $r done"
done

echo "== peak RSS (KiB): origin $(peak_rss "$PID_direct"), nginx $(peak_rss "$PID_nginx"), nginx+lua $(peak_rss "$PID_lua"), consentry $(peak_rss "$PID_consentry")"
python3 - "$RESULTS" "$TICK" "$(peak_rss "$PID_direct")" "$(peak_rss "$PID_nginx")" "$(peak_rss "$PID_lua")" "$(peak_rss "$PID_consentry")" <<'PY'
import sys, statistics
path, tick = sys.argv[1], int(sys.argv[2])
rss = dict(zip(["origin", "nginx", "nginx+lua", "consentry"], sys.argv[3:7]))
def ms(v):
    v = v.strip()
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[:-len(unit)]) * f
    return float(v)
rows = {}
for line in open(path):
    name, c, rps, p50, p99, ticks, reqs = line.rstrip("\n").split("\t")
    rows.setdefault((name, int(c)), []).append((float(rps), ms(p50), ms(p99), int(ticks), int(reqs)))
print()
print(f"{'target':<11} {'conns':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11} {'peak RSS':>9}")
med = {}
for (name, c), v in sorted(rows.items(), key=lambda kv: (kv[0][1], ["origin", "nginx", "nginx+lua", "consentry"].index(kv[0][0]))):
    rps = statistics.median(x[0] for x in v); p50 = statistics.median(x[1] for x in v); p99 = statistics.median(x[2] for x in v)
    cpu = statistics.median(x[3] / tick / max(x[4], 1) * 1e6 for x in v)
    med[(name, c)] = (rps, p50, p99, cpu)
    print(f"{name:<11} {c:>5} {rps:>10.0f} {p50:>8.3f} {p99:>8.3f} {cpu:>11.2f} {rss[name]:>6} KiB")
print()
for c in sorted({c for _, c in med}):
    if ("consentry", c) in med:
        cs = med[("consentry", c)]
        for other in ("nginx", "nginx+lua"):
            o = med[(other, c)]
            print(f"c={c}: consentry/{other}: throughput {cs[0]/o[0]:.2f}x, CPU per request {cs[3]/o[3]:.2f}x, p99 {cs[2]/o[2]:.2f}x")
PY
