#!/usr/bin/env bash
# test_profile_ops.sh: `smolder profile` per-operation figures and timeline on fixtures with known
# behaviour: leak_linear leaking 96 B per call of handle_request at 100 calls/s, counted with
# --ops-probe (per-op leak within 15% of 96 B, 9 allocations per call within 0.2, ~400 calls in
# 4 s); rss_step, whose RSS steps up by 64 MiB 2 s after start (the timeline shows the step within
# 0.2..0.8 s of that time, and flat before); and the one-line errors of --ops-probe and $PORT.
source "$(dirname "$0")/lib.sh"
require_root_bpf

# --- a known leak per operation, counted by a uprobe ---------------------------------------------
"$SMOLDER" profile -i 0.5 --ops-probe handle_request --during 'sleep 4' -o "$WORK/leak.json" \
	-- "$FIXTURES/leak_linear" 96 100 >"$WORK/leak.out" 2>"$WORK/leak.err"
code=$?
if [ "$code" -eq 0 ] && python3 - "$WORK/leak.json" >"$WORK/check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ops_source"] == "probe", d["ops_source"]
# 100 calls/s for the 4 s load window (absolute deadlines; a loaded machine may delay a few).
assert 300 <= d["ops"] <= 440, d["ops"]
po = d["per_op"]
assert po["window"] == "load", po
# Every call leaks one 96-byte block and makes 8 short-lived ones (parse_request).
assert 96 * 0.85 <= po["leaked_bytes"] <= 96 * 1.15, po
assert abs(po["leaked_bytes_per_100_ops"] - po["leaked_bytes"] * 100) <= 1e-6 * po["leaked_bytes_per_100_ops"]
# Allocations and calls are both counted over the load window: 9 per call, up to the calls in
# flight at its two ends.
assert 8.8 <= po["allocations"] <= 9.2, po
assert po["heap_growth_bytes"] >= po["leaked_bytes"] * 0.99, po
assert po["cpu_s"] > 0, po
sites = [s for s in d["memory"]["sites"] if "store_put" in s["stack"]]
assert sites and sites[0]["verdict"] == "leak", [s["stack"][-3:] for s in d["memory"]["sites"]]
assert d["dropped"]["ops_probe_calls"] == 0, d["dropped"]
assert any(f["kind"] == "memory" and "per operation" in f["text"] for f in d["findings"]), d["findings"]
print("%d calls, %.1f B leaked/op, %.2f allocations/op" % (d["ops"], po["leaked_bytes"],
                                                         po["allocations"]))
PY
then
	pass "--ops-probe handle_request: $(cat "$WORK/check")"
else
	fail "--ops-probe handle_request: exit $code: $(cat "$WORK/check") $(tail -3 "$WORK/leak.err")"
fi

# --- a known timeline shape: +64 MiB at t = 2 s ---------------------------------------------------
"$SMOLDER" profile -i 0.2 -d 4 --no-memory -o "$WORK/step.json" \
	-- "$FIXTURES/rss_step" 64 2 >"$WORK/step.out" 2>"$WORK/step.err"
code=$?
if [ "$code" -eq 0 ] && python3 - "$WORK/step.json" >"$WORK/check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
tl = d["timeline"]
assert len(tl) >= 12, len(tl)
base = tl[0]["rss_bytes"]
step = [p["t"] for p in tl if p["rss_bytes"] - base >= 56 << 20]
assert step, [(p["t"], p["rss_bytes"]) for p in tl]
# t = 0 is the exec; the fixture's clock starts a little later, a point is read every 0.2 s and
# the machine is shared: the step is seen 0.0 .. 0.8 s after 2 s, never before 1.9 s.
assert 1.9 <= step[0] <= 2.8, step[0]
assert all(p["rss_bytes"] - base < 8 << 20 for p in tl if p["t"] < 1.9), tl
assert all(p["rss_bytes"] - base >= 56 << 20 for p in tl if p["t"] >= step[0]), tl
assert all(p["rss_anon_bytes"] - tl[0]["rss_anon_bytes"] >= 56 << 20 for p in tl if p["t"] > step[0]), tl
assert any(f["kind"] == "rss" for f in d["findings"]), d["findings"]
print("step of %.0f MiB seen at t=%.2f s" % ((tl[-1]["rss_bytes"] - base) / 2**20, step[0]))
PY
then
	pass "timeline: $(cat "$WORK/check")"
else
	fail "timeline step: exit $code: $(cat "$WORK/check") $(tail -3 "$WORK/step.err")"
fi

# --- errors: one line, documented exit codes, before any long run ---------------------------------
expect_exit 1 "--ops-probe of a function the program lacks" \
	"$SMOLDER" profile --ops-probe no_such_function -d 5 -- "$FIXTURES/leak_linear" 96 100
grep -q "no function no_such_function in" "$WORK/err" || fail "--ops-probe error: $(cat "$WORK/err")"
expect_exit 1 "--ops-probe of a library the program does not load" \
	"$SMOLDER" profile --ops-probe libnosuch:f -d 5 -- "$FIXTURES/leak_linear" 96 100
[ -n "$(pids_by_cmdline "$FIXTURES/leak_linear 96 100")" ] && fail "held target left after the error"
expect_exit 1 "--ops with --ops-probe" \
	"$SMOLDER" profile --ops 5 --ops-probe f -- "$FIXTURES/leak_linear"
SMOLDER_PORT_TIMEOUT=1 expect_exit 2 "\$PORT: the service never listens (SMOLDER_PORT_TIMEOUT=1)" \
	"$SMOLDER" profile --no-memory -o "$WORK/np.json" --during 'echo $PORT' -- sleep 31.4159
grep -q "did not listen on a TCP port within 1 s" "$WORK/err" || fail "timeout message: $(cat "$WORK/err")"
# What was collected is still written; the command that never ran has no exit status.
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["load"]["exit_status"] is None and d["load"]["port"] is None and "listened" in d["stop_reason"], d["load"]' \
	"$WORK/np.json" 2>"$WORK/check" || fail "report after the timeout: $(cat "$WORK/check")"
expect_exit 2 "\$PORT: the service exits before it listens" \
	"$SMOLDER" profile --no-memory -o "$WORK/ex.json" --during 'echo $PORT' -- sleep 0.3
grep -q "exited before it listened" "$WORK/err" || fail "exit message: $(cat "$WORK/err")"
[ -n "$(pids_by_cmdline --exact "sleep 31.4159")" ] && fail "launched target left running after the timeout"

finish
