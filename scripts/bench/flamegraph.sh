#!/usr/bin/env bash
# flamegraph.sh [LINES] [--reference]: benchmarks `smolder flamegraph` on a synthetic folded
# profile shaped like a real service (scripts/bench/gen_folded.pl: LINES unique stacks, default
# 200000, 2..50 frames, ~60 MB, shuffled) and on the same lines sorted. Prints wall and CPU time,
# lines/s, MB/s and peak RSS (best of 3 runs). With --reference it also times
# reference_flamegraph.pl, our Perl rendition of flamegraph.pl's algorithm (flamegraph.pl itself
# is not in Debian), once, and prints the speedup. Needs a built smolder (build/smolder or
# $SMOLDER).
set -euo pipefail
cd "$(dirname "$0")/../.."
lines=200000
reference=0
for a in "$@"; do
	case $a in
	--reference) reference=1 ;;
	*[!0-9]* | '') echo "usage: scripts/bench/flamegraph.sh [LINES] [--reference]" >&2; exit 1 ;;
	*) lines=$a ;;
	esac
done
smolder=${SMOLDER:-build/smolder}
[ -x "$smolder" ] || { echo "flamegraph.sh: build smolder first (cmake --build build)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "flamegraph.sh: needs GNU time (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d /tmp/smolder-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
perl scripts/bench/gen_folded.pl "$lines" 42 >"$work/in.folded"
sort "$work/in.folded" >"$work/sorted.folded"
bytes=$(stat -c %s "$work/in.folded")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "input: $lines lines, $mb MiB, $(awk -F';' '{ if (NF > m) m = NF } END { print m }' "$work/in.folded") frames max"

# run NAME FILE CMD...: best of 3 by wall time; prints the figures.
run() {
	local name=$1 file=$2 best="" line
	shift 2
	for _ in 1 2 3; do
		/usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" <"$file" >"$work/out.svg" 2>/dev/null
		line=$(cat "$work/time")
		if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
			best=$line
		fi
	done
	xmllint --noout "$work/out.svg" || { echo "flamegraph.sh: $name wrote malformed XML" >&2; exit 1; }
	read -r wall user sys rss <<<"$best"
	awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v l="$lines" -v b="$bytes" \
		-v o="$(stat -c %s "$work/out.svg")" 'BEGIN {
		if (w <= 0) w = 0.01
		printf "%-28s %6.2f s wall (%.2f user + %.2f sys)  %9.0f lines/s  %6.1f MB/s  peak RSS %5.1f MiB (%.0f%% of input)  SVG %.1f MiB\n",
			n, w, u, s, l / w, b / 1048576 / w, r / 1024, 100 * r * 1024 / b, o / 1048576 }'
	echo "$wall" >"$work/$name.wall"
}

run "smolder (shuffled input)" "$work/in.folded" "$smolder" flamegraph
run "smolder (sorted input)" "$work/sorted.folded" "$smolder" flamegraph
if [ "$reference" -eq 1 ]; then
	/usr/bin/time -f "%e %U %S %M" -o "$work/time" perl scripts/bench/reference_flamegraph.pl \
		<"$work/in.folded" >"$work/ref.svg"
	read -r wall user sys rss <"$work/time"
	awk -v w="$wall" -v r="$rss" -v s="$(cat "$work/smolder (shuffled input).wall")" 'BEGIN {
		printf "%-28s %6.2f s wall, peak RSS %.1f MiB; smolder is %.0fx faster\n",
			"reference Perl (flow alg.)", w, r / 1024, w / (s > 0 ? s : 0.01) }'
fi
# FLAMEGRAPH_PL=/path/to/flamegraph.pl times the real flamegraph.pl on the same input. It is not
# shipped by Debian, so the project cannot install it; point at a copy kept outside the repository.
if [ -n "${FLAMEGRAPH_PL:-}" ]; then
	/usr/bin/time -f "%e %U %S %M" -o "$work/time" perl "$FLAMEGRAPH_PL" \
		<"$work/in.folded" >"$work/fg.svg"
	read -r wall user sys rss <"$work/time"
	awk -v w="$wall" -v r="$rss" -v s="$(cat "$work/smolder (shuffled input).wall")" 'BEGIN {
		printf "%-28s %6.2f s wall, peak RSS %.1f MiB; smolder is %.0fx faster\n",
			"flamegraph.pl", w, r / 1024, w / (s > 0 ? s : 0.01) }'
fi
