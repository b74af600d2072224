#!/usr/bin/env bash
# test_hostile_privileges.sh: partial privileges are reported as the right that is actually
# missing, never as a capability smolder already has: record without ptrace access to the target
# (another user; or root without CAP_SYS_PTRACE on a target holding it) warns in one line at the
# default level; leaks with the capabilities the README once listed (CAP_BPF, CAP_PERFMON,
# CAP_SYS_PTRACE) names CAP_SYS_ADMIN instead of blaming "a static binary without symbols", and
# without ptrace access fails with exit 3 naming CAP_SYS_PTRACE.
source "$(dirname "$0")/lib.sh"
require_root_bpf

command -v setpriv >/dev/null || { fail "setpriv (util-linux) missing"; finish; }
stage_for_user "$SMOLDER" "$FIXTURES/record_threads" "$FIXTURES/leak_linear" ||
	fail "cannot stage binaries for an unprivileged user"
mkdir "$STAGE/out" && chmod 777 "$STAGE/out"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

"$STAGE/record_threads" 30 >/dev/null 2>&1 &
ROOT_BUSY=$!
CHILDREN+=("$ROOT_BUSY")
"${NOBODY[@]}" "$STAGE/leak_linear" >/dev/null 2>&1 &
NOBODY_LEAK=$!
CHILDREN+=("$NOBODY_LEAK")
sleep 0.5

# never_names WHAT CAP...: the stderr of the last run names none of CAP..., which it had.
never_names() {
	local what=$1 cap
	shift
	for cap in "$@"; do
		grep -q "$cap" "$WORK/err" && fail "$what: names $cap, which it has: $(cat "$WORK/err")"
	done
}

# record as another user with CAP_BPF + CAP_PERFMON only: samples, but no names. One warning.
C=+bpf,+perfmon
expect_exit 0 "record, other user, no CAP_SYS_PTRACE" "${NOBODY[@]}" --inh-caps=$C --ambient-caps=$C \
	-- "$STAGE/smolder" record -p "$ROOT_BUSY" -d 1 -o "$STAGE/out/a.folded"
[ "$(grep -c "no ptrace read access to PID $ROOT_BUSY: it runs as uid 0, smolder as uid 65534 without CAP_SYS_PTRACE" "$WORK/err")" -eq 1 ] &&
	pass "other user: one warning naming the uid and CAP_SYS_PTRACE" ||
	fail "other user: warning: $(cat "$WORK/err")"
never_names "other user" CAP_BPF CAP_PERFMON

# root without CAP_SYS_PTRACE on a root target that holds it.
expect_exit 0 "record, root without CAP_SYS_PTRACE" setpriv --bounding-set=-sys_ptrace -- \
	"$STAGE/smolder" record -p "$ROOT_BUSY" -d 1 -o "$STAGE/out/b.folded"
grep -q "it holds capabilities smolder lacks.*smolder lacks CAP_SYS_PTRACE" "$WORK/err" &&
	pass "root target: the capability gap is named" || fail "root target: $(cat "$WORK/err")"
never_names "root target" CAP_BPF CAP_PERFMON CAP_SYS_ADMIN

# leaks with CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE, on the user's own process: uprobes are
# refused; the missing CAP_SYS_ADMIN is named, not "a static binary".
C=+bpf,+perfmon,+sys_ptrace
expect_exit 3 "leaks without CAP_SYS_ADMIN" "${NOBODY[@]}" --inh-caps=$C --ambient-caps=$C \
	-- "$STAGE/smolder" leaks -p "$NOBODY_LEAK" -d 1 -o "$STAGE/out/l.json"
grep -q "needs CAP_SYS_ADMIN" "$WORK/err" && pass "leaks: CAP_SYS_ADMIN named" ||
	fail "leaks: $(cat "$WORK/err")"
grep -q "static binary" "$WORK/err" && fail "leaks: blames a static binary"
never_names "leaks" CAP_BPF CAP_PERFMON CAP_SYS_PTRACE

# leaks without ptrace access to the target: exit 3 before attaching anything.
expect_exit 3 "leaks, root without CAP_SYS_PTRACE" setpriv --bounding-set=-sys_ptrace -- \
	"$STAGE/smolder" leaks -p "$ROOT_BUSY" -d 1 -o "$STAGE/out/m.json"
grep -q "smolder lacks CAP_SYS_PTRACE" "$WORK/err" && pass "leaks: CAP_SYS_PTRACE named" ||
	fail "leaks: $(cat "$WORK/err")"
[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "leaks: not one line: $(cat "$WORK/err")"
grep -q "static binary" "$WORK/err" && fail "leaks: blames a static binary"
finish
