#!/bin/bash
# leaks_server_wall.sh: wall time of `smolder leaks -p PID -d 4` on real servers under their own
# load tools (issue 9 item 10: "leaks -p <an nginx worker> -d 4 had not finished after 40 s"):
# an nginx worker under ab and redis-server under redis-benchmark, each ROUNDS times with the
# anchor (SMOLDER_UPROBE_MULTI=0: one perf-event uprobe per function) and the default
# (uprobe_multi links) side by side, with the load average of each run. A run is cut at 60 s.
# usage: scripts/bench/leaks_server_wall.sh [BUILD_DIR] [ROUNDS]   (root; build first)
set -uo pipefail
BUILD=${1:-build}
ROUNDS=${2:-3}
WORK=$(mktemp -d /tmp/smolder-bench-wall.XXXXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

free_port() {
	local p=$1
	while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
	echo "$p"
}

NPORT=$(free_port 18580)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx/body;
	proxy_temp_path $WORK/nginx/proxy;
	fastcgi_temp_path $WORK/nginx/fastcgi;
	uwsgi_temp_path $WORK/nginx/uwsgi;
	scgi_temp_path $WORK/nginx/scgi;
	server { listen 127.0.0.1:$NPORT; location / { return 200 "smolder\n"; } }
}
EOF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx/" &
NMASTER=$!
PIDS+=("$NMASTER")
RPORT=$(free_port 17579)
mkdir -p "$WORK/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" \
	--logfile "$WORK/redis/log" &
REDIS=$!
PIDS+=("$REDIS")
for _ in $(seq 100); do
	[ "$(pgrep -c -P "$NMASTER")" -eq 2 ] && redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break
	sleep 0.1
done
WORKER=$(pgrep -P "$NMASTER" | head -1)
ab -q -t 600 -n 100000000 -c 4 "http://127.0.0.1:$NPORT/" >/dev/null 2>&1 &
PIDS+=($!)
redis-benchmark -p "$RPORT" -q -n 100000000 -c 10 -t set,get,lpush >/dev/null 2>&1 &
PIDS+=($!)
sleep 1

for r in $(seq "$ROUNDS"); do
	for target in nginx-worker redis; do
		pid=$WORKER
		[ "$target" = redis ] && pid=$REDIS
		for mode in per-probe multi; do
			multi=1
			[ "$mode" = per-probe ] && multi=0
			start=$(date +%s.%N)
			SMOLDER_UPROBE_MULTI=$multi timeout 60 "$BUILD/smolder" leaks -p "$pid" -d 4 \
				-o "$WORK/l.json" >/dev/null 2>"$WORK/err"
			rc=$?
			end=$(date +%s.%N)
			awk -v s="$start" -v e="$end" -v t="$target" -v m="$mode" -v rc="$rc" \
				-v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
				printf "run %d %-12s %-9s: wall %.2f s for -d 4, exit %d (load %s)\n",
					'"$r"', t, m, e - s, rc, l }'
		done
	done
done
