#!/usr/bin/env bash
# test_dump_unprivileged.sh: ptrace works without root on one's own process: an ordinary user
# (smoldertest, created if missing) dumps a fixture it started; the same user is refused on a
# root-owned process with exit 3 and a reason naming CAP_SYS_PTRACE.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ptrace_lib.sh"
require_root_bpf

TEST_USER=smoldertest
if ! id "$TEST_USER" >/dev/null 2>&1; then
	useradd -M -r -s /usr/sbin/nologin "$TEST_USER" || { fail "cannot create $TEST_USER"; finish; }
fi
# An array, not a function: a backgrounded command must get the command's own PID.
as_user=(setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --clear-groups --inh-caps=-all
	--bounding-set=-all --)
chmod 755 "$WORK"
stage_for_user "$SMOLDER" "$FIXTURES/threads_known" "$FIXTURES/libthreads_lib.so" ||
	{ fail "cannot stage binaries for $TEST_USER"; finish; }
USER_SMOLDER=$STAGE/smolder
"${as_user[@]}" test -x "$USER_SMOLDER" || fail "$USER_SMOLDER not executable by $TEST_USER"

LD_LIBRARY_PATH=$STAGE "${as_user[@]}" "$STAGE/threads_known" 60 >"$WORK/user_fixture.out" 2>&1 &
UPID=$!
CHILDREN+=("$UPID")
wait_ready "$WORK/user_fixture.out" || finish
[ "$(stat -c %U /proc/$UPID)" = "$TEST_USER" ] || fail "fixture not owned by $TEST_USER"

expect_exit 0 "unprivileged dump of own process" "${as_user[@]}" "$USER_SMOLDER" dump -p "$UPID"
[ "$(grep -c '^Thread ' "$WORK/out")" -eq 4 ] || fail "unprivileged dump: $(cat "$WORK/out" "$WORK/err")"
thread_block "$WORK/out" spinner | grep fixture_spin_leaf >/dev/null &&
	pass "unprivileged dump names the spinner's leaf" || fail "no fixture_spin_leaf: $(cat "$WORK/out")"
assert_released "$UPID" "after unprivileged dump"

# Killing an unprivileged smolder while it holds its target releases it too.
SMOLDER_TEST_PAUSE_STOPPED_MS=20000 "${as_user[@]}" "$USER_SMOLDER" dump -p "$UPID" >/dev/null 2>&1 &
SPID=$! # setpriv execs smolder: same PID
CHILDREN+=("$SPID")
wait_stopped_by "$UPID" "$SPID"
kill -KILL "$SPID"
wait "$SPID" 2>/dev/null
sleep 0.1
assert_released "$UPID" "SIGKILL of unprivileged smolder"

start_fixture threads_known 60
wait_ready "$WORK/threads_known.out" || finish
expect_exit 3 "unprivileged dump of a root process" "${as_user[@]}" "$USER_SMOLDER" dump -p "$FIXTURE_PID"
grep -q "CAP_SYS_PTRACE" "$WORK/err" || fail "reason does not name CAP_SYS_PTRACE: $(cat "$WORK/err")"
assert_released "$FIXTURE_PID" "after refused dump"
finish
