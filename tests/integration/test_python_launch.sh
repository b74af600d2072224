#!/usr/bin/env bash
# test_python_launch.sh: `record -- python3 SCRIPT` and `leaks -- python3 SCRIPT` name Python
# frames from start-up on: the runtime is opened before the loader maps libpython (pyenv) or the
# interpreter has a thread state (Debian's static python3) and is retried until it is there.
# Under Debian's python3 and pyenv's 3.12 (the shared-libpython case).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/python_lib.sh"
require_root_bpf

cat >"$WORK/burn.py" <<'PY'
import time
def work():
    t = time.time()
    x = 0
    while time.time() - t < 2.5:
        x += 1  # BURN
work()
PY
cat >"$WORK/grow.py" <<'PY'
import time
keep = []
def grow():
    keep.append(bytearray(2000))  # GROW
t = time.time()
while time.time() - t < 60:  # ended by leaks -d with the run
    grow()
    time.sleep(0.002)
PY
for entry in "${PYTHONS[@]}"; do
	label=${entry%% *} py=${entry#* }
	case $label in debian-* | 3.12) ;; *) continue ;; esac
	(cd "$WORK" && "$SMOLDER" record -d 4 -o "$WORK/$label.folded" -- "$py" burn.py \
		>"$WORK/$label.rec.out" 2>"$WORK/$label.rec.err")
	rc=$?
	[ "$rc" -eq 0 ] || fail "$label: record exit $rc: $(head -c 300 "$WORK/$label.rec.err")"
	total=$(awk '{ s += $NF } END { print s + 0 }' "$WORK/$label.folded")
	named=$(awk '/work \(burn\.py:[0-9]+\)/ { s += $NF } END { print s + 0 }' "$WORK/$label.folded")
	# The script burns ~2.5 s after a start-up of tens of ms: most samples are in work (a loaded
	# machine can leave the target a small share of a CPU: at least 15 samples).
	if [ "$total" -ge 15 ] && [ $((named * 100)) -ge $((total * 70)) ]; then
		pass "$label: record: $named of $total samples in 'work (burn.py:N)'"
	else
		fail "$label: record: $named of $total samples in work; $(sort -t' ' -k2 -nr "$WORK/$label.folded" | head -3)"
	fi
	(cd "$WORK" && "$SMOLDER" leaks -d 5 -o "$WORK/$label.json" -- "$py" grow.py \
		>"$WORK/$label.leaks.out" 2>"$WORK/$label.leaks.err")
	rc=$?
	[ "$rc" -eq 0 ] || fail "$label: leaks exit $rc: $(head -c 300 "$WORK/$label.leaks.err")"
	line=$(line_of "$WORK/grow.py" "# GROW")
	python3 - "$WORK/$label.json" "grow (grow.py:$line)" <<'PY' && pass "$label: leaks: the growing list at its Python line" || fail "$label: leaks: no leak site at grow (grow.py:$line)"
import json, sys
d = json.load(open(sys.argv[1]))
# The site holding the most bytes is the list's growth, at its Python line. (Verdicts under a
# loaded machine are test_python_leaks' subject; here: attribution from start-up on.)
top = max(d["sites"], key=lambda s: s["outstanding_bytes"])
assert sys.argv[2] in top["stack"] and top["outstanding_bytes"] > 1000000, \
    (top["stack"][-4:], top["outstanding_bytes"])
PY
done
finish
