#!/usr/bin/env bash
# test_flamegraph_cli.sh: `smolder flamegraph` and `smolder diff` as users run them: stdin and
# files, exit codes, one-line errors, hostile and random-byte names, atomic outputs, the diff
# table and the --fail-on gate. Every SVG produced is checked with xmllint. Needs no BPF.
source "$(dirname "$0")/lib.sh"

command -v xmllint >/dev/null || { echo "FAIL: xmllint missing (apt-get install libxml2-utils)" >&2; exit 1; }

# well_formed FILE WHAT
well_formed() {
	if xmllint --noout "$1" 2>"$WORK/xmllint.err"; then pass "$2: well-formed XML"; else
		fail "$2: xmllint: $(head -c 300 "$WORK/xmllint.err")"
	fi
}

cd "$WORK" || exit 1
printf 'main;serve;parse 30\nmain;serve;reply 20\nmain;idle 50\nmain;serve;parse 10\n' >cpu.folded

# stdin to stdout, as with flamegraph.pl
"$SMOLDER" flamegraph <cpu.folded >stdin.svg 2>err
rc=$?
[ $rc -eq 0 ] && pass "stdin -> stdout (exit 0)" || fail "stdin -> stdout: exit $rc: $(cat err)"
well_formed stdin.svg "stdin -> stdout"
grep -q '<title>parse' stdin.svg && pass "frames present" || fail "no parse frame in stdin.svg"
grep -q '40 samples, 36.36%' stdin.svg && pass "merged identical stacks (40 samples)" ||
	fail "identical stacks not merged"

"$SMOLDER" flamegraph - <cpu.folded >dash.svg && cmp -s stdin.svg dash.svg &&
	pass "'-' reads stdin, same bytes" || fail "'-' output differs from stdin output"

expect_exit 0 "file -> -o file" "$SMOLDER" flamegraph cpu.folded -o out.svg
well_formed out.svg "file -> -o file"
cmp -s out.svg stdin.svg && pass "deterministic: same SVG from file and stdin" ||
	fail "SVG differs between runs"
grep -q 'wrote out.svg' "$WORK/err" && pass "output name printed" || fail "no 'wrote out.svg' on stderr"

# shuffled input, same picture
tac cpu.folded | "$SMOLDER" flamegraph -o shuffled.svg 2>/dev/null
cmp -s shuffled.svg out.svg && pass "input order does not matter" || fail "input order changed the SVG"

# folded output: merged and sorted
expect_exit 0 "-o .folded" "$SMOLDER" flamegraph cpu.folded -o merged.folded
if [ "$(cat merged.folded)" = "$(printf 'main;idle 50\nmain;serve;parse 40\nmain;serve;reply 20')" ]; then
	pass "folded output merged and sorted"
else
	fail "folded output: $(cat merged.folded)"
fi

# errors: one line, exit 1, no output file left behind
: >empty.folded
expect_exit 1 "empty input" "$SMOLDER" flamegraph empty.folded -o empty.svg
[ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q 'no stacks' "$WORK/err" && pass "empty: one-line error" ||
	fail "empty: stderr was: $(cat "$WORK/err")"
[ ! -e empty.svg ] && pass "empty: no output file" || fail "empty: empty.svg was written"
ls "$WORK"/empty.svg.tmp.* >/dev/null 2>&1 && fail "temporary file left behind" || pass "no temporary file left"

printf 'not a stack\nalso bad x\n' >bad.folded
expect_exit 1 "all-invalid input" "$SMOLDER" flamegraph bad.folded -o bad.svg
grep -q 'ignored 2 lines' "$WORK/err" && pass "all-invalid: lines counted" || fail "all-invalid: $(cat "$WORK/err")"

printf 'main;a 5\ngarbage\nmain;b 3\nmain;c x\n' >mixed.folded
expect_exit 0 "some invalid lines are not fatal" "$SMOLDER" flamegraph mixed.folded -o mixed.svg
[ "$(grep -c 'ignored 2 lines' "$WORK/err")" -eq 1 ] && grep -q 'first: line 2' "$WORK/err" &&
	pass "invalid lines reported once with the first line number" || fail "mixed: $(cat "$WORK/err")"
well_formed mixed.svg "mixed input"

echo keep >keep.svg
expect_exit 1 "failed run keeps the old output" "$SMOLDER" flamegraph bad.folded -o keep.svg
[ "$(cat keep.svg)" = keep ] && pass "old output untouched" || fail "keep.svg was overwritten"

expect_exit 1 "missing input file" "$SMOLDER" flamegraph /nonexistent/x.folded -o x.svg
grep -q 'cannot open' "$WORK/err" && pass "missing file named" || fail "missing file: $(cat "$WORK/err")"
expect_exit 1 "bad --colors" "$SMOLDER" flamegraph cpu.folded --colors pink -o x.svg
expect_exit 1 "bad --width" "$SMOLDER" flamegraph cpu.folded --width 5 -o x.svg
expect_exit 1 "bad --minwidth" "$SMOLDER" flamegraph cpu.folded --minwidth -3 -o x.svg
expect_exit 1 "unsupported output format" "$SMOLDER" flamegraph cpu.folded -o x.json

# hostile names, options and random bytes
{
	printf 'main;</script><script>alert(1)</script> 3\n'
	printf 'main;a&b 2\nmain;operator<< 2\nmain;x"y" 2\nmain;]]> 1\nmain;<!--x--> 1\n'
	printf 'main;bad\xff\xfe\xc0utf8 1\nmain;ctl\x01\x02\x1b[0m 1\nmain;vfs_read_[k] 4\nmain;inl_[i] 2\n'
} >hostile.folded
expect_exit 0 "hostile names" "$SMOLDER" flamegraph hostile.folded -o hostile.svg \
	--title '</script><b>&"T"' --subtitle $'sub\xff<i>' --countname '<bytes>' --colors io --inverted
well_formed hostile.svg "hostile names"
[ "$(grep -c '<script' hostile.svg)" -eq 1 ] && pass "only smolder's own <script>" ||
	fail "hostile.svg has extra <script> elements"
grep -q 'alert(1)</script>' hostile.svg && fail "raw script text in SVG" || pass "script text escaped"
grep -q '&lt;/script&gt;&lt;script&gt;alert(1)' hostile.svg && pass "hostile name kept as text" ||
	fail "hostile name missing"

# a folded file whose first frame starts with '{' is folded stacks, not broken JSON
printf '{closure};work 3\nmain;work 2\n' >brace.folded
expect_exit 0 "folded starting with '{'" "$SMOLDER" flamegraph brace.folded -o brace.svg
well_formed brace.svg "folded starting with '{'"

for seed in 1 2 3 4 5; do
	# random bytes per frame, newlines removed; a count on each line
	head -c 20000 /dev/urandom | tr '\n' 'x' | fold -w 300 | sed 's/$/ 7/' >random$seed.folded
	"$SMOLDER" flamegraph random$seed.folded -o random$seed.svg 2>/dev/null
	rc=$?
	if [ $rc -eq 0 ]; then well_formed random$seed.svg "random bytes #$seed"; else
		fail "random bytes #$seed: exit $rc"
	fi
done

# diff
printf 'main;serve;parse 30\nmain;serve;reply 20\nmain;idle 50\nmain;legacy 10\n' >before.folded
printf 'main;serve;parse 60\nmain;serve;reply 5\nmain;idle 35\nmain;fresh 10\n' >after.folded
expect_exit 0 "diff" "$SMOLDER" diff before.folded after.folded -o diff.svg
well_formed diff.svg "diff"
grep -q 'parse' "$WORK/out" && pass "diff table on stdout" || fail "no table: $(cat "$WORK/out")"
grep -q 'legacy (only in before)' "$WORK/out" && pass "frames only in BEFORE listed" ||
	fail "legacy not listed: $(cat "$WORK/out")"
# parse: 27.27% -> 54.55%: +27.27 points
expect_exit 5 "diff --fail-on 20 (parse grew 27.27 points)" "$SMOLDER" diff before.folded after.folded -o d2.svg --fail-on 20
grep -q 'parse grew by 27.27' "$WORK/err" && pass "fail-on names the function" || fail "fail-on message: $(cat "$WORK/err")"
[ -s d2.svg ] && pass "fail-on still writes the graph" || fail "no d2.svg"
expect_exit 0 "diff --fail-on 30 (not crossed)" "$SMOLDER" diff before.folded after.folded -o d3.svg --fail-on 30
expect_exit 0 "diff --normalize" "$SMOLDER" diff before.folded after.folded -o d4.svg --normalize
well_formed d4.svg "diff --normalize"
expect_exit 0 "diff default output" "$SMOLDER" diff before.folded after.folded
[ -s diff.svg ] && grep -q 'wrote diff.svg' "$WORK/err" && pass "default diff.svg written and named" ||
	fail "default output: $(cat "$WORK/err")"
"$SMOLDER" diff before.folded after.folded -o - >stdout.svg 2>table.txt
well_formed stdout.svg "diff -o -"
grep -q 'parse' table.txt && pass "diff -o -: table on stderr" || fail "diff -o -: no table on stderr"
expect_exit 1 "diff with both inputs on stdin" "$SMOLDER" diff - - -o x.svg
expect_exit 1 "diff with one profile" "$SMOLDER" diff before.folded
expect_exit 1 "diff with an empty profile" "$SMOLDER" diff empty.folded after.folded -o x.svg

finish
