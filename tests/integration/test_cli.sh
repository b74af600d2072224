#!/usr/bin/env bash
# test_cli.sh: the command-line contract of DESIGN.md on the real binary: help, version, usage
# errors with exit code 1 and a one-line message, target errors with exit code 2.
source "$(dirname "$0")/lib.sh"

expect_exit 0 "--help" "$SMOLDER" --help
grep -q "record" "$WORK/out" || fail "--help does not list record"
expect_exit 0 "--version" "$SMOLDER" --version
grep -qE '^smolder [0-9]+\.[0-9]+\.[0-9]+$' "$WORK/out" || fail "--version output: $(cat "$WORK/out")"
for cmd in record leaks dump flamegraph diff; do
	expect_exit 0 "$cmd --help" "$SMOLDER" "$cmd" --help
	grep -q "usage: smolder $cmd" "$WORK/out" || fail "$cmd --help has no usage line"
done

expect_exit 1 "no command" "$SMOLDER"
expect_exit 1 "unknown command" "$SMOLDER" frobnicate
expect_exit 1 "bad duration" "$SMOLDER" record -p 1 -d 5parsecs
[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "usage error is not one line: $(cat "$WORK/err")"
grep -q "invalid" "$WORK/err" || fail "bad duration message: $(cat "$WORK/err")"
expect_exit 1 "duration overflow" "$SMOLDER" record -p 1 -d 99999999999999999h
expect_exit 1 "unknown output extension" "$SMOLDER" record -p 1 -o out.png
expect_exit 1 "missing target" "$SMOLDER" leaks -d 5
expect_exit 1 "bad pid" "$SMOLDER" dump -p notapid
expect_exit 1 "diff needs two files" "$SMOLDER" diff one.folded

finish
