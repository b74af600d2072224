#!/usr/bin/env bash
# test_bootstrap_sets.sh: each README command installs only what it needs: the demo's sets (build,
# demo) hold none of the test and benchmark tools (chromium, bpftrace, perf, heaptrack, golang,
# servers), the test set holds the servers the smoke tests start, and every listed package is a
# Debian package this machine's archive knows.
source "$(dirname "$0")/lib.sh"

BOOT="$SOURCE_DIR/scripts/bootstrap.sh"
demo=$(bash "$BOOT" --list build demo) || fail "bootstrap --list build demo failed"
for heavy in chromium bpftrace linux-perf heaptrack golang-go hyperfine redis-server nginx-light npm; do
	grep -qx "$heavy" <<<"$demo" && fail "demo installs $heavy" || pass "demo does not install $heavy"
done
grep -q 'bootstrap.sh build demo$' "$SOURCE_DIR/scripts/demo.sh" &&
	pass "demo.sh asks for build and demo only" || fail "demo.sh does not ask for its sets"
test_set=$(bash "$BOOT" --list build test)
for needed in redis-server redis-tools nginx-light apache2-utils wrk perl python3 libxml2-utils; do
	grep -qx "$needed" <<<"$test_set" && pass "test set has $needed" || fail "test set lacks $needed"
done
expect_exit 1 "unknown set" bash "$BOOT" --list nonsense
if command -v apt-cache >/dev/null; then
	# One apt-cache call for all (one per package took minutes on a loaded machine).
	mapfile -t all < <(bash "$BOOT" --list)
	known=$(apt-cache show --no-all-versions "${all[@]}" 2>/dev/null | sed -n 's/^Package: //p' | sort -u)
	unknown=$(comm -23 <(printf '%s\n' "${all[@]}" | sort -u) <(echo "$known"))
	[ -z "$unknown" ] && pass "every package is known to apt" || fail "unknown packages: $unknown"
fi
finish
