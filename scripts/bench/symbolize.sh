#!/bin/bash
# symbolize.sh: smolder's symbolizer against binutils' addr2line (and elfutils' eu-addr2line) on the
# same unique addresses of one large object with debug info. Prints addresses/s (wall time, start-up
# and index building included) and how often smolder's frames agree with addr2line's.
#   scripts/bench/symbolize.sh [OBJECT] ; env: BUILD_DIR (default build), N (default 20000)
# Default object: Debian's libc.so.6, its DWARF from libc6-dbg (/usr/lib/debug/.build-id).
set -euo pipefail
BUILD_DIR=${BUILD_DIR:-build}
N=${N:-20000}
OBJ=${1:-/lib/x86_64-linux-gnu/libc.so.6}
BENCH=$BUILD_DIR/symbolize_bench
[ -x "$BENCH" ] || { echo "symbolize.sh: $BENCH missing: cmake --build $BUILD_DIR" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# addr2line gets the debug file itself when there is one (the same DWARF smolder finds).
id=$(readelf -n "$OBJ" | awk '/Build ID/ {print $3}')
DBG=$OBJ
if [ -n "$id" ] && [ -f "/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" ]; then
	DBG=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
fi

# N addresses inside functions (a random function with a size, a random offset in it; fixed seed),
# unique: a profile resolves each address once. The symbols come from the debug file if any.
nm -S --defined-only "$DBG" | awk '$3 ~ /^[TtWw]$/ && $2 != "" { print $1, $2 }' |
	sort -u >"$TMP/functions"
awk -v n="$N" '{ a[NR] = $1; s[NR] = $2 }
	function hex(h,   i, v) { v = 0; h = tolower(h)
		for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
		return v }
	END { srand(42); for (i = 0; i < n; i++) { k = 1 + int(rand() * NR)
		printf "%x\n", hex(a[k]) + int(rand() * hex(s[k])) } }' "$TMP/functions" |
	sort -u >"$TMP/addrs"
text_size=$(readelf -SW "$OBJ" | sed 's/^ *\[ *[0-9]*\]//' | awk '$1 == ".text" {print $5}')
count=$(wc -l <"$TMP/addrs")
echo "object: $OBJ (.text $((16#$text_size)) bytes), debug: $DBG, $count unique addresses"

now() { date +%s.%N; }
rate() { awk -v n="$count" -v a="$1" -v b="$2" 'BEGIN { printf "%.3f s, %.0f addresses/s", b - a, n / (b - a) }'; }

t0=$(now)
"$BENCH" "$OBJ" "$TMP/addrs" >/dev/null 2>"$TMP/smolder.err"
t1=$(now)
echo "smolder symbolizer:     $(rate "$t0" "$t1")   ($(cat "$TMP/smolder.err"))"

t0=$(now)
addr2line -a -f -i -C -e "$DBG" <"$TMP/addrs" >"$TMP/a2l.out"
t1=$(now)
echo "addr2line -f -i -C:     $(rate "$t0" "$t1")"

if command -v eu-addr2line >/dev/null; then
	t0=$(now)
	eu-addr2line -a -f -i -C -e "$OBJ" <"$TMP/addrs" >/dev/null
	t1=$(now)
	echo "eu-addr2line -f -i -C:  $(rate "$t0" "$t1")"
fi

# Agreement: per address, the chain of function names (innermost first) and the innermost line.
# glibc's internal __GI_ aliases, which addr2line takes from the symbol table, count as the DWARF
# name they alias.
"$BENCH" "$OBJ" "$TMP/addrs" --print >"$TMP/smolder.out" 2>/dev/null
normalize() {
	awk '/^0x/ { if (rec != "") print rec; rec = $0; n = 0; next }
	     { n++; if (n % 2) rec = rec "|" $0; else if (n == 2) { l = $0; sub(/.*:/, "", l); rec = rec "@" l } }
	     END { if (rec != "") print rec }' "$1" |
		sed 's/ (discriminator [0-9]*)//g; s/@0$/@?/; s/|??@?$/|??/; s/|__GI_/|/g'
}
normalize "$TMP/smolder.out" >"$TMP/smolder.norm"
normalize "$TMP/a2l.out" >"$TMP/a2l.norm"
same=$(paste -d '\n' "$TMP/smolder.norm" "$TMP/a2l.norm" | awk 'NR % 2 { a = $0; next } a == $0' | wc -l)
echo "agreement with addr2line (function chain + line): $same / $count"
if [ -n "${SHOW_DIFF:-}" ]; then
	diff "$TMP/smolder.norm" "$TMP/a2l.norm" | head -n "$SHOW_DIFF" || true
fi
