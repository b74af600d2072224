#!/usr/bin/env bash
# test_python_leaks.sh: `smolder leaks` on CPython: allocation sites carry the Python frames read
# in eBPF at allocation time. Fixture tests/fixtures/python/leak_cache.py under Debian's python3
# (3.11, static) and every pyenv build 3.8-3.13 (a missing one is skipped with the reason): the
# leak at its Python line with its exact rate (4097 bytes per 10 ms tick) within 10%, the bounded
# cache not a leak, pymalloc arena mmaps attributed to the Python line that needed them and
# explained, no allocation left with native interpreter frames (examined before the probes).
. "$(dirname "$0")/lib.sh"
require_root_bpf
: "${SOURCE_DIR:?}"
# From $WORK: frames read "func (leak_cache.py:LINE)" whatever the checkout's path.
cp "$SOURCE_DIR/tests/fixtures/python/leak_cache.py" "$WORK/"
PYENV_ROOT=${PYENV_ROOT:-/root/.pyenv}
LEAK_LINE=$(grep -n '# LEAK$' "$WORK/leak_cache.py" | cut -d: -f1)
CACHE_LINE=$(grep -n '# CACHE$' "$WORK/leak_cache.py" | cut -d: -f1)
SMALL_LINE=$(grep -n '# SMALL$' "$WORK/leak_cache.py" | cut -d: -f1)

run_leaks() {
	local label=$1 python=$2 fifo pid
	fifo="$WORK/stdin.$label"
	rm -f "$fifo" && mkfifo "$fifo"
	(cd "$WORK" && exec "$python" leak_cache.py <"$fifo" >"$WORK/$label.out" 2>&1) &
	pid=$!
	CHILDREN+=("$pid")
	exec 9>"$fifo"
	wait_for_line ready "$WORK/$label.out" 100
	"$SMOLDER" leaks -p "$pid" -d 8 -i 0.5 -o "$WORK/$label.json" >"$WORK/$label.txt" \
		2>"$WORK/$label.err"
	local code=$?
	exec 9>&-
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ "$code" -ne 0 ]; then
		fail "$label: leaks exit $code: $(head -c 400 "$WORK/$label.err")"
		return
	fi
	if /usr/bin/python3 - "$WORK/$label.json" "$LEAK_LINE" "$CACHE_LINE" "$SMALL_LINE" \
		>"$WORK/$label.check" 2>&1 <<'PY'; then
import json, sys
report, leak_line, cache_line, small_line = sys.argv[1], *sys.argv[2:5]
r = json.load(open(report))
failed = 0
def check(ok, what):
    global failed
    print(("ok: " if ok else "FAIL: ") + what)
    failed += not ok
def holds(site, frame):
    return frame in site["stack"]
leak = [s for s in r["sites"] if holds(s, f"leak_step (leak_cache.py:{leak_line})")
        and s["stack"][-1] == "malloc"]
want = 4097 / 0.01
check(leak and leak[0]["verdict"] == "leak", f"leak site at leak_cache.py:{leak_line}: "
      f"{[s['verdict'] for s in leak]}")
if leak:
    rate = leak[0]["growth_bytes_per_s"]
    check(abs(rate - want) <= 0.10 * want, f"leak rate {rate:.0f} B/s (expected {want:.0f} +- 10%)")
    i = leak[0]["stack"].index(f"leak_step (leak_cache.py:{leak_line})")
    check(leak[0]["stack"][i - 1].startswith("serve (leak_cache.py:"), "leak_step called by serve")
cache = [s for s in r["sites"] if holds(s, f"cache_step (leak_cache.py:{cache_line})")
         and s["stack"][-1] == "malloc" and s["outstanding_bytes"] > 500000]
check(cache and all(s["verdict"] != "leak" for s in cache),
      f"bounded cache not a leak: {[s['verdict'] for s in cache]}")
arena = [s for s in r.get("mmap_sites", []) if "[pymalloc arena]" in s["stack"]
         and any(f.endswith(f"(leak_cache.py:{small_line})") for f in s["stack"])]
check(arena and sum(s["outstanding_bytes"] for s in arena) >= 1 << 20,
      f"pymalloc arenas at leak_cache.py:{small_line}: {sum(s['outstanding_bytes'] for s in arena)} bytes")
# Examined before the probes went live: no allocation is left with the interpreter's native frames
# in place of its Python ones (they were, in the window before the runtime was opened).
interp = [s["stack"][-4:] for s in r["sites"] + r.get("mmap_sites", [])
          if "_PyEval_EvalFrameDefault" in s["stack"]]
check(r["totals"].get("python_process_not_examined", 0) == 0 and not interp,
      f"no native-only Python sites: {r['totals'].get('python_process_not_examined')} "
      f"allocations before the runtime was examined, sites {interp[:2]}")
py = r["totals"].get("python", {})
check(py.get("frames_named", 0) > 0 and r["totals"].get("python_walks", 0) > 0,
      f"JSON totals: python {py}, walks {r['totals'].get('python_walks')}")
sys.exit(1 if failed else 0)
PY
		pass "$label: $(grep -c '^ok' "$WORK/$label.check") checks"
	else
		fail "$label: $(grep -v '^ok' "$WORK/$label.check" | head -5 | tr '\n' ' ')"
	fi
	grep -q "pymalloc arena\]: the interpreter" "$WORK/$label.txt" ||
		fail "$label: the text summary does not explain the arena sites"
	[ "$(grep -c '^smolder: python: 3\.' "$WORK/$label.err")" -eq 1 ] ||
		fail "$label: the interpreter is not named once: $(grep '^smolder: python' "$WORK/$label.err")"
}

run_leaks debian-3.11 /usr/bin/python3
for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
	python=$(ls -d "$PYENV_ROOT"/versions/"$v".*/bin/python3 2>/dev/null | head -1)
	if [ -z "$python" ]; then
		echo "skip: Python $v: no pyenv build under $PYENV_ROOT/versions"
		continue
	fi
	run_leaks "pyenv-$v" "$python"
done

# Offsets that do not validate: one line saying so (once), native sites only (never wrong names).
rm -f "$WORK/stdin.bad" && mkfifo "$WORK/stdin.bad"
(cd "$WORK" && exec /usr/bin/python3 leak_cache.py <"$WORK/stdin.bad" >"$WORK/bad.out" 2>&1) &
pid=$!
CHILDREN+=("$pid")
exec 9>"$WORK/stdin.bad"
wait_for_line ready "$WORK/bad.out" 100
SMOLDER_PYTHON_OFFSET=tstate_interp=8 "$SMOLDER" leaks -p "$pid" -d 1 -o "$WORK/bad.json" \
	>/dev/null 2>"$WORK/bad.err"
code=$?
exec 9>&-
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ "$code" -eq 0 ] && [ "$(grep -c "offsets did not validate" "$WORK/bad.err")" -eq 1 ] &&
	grep -q '"stack"' "$WORK/bad.json" && ! grep -q "leak_cache.py" "$WORK/bad.json"; then
	pass "offsets that do not validate: one message, native sites only"
else
	fail "bad offsets: exit $code: $(head -c 400 "$WORK/bad.err")"
fi
finish
