# lib.sh: helpers shared by the integration tests (sourced). Tests run the real smolder binary
# ($SMOLDER) against fixtures ($FIXTURES); they need root and eBPF and fail, not skip, without them.
set -uo pipefail

: "${SMOLDER:?SMOLDER must point at the smolder binary (ctest sets it)}"
: "${FIXTURES:?FIXTURES must point at the built fixtures (ctest sets it)}"

TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/smolder-$TEST_NAME.XXXXXX")
CHILDREN=()
FAILURES=0
STAGE=""

cleanup() {
	for p in "${CHILDREN[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "$STAGE" ] && rm -rf "$STAGE"
	if [ "$FAILURES" -eq 0 ]; then rm -rf "$WORK"; else echo "kept $WORK for inspection"; fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	FAILURES=$((FAILURES + 1))
}

pass() {
	echo "ok: $*"
}

# expect_exit CODE DESCRIPTION CMD...: runs CMD, checks its exit code.
expect_exit() {
	local want=$1 what=$2 got
	shift 2
	"$@" >"$WORK/out" 2>"$WORK/err"
	got=$?
	if [ "$got" -eq "$want" ]; then pass "$what (exit $got)"; else
		fail "$what: exit $got, expected $want; stderr: $(head -c 500 "$WORK/err")"
	fi
}

# require_root_bpf: integration tests need root and BPF; say exactly what is missing and fail.
require_root_bpf() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "FAIL: $TEST_NAME needs root (CAP_BPF, CAP_PERFMON) to load eBPF programs" >&2
		exit 1
	fi
	if [ ! -e /sys/kernel/btf/vmlinux ]; then
		echo "FAIL: $TEST_NAME needs kernel BTF (/sys/kernel/btf/vmlinux) for CO-RE eBPF" >&2
		exit 1
	fi
}

# wait_for_line PATTERN FILE [TENTHS]: waits (bounded: TENTHS x 0.1 s, default 100) until FILE
# has a line matching the grep pattern; 0 when it has, 1 when the wait ran out.
wait_for_line() {
	local pattern=$1 file=$2 tenths=${3:-100}

	for _ in $(seq "$tenths"); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# start_fixture NAME ARGS...: starts a fixture in the background, sets FIXTURE_PID.
start_fixture() {
	local name=$1
	shift
	"$FIXTURES/$name" "$@" >"$WORK/$name.out" 2>&1 &
	FIXTURE_PID=$!
	CHILDREN+=("$FIXTURE_PID")
}

# stage_for_user FILE...: copies FILE... into a new directory every user can read and execute, and
# sets STAGE to it. Tests that run smolder or a fixture as an unprivileged user use the copies: the
# build tree may sit below a private directory (a clone in mktemp -d is mode 0700). Fixtures that
# link a shared library of ours find the copy through LD_LIBRARY_PATH=$STAGE.
stage_for_user() {
	STAGE=$(mktemp -d /tmp/smolder-stage.XXXXXX) && chmod 755 "$STAGE" &&
		cp "$@" "$STAGE"/ && chmod -R a+rX "$STAGE"
}

# strip_checkout_paths: stdin to stdout with the checkout's paths (SOURCE_DIR, BUILD_DIR,
# FIXTURES, as given and resolved) replaced by <source>, <build>, <fixtures>. Filter any output
# that can hold a source or binary path (dump frames, launch messages) through it before matching
# function names: CI clones into a folder whose name may contain "clone", "main", "malloc", ...
# Literal replacement (awk index), so the paths' own characters are never read as a pattern.
strip_checkout_paths() {
	local -a from=() to=() v
	for v in FIXTURES:fixtures BUILD_DIR:build SOURCE_DIR:source; do
		local name=${v%%:*} tag=${v#*:} value
		value=${!name:-}
		[ -n "$value" ] || continue
		from+=("$value") to+=("<$tag>")
		value=$(realpath -m "$value" 2>/dev/null) || continue
		from+=("$value") to+=("<$tag>")
	done
	STRIP_FROM=$(printf '%s\x01' "${from[@]}") STRIP_TO=$(printf '%s\x01' "${to[@]}") awk '
	BEGIN { n = split(ENVIRON["STRIP_FROM"], from, "\x01"); split(ENVIRON["STRIP_TO"], to, "\x01") }
	{
		line = $0
		for (i = 1; i < n; i++) {
			out = ""
			while ((k = index(line, from[i])) > 0) {
				out = out substr(line, 1, k - 1) to[i]
				line = substr(line, k + length(from[i]))
			}
			line = out line
		}
		print line
	}'
}

# pids_by_cmdline [--exact] STRING: PIDs whose command line (arguments joined by spaces) starts
# with STRING (--exact: equals it). A literal comparison: pgrep -f would read a checkout path's
# '+', '.' or '[' as a pattern.
pids_by_cmdline() {
	local exact=0 want p c
	[ "$1" = --exact ] && { exact=1; shift; }
	want=$1
	for p in /proc/[0-9]*; do
		c=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		c=${c% }
		if [ "$c" = "$want" ] || { [ "$exact" -eq 0 ] && [[ "$c" == "$want "* ]]; }; then
			echo "${p#/proc/}"
		fi
	done
}

finish() {
	if [ "$FAILURES" -gt 0 ]; then
		echo "$TEST_NAME: $FAILURES failure(s)"
		exit 1
	fi
	echo "$TEST_NAME: all checks passed"
	exit 0
}

# one_line WHAT NEEDLE: the last expect_exit's stderr is one line holding NEEDLE (a fixed string).
one_line() {
	if [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -qF -- "$2" "$WORK/err"; then pass "$1: one line"; else
		fail "$1: stderr: $(cat "$WORK/err")"
	fi
}
