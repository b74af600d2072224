#!/usr/bin/env bash
# fuzz.sh SECONDS [UNWIND_SECONDS]: builds the libFuzzer targets (clang, ASan + UBSan) in
# build-fuzz/ and runs them: fuzz_flamegraph over the folded parser and flame graph renderer
# (libxml2 well-formedness oracle) for SECONDS (default 60) from the seed corpus, then fuzz_unwind
# over the unwinder's ELF/CFI parsers for UNWIND_SECONDS (default 30) from seeds built here: a
# fixture compiled with .eh_frame, the same with only .debug_frame, and this machine's vdso.
# Then fuzz_report (check/diff input readers: report JSON, pprof, folded; budgets; evaluation) for
# REPORT_SECONDS (third argument, default 20) from fuzz/corpus/report, and fuzz_html (the HTML
# report writer: profile JSON + folded stacks; one script element, no unescaped markup) for
# HTML_SECONDS (fourth argument, default 15) from fuzz/corpus/html.
# Exits non-zero on any crash, leak, sanitizer report, timeout or malformed SVG; the input is kept
# as build-fuzz/crash-* (or leak-*, timeout-*) for reproduction (build-fuzz/fuzz/TARGET FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
unwind_secs=${2:-30}
report_secs=${3:-20}
html_secs=${4:-15}
case $secs$unwind_secs$report_secs$html_secs in
'' | *[!0-9]*) echo "usage: scripts/fuzz.sh SECONDS [UNWIND_SECONDS] [REPORT_SECONDS] [HTML_SECONDS]" >&2; exit 1 ;;
esac

CC=clang cmake -S . -B build-fuzz -DSMOLDER_FUZZ=ON -DSMOLDER_TESTS=OFF >/dev/null
cmake --build build-fuzz --target fuzz_flamegraph fuzz_unwind fuzz_report fuzz_html -j2 >/dev/null

work=$(mktemp -d /tmp/smolder-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
# New inputs go to a scratch corpus; the checked-in seeds stay as they are.
echo "fuzz.sh: running fuzz_flamegraph for ${secs}s"
if build-fuzz/fuzz/fuzz_flamegraph -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 -dict=fuzz/flamegraph.dict \
	-artifact_prefix=build-fuzz/ "$work" fuzz/corpus/flamegraph >"$work/log" 2>&1; then
	grep -E '^stat::number_of_executed_units|^Done' "$work/log" || true
	echo "fuzz.sh: no crash in ${secs}s"
else
	tail -n 60 "$work/log"
	echo "fuzz.sh: FAILED: see the report above; input saved as build-fuzz/crash-* or leak-*" >&2
	exit 1
fi

seeds=$work/unwind-seeds
mkdir -p "$seeds" "$work/unwind"
cc -O2 -g -fomit-frame-pointer -Itests/fixtures -o "$seeds/eh_frame" tests/fixtures/record_bigframe.c
strip --strip-debug "$seeds/eh_frame"
# .eh_frame without .eh_frame_hdr (as gcc -static links): the unwinder indexes .eh_frame itself.
cc -O2 -g -fomit-frame-pointer -Itests/fixtures -Wl,--no-eh-frame-hdr -o "$seeds/no_eh_frame_hdr" \
	tests/fixtures/record_bigframe.c
strip --strip-debug "$seeds/no_eh_frame_hdr"
cc -O2 -g -fomit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables -Itests/fixtures \
	-o "$work/debug_frame_full" tests/fixtures/record_bigframe.c
# Keep .debug_frame, drop the other debug sections: a small seed that still exercises it.
objcopy -R .debug_info -R .debug_line -R .debug_str -R .debug_abbrev -R .debug_aranges \
	-R .debug_line_str -R .debug_loclists -R .debug_rnglists "$work/debug_frame_full" \
	"$seeds/debug_frame"
python3 - "$seeds/vdso" <<'PY'
import re, sys
m = re.search(r"^([0-9a-f]+)-([0-9a-f]+) .*\[vdso\]$", open("/proc/self/maps").read(), re.M)
if m:
    lo, hi = int(m.group(1), 16), int(m.group(2), 16)
    with open("/proc/self/mem", "rb") as mem:
        mem.seek(lo)
        open(sys.argv[1], "wb").write(mem.read(hi - lo))
PY
echo "fuzz.sh: running fuzz_unwind for ${unwind_secs}s"
if build-fuzz/fuzz/fuzz_unwind -max_total_time="$unwind_secs" -timeout=10 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 -artifact_prefix=build-fuzz/ "$work/unwind" "$seeds" \
	>"$work/log" 2>&1; then
	grep -E '^stat::number_of_executed_units|^Done' "$work/log" || true
	echo "fuzz.sh: no crash in ${unwind_secs}s"
else
	tail -n 60 "$work/log"
	echo "fuzz.sh: FAILED: see the report above; input saved as build-fuzz/crash-*, leak-* or timeout-*" >&2
	exit 1
fi

mkdir -p "$work/report"
echo "fuzz.sh: running fuzz_report for ${report_secs}s"
if build-fuzz/fuzz/fuzz_report -max_total_time="$report_secs" -timeout=10 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 -artifact_prefix=build-fuzz/ "$work/report" \
	fuzz/corpus/report >"$work/log" 2>&1; then
	grep -E '^stat::number_of_executed_units|^Done' "$work/log" || true
	echo "fuzz.sh: no crash in ${report_secs}s"
else
	tail -n 60 "$work/log"
	echo "fuzz.sh: FAILED: see the report above; input saved as build-fuzz/crash-*, leak-* or timeout-*" >&2
	exit 1
fi

mkdir -p "$work/html"
echo "fuzz.sh: running fuzz_html for ${html_secs}s"
if build-fuzz/fuzz/fuzz_html -max_total_time="$html_secs" -timeout=10 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 -artifact_prefix=build-fuzz/ "$work/html" \
	fuzz/corpus/html >"$work/log" 2>&1; then
	grep -E '^stat::number_of_executed_units|^Done' "$work/log" || true
	echo "fuzz.sh: no crash in ${html_secs}s"
else
	tail -n 60 "$work/log"
	echo "fuzz.sh: FAILED: see the report above; input saved as build-fuzz/crash-*, leak-* or timeout-*" >&2
	exit 1
fi
