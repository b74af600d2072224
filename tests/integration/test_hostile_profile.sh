#!/usr/bin/env bash
# test_hostile_profile.sh: `smolder profile` on a target whose work is done by its children (a
# shell that starts two CPU-bound workers, as nginx or gunicorn do): the kernel-accounted CPU
# (cpu.cpu_s) and the per-operation CPU (per_op.cpu_s) are the sampled tree's, not the idle
# parent's 0; and a run whose only samples are in smolder's own probes names no function with an
# "inf%" or "nan%" share; a load command that fails at once (a typo) is a warning naming its status
# and its last output line, not a silent 0-second report.
source "$(dirname "$0")/lib.sh"
require_root_bpf

expect_exit 0 "profile of a shell whose children burn CPU" timeout 60 "$SMOLDER" profile -d 4 \
	--no-memory --no-off-cpu --during 'sleep 2' --ops 100 -o "$WORK/tree.json" \
	-- sh -c "$FIXTURES/bench_spin 6 >/dev/null & $FIXTURES/bench_spin 6 >/dev/null & wait"
python3 - "$WORK/tree.json" <<'PY' && pass "tree CPU counted" || fail "tree CPU: see above"
import json, sys
d = json.load(open(sys.argv[1]))
c, p = d["cpu"], d.get("per_op") or {}
sampled = c["samples"] / d["frequency_hz"]
print("samples %.2f s, cpu_s %s, per_op %s" % (sampled, c.get("cpu_s"), p.get("cpu_s")))
# Kernel accounting and samples differ on a loaded machine, not by the workers' whole share.
assert c.get("cpu_s_measured") and c["cpu_s"] >= 0.5 * sampled and sampled > 0.3, c
assert p.get("cpu_s", 0) * 100 >= 0.2, p
PY

# The launched sleep never runs on CPU: only the uprobes of allocation tracking may be sampled.
expect_exit 0 "profile of an idle target" timeout 60 "$SMOLDER" profile -d 2 -o "$WORK/idle.json" \
	-- sleep 30
python3 - "$WORK/idle.json" <<'PY' && pass "no inf/nan share" || fail "findings: see above"
import json, sys
for f in json.load(open(sys.argv[1]))["findings"]:
    assert "inf%" not in f["text"] and "nan%" not in f["text"], f
PY
expect_exit 0 "a load command that is not a command" timeout 60 "$SMOLDER" profile -d 20 \
	--no-memory --no-off-cpu --during 'no_such_load_tool_xyz -n 10' -o "$WORK/typo.json" -- sleep 30
if grep -q "warning: load: .*status 127.*no_such_load_tool_xyz.*not found" "$WORK/err"; then
	pass "failed load command said"
else
	fail "failed load command not said: $(cat "$WORK/err")"
fi
finish
