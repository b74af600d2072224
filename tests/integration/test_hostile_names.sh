#!/usr/bin/env bash
# test_hostile_names.sh: names a target chooses (process and thread names with ESC sequences and a
# newline, symbols with OSC/CSI sequences, BEL and ';') never reach the operator's terminal and
# never break a line format: record's folded output and summary, dump's text, leaks' text summary
# and every stderr hold no control byte but newlines, all with one replacement convention ('?',
# and ':' for ';' in folded frames).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ptrace_lib.sh"
require_root_bpf

# clean FILE WHAT: no control byte other than newline, and well-formed UTF-8.
clean() {
	if python3 - "$1" <<'PY'; then pass "$2: no control bytes"; else fail "$2: control bytes in $1"; fi
import sys
data = open(sys.argv[1], "rb").read()
data.decode("utf-8")
bad = [b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f]
sys.exit(1 if bad else 0)
PY
}

start_fixture hostile_names 60
wait_ready "$WORK/hostile_names.out" || finish
PID=$FIXTURE_PID
tid=$(ls "/proc/$PID/task" | grep -vx "$PID" | head -1)

expect_exit 0 "record" "$SMOLDER" record -p "$PID" -d 2 -F 199 --threads -o "$WORK/r.folded" \
	-o "$WORK/r.json"
cp "$WORK/err" "$WORK/record.err"
clean "$WORK/record.err" "record stderr"
clean "$WORK/r.folded" "record folded"
bad=$(grep -cvE '^[^ ].* [0-9]+$' "$WORK/r.folded")
[ "$bad" -eq 0 ] && pass "folded lines well formed" || fail "$bad malformed folded lines"
grep -qF 'ev?[31m?il-'"$PID"';' "$WORK/r.folded" && pass "process name replaced by the convention" ||
	fail "main thread root: $(cut -d';' -f1 "$WORK/r.folded" | sort -u | head -5 | cat -v)"
grep -qF ';spin?]0:pwned??[2J:end' "$WORK/r.folded" && pass "symbol name replaced by the convention" ||
	fail "spin frame: $(head -3 "$WORK/r.folded" | cat -v)"
python3 -m json.tool "$WORK/r.json" >/dev/null && pass "record JSON loads" || fail "record JSON"

expect_exit 0 "dump" "$SMOLDER" dump -p "$PID"
cp "$WORK/out" "$WORK/dump.txt"
clean "$WORK/dump.txt" "dump stdout"
clean "$WORK/err" "dump stderr"
[ "$(grep -c '^Thread ' "$WORK/dump.txt")" -eq 2 ] && pass "dump: two thread headers" ||
	fail "dump headers: $(grep '^Thread ' "$WORK/dump.txt" | cat -v)"
grep -qxF "Thread $tid (t?x?[2J)" "$WORK/dump.txt" && pass "dump: thread name on its header line" ||
	fail "dump: $(grep '^Thread ' "$WORK/dump.txt" | cat -v)"
bad=$(grep -v '^Thread ' "$WORK/dump.txt" | grep -v '^$' | grep -v '^  (' |
	grep -cvE '^  #[0-9]+ 0x[0-9a-f]+ [^ ].*')
[ "$bad" -eq 0 ] && pass "dump: frame lines well formed" || fail "dump: $bad malformed lines"
grep -qF ' spin?]0;pwned??[2J;end ' "$WORK/dump.txt" && pass "dump: symbol replaced" ||
	fail "dump: no sanitised spin frame: $(cat -v "$WORK/dump.txt" | head -8)"

expect_exit 0 "leaks" "$SMOLDER" leaks -p "$PID" -d 3 -o "$WORK/l.json"
cp "$WORK/out" "$WORK/leaks.txt"
clean "$WORK/leaks.txt" "leaks summary"
clean "$WORK/err" "leaks stderr"
head -1 "$WORK/leaks.txt" | grep -qF "pid $PID (ev?[31m?il)," && pass "leaks: command on its line" ||
	fail "leaks header: $(head -1 "$WORK/leaks.txt" | cat -v)"
grep -qxF '      leak?[31mred?[0m' "$WORK/leaks.txt" && pass "leaks: symbol replaced" ||
	fail "leaks: no sanitised leak frame: $(cat -v "$WORK/leaks.txt" | head -12)"
python3 -m json.tool "$WORK/l.json" >/dev/null && pass "leaks JSON loads" || fail "leaks JSON"
finish
