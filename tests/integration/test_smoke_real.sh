#!/usr/bin/env bash
# test_smoke_real.sh: smolder on real programs from Debian's archive, started by the test with
# private configurations on loopback ports: redis-server under redis-benchmark, nginx (master + 2
# workers, own pid file and temp dirs) under ab, a perl loop, /usr/bin/python3 and node. For each:
# record (eBPF, no ptrace fallback), leaks and dump exit 0; folded output parses, JSON loads, SVG
# passes xmllint; and the program's event loop or interpreter loop is in the stacks (aeMain,
# ngx_process_events_and_timers, Perl_runops_standard, asyncio's BaseEventLoop.run_forever, uv_run).
# Everything runs at once (the leaks runs take longest), so the test stays well under 90 s.
source "$(dirname "$0")/lib.sh"
require_root_bpf

for tool in redis-server redis-benchmark redis-cli nginx ab perl python3 node xmllint; do
	command -v "$tool" >/dev/null || fail "$tool missing (scripts/bootstrap.sh build test)"
done
[ "$FAILURES" -eq 0 ] || finish

# free_port START: the first loopback TCP port from START nobody listens on.
free_port() {
	local p=$1
	while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
	echo "$p"
}

# wait_for WHAT CMD...: retries CMD for up to 10 s.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "$what did not come up"
	return 1
}

declare -A PIDS LOOP

# redis: no persistence, its own directory.
RPORT=$(free_port 17379)
mkdir "$WORK/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" \
	--daemonize no --logfile "$WORK/redis/log" &
PIDS[redis]=$!
CHILDREN+=("${PIDS[redis]}")
LOOP[redis]=aeMain
wait_for redis sh -c "redis-cli -p $RPORT ping | grep -q PONG"

# nginx: master + 2 workers; pid file, logs and temp paths in $WORK.
NPORT=$(free_port 18380)
mkdir "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
master_process on;
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
CHILDREN+=("$NMASTER")
wait_for nginx sh -c "[ \$(pgrep -c -P $NMASTER) -eq 2 ] && ab -q -n 1 http://127.0.0.1:$NPORT/"
for w in $(pgrep -P "$NMASTER"); do CHILDREN+=("$w"); done # a killed master leaves them
PIDS[nginx]=$(pgrep -P "$NMASTER" | head -1)
LOOP[nginx]=ngx_process_events_and_timers

# perl: a loop of new strings kept in a bounded queue (allocates and frees through malloc).
perl -e 'my @a; while (1) { push @a, "x" x (100 + $_ % 900) for 1 .. 200; splice @a, 0, 200 if @a > 2000 }' &
PIDS[perl]=$!
CHILDREN+=("${PIDS[perl]}")
LOOP[perl]=Perl_runops_standard

# Debian's python3 (stripped, libpython static; python3.11-dbg has its symbols): an asyncio
# event loop running a coroutine that works between awaits.
/usr/bin/python3 -c '
import asyncio
def work():
    return {i: str(i) * 3 for i in range(2000)}
async def serve():
    while True:
        work()
        await asyncio.sleep(0)
asyncio.run(serve())' &
PIDS[python]=$!
CHILDREN+=("${PIDS[python]}")
# Python frames are spliced in place of the interpreter's (DESIGN.md): the loop is asyncio's.
LOOP[python]='BaseEventLoop\.run_forever \(asyncio/base_events\.py:[0-9]+\)'

# node: a timer-driven event loop doing work in each callback.
node -e '
function work() { const a = []; for (let i = 0; i < 20000; i++) a.push({ i, s: "x" + i }); return a.length; }
setInterval(work, 1);' &
PIDS[node]=$!
CHILDREN+=("${PIDS[node]}")
LOOP[node]=uv_run

# Load: new connections each request for nginx (its pools are allocated per connection).
redis-benchmark -p "$RPORT" -q -n 100000000 -c 10 -t set,get,lpush >"$WORK/redis-benchmark.log" 2>&1 &
RLOAD=$!
CHILDREN+=("$RLOAD")
ab -q -t 120 -n 100000000 -c 4 "http://127.0.0.1:$NPORT/" >"$WORK/ab.log" 2>&1 &
NLOAD=$!
CHILDREN+=("$NLOAD")
sleep 1
kill -0 "$RLOAD" 2>/dev/null || fail "redis-benchmark ended early: $(tail -c 300 "$WORK/redis-benchmark.log")"
kill -0 "$NLOAD" 2>/dev/null || fail "ab ended early: $(tail -c 300 "$WORK/ab.log")"

# Records first, all at once; then the leaks runs (their uprobes slow the targets down). At 499 Hz:
# on a loaded CI machine each target may get a tenth of a CPU.
targets=(redis nginx perl python node)
declare -A REC LEAK
for t in "${targets[@]}"; do
	"$SMOLDER" record -p "${PIDS[$t]}" -F 499 -d 3 -o "$WORK/$t.folded" -o "$WORK/$t.json" \
		-o "$WORK/$t.svg" >"$WORK/$t.rec.out" 2>"$WORK/$t.rec.err" &
	REC[$t]=$!
done

for t in "${targets[@]}"; do
	loop=${LOOP[$t]}
	if wait "${REC[$t]}"; then pass "$t: record exit 0"; else
		fail "$t: record exit $?: $(tail -3 "$WORK/$t.rec.err")"
	fi
	grep -q "ptrace backend" "$WORK/$t.rec.err" && fail "$t: record fell back to ptrace: $(head -2 "$WORK/$t.rec.err")"
	bad=$(grep -cvE '^[^ ].* [0-9]+$' "$WORK/$t.folded")
	[ -s "$WORK/$t.folded" ] && [ "$bad" -eq 0 ] && pass "$t: folded parses" ||
		fail "$t: folded: $bad malformed lines"
	python3 -m json.tool "$WORK/$t.json" >/dev/null && pass "$t: record JSON loads" || fail "$t: record JSON"
	xmllint --noout "$WORK/$t.svg" && pass "$t: SVG well formed" || fail "$t: SVG"
	# The loop as a whole frame (between ';'), not as part of a path or a longer name.
	grep -qE "(^|;)$loop(;| )" "$WORK/$t.folded" && pass "$t: $loop in the CPU stacks" ||
		fail "$t: no $loop frame; top stacks: $(sort -t' ' -k2 -nr "$WORK/$t.folded" | head -3)"
done

for t in "${targets[@]}"; do
	"$SMOLDER" leaks -p "${PIDS[$t]}" -d 3 -o "$WORK/$t.leaks.json" -o "$WORK/$t.leaks.svg" \
		>"$WORK/$t.leaks.txt" 2>"$WORK/$t.leaks.err" &
	LEAK[$t]=$!
done
for t in "${targets[@]}"; do
	if wait "${LEAK[$t]}"; then pass "$t: leaks exit 0"; else
		fail "$t: leaks exit $?: $(tail -3 "$WORK/$t.leaks.err")"
	fi
	python3 - "$WORK/$t.leaks.json" "$t" <<'PY' && pass "$t: leak report loads, allocations tracked" ||
import json, sys
r = json.load(open(sys.argv[1]))
assert r["totals"]["tracked_allocs"] > 0 or r["sites"], "no allocation tracked"
PY
		fail "$t: leak report: $(tail -2 "$WORK/$t.leaks.err")"
	xmllint --noout "$WORK/$t.leaks.svg" && pass "$t: leaks SVG well formed" || fail "$t: leaks SVG"
done
# The servers and the asyncio loop allocate from their event loops: some site's stack runs
# through them (a whole frame matching the loop's pattern).
for t in redis nginx python; do
	python3 - "$WORK/$t.leaks.json" "${LOOP[$t]}" <<'PY' && pass "$t: allocation sites under ${LOOP[$t]}" ||
import json, re, sys
r = json.load(open(sys.argv[1]))
assert any(re.fullmatch(sys.argv[2], f) for s in r["sites"] for f in s["stack"]), \
    [s["stack"][-4:] for s in r["sites"][:5]]
PY
		fail "$t: no allocation site under ${LOOP[$t]}"
done

for t in "${targets[@]}"; do
	expect_exit 0 "$t: dump" "$SMOLDER" dump -p "${PIDS[$t]}"
	# The main thread's block (the first) holds the loop as a frame's function.
	awk 'NR > 1 && /^Thread / { exit } { print }' "$WORK/out" >"$WORK/$t.dump"
	grep -qE "^  #[0-9]+ 0x[0-9a-f]+ ${LOOP[$t]} " "$WORK/$t.dump" &&
		pass "$t: dump shows ${LOOP[$t]} in the main thread" ||
		fail "$t: dump main thread: $(head -12 "$WORK/$t.dump")"
done
finish
