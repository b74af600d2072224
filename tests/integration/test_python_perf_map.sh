#!/usr/bin/env bash
# test_python_perf_map.sh: the perf-map + frame-pointer path on a second JIT, CPython 3.12 with
# -X perf (pyenv's build): its trampolines (which keep no frame pointer) are named from the perf
# map as "function (file.py)_[j]" and unwound through: leaks attributes a bytearray leak to
# retain_blocks with a stack complete to _start, record's stacks are complete and hold the
# trampolines of the hot chain in order.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ptrace_lib.sh"
require_root_bpf
# -X perf exists from CPython 3.12: pyenv's builds on the project machine; Debian 12 has only 3.11,
# so where no 3.12+ exists the test says so and skips (as the other pyenv-based tests do).
PY312=${PY312:-}
for p in "${PYENV_ROOT:-/root/.pyenv}"/versions/3.1[2-9]*/bin/python3 \
	$(command -v python3.12 python3.13 2>/dev/null); do
	[ -z "$PY312" ] && [ -x "$p" ] && PY312=$p
done
if [ -z "$PY312" ]; then
	echo "skip: no CPython 3.12 or later (pyenv or python3.12 on PATH) for -X perf"
	finish
fi
echo "python: $PY312"
TARGET="$SOURCE_DIR/tests/fixtures/python/perf_target.py"

start_py() {
	"$PY312" -X perf "$TARGET" "$1" >"$WORK/py-$1.out" 2>&1 &
	PY_PID=$!
	CHILDREN+=("$PY_PID")
	wait_ready "$WORK/py-$1.out"
}
stop_py() {
	kill "$PY_PID" 2>/dev/null
	wait "$PY_PID" 2>/dev/null
	rm -f "/tmp/perf-$PY_PID.map"
}

start_py leak && {
	sleep 0.5
	expect_exit 0 "leaks" "$SMOLDER" leaks -p "$PY_PID" -d 3 -o "$WORK/leaks.json"
	python3 - "$WORK/leaks.json" <<'PY' && pass "leak under retain_blocks, complete to _start" ||
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["sites"]:
    st = s["stack"]
    if s["verdict"] == "leak" and s["outstanding_bytes"] >= 1 << 20 and \
            "retain_blocks (perf_target.py)_[j]" in st and st[0] == "_start":
        sys.exit(0)
for s in d["sites"][:3]:
    print(s["verdict"], s["outstanding_bytes"], s["stack"], file=sys.stderr)
sys.exit(1)
PY
		fail "no complete leak site under retain_blocks (perf_target.py)_[j]"
	stop_py
}

start_py cpu && {
	sleep 0.5
	expect_exit 0 "record" "$SMOLDER" record -p "$PY_PID" -d 3 -o "$WORK/cpu.folded" -o "$WORK/cpu.json"
	read -r complete samples < <(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["complete"], t["samples"])' "$WORK/cpu.json")
	[ "$samples" -ge 20 ] && [ $((complete * 100)) -ge $((samples * 95)) ] &&
		pass "record: $complete of $samples stacks complete" ||
		fail "record: $complete of $samples stacks complete (< 95% or too few samples)"
	n=$(awk '/handle_request \(perf_target\.py\)_\[j\];(.*;)?render_page \(perf_target\.py\)_\[j\];(.*;)?compute_checksum \(perf_target\.py\)_\[j\]/ {s += $NF} END {print s + 0}' "$WORK/cpu.folded")
	[ $((n * 100)) -ge $((samples * 50)) ] &&
		pass "record: trampolines of the chain in order in $n samples" ||
		fail "record: chain of named trampolines in only $n of $samples samples"
	stop_py
}
finish
