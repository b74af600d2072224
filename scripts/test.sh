#!/usr/bin/env bash
# test.sh: sets up the machine (scripts/bootstrap.sh), builds smolder, and runs every test: unit
# tests, integration tests against real processes with real eBPF, the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and short fuzzing runs of the folded parser and
# flame graph renderer (60 s) and of the unwinder's ELF/CFI parsers (30 s). Ends with one line "tests: N passed, N failed". Run as root.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=2
werror=OFF
[ -n "${CI:-}" ] && werror=ON

bash scripts/bootstrap.sh build test || exit 1

passed=0
failed=0
# run_ctest DIR ARGS...: runs ctest, adds its counts to the totals.
run_ctest() {
	local dir=$1 log
	shift
	log=$(mktemp)
	(cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$log"
	local line
	line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "test.sh: ctest in $dir $* produced no summary" >&2
		failed=$((failed + 1))
	else
		local f t
		f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
		t=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
		passed=$((passed + t - f))
		failed=$((failed + f))
	fi
	rm -f "$log"
}

echo "== build (RelWithDebInfo, -Werror=$werror)"
cmake -S . -B build -DSMOLDER_WERROR=$werror >/dev/null || exit 1
cmake --build build -j$jobs || exit 1

echo "== unit tests"
run_ctest build -L unit -j$jobs
echo "== integration tests (real processes, real eBPF; serial, they measure CPU)"
run_ctest build -L integration

echo "== unit tests under ASan + UBSan"
cmake -S . -B build-asan -DSMOLDER_SANITIZE=ON -DSMOLDER_WERROR=$werror >/dev/null || exit 1
if cmake --build build-asan -j$jobs; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		run_ctest build-asan -L unit -j$jobs
else
	failed=$((failed + 1))
fi

if [ -x scripts/fuzz.sh ]; then
	echo "== fuzzing (${SMOLDER_FUZZ_SECONDS:-60} s flame graphs, 30 s unwinder)"
	if bash scripts/fuzz.sh "${SMOLDER_FUZZ_SECONDS:-60}"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
fi

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
