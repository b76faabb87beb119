#!/usr/bin/env bash
# What the page guard costs end to end: CPU per request of a ~50 KB HTML page with the vendors'
# tags (benches/page_html.rs) through consentry, rewritten against passed through.
#
#   pass       consentry with `[page] rewrite = false`: the page is proxied untouched
#   rewrite    the same configuration with the page guard on, visitor granted nothing: tags
#              neutralised, guard and Consent Mode injected, the CSP-free page's inline form
#   granted    page guard on, visitor granted everything: the page is read for opt-in markup
#              (nothing to change in this page, so it comes out byte-identical)
#   *-gzip     the same with `Accept-Encoding: gzip` (the origin compresses; consentry
#              decodes, rewrites and re-encodes)
#
# Both consentry instances are pinned to CPU 0 with one worker; the nginx origin (serving the
# page from a file, gzip on demand) and wrk run on CPU 1. CPU per request is read from
# /proc/PID/stat (user + system) over each wrk run; rounds are interleaved and the medians
# reported, with the ratio of each to `pass` of the same coding.
#
# Usage: benches/page_cost.sh [--rounds N] [--duration SECONDS] [--connections N] [--bytes N]
# Needs nginx, wrk, taskset, curl and python3 (apt-get install -y nginx wrk).
set -euo pipefail

ROUNDS=3
DURATION=8
CONNS=8
BYTES=51200
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --bytes) BYTES="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)
for t in nginx wrk taskset curl python3; do
  command -v "$t" >/dev/null 2>&1 || { echo "missing tool: $t (apt-get install -y nginx wrk)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "needs at least 2 CPUs" >&2; exit 1; }

echo "== building consentry and the load generator (release)"
cargo build --release --quiet --bin consentry --example loadgen
BIN="$ROOT/target/release/consentry"
LOADGEN="$ROOT/target/release/examples/loadgen"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
P_ORIGIN=$(free_port); P_PASS=$(free_port); P_PAGE=$(free_port); P_ADMIN1=$(free_port); P_ADMIN2=$(free_port)

mkdir -p "$WORK/www" "$WORK/origin/logs" "$WORK/origin/tmp"
"$LOADGEN" page --bytes "$BYTES" > "$WORK/www/index.html"
echo "== page: $(wc -c < "$WORK/www/index.html") bytes"
cat > "$WORK/origin/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $WORK/origin/nginx.pid;
error_log $WORK/origin/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/origin/tmp/body;
  proxy_temp_path $WORK/origin/tmp/proxy;
  fastcgi_temp_path $WORK/origin/tmp/fastcgi;
  uwsgi_temp_path $WORK/origin/tmp/uwsgi;
  scgi_temp_path $WORK/origin/tmp/scgi;
  keepalive_requests 1000000;
  gzip on; gzip_types text/html; gzip_comp_level 6; gzip_min_length 0; gzip_proxied any;
  server {
    listen 127.0.0.1:$P_ORIGIN;
    root $WORK/www;
    location / { default_type text/html; charset utf-8; index index.html; }
  }
}
CONF

consentry_conf() { # file port admin_port rewrite
  cat > "$1" <<TOML
[listen]
http = "127.0.0.1:$2"
[admin]
listen = "127.0.0.1:$3"
[server]
workers = 1
[upstream]
url = "http://127.0.0.1:$P_ORIGIN"
[consent]
sources = ["consentry"]
[categories.essential]
required = true
cookies = ["_zendesk_session"]
[categories.functional]
cookies = ["ZD-settings"]
scripts = ["widget.intercom.io"]
[categories.analytics]
cookies = ["_ga", "_ga_*", "_gid"]
scripts = ["google-analytics.com", "googletagmanager.com", "googletagmanager.com/gtag/js?id=G-*",
           "hotjar.com", "clarity.ms", "cdn.segment.com", "*.mixpanel.com"]
[categories.advertising]
cookies = ["_fbp", "IDE", "_gcl_*"]
scripts = ["googletagmanager.com/gtag/js?id=AW-*", "connect.facebook.net", "facebook.com/tr",
           "snap.licdn.com", "px.ads.linkedin.com", "analytics.tiktok.com", "doubleclick.net",
           "bat.bing.com", "youtube.com/embed", "static.ads-twitter.com"]
[page]
rewrite = $4
TOML
}
consentry_conf "$WORK/pass.toml" "$P_PASS" "$P_ADMIN1" false
consentry_conf "$WORK/page.toml" "$P_PAGE" "$P_ADMIN2" true

start() { # cpu name cmd...
  local cpu=$1 name=$2; shift 2
  taskset -c "$cpu" "$@" > "$WORK/$name.out" 2>&1 &
  PIDS+=($!)
  eval "PID_$name=$!"
}
start 1 origin nginx -c "$WORK/origin/nginx.conf"
RUST_LOG=warn start 0 pass "$BIN" run --config "$WORK/pass.toml"
RUST_LOG=warn start 0 page "$BIN" run --config "$WORK/page.toml"
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 did not come up" >&2; cat "$WORK"/*.out >&2; exit 1; }
for p in $P_ORIGIN $P_PASS $P_PAGE; do wait_port "$p"; done

echo "== checking what each case does to the page"
fetch() { curl -s --compressed -H "Cookie: consentry=$2" ${3:+-H "Accept-Encoding: gzip"} "http://127.0.0.1:$1/"; }
held() { grep -o 'data-consentry-category' | wc -l; }
[ "$(fetch "$P_PASS" none | cmp - "$WORK/www/index.html" && echo same)" = same ] || { echo "pass: the page changed" >&2; exit 1; }
[ "$(fetch "$P_PAGE" all | cmp - "$WORK/www/index.html" && echo same)" = same ] || { echo "granted: the page changed" >&2; exit 1; }
N=$(fetch "$P_PAGE" none | held); NGZ=$(fetch "$P_PAGE" none gzip | held)
[ "$N" -gt 5 ] && [ "$N" = "$NGZ" ] || { echo "rewrite: $N elements held (gzip: $NGZ)" >&2; exit 1; }
curl -s -o /dev/null -D - -H "Accept-Encoding: gzip" -H "Cookie: consentry=none" "http://127.0.0.1:$P_PAGE/" \
  | grep -qi '^content-encoding: gzip' || { echo "rewrite-gzip: the answer is not gzip" >&2; exit 1; }
echo "  pass and granted: byte-identical; rewrite: $N elements held back (identity and gzip)"

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)
RESULTS="$WORK/results.tsv"
: > "$RESULTS"
run() { # case port pid cookie gzip
  local before after out errors
  before=$(cpu_ticks "$3")
  out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Cookie: consentry=$4" ${5:+-H "Accept-Encoding: gzip"} "http://127.0.0.1:$2/" 2>&1)
  after=$(cpu_ticks "$3")
  errors=$(echo "$out" | awk '/Non-2xx/{n+=$NF} /Socket errors/{gsub(/,/,""); n+=$4+$6+$8+$10} END{print n+0}')
  [ "$errors" -eq 0 ] || echo "  $1: $errors errors"
  printf '%s\t%s\t%s\t%s\n' "$1" "$(echo "$out" | awk '/Requests\/sec/{print $2}')" "$((after - before))" \
    "$(echo "$out" | awk '/requests in/{print $1}')" >> "$RESULTS"
}

echo "== $ROUNDS interleaved rounds of ${DURATION}s per case, $CONNS connections"
for r in $(seq "$ROUNDS"); do
  run pass "$P_PASS" "$PID_pass" none ""
  run rewrite "$P_PAGE" "$PID_page" none ""
  run granted "$P_PAGE" "$PID_page" all ""
  run pass-gzip "$P_PASS" "$PID_pass" none gzip
  run rewrite-gzip "$P_PAGE" "$PID_page" none gzip
  run granted-gzip "$P_PAGE" "$PID_page" all gzip
done

python3 - "$RESULTS" "$TICK" <<'PY'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
tick = float(sys.argv[2])
by = {}
for case, rps, ticks, reqs in rows:
    by.setdefault(case, []).append((float(rps), float(ticks) / tick / max(float(reqs), 1) * 1e6))
med = {c: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for c, v in by.items()}
print(f"{'case':<14}{'req/s':>10}{'CPU us/req':>12}{'vs pass':>9}")
for c in ["pass", "rewrite", "granted", "pass-gzip", "rewrite-gzip", "granted-gzip"]:
    base = med["pass-gzip" if c.endswith("gzip") else "pass"][1]
    print(f"{c:<14}{med[c][0]:>10.0f}{med[c][1]:>12.1f}{med[c][1] / base:>8.2f}x")
PY
