#!/usr/bin/env bash
# test_record_tree.sh: `smolder record` on process trees with real eBPF: a launched `sh -c` whose
# child does the work (children followed by default, --no-children restricts), a launched shell
# pipeline whose Python child's functions dominate, the launch of a command whose binary is
# smolder's own (exec noticed by its event, not by the path), a Python multiprocessing pool (its
# workers' Python functions), gunicorn with 2 sync workers under wrk attached by master PID with
# --children while --max-requests 50 replaces workers during the run (the app's Python functions
# in every worker, new ones included), --merge-processes, gunicorn's UvicornWorker (Python
# functions in both workers), nginx master + 2 workers by -p list (and dump of all three), targets
# in their own PID and mount namespace (a native one; a Python process and its forked children; a
# node cluster whose workers' perf maps are in the namespace's own /tmp), and that no process of a
# tree is left stopped or traced.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/record_lib.sh"
require_root_bpf

# share_of FOLDED ROOT_RE FRAME: percentage (integer) of all samples whose stack starts with a
# root frame matching ROOT_RE (awk ERE on the first frame) and holds the frame FRAME.
share_of() {
	awk -v root="$2" -v frame="$3" '
	{ n = $NF; total += n; line = $0; sub(/ [0-9]+$/, "", line); k = split(line, f, ";")
	  if (f[1] !~ root) next
	  for (i = 2; i <= k; i++) if (f[i] == frame) { hit += n; break } }
	END { print total ? int(100 * hit / total) : 0 }' "$1"
}

# share_of_prefix FOLDED ROOT_RE PREFIX: as share_of, for a frame starting with PREFIX (a Python
# function at any of its lines: "burn (pool.py:").
share_of_prefix() {
	awk -v root="$2" -v prefix="$3" '
	{ n = $NF; total += n; line = $0; sub(/ [0-9]+$/, "", line); k = split(line, f, ";")
	  if (f[1] !~ root) next
	  for (i = 2; i <= k; i++) if (index(f[i], prefix) == 1) { hit += n; break } }
	END { print total ? int(100 * hit / total) : 0 }' "$1"
}

# roots FOLDED: the distinct first frames with their sample counts, most first.
roots() {
	awk '{ n = $NF; line = $0; sub(/ [0-9]+$/, "", line); split(line, f, ";"); c[f[1]] += n }
	END { for (r in c) print c[r], r }' "$1" | sort -rn
}

# not_stopped PID...: none of the processes is stopped (T/t) or has a tracer.
not_stopped() {
	local p state tracer
	for p in "$@"; do
		[ -r "/proc/$p/status" ] || continue
		state=$(awk '/^State:/ { print $2 }' "/proc/$p/status")
		tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$p/status")
		if [ "$state" = T ] || [ "$state" = t ] || [ "$tracer" != 0 ]; then
			fail "PID $p left stopped or traced (state $state, tracer $tracer)"
			return
		fi
	done
	pass "no process of the tree left stopped or traced ($# checked)"
}

# --- launch mode: sh -c runs the job as its child; the child's functions dominate --------------
"$SMOLDER" record -F 499 -o "$WORK/sh.folded" -o "$WORK/sh.json" -- \
	sh -c "\"$FIXTURES/bench_spin\" 3 >/dev/null; true" 2>"$WORK/sh.err"
code=$?
[ "$code" -eq 0 ] || fail "launch sh -c: exit $code: $(head -c 400 "$WORK/sh.err")"
expect_folded_file "$WORK/sh.folded"
share=$(share_of "$WORK/sh.folded" '^bench_spin \[[0-9]+\]$' bench_leaf)
total=$(folded_total "$WORK/sh.folded")
if [ "$total" -ge 50 ] && [ "$share" -ge 80 ]; then
	pass "launch sh -c: the child's bench_leaf holds $share% of $total samples"
else
	fail "launch sh -c: bench_leaf under bench_spin [PID] holds $share% of $total samples (want >= 80% of >= 50)"
	roots "$WORK/sh.folded" | head -5 >&2
fi
bad=$(awk '{ split($0, f, ";"); if (f[1] !~ /^[^;]+ \[[0-9]+\]$/) n++ } END { print n + 0 }' \
	"$WORK/sh.folded")
[ "$bad" -eq 0 ] && pass "launch sh -c: every stack starts with COMMAND [PID]" ||
	fail "launch sh -c: $bad stacks without a process root"
python3 - "$WORK/sh.json" <<'EOF' || fail "launch sh -c: JSON processes table wrong"
import json, sys
d = json.load(open(sys.argv[1]))
procs = d["processes"]
assert any(p["command"] == "bench_spin" and p["samples"] > 0 for p in procs), procs
assert sum(p["samples"] for p in procs) == d["totals"]["samples"], (procs, d["totals"])
EOF

# --no-children: only sh itself, which waits.
"$SMOLDER" record -F 499 --no-children -o "$WORK/noch.folded" -- \
	sh -c "\"$FIXTURES/bench_spin\" 1 >/dev/null; true" 2>"$WORK/noch.err"
if grep -q bench_leaf "$WORK/noch.folded" 2>/dev/null; then
	fail "--no-children: the child's frames were sampled"
else
	pass "--no-children: the child was not followed"
fi

# --- launch mode: a shell pipeline; the exec'd Python child's functions dominate ------------------
# The Python process is a fork+exec of sh: its interpreter is found at its own first samples (per
# process Python config), not inherited from anybody.
cat >"$WORK/work.py" <<'EOF'
def crunch(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total

for _ in range(20):
    print(crunch(300000))
EOF
# From $WORK: file names are shortened below the target's working directory.
(cd "$WORK" && exec "$SMOLDER" record -F 499 -o "$WORK/pipe.folded" -- \
	sh -c "python3 work.py | cat >/dev/null" 2>"$WORK/pipe.err")
code=$?
[ "$code" -eq 0 ] || fail "launch pipeline: exit $code: $(head -c 400 "$WORK/pipe.err")"
share=$(share_of_prefix "$WORK/pipe.folded" '^python3 \[[0-9]+\]$' 'crunch (work.py:')
total=$(folded_total "$WORK/pipe.folded")
if [ "$total" -ge 50 ] && [ "$share" -ge 60 ]; then
	pass "launch sh -c 'python3 work.py | cat': crunch (work.py) in $share% of $total samples"
else
	fail "launch pipeline: crunch (work.py) under python3 [PID] in $share% of $total samples (want >= 60% of >= 50)"
	roots "$WORK/pipe.folded" | head -5 >&2
fi

# --- launch mode: a Python multiprocessing pool; its forked workers do the work ------------------
cat >"$WORK/pool.py" <<'EOF'
import multiprocessing

def burn(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total

if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        pool.map(burn, [1500000] * 8)
EOF
(cd "$WORK" && exec "$SMOLDER" record -F 499 -o "$WORK/pool.json" -o "$WORK/pool.folded" -- \
	python3 pool.py 2>"$WORK/pool.err")
code=$?
[ "$code" -eq 0 ] || fail "multiprocessing pool: exit $code: $(head -c 400 "$WORK/pool.err")"
python3 - "$WORK/pool.json" <<'EOF' >"$WORK/pool.check" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
procs = d["processes"]
workers = [p for p in procs if p["pid"] != d["pid"] and p["samples"] > 0]
total = sum(p["samples"] for p in procs)
print("processes:", [(p["pid"], p["samples"]) for p in procs])
assert len(workers) >= 2, "fewer than 2 pool workers sampled"
assert sum(p["samples"] for p in workers) * 100 >= total * 60, "workers hold < 60% of the samples"
EOF
if [ $? -eq 0 ]; then
	pass "multiprocessing pool: $(tr '\n' ' ' <"$WORK/pool.check")"
else
	fail "multiprocessing pool: $(tr '\n' ' ' <"$WORK/pool.check")"
fi
# The workers are forks of the launched interpreter: their Python frames are read with the copy
# of its config made at the fork, and named from their own memory.
burn=$(share_of_prefix "$WORK/pool.folded" '^python3 \[[0-9]+\]$' 'burn (pool.py:')
nburn=$(awk '/;burn \(pool\.py:[0-9]+\)/ { split($0, f, ";"); w[f[1]] = 1 } END { print length(w) }' \
	"$WORK/pool.folded")
if [ "$burn" -ge 50 ] && [ "$nburn" -ge 2 ]; then
	pass "multiprocessing pool: burn (pool.py) in $burn% of the samples, in $nburn processes"
else
	fail "multiprocessing pool: burn (pool.py) in $burn% of the samples (want >= 50), in $nburn processes (want >= 2)"
	roots "$WORK/pool.folded" | head -5 >&2
fi

# --- launching smolder's own binary: the exec is seen by its event ------------------------------
perl "$SOURCE_DIR/scripts/bench/gen_folded.pl" 60000 >"$WORK/big.folded" 2>/dev/null
"$SMOLDER" record -F 999 -o "$WORK/own.folded" -- "$SMOLDER" flamegraph "$WORK/big.folded" \
	-o "$WORK/big.svg" 2>"$WORK/own.err"
code=$?
[ "$code" -eq 0 ] || fail "launch of smolder itself: exit $code: $(head -c 400 "$WORK/own.err")"
read -r unknown total < <(awk '{ n = $NF; t += n; if ($0 ~ /(^|;)\[unknown\]( |;)/ || $0 ~ /^0x/) u += n }
	END { print u + 0, t + 0 }' "$WORK/own.folded")
named=$(share_of "$WORK/own.folded" '.' cmd_flamegraph)
if [ "$total" -ge 20 ] && [ $((unknown * 10)) -le "$total" ] && [ "$named" -ge 80 ]; then
	pass "launch of smolder itself: $named% of $total samples under cmd_flamegraph, $unknown unknown"
else
	fail "launch of smolder itself: $unknown of $total samples unknown, $named% under cmd_flamegraph"
fi

# Ports below 32768, the start of the ephemeral range: wrk with a connection per request leaves
# thousands of client ports in TIME-WAIT there, and a listener on one of them fails to bind.
# --- gunicorn, 2 sync workers under wrk, workers replaced during the run -------------------------
port=$((20000 + RANDOM % 12000))
cat >"$WORK/app.py" <<'EOF'
def burn_request(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total

def app(environ, start_response):
    body = str(burn_request(20000)).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
EOF
(cd "$WORK" && exec gunicorn -w 2 --max-requests 50 -b "127.0.0.1:$port" \
	app:app >"$WORK/gunicorn.log" 2>&1) &
master=$!
CHILDREN+=("$master")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
before=$(pgrep -P "$master" | sort | tr '\n' ' ')
# Long enough for both records below (each new worker's model costs symbolization at the end);
# killed after them.
wrk -t2 -c4 -d60s "http://127.0.0.1:$port/" >"$WORK/wrk.out" 2>&1 &
wrk_pid=$!
CHILDREN+=("$wrk_pid")
sleep 0.5
"$SMOLDER" record -p "$master" --children -F 499 -d 3 -o "$WORK/gunicorn.folded" \
	-o "$WORK/gunicorn.json" 2>"$WORK/gunicorn.err"
code=$?
[ "$code" -eq 0 ] || fail "gunicorn --children: exit $code: $(head -c 400 "$WORK/gunicorn.err")"
python3 - "$WORK/gunicorn.json" "$master" "$before" <<'EOF' >"$WORK/gunicorn.check" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
master, before = int(sys.argv[2]), {int(p) for p in sys.argv[3].split()}
workers = [p for p in d["processes"] if p["pid"] != master and p["samples"] > 0]
total = sum(p["samples"] for p in workers)
print("workers:", [(p["pid"], p["samples"]) for p in workers], "before:", sorted(before))
assert len(workers) >= 2, "fewer than 2 workers sampled"
# Two workers serve at any time: none holds more than 85% of the workers' samples.
assert all(p["samples"] * 100 <= total * 85 for p in workers), "one worker has nearly all samples"
new = [p["pid"] for p in workers if p["pid"] not in before]
assert new, "no worker forked during the run was sampled (--max-requests replaces them)"
print("forked during the run and sampled:", new)
# The given master and its living workers are examined before sampling starts, and a worker
# forked later gets the master's Python config copied at its fork: (almost) no sample is taken
# before its process's config is in BPF.
late = d["totals"]["python"]["samples_not_examined"]
print("samples before their process was examined:", late)
assert late * 100 <= d["totals"]["samples"] * 5, "more than 5% of the samples were not walked"
EOF
if [ $? -eq 0 ]; then
	pass "gunicorn: $(tr '\n' ' ' <"$WORK/gunicorn.check")"
else
	fail "gunicorn: $(tr '\n' ' ' <"$WORK/gunicorn.check")"
fi
# The app's Python functions in every worker sampled enough, the ones forked during the run
# included (each worker's frames read with its own config: a copy of the master's at the fork).
python3 "$SOURCE_DIR/tests/integration/tree_python_check.py" "$WORK/gunicorn.folded" gunicorn \
	burn_request app.py --exclude "$master" --before "$before" --min-share 20 \
	>"$WORK/gunicorn.py.check" 2>&1
if [ $? -eq 0 ]; then
	pass "gunicorn: $(tr '\n' ' ' <"$WORK/gunicorn.py.check")"
else
	fail "gunicorn Python frames: $(tr '\n' ' ' <"$WORK/gunicorn.py.check")"
fi

"$SMOLDER" record -p "$master" --children --merge-processes -F 499 -d 2 \
	-o "$WORK/merged.folded" 2>"$WORK/merged.err"
nroots=$(roots "$WORK/merged.folded" | grep -c ' gunicorn$')
bad=$(roots "$WORK/merged.folded" | grep -c '\[[0-9]*\]$')
[ "$nroots" -eq 1 ] && [ "$bad" -eq 0 ] && pass "--merge-processes: one gunicorn root" ||
	fail "--merge-processes: roots $(roots "$WORK/merged.folded" | head -4 | tr '\n' ' ')"
kill "$wrk_pid" 2>/dev/null
tree_pids=("$master" $(pgrep -P "$master"))
not_stopped "${tree_pids[@]}"
kill -TERM "$master" 2>/dev/null
wait "$master" 2>/dev/null

# --- gunicorn with uvicorn.workers.UvicornWorker (asyncio workers), 2 workers, by --children ------
port=$((20000 + RANDOM % 12000))
cat >"$WORK/asgi.py" <<'EOF'
def burn_request(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = str(burn_request(20000)).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
EOF
(cd "$WORK" && exec gunicorn -w 2 -k uvicorn.workers.UvicornWorker -b "127.0.0.1:$port" \
	asgi:app >"$WORK/uvicorn.log" 2>&1) &
uv_master=$!
CHILDREN+=("$uv_master")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
# The first worker answering does not mean the master has forked the second yet (seen in CI):
# wait, bounded, for both before naming them.
for _ in $(seq 100); do [ "$(pgrep -c -P "$uv_master")" -ge 2 ] && break; sleep 0.1; done
uv_workers=$(pgrep -P "$uv_master" | tr '\n' ' ')
# A new connection per request: keep-alive connections would all stay with the worker that
# accepted them first, and the test is about smolder seeing both workers, not the balancing.
wrk -t2 -c4 -d8s -H "Connection: close" "http://127.0.0.1:$port/" >/dev/null 2>&1 &
wrk_pid=$!
CHILDREN+=("$wrk_pid")
sleep 0.3
"$SMOLDER" record -p "$uv_master" --children -F 499 -d 4 -o "$WORK/uvicorn.json" \
	-o "$WORK/uvicorn.folded" 2>"$WORK/uvicorn.err"
code=$?
[ "$code" -eq 0 ] || fail "uvicorn workers: exit $code: $(head -c 400 "$WORK/uvicorn.err")"
python3 - "$WORK/uvicorn.json" "$uv_workers" <<'EOF' >"$WORK/uvicorn.check" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
want = {int(p) for p in sys.argv[2].split()}
seen = {p["pid"]: p["samples"] for p in d["processes"]}
total = sum(seen.get(p, 0) for p in want)
print("workers:", {p: seen.get(p, 0) for p in want})
assert len(want) == 2, "gunicorn did not start 2 uvicorn workers"
assert all(seen.get(p, 0) * 100 >= total * 5 for p in want), "a worker has < 5% of the samples"
EOF
if [ $? -eq 0 ]; then
	pass "uvicorn workers: $(tr '\n' ' ' <"$WORK/uvicorn.check")"
else
	fail "uvicorn workers: $(tr '\n' ' ' <"$WORK/uvicorn.check")"
fi
python3 "$SOURCE_DIR/tests/integration/tree_python_check.py" "$WORK/uvicorn.folded" gunicorn \
	burn_request asgi.py --exclude "$uv_master" --only "$uv_workers" --min-share 10 \
	>"$WORK/uvicorn.py.check" 2>&1
if [ $? -eq 0 ]; then
	pass "uvicorn: $(tr '\n' ' ' <"$WORK/uvicorn.py.check")"
else
	fail "uvicorn Python frames: $(tr '\n' ' ' <"$WORK/uvicorn.py.check")"
fi
kill "$wrk_pid" 2>/dev/null
not_stopped "$uv_master" $uv_workers
kill -TERM "$uv_master" 2>/dev/null
wait "$uv_master" 2>/dev/null

# --- nginx master + 2 workers, by -p list ---------------------------------------------------------
port=$((20000 + RANDOM % 12000))
mkdir -p "$WORK/nginx/tmp" "$WORK/nginx/html"
head -c 200000 /dev/urandom >"$WORK/nginx/html/blob"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx/tmp/body;
	proxy_temp_path $WORK/nginx/tmp/proxy;
	fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
	uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
	scgi_temp_path $WORK/nginx/tmp/scgi;
	gzip on; gzip_types *; gzip_comp_level 9; gzip_min_length 0;
	server { listen 127.0.0.1:$port; root $WORK/nginx/html; }
}
EOF
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx.log" 2>&1 &
ngx=$!
CHILDREN+=("$ngx")
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/blob" >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(pgrep -c -P "$ngx")" -ge 2 ] && break; sleep 0.1; done
ngx_workers=$(pgrep -P "$ngx" | tr '\n' ',' | sed 's/,$//')
wrk -t2 -c8 -d6s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/blob" >/dev/null 2>&1 &
wrk_pid=$!
CHILDREN+=("$wrk_pid")
sleep 0.3
"$SMOLDER" record -p "$ngx,$ngx_workers" -F 499 -d 4 -o "$WORK/nginx.folded" \
	-o "$WORK/nginx.json" 2>"$WORK/nginx.err"
code=$?
[ "$code" -eq 0 ] || fail "nginx -p list: exit $code: $(head -c 400 "$WORK/nginx.err")"
python3 - "$WORK/nginx.json" "$ngx_workers" <<'EOF' >"$WORK/nginx.check" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
want = {int(p) for p in sys.argv[2].split(",")}
seen = {p["pid"]: p["samples"] for p in d["processes"]}
print("workers:", {p: seen.get(p, 0) for p in want})
assert len(want) == 2, "nginx did not start 2 workers"
assert all(seen.get(p, 0) > 0 for p in want), "a worker has no samples"
EOF
if [ $? -eq 0 ]; then
	pass "nginx: $(tr '\n' ' ' <"$WORK/nginx.check")"
else
	fail "nginx: $(tr '\n' ' ' <"$WORK/nginx.check")"
fi
grep -q 'deflate' "$WORK/nginx.folded" && pass "nginx: gzip work (deflate) in the workers' stacks" ||
	fail "nginx: no deflate frames in the workers' stacks"
# dump of the whole server: a process header before each process's threads.
"$SMOLDER" dump -p "$ngx,$ngx_workers" >"$WORK/nginx.dump" 2>"$WORK/nginx.dump.err"
code=$?
n=$(grep -c '^Process [0-9]* (nginx)$' "$WORK/nginx.dump")
[ "$code" -eq 0 ] && [ "$n" -eq 3 ] && pass "dump -p list: 3 nginx process headers" ||
	fail "dump -p list: exit $code, $n process headers: $(head -c 300 "$WORK/nginx.dump.err")"
kill "$wrk_pid" 2>/dev/null
not_stopped "$ngx" ${ngx_workers//,/ }
kill -QUIT "$ngx" 2>/dev/null
wait "$ngx" 2>/dev/null

# --- a target in its own PID and mount namespace, given by its host PID --------------------------
# The binary lives on a tmpfs mounted only inside the namespace: the host sees it only through
# /proc/PID/map_files and /proc/PID/root.
cp "$FIXTURES/bench_spin" "$WORK/bench_spin_ns"
unshare --pid --mount --fork sh -c "mkdir -p /mnt/smolder-ns && mount -t tmpfs none /mnt/smolder-ns &&
	cp '$WORK/bench_spin_ns' /mnt/smolder-ns/spin && exec /mnt/smolder-ns/spin 30" \
	>"$WORK/ns.out" 2>&1 &
ns_shell=$!
CHILDREN+=("$ns_shell")
ns_pid=""
for _ in $(seq 100); do
	# unshare's child is the namespace's init, which execs the fixture.
	for p in $(pgrep -P "$ns_shell"); do
		[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "/mnt/smolder-ns/spin 30 " ] && ns_pid=$p
	done
	[ -n "$ns_pid" ] && break
	sleep 0.1
done
if [ -z "$ns_pid" ] || [ -e /mnt/smolder-ns/spin ]; then
	fail "namespace: the fixture did not start in its own mount namespace"
else
	nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$ns_pid/status")
	"$SMOLDER" record -p "$ns_pid" -F 499 -d 2 -o "$WORK/ns.folded" 2>"$WORK/ns.err"
	code=$?
	if [ "$code" -ne 0 ]; then
		fail "namespace: exit $code: $(head -c 400 "$WORK/ns.err")"
	else
		expect_chain "$WORK/ns.folded" bench_leaf \
			"${ROOT_THREAD}bench_worker;bench_middle;bench_leaf$" 30
	fi
	[ "$nspid" = 1 ] && pass "namespace: host PID $ns_pid is PID $nspid inside" ||
		fail "namespace: NSpid of $ns_pid is '$nspid', expected 1"
fi
# The namespace's init ignores a SIGTERM from outside (it has no handler) and unshare waits for
# it: SIGKILL the init, which ends the whole namespace.
[ -n "$ns_pid" ] && kill -KILL "$ns_pid" 2>/dev/null
kill "$ns_shell" 2>/dev/null
wait "$ns_shell" 2>/dev/null

# --- a Python process forking workers, in its own PID and mount namespace -----------------------
# The script is on a tmpfs mounted only inside; the parent forks its 2 workers after smolder has
# attached, so their Python configs are the parent's copied at the fork (host tgids) and their code
# objects are read from each worker by its host PID.
cat >"$WORK/nsfork.py" <<'EOF'
import os, sys, time

def child_work(seconds):
    end = time.time() + seconds
    x = 0
    while time.time() < end:
        x += 1
    return x

time.sleep(1.5)
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        child_work(8)
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
EOF
unshare --pid --mount --fork sh -c "mkdir -p /mnt/smolder-ns && mount -t tmpfs none /mnt/smolder-ns &&
	cp '$WORK/nsfork.py' /mnt/smolder-ns/ && cd /mnt/smolder-ns && exec python3 nsfork.py" \
	>"$WORK/nspy.out" 2>&1 &
ns_shell=$!
CHILDREN+=("$ns_shell")
py_pid=""
for _ in $(seq 100); do
	# unshare's child, the namespace's init, execs python3 (through a pyenv shim, maybe).
	py_pid=$(pgrep -P "$ns_shell" | head -1)
	[ -n "$py_pid" ] && case "$(readlink "/proc/$py_pid/exe")" in */python3*) break ;; esac
	py_pid=""
	sleep 0.05
done
if [ -z "$py_pid" ]; then
	fail "namespace Python: the script did not start"
else
	comm=$(cat "/proc/$py_pid/comm")
	"$SMOLDER" record -p "$py_pid" --children -F 499 -d 4 -o "$WORK/nspy.folded" \
		2>"$WORK/nspy.err"
	code=$?
	[ "$code" -eq 0 ] || fail "namespace Python: exit $code: $(head -c 400 "$WORK/nspy.err")"
	python3 "$SOURCE_DIR/tests/integration/tree_python_check.py" "$WORK/nspy.folded" "$comm" \
		child_work nsfork.py --exclude "$py_pid" --before "" --min-share 60 \
		>"$WORK/nspy.check" 2>&1
	if [ $? -eq 0 ]; then
		pass "namespace Python workers: $(tr '\n' ' ' <"$WORK/nspy.check")"
	else
		fail "namespace Python workers: $(tr '\n' ' ' <"$WORK/nspy.check")"
		roots "$WORK/nspy.folded" | head -5 >&2
	fi
	not_stopped "$py_pid" $(pgrep -P "$py_pid")
fi
[ -n "$py_pid" ] && kill -KILL "$py_pid" 2>/dev/null # the namespace's init: see above
kill "$ns_shell" 2>/dev/null
wait "$ns_shell" 2>/dev/null

# --- node cluster (2 workers) with --perf-basic-prof, in its own PID and mount namespace ---------
# Each worker writes its own perf map, named by its namespaced PID, in a /tmp that only the
# namespace sees: smolder reads /proc/HOSTPID/root/tmp/perf-NSPID.map per process.
cat >"$WORK/cluster.js" <<'EOF'
const cluster = require('cluster');
const http = require('http');
function computeChecksum(n) {
  let h = 0;
  for (let i = 0; i < n; i++) h = (h * 31 + i) | 0;
  return h;
}
function handleRequest(req, res) {
  res.end(String(computeChecksum(200000)));
}
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
} else {
  http.createServer(handleRequest).listen(Number(process.env.PORT));
}
EOF
port=$((20000 + RANDOM % 12000))
PORT=$port unshare --pid --mount --fork sh -c "mkdir -p /mnt/smolder-nsjs &&
	mount -t tmpfs none /mnt/smolder-nsjs && cp '$WORK/cluster.js' /mnt/smolder-nsjs/ &&
	mount -t tmpfs none /tmp && exec node --perf-basic-prof /mnt/smolder-nsjs/cluster.js" \
	>"$WORK/nsnode.out" 2>&1 &
ns_shell=$!
CHILDREN+=("$ns_shell")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
node_primary=$(pgrep -P "$ns_shell" | head -1)
node_workers=$([ -n "$node_primary" ] && pgrep -P "$node_primary" | tr '\n' ' ')
if [ -z "$node_primary" ] || [ "$(echo $node_workers | wc -w)" -ne 2 ]; then
	fail "node cluster: did not start 2 workers: $(head -c 300 "$WORK/nsnode.out")"
else
	wrk -t2 -c4 -d8s -H "Connection: close" "http://127.0.0.1:$port/" >/dev/null 2>&1 &
	wrk_pid=$!
	CHILDREN+=("$wrk_pid")
	sleep 0.3
	"$SMOLDER" record -p "$node_primary" --children -F 499 -d 3 -o "$WORK/nsnode.folded" \
		2>"$WORK/nsnode.err"
	code=$?
	[ "$code" -eq 0 ] || fail "node cluster: exit $code: $(head -c 400 "$WORK/nsnode.err")"
	for w in $node_workers; do
		ns=$(awk '/^NSpid:/ { print $NF }' "/proc/$w/status")
		[ -e "/proc/$w/root/tmp/perf-$ns.map" ] ||
			fail "node cluster: no perf-$ns.map in the namespace's /tmp for worker $w"
		share=$(share_of_prefix "$WORK/nsnode.folded" "^node \\[$w\\]\$" computeChecksum)
		[ "$share" -ge 5 ] &&
			pass "node cluster worker $w (PID $ns inside): computeChecksum in $share% of all samples" ||
			fail "node cluster worker $w: computeChecksum (from its own perf map) in $share% of the samples"
	done
	kill "$wrk_pid" 2>/dev/null
	not_stopped "$node_primary" $node_workers
fi
[ -n "$node_primary" ] && kill -KILL "$node_primary" 2>/dev/null # the namespace's init
kill "$ns_shell" 2>/dev/null
wait "$ns_shell" 2>/dev/null

# Bad -p lists are usage errors before anything starts.
expect_exit 1 "-p with an empty element" "$SMOLDER" record -p "1,,2" -d 1
expect_exit 1 "-p with a PID twice" "$SMOLDER" record -p "1,1" -d 1
expect_exit 1 "--children with --no-children" "$SMOLDER" record -p 1 --children --no-children
expect_exit 2 "-p list with a missing PID" "$SMOLDER" record -p "$$,4000000" -d 1

finish
