#!/usr/bin/env bash
# test_python_dump.sh: `smolder dump` of a Python program (tests/fixtures/python/stacks.py) under
# Debian's python3 and every pyenv build 3.8-3.13: each thread's Python frames appear in order
# with their executing lines, under the thread's threading name, in place of the interpreter's
# native frames (none of which is left), below the native leaf frames (libc waits); --json marks
# them; a venv's bin/python symlink and a process in another mount namespace work too; a target
# whose offsets do not validate is dumped native-only with a one-line reason.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ptrace_lib.sh"
source "$(dirname "$0")/python_lib.sh"
require_root_bpf

DEPTH=12
cp "$SOURCE_DIR/tests/fixtures/python/stacks.py" "$WORK/stacks.py"
S=$WORK/stacks.py
L_SLEEP=$(line_of "$S" "# SLEEP")
L_LEAFWHILE=$((L_SLEEP - 1))
L_RETLEAF=$(line_of "$S" "return leaf()")
L_RECURSE=$(line_of "$S" "return recurse(n - 1)")
L_SPIN=$(line_of "$S" "# SPIN")
L_WAIT=$(line_of "$S" "# WAIT")
L_INNER=$(line_of "$S" "    inner()")
L_MIDDLE=$(line_of "$S" "    middle()")

# start_stacks PYTHON [PREFIX...]: starts the fixture (cwd $WORK, so its file name is
# "stacks.py"), sets PY_PID and the thread ids from its ready line.
start_stacks() {
	local py=$1 ready
	shift
	: >"$WORK/stacks.out"
	(cd "$WORK" && exec "$@" "$py" stacks.py "$DEPTH" <"$WORK/fifo" >"$WORK/stacks.out" 2>&1) &
	CHILDREN+=("$!")
	exec 7>"$WORK/fifo" # the fixture exits when this closes
	wait_ready "$WORK/stacks.out" || return 1
	ready=$(head -1 "$WORK/stacks.out")
	T_MAIN=$(echo "$ready" | tr ' ' '\n' | sed -n 's/^main=//p')
	T_RECURSE=$(echo "$ready" | tr ' ' '\n' | sed -n 's/^py-recurse=//p')
	T_SPIN=$(echo "$ready" | tr ' ' '\n' | sed -n 's/^py-spin=//p')
	PY_PID=$T_MAIN
}

stop_stacks() {
	exec 7>&-
	wait "$PY_PID" 2>/dev/null
}

# in_order LABEL BLOCK PATTERN...: each extended regex matches a line of BLOCK, in order.
in_order() {
	local label=$1 block=$2 last=0 p line
	shift 2
	for p in "$@"; do
		line=$(echo "$block" | grep -nE -- "$p" | awk -F: -v last="$last" '$1 > last { print $1; exit }')
		if [ -z "$line" ]; then
			fail "$label: no frame matching '$p' after line $last"
			echo "$block" | head -40 >&2
			return
		fi
		last=$line
	done
	pass "$label: ${#@} frames in order"
}

F='^  #[0-9]+ 0x[0-9a-f]+ '
check_dump() { # LABEL FILE
	local label=$1 out=$2 main rec spin n h
	# Thread headers carry the threading.Thread names.
	for h in "$T_MAIN (MainThread)" "$T_RECURSE (py-recurse)" "$T_SPIN (py-spin)"; do
		grep -qxF "Thread $h" "$out" && pass "$label: header 'Thread $h'" ||
			fail "$label: no header 'Thread $h': $(grep '^Thread ' "$out" | tr '\n' ' ')"
	done
	main=$(tid_block "$out" "$T_MAIN")
	in_order "$label main thread" "$main" "$F"'[^ ]*(futex|sem_|pthread_cond)[^ ]* ' \
		"$F"'(Event\.)?wait \(threading\.py:[0-9]+\) \[python\]$' \
		"$F"'inner \(stacks\.py:'"$L_WAIT"'\) \[python\]$' \
		"$F"'middle \(stacks\.py:'"$L_INNER"'\) \[python\]$' \
		"$F"'outer \(stacks\.py:'"$L_MIDDLE"'\) \[python\]$' \
		"$F"'main \(stacks\.py:[0-9]+\) \[python\]$' \
		"$F"'<module> \(stacks\.py:[0-9]+\) \[python\]$'
	rec=$(tid_block "$out" "$T_RECURSE")
	in_order "$label recursion" "$rec" \
		"$F"'leaf \(stacks\.py:('"$L_SLEEP|$L_LEAFWHILE"')\) \[python\]$' \
		"$F"'recurse \(stacks\.py:'"$L_RETLEAF"'\) \[python\]$' \
		"$F"'recurse \(stacks\.py:'"$L_RECURSE"'\) \[python\]$' \
		"$F"'(Thread\.)?run \(threading\.py:[0-9]+\) \[python\]$' \
		"$F"'(Thread\.)?_bootstrap \(threading\.py:[0-9]+\) \[python\]$'
	n=$(echo "$rec" | grep -cE "$F"'recurse \(stacks\.py:'"$L_RECURSE"'\)')
	[ "$n" -eq "$DEPTH" ] && pass "$label: $DEPTH recursive frames" ||
		fail "$label: $n recursive frames, expected $DEPTH"
	spin=$(tid_block "$out" "$T_SPIN")
	in_order "$label spinner" "$spin" "$F"'spin \(stacks\.py:[0-9]+\) \[python\]$' \
		"$F"'(Thread\.)?run \(threading\.py:[0-9]+\) \[python\]$'
	# The interpreter's own frames are replaced or dropped.
	if grep -qE "$F"'(_PyEval_EvalFrameDefault|_PyEval_Vector|PyObject_Vectorcall|_PyFunction_Vectorcall|pymain_run_python|method_vectorcall)' "$out"; then
		fail "$label: interpreter frames left: $(grep -E '_PyEval|Vectorcall|pymain' "$out" | head -3)"
	else
		pass "$label: no interpreter-internal frames"
	fi
}

mkfifo "$WORK/fifo"
for entry in "${PYTHONS[@]}"; do
	label=${entry%% *} py=${entry#* }
	start_stacks "$py" || { stop_stacks; continue; }
	expect_exit 0 "$label: dump" "$SMOLDER" dump -p "$PY_PID"
	cp "$WORK/out" "$WORK/dump-$label.txt"
	grep -q "python: ${label#debian-}" "$WORK/err" || fail "$label: version not reported: $(cat "$WORK/err")"
	check_dump "$label" "$WORK/dump-$label.txt"
	if [ "$label" = 3.12 ]; then
		expect_exit 0 "$label: dump --json" "$SMOLDER" dump -p "$PY_PID" --json
		python3 - "$WORK/out" "$T_RECURSE" "$DEPTH" <<'PY' && pass "$label: JSON marks Python frames" || fail "$label: JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["python"] == "3.12", d["python"]
t = [t for t in d["threads"] if t["tid"] == int(sys.argv[2])][0]
py = [f for f in t["frames"] if f["python"]]
names = [f["function"] for f in py]
assert names[0] == "leaf" and names.count("recurse") == int(sys.argv[3]) + 1, names
assert all(f["file"] == "stacks.py" and f["line"] for f in py if f["function"] == "recurse")
assert t["python_complete"] is True
assert t["name"] == "py-recurse" and t["os_name"], (t["name"], t["os_name"])
PY
	fi
	stop_stacks
done

# A venv's bin/python (a symlink to the interpreter) and a process in another mount namespace,
# whose interpreter path does not exist in ours (files are read through /proc/PID/map_files).
PY312=$(for e in "${PYTHONS[@]}"; do [ "${e%% *}" = 3.12 ] && echo "${e#* }"; done)
if [ -n "$PY312" ]; then
	"$PY312" -m venv --without-pip "$WORK/venv" || fail "venv creation"
	start_stacks "$WORK/venv/bin/python"
	expect_exit 0 "venv: dump" "$SMOLDER" dump -p "$PY_PID"
	check_dump venv "$WORK/out"
	stop_stacks
	PREFIX=$(dirname "$(dirname "$PY312")")
	mkdir -p "$WORK/ns-python"
	start_stacks "$WORK/ns-python/bin/python3" unshare -m sh -c \
		"mount --bind '$PREFIX' '$WORK/ns-python' && exec \"\$0\" \"\$@\""
	if [ -e "$WORK/ns-python/bin/python3" ]; then
		fail "mount namespace: the bind mount leaked into ours"
	fi
	expect_exit 0 "mount namespace: dump" "$SMOLDER" dump -p "$PY_PID"
	check_dump mntns "$WORK/out"
	stop_stacks
else
	echo "skip: venv and mount-namespace cases need pyenv's 3.12"
fi

# Offsets that do not validate: one line saying so, native frames only, exit 0.
entry=${PYTHONS[0]}
start_stacks "${entry#* }"
for bad in tstate_interp=24 frame_code=8; do
	SMOLDER_PYTHON_OFFSET=$bad expect_exit 0 "corrupt offset $bad: dump" "$SMOLDER" dump -p "$PY_PID"
	n=$(grep -c "offsets did not validate" "$WORK/err")
	[ "$n" -eq 1 ] && pass "$bad: one line says the offsets did not validate" ||
		fail "$bad: expected one 'did not validate' line: $(cat "$WORK/err")"
	grep -q '\[python\]' "$WORK/out" && fail "$bad: Python frames shown from unvalidated offsets"
	grep -qE "$F"'_PyEval_EvalFrameDefault' "$WORK/out" && pass "$bad: native stack shown" ||
		fail "$bad: no native interpreter frames: $(head -20 "$WORK/out")"
done
assert_released "$PY_PID" "after the Python dumps"
stop_stacks
finish
