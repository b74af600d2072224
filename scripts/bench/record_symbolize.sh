#!/usr/bin/env bash
# record_symbolize.sh: how long `smolder record` spends symbolizing at the end of a profile of the
# demo service under load (every unique address resolved once, libdw with per-module indexes), and
# how many unique addresses that is. Env: SECONDS_PER_RUN (default 60), HZ (default 99),
# BUILD_DIR (default build). Run as root after building.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
secs=${SECONDS_PER_RUN:-60}
hz=${HZ:-99}
work=$(mktemp -d /tmp/smolder-bench-symbolize.XXXXXX)
server=""
load=""
trap '[ -n "$load" ] && kill "$load" 2>/dev/null; [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

port=18180
while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
"$build/tests/fixtures/demo_server" "$port" 4 >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done
"$build/tests/fixtures/demo_load" "$port" $((secs + 5)) 4 >"$work/load.log" 2>&1 &
load=$!
sleep 1
/usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KiB peak RSS" -o "$work/time" \
	"$build/smolder" record -p "$server" -F "$hz" -d "$secs" -o "$work/demo.folded" 2>"$work/err"
grep -E "samples:|stacks:|symbols:" "$work/err" | sed 's/^smolder: //'
echo "smolder record -d $secs: $(cat "$work/time")"
echo "folded: $(wc -l <"$work/demo.folded") unique stacks"
