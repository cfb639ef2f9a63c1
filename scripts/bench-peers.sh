#!/usr/bin/env bash
# bench-peers.sh - pharos side by side with the tools users would pick instead, in one run,
# on this machine, with Debian's packages:
#
#   probes: N HTTP checks against a local nginx, by pharos and by Prometheus +
#           blackbox_exporter at equal work (same targets, same interval); CPU seconds per
#           1,000 probes of each (all processes of each side counted), and their ratio.
#   page:   pharos serving its status page of 500 components and nginx serving the very same
#           bytes, each pinned to CPU 0 with wrk on CPU 1 (wrk -t1 -c64), in alternating
#           rounds (the other side stopped meanwhile), so that the machine's drifts reach both
#           alike; requests per second and p99 latency of each round, each round's ratio and
#           the median ratio.
#
# Usage: scripts/bench-peers.sh [probes|page|all]      (default: all)
# Options (environment): MONITORS (5000), INTERVAL (10, seconds), SECONDS_MEASURED (60),
#                        PAGE_ROUNDS (5), PAGE_SECONDS (10, per side and round),
#                        PHAROS_BIN (the release build made here)
# Needs: nginx, wrk, prometheus, prometheus-blackbox-exporter, curl, taskset (installs the
# Debian packages when missing and run as root) and a release build of pharos (built here).
set -euo pipefail

WHAT=${1:-all}
MONITORS=${MONITORS:-5000}
INTERVAL=${INTERVAL:-10}
SECONDS_MEASURED=${SECONDS_MEASURED:-60}
PAGE_ROUNDS=${PAGE_ROUNDS:-5}
PAGE_SECONDS=${PAGE_SECONDS:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PHAROS_BIN=${PHAROS_BIN:-$HERE/target/release/pharos}
WORK=$(mktemp -d /tmp/pharos-peers.XXXXXX)
chmod 755 "$WORK"   # nginx's workers run as another user when started by root
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

need() {
    local missing=()
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v prometheus >/dev/null || missing+=(prometheus)
    command -v prometheus-blackbox-exporter >/dev/null || missing+=(prometheus-blackbox-exporter)
    command -v curl >/dev/null || missing+=(curl)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]}" >&2
        apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# CPU seconds (user + system) of the given processes and their threads.
cpu_seconds() {
    local total=0 pid ticks
    for pid in "$@"; do
        ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + ticks))
    done
    echo "scale=3; $total / $(getconf CLK_TCK)" | bc
}

wait_http() {
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

start_nginx() { # root port [cpu]
    local root=$1 port=$2
    mkdir -p "$root/html"
    cat >"$root/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $root/nginx.pid; error_log $root/error.log;
events { worker_connections 8192; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  client_body_temp_path $root/body; proxy_temp_path $root/proxy; fastcgi_temp_path $root/fastcgi;
  uwsgi_temp_path $root/uwsgi; scgi_temp_path $root/scgi;
  types { text/html html; }
  server { listen 127.0.0.1:$port; root $root/html; location / { index index.html; } }
}
EOF
    if [ -n "${3:-}" ]; then
        taskset -c "$3" nginx -c "$root/nginx.conf" -p "$root" &
    else
        nginx -c "$root/nginx.conf" -p "$root" &
    fi
    PIDS+=($!)
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$port/"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 200 ] ||
        { echo "nginx does not serve $root/html" >&2; return 1; }
}

probes() {
    local target_port; target_port=$(free_port)
    mkdir -p "$WORK/target/html"; echo ok >"$WORK/target/html/index.html"
    start_nginx "$WORK/target" "$target_port"

    # pharos
    local listen; listen=$(free_port)
    {
        printf '[server]\nlisten = "127.0.0.1:%s"\ndatabase = "%s/pharos.db"\nadmin_token = "peers-bench-token-0123456789"\n\n' "$listen" "$WORK"
        printf '[defaults]\ninterval = "%ss"\ntimeout = "5s"\n\n' "$INTERVAL"
        for c in $(seq 0 $(((MONITORS - 1) / 10))); do
            printf '[[components]]\nid = "c%s"\nname = "Service %s"\n\n' "$c" "$c"
        done
        for m in $(seq 0 $((MONITORS - 1))); do
            printf '[[monitors]]\nid = "m%s"\ncomponent = "c%s"\ntype = "http"\nurl = "http://127.0.0.1:%s/?m=%s"\n\n' "$m" $((m / 10)) "$target_port" "$m"
        done
    } >"$WORK/pharos.toml"
    RUST_LOG=warn "$PHAROS_BIN" serve --config "$WORK/pharos.toml" >/dev/null &
    local pharos=$!; PIDS+=($pharos)
    wait_http "http://127.0.0.1:$listen/healthz"
    sleep "$INTERVAL"; sleep 5   # every monitor has started
    local metrics="http://127.0.0.1:$listen/metrics"
    local auth="authorization: Bearer peers-bench-token-0123456789"
    probes_done() { curl -fsS -H "$auth" "$metrics" | awk '/^pharos_probes_finished_total/ {s += $2} END {print s}'; }
    local p0 c0 p1 c1
    p0=$(probes_done); c0=$(cpu_seconds $pharos)
    sleep "$SECONDS_MEASURED"
    p1=$(probes_done); c1=$(cpu_seconds $pharos)
    local pharos_up
    pharos_up=$(curl -fsS -H "$auth" "$metrics" | awk '/^pharos_monitor_up/ && $2 == 1 {n++} END {print n + 0}')
    kill $pharos; wait $pharos 2>/dev/null || true
    local pharos_probes=$((p1 - p0)) pharos_cpu; pharos_cpu=$(echo "$c1 - $c0" | bc)

    # Prometheus + blackbox_exporter, probing the same targets at the same interval.
    local bb_port prom_port; bb_port=$(free_port); prom_port=$(free_port)
    cat >"$WORK/blackbox.yml" <<EOF
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
EOF
    {
        printf 'global:\n  scrape_interval: %ss\n  scrape_timeout: 5s\nscrape_configs:\n  - job_name: blackbox\n    metrics_path: /probe\n    params:\n      module: [http_2xx]\n    static_configs:\n      - targets:\n' "$INTERVAL"
        for m in $(seq 0 $((MONITORS - 1))); do
            printf '        - http://127.0.0.1:%s/?m=%s\n' "$target_port" "$m"
        done
        printf '    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n      - source_labels: [__param_target]\n        target_label: instance\n      - target_label: __address__\n        replacement: 127.0.0.1:%s\n' "$bb_port"
    } >"$WORK/prometheus.yml"
    prometheus-blackbox-exporter --config.file="$WORK/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" --log.level=warn 2>/dev/null &
    local blackbox=$!; PIDS+=($blackbox)
    prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
        --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>/dev/null &
    local prom=$!; PIDS+=($prom)
    wait_http "http://127.0.0.1:$prom_port/-/ready"
    sleep "$INTERVAL"; sleep 5
    local query="http://127.0.0.1:$prom_port/api/v1/query"
    c0=$(cpu_seconds $blackbox $prom)
    local started; started=$(date +%s)
    sleep "$SECONDS_MEASURED"
    c1=$(cpu_seconds $blackbox $prom)
    local window=$(( $(date +%s) - started ))
    local peer_probes
    peer_probes=$(curl -fsS "$query" --data-urlencode "query=sum(count_over_time(probe_success[${window}s]))" |
        python3 -c 'import json,sys; print(int(float(json.load(sys.stdin)["data"]["result"][0]["value"][1])))')
    local peer_cpu; peer_cpu=$(echo "$c1 - $c0" | bc)
    local peer_up
    peer_up=$(curl -fsS "$query" --data-urlencode "query=sum(probe_success)" |
        python3 -c 'import json,sys; print(int(float(json.load(sys.stdin)["data"]["result"][0]["value"][1])))')
    kill $prom $blackbox; wait $prom $blackbox 2>/dev/null || true

    local pharos_per peer_per
    pharos_per=$(echo "scale=3; 1000 * $pharos_cpu / $pharos_probes" | bc)
    peer_per=$(echo "scale=3; 1000 * $peer_cpu / $peer_probes" | bc)
    echo "probes: $MONITORS HTTP monitors at ${INTERVAL}s, ${SECONDS_MEASURED}s measured, $(nproc) CPUs"
    echo "pharos CPU-s per 1000 probes $pharos_per ($pharos_probes probes, $pharos_cpu CPU-s, $pharos_up of $MONITORS up)"
    echo "prometheus+blackbox CPU-s per 1000 probes $peer_per ($peer_probes probes, $peer_cpu CPU-s, $peer_up of $MONITORS up)"
    echo "ratio (prometheus+blackbox / pharos) $(echo "scale=2; $peer_per / $pharos_per" | bc)"
}

page() {
    # 500 components of one check each, at a minute, so that the page re-renders as results
    # come in during the run while probing itself costs little.
    local target_port listen; target_port=$(free_port); listen=$(free_port)
    mkdir -p "$WORK/ptarget/html"; echo ok >"$WORK/ptarget/html/index.html"
    start_nginx "$WORK/ptarget" "$target_port"
    {
        printf '[server]\nlisten = "127.0.0.1:%s"\ndatabase = "%s/page.db"\n\n[defaults]\ninterval = "60s"\n\n' "$listen" "$WORK"
        for c in $(seq 0 499); do
            printf '[[components]]\nid = "c%s"\nname = "Service %s"\ndescription = "Sending and receiving mail, region %s"\ngroup = "Group %s"\n\n' "$c" "$c" "$c" $((c / 50))
            printf '[[monitors]]\nid = "m%s"\ncomponent = "c%s"\ntype = "http"\nurl = "http://127.0.0.1:%s/?m=%s"\n\n' "$c" "$c" "$target_port" "$c"
        done
    } >"$WORK/page.toml"
    RUST_LOG=warn taskset -c 0 "$PHAROS_BIN" serve --config "$WORK/page.toml" >"$WORK/page-pharos.log" 2>&1 &
    local pharos=$!; PIDS+=($pharos)
    wait_http "http://127.0.0.1:$listen/"
    sleep 65   # every check has reported once
    mkdir -p "$WORK/page/html"
    curl -fsS "http://127.0.0.1:$listen/" -o "$WORK/page/html/index.html"
    local raw gz
    raw=$(stat -c %s "$WORK/page/html/index.html")
    gz=$(curl -fsS -H 'accept-encoding: gzip' "http://127.0.0.1:$listen/" | wc -c)
    echo "page: / of 500 components is $raw bytes raw, $gz bytes gzip"
    local page_port; page_port=$(free_port)
    start_nginx "$WORK/page" "$page_port" 0
    local ratios=() round pharos_out nginx_out pharos_rps nginx_rps ratio
    for round in $(seq 1 "$PAGE_ROUNDS"); do
        pharos_out=$(taskset -c 1 wrk -t1 -c64 -d"${PAGE_SECONDS}s" --latency "http://127.0.0.1:$listen/")
        kill -STOP $pharos
        nginx_out=$(taskset -c 1 wrk -t1 -c64 -d"${PAGE_SECONDS}s" --latency "http://127.0.0.1:$page_port/")
        kill -CONT $pharos
        pharos_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$pharos_out")
        nginx_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$nginx_out")
        ratio=$(echo "scale=2; $pharos_rps / $nginx_rps" | bc)
        ratios+=("$ratio")
        echo "round $round: pharos / requests/s $pharos_rps, p99 $(awk '$1 == "99%" {print $2}' <<<"$pharos_out");" \
            "nginx same bytes requests/s $nginx_rps, p99 $(awk '$1 == "99%" {print $2}' <<<"$nginx_out"); ratio $ratio"
    done
    kill $pharos; wait $pharos 2>/dev/null || true
    echo "median ratio (pharos / nginx) $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{r[NR] = $1} END {print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2}')"
}

need
(cd "$HERE" && cargo build --release --quiet)
case "$WHAT" in
    probes) probes ;;
    page) page ;;
    all) probes; page ;;
    *) echo "usage: $0 [probes|page|all]" >&2; exit 64 ;;
esac
