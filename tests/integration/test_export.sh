#!/usr/bin/env bash
# test_export.sh: pprof and speedscope outputs of real record and leaks runs, read back by the real
# readers. pprof: Debian's `go tool pprof` (offline: -symbolize=none, GOTOOLCHAIN=local, its
# HOME/GOPATH/GOCACHE in the test's directory): -top gives the same total and names as the folded
# output of the same run, -traces the same call paths, -raw exactly the same stacks and weights
# (pprof_compare.py), file:line and the fixture's build id; the same for `profile` (on-CPU and memory
# sample types in one file) and for a process tree (-p A,B: process roots and pid labels). speedscope: validated against the
# file-format schema shipped by the npm package `speedscope`, with ajv (npm), both installed into
# the build tree on first use; a broken file must fail the same validator. Then diff, flamegraph
# and check read the pprof files as input.
source "$(dirname "$0")/lib.sh"
require_root_bpf
HERE=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null || { echo "FAIL: go missing (apt-get install golang-go)" >&2; exit 1; }
command -v npm >/dev/null || { echo "FAIL: npm missing (apt-get install npm)" >&2; exit 1; }
W="$FIXTURES/check_workload"
cd "$WORK" || exit 1
export HOME="$WORK/home" GOPATH="$WORK/home/go" GOCACHE="$WORK/home/gocache" GOTOOLCHAIN=local \
	GOFLAGS= GOPROXY=off
mkdir -p "$HOME"
pprof() { go tool pprof -symbolize=none "$@"; }

"$SMOLDER" record -F 499 -o cpu.folded -o cpu.pb.gz -o cpu.speedscope.json -o cpu.json -- \
	"$W" 20000 >/dev/null 2>record.err || fail "record: $(tail -n 2 record.err)"
total=$(awk '{s += $NF} END {print s}' cpu.folded)
[ "${total:-0}" -gt 100 ] && pass "record: $total samples" || fail "record: only ${total:-0} samples"

# -top: same total, the fixture's functions
pprof -sample_index=samples -top cpu.pb.gz >top.txt 2>&1 || fail "pprof -top: $(head -c 300 top.txt)"
grep -q "Total samples = $total\b" top.txt && pass "pprof -top total = folded total ($total)" ||
	fail "pprof -top total: $(grep 'Total samples' top.txt)"
for f in parse_input compute_result handle_operation main; do
	grep -q " $f\$" top.txt && pass "pprof -top names $f" || fail "pprof -top lacks $f"
done
grep -q '^Type: cpu$' <(pprof -top cpu.pb.gz 2>&1) && pass "default sample type cpu" ||
	fail "default sample type is not cpu"
ns_total=$(pprof -unit=ns -top cpu.pb.gz 2>&1 | sed -n 's/.*Total samples = \([0-9]*\)ns.*/\1/p')
[ "${ns_total:-0}" -eq $((total * (1000000000 / 499))) ] &&
	pass "cpu nanoseconds = samples x period" || fail "cpu ns total ${ns_total:-?}"

# -traces: every call path of the folded output is there, leaf first
pprof -sample_index=samples -traces cpu.pb.gz >traces.txt 2>&1
if awk '/^-+\+-+$/ {if (n) print s; s = ""; n = 0; started = 1; next}
	started && NF {sub(/ \(inline\)$/, ""); name = $NF; if ($0 ~ /^ *[0-9]/) name = $2
		s = n ? name ";" s : name; n++}
	END {if (n) print s}' traces.txt | sort -u >traces.paths &&
	sed -E 's/ [0-9]+$//; s/_\[[ki]\]//g' cpu.folded | sort -u >folded.paths &&
	cmp -s traces.paths folded.paths; then
	pass "pprof -traces: the same $(wc -l <folded.paths) call paths as folded"
else
	fail "pprof -traces paths differ: $(diff traces.paths folded.paths | head -5)"
fi

# -raw: exactly the same stacks and weights
pprof -raw cpu.pb.gz >cpu.raw 2>&1
python3 "$HERE/pprof_compare.py" cpu.raw cpu.folded 0 >cmp.txt && pass "pprof -raw: $(cat cmp.txt)" ||
	fail "pprof -raw vs folded: $(cat cmp.txt)"
build_id=$(readelf -n "$W" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
grep -q "check_workload $build_id" cpu.raw && pass "mapping names the fixture with its build id" ||
	fail "no mapping with build id $build_id: $(grep -A3 Mappings cpu.raw)"
pprof -sample_index=samples -lines -top cpu.pb.gz 2>&1 | grep -Eq 'compute_result .*check_workload\.c:[0-9]+' &&
	pass "file:line (check_workload.c) in pprof -lines" || fail "no file:line for compute_result"

# leaks: outstanding bytes and growth
"$SMOLDER" leaks -i 250ms -o mem.folded -o mem.pb.gz -o mem.speedscope.json -- "$W" 2000 1000 \
	>/dev/null 2>leaks.err || fail "leaks: $(tail -n 2 leaks.err)"
pprof -raw mem.pb.gz >mem.raw 2>&1
python3 "$HERE/pprof_compare.py" mem.raw mem.folded 0 >cmp.txt &&
	pass "leaks pprof -raw inuse_space: $(cat cmp.txt)" || fail "leaks pprof vs folded: $(cat cmp.txt)"
mtotal=$(awk '{s += $NF} END {print s}' mem.folded)
pprof -unit=B -top mem.pb.gz 2>&1 | grep -q "Total samples = ${mtotal}B" &&
	pass "leaks pprof -top total = $mtotal bytes" || fail "leaks -top total (want $mtotal)"
objects=$(pprof -sample_index=inuse_objects -top mem.pb.gz 2>&1 | sed -n 's/.*Total samples = \([0-9]*\) *$/\1/p')
# 2000 operations each leave one block
[ "${objects:-0}" -ge 2000 ] && pass "leaks pprof inuse_objects: $objects objects" ||
	fail "inuse_objects total ${objects:-?}"
grow=$(pprof -sample_index=growth_space -unit=B -top mem.pb.gz 2>&1 | sed -n 's/.*Total samples = \([0-9]*\)B.*/\1/p')
# 2000 operations leak 256 B each; growth excludes what the first snapshot already held
[ "${grow:-0}" -ge 256000 ] && [ "${grow:-0}" -le 512000 ] && pass "growth_space ${grow} B (<= 512000)" ||
	fail "growth_space ${grow:-?} B"

# profile: one pprof file with on-CPU and memory sample types, one speedscope file with a profile
# per part. On-CPU stacks are those of the run's .folded, memory totals those of its JSON report.
"$SMOLDER" profile -F 499 -i 250ms --ops 20000 -o prof.json -o prof.folded -o prof.pb.gz \
	-o prof.speedscope.json -- "$W" 20000 >/dev/null 2>profile.err ||
	fail "profile: $(tail -n 2 profile.err)"
pprof -raw prof.pb.gz >prof.raw 2>&1
grep -q '^samples/count cpu/nanoseconds\[dflt\] off_cpu/nanoseconds inuse_space/bytes inuse_objects/count growth_space/bytes$' prof.raw &&
	pass "profile pprof sample types: on-CPU (default), off-CPU and memory, with units" ||
	fail "profile sample types: $(grep -A1 '^Samples:' prof.raw)"
python3 "$HERE/pprof_compare.py" prof.raw prof.folded 0 >cmp.txt &&
	pass "profile pprof -raw on-CPU samples: $(cat cmp.txt)" || fail "profile pprof vs folded: $(cat cmp.txt)"
ptotal=$(awk '{s += $NF} END {print s}' prof.folded)
pprof -sample_index=samples -top prof.pb.gz 2>&1 | grep -q "Total samples = $ptotal\b" &&
	pass "profile pprof -top samples = folded total ($ptotal)" || fail "profile -top samples (want $ptotal)"
read -r outstanding leaked < <(python3 -c 'import json; d = json.load(open("prof.json"))
print(d["memory"]["totals"]["outstanding_bytes"], d["memory"]["totals"]["leaked_bytes"])')
pprof -sample_index=inuse_space -unit=B -top prof.pb.gz 2>&1 | grep -q "Total samples = ${outstanding}B" &&
	pass "profile pprof inuse_space = the report's outstanding bytes ($outstanding)" ||
	fail "inuse_space: $(pprof -sample_index=inuse_space -unit=B -top prof.pb.gz 2>&1 | grep Total), want $outstanding"
pgrow=$(pprof -sample_index=growth_space -unit=B -top prof.pb.gz 2>&1 | sed -n 's/.*Total samples = \([0-9]*\)B.*/\1/p')
# growth: what the sites hold (20000 x 256 B leaked) minus what the first snapshot already saw
# (bounds that do not depend on the leak verdict of a run this short)
[ "${pgrow:-0}" -le "${outstanding:-0}" ] && [ "${pgrow:-0}" -ge 2560000 ] &&
	pass "profile growth_space $pgrow B (outstanding $outstanding B, leak sites $leaked B)" ||
	fail "profile growth_space ${pgrow:-?} B, outstanding $outstanding B"
# the leak site through pprof's own reader: its stack, its source line, in the program's mapping
pprof -sample_index=inuse_space -traces prof.pb.gz >mtraces.txt 2>&1
grep -A3 -E '^ +[0-9.]+[kM]?B +malloc$' mtraces.txt | grep -q 'remember_result' &&
	pass "pprof -traces: malloc under remember_result" || fail "memory traces: $(head -c 600 mtraces.txt)"
# (file names are paths of the checkout: matched literally, not as patterns)
grep -F ' M=1 remember_result ' prof.raw | grep -qF '/check_workload.c:' &&
	! grep -F ' remember_result ' prof.raw | grep -vqF '/check_workload.c:' &&
	pass "remember_result (memory and CPU): program's mapping, one full source path" ||
	fail "no mapped remember_result location: $(grep remember_result prof.raw)"
grep -q "^1: .*check_workload $build_id" prof.raw && pass "profile pprof: main mapping with build id" ||
	fail "profile mapping: $(grep -A3 Mappings prof.raw)"

# profile's off-CPU part: off_cpu/nanoseconds samples = the run's .offcpu.folded (microseconds)
"$SMOLDER" profile -F 499 --no-memory -o off.json -o off.folded -o off.pb.gz \
	-o off.speedscope.json -- "$FIXTURES/offcpu_mix" 2 sleep >/dev/null 2>offcpu.err ||
	fail "profile offcpu_mix: $(tail -n 2 offcpu.err)"
pprof -raw off.pb.gz >off.raw 2>&1
grep -q '^samples/count cpu/nanoseconds\[dflt\] off_cpu/nanoseconds$' off.raw &&
	pass "profile --no-memory pprof: on-CPU and off-CPU sample types" ||
	fail "off-CPU sample types: $(grep -A1 '^Samples:' off.raw)"
python3 "$HERE/pprof_compare.py" off.raw off.offcpu.folded 2 1000 >cmp.txt &&
	pass "pprof off_cpu samples = .offcpu.folded x 1000: $(cat cmp.txt)" ||
	fail "off-CPU pprof vs folded: $(cat cmp.txt)"
python3 "$HERE/pprof_compare.py" off.raw off.folded 0 >cmp.txt &&
	pass "and its on-CPU samples = .folded: $(cat cmp.txt)" || fail "on-CPU part: $(cat cmp.txt)"
pprof -sample_index=off_cpu -top off.pb.gz 2>&1 | grep -q ' sleep_phase$' &&
	pass "pprof -sample_index=off_cpu names sleep_phase" || fail "off_cpu -top lacks sleep_phase"
offtotal=$(awk '{s += $NF} END {print s}' off.offcpu.folded)

# leaks pprof: allocation sites keep their addresses, mappings and build ids too
grep -F ' M=1 remember_result ' mem.raw | grep -qF '/check_workload.c:' &&
	grep -q "check_workload $build_id" mem.raw && pass "leaks pprof: mapped locations, build id" ||
	fail "leaks mappings: $(grep -A4 Mappings mem.raw)"

# process trees: -p A,B gives each stack a "COMMAND [PID]" root in folded, pprof and speedscope
"$W" 100000000 2000 >/dev/null 2>&1 &
A=$!
"$W" 100000000 3000 >/dev/null 2>&1 &
B=$!
CHILDREN+=("$A" "$B")
sleep 0.3
"$SMOLDER" record -p "$A,$B" -d 2 -F 499 -o tree.folded -o tree.pb.gz -o tree.speedscope.json \
	>/dev/null 2>tree.err || fail "record -p A,B: $(tail -n 2 tree.err)"
"$SMOLDER" leaks -p "$A,$B" -d 2 -i 250ms -o ltree.folded -o ltree.growth.folded -o ltree.pb.gz \
	-o ltree.speedscope.json >/dev/null 2>ltree.err || fail "leaks -p A,B: $(tail -n 2 ltree.err)"
kill "$A" "$B" 2>/dev/null
grep -q "^check_workload \[$A\];" tree.folded && grep -q "^check_workload \[$B\];" tree.folded &&
	pass "folded: both process roots" || fail "tree folded: $(head -3 tree.folded)"
pprof -raw tree.pb.gz >tree.raw 2>&1
python3 "$HERE/pprof_compare.py" tree.raw tree.folded 0 >cmp.txt &&
	pass "pprof with process roots = folded: $(cat cmp.txt)" || fail "tree pprof vs folded: $(cat cmp.txt)"
pprof -raw ltree.pb.gz >ltree.raw 2>&1
python3 "$HERE/pprof_compare.py" ltree.raw ltree.folded 0 >cmp.txt &&
	grep -q "^check_workload \[$A\];\[heap\];" ltree.folded &&
	pass "leaks tree pprof inuse_space = folded (process roots): $(cat cmp.txt)" ||
	fail "leaks tree pprof vs folded: $(cat cmp.txt)"
python3 "$HERE/pprof_compare.py" ltree.raw ltree.growth.folded 2 >cmp.txt &&
	pass "leaks tree pprof growth_space = growth folded: $(cat cmp.txt)" ||
	fail "leaks tree growth: $(cat cmp.txt)"
pprof -tags tree.pb.gz >tags.txt 2>&1
grep -Eq "^ +[0-9.]+m?s \( *[0-9.]+%\): $A$" tags.txt && grep -Eq "^ +[0-9.]+m?s \( *[0-9.]+%\): $B$" tags.txt &&
	grep -q ': check_workload$' tags.txt && pass "pprof labels pid (both) and command" ||
	fail "pprof tags: $(head -c 400 tags.txt)"

# speedscope: the npm package's schema, validated by ajv; a broken file must fail
NPM_DIR="${BUILD_DIR:-$WORK}/npm-cache"
if [ ! -f "$NPM_DIR/node_modules/speedscope/dist/release/file-format-schema.json" ] ||
	[ ! -d "$NPM_DIR/node_modules/ajv" ]; then
	mkdir -p "$NPM_DIR"
	npm install --no-audit --no-fund --prefix "$NPM_DIR" speedscope@1 ajv@8 >"$WORK/npm.log" 2>&1 ||
		fail "npm install speedscope ajv: $(tail -n 3 "$WORK/npm.log")"
fi
SCHEMA="$NPM_DIR/node_modules/speedscope/dist/release/file-format-schema.json"
validate() {
	NODE_PATH="$NPM_DIR/node_modules" node - "$SCHEMA" "$1" <<'JS'
const Ajv = require("ajv");
const fs = require("fs");
const ajv = new Ajv({allErrors: true, strict: false});
const validate = ajv.compile(JSON.parse(fs.readFileSync(process.argv[2])));
const data = JSON.parse(fs.readFileSync(process.argv[3]));
if (!validate(data)) { console.log(JSON.stringify(validate.errors).slice(0, 400)); process.exit(1); }
const p = data.profiles[0];
const sum = p.weights.reduce((a, b) => a + b, 0);
console.log(`${p.samples.length} stacks, ${data.shared.frames.length} frames, ${p.unit} ${sum}`);
JS
}
for f in cpu mem prof tree off ltree; do
	validate "$f.speedscope.json" >v.txt 2>&1 && pass "$f.speedscope.json valid: $(cat v.txt)" ||
		fail "$f.speedscope.json: $(cat v.txt)"
done
# profile: one speedscope profile per part, weights as in the folded output and the report
NODE_PATH="$NPM_DIR/node_modules" node - prof.speedscope.json tree.speedscope.json off.speedscope.json ltree.speedscope.json \
	>parts.txt 2>&1 <<'JS'
const fs = require("fs");
for (const f of process.argv.slice(2)) {
	const d = JSON.parse(fs.readFileSync(f));
	for (const p of d.profiles)
		console.log(`${f} ${p.name.split(":")[0]} ${p.unit} ${p.weights.reduce((a, b) => a + b, 0)}`);
	if (f.startsWith("tree") || f.startsWith("ltree"))
		for (const fr of d.shared.frames)
			if (/^check_workload \[\d+\]$/.test(fr.name)) console.log(`${f} root ${fr.name}`);
}
JS
grep -q "^prof.speedscope.json On-CPU nanoseconds $((ptotal * (1000000000 / 499)))\$" parts.txt &&
	grep -q "^prof.speedscope.json Outstanding memory bytes $outstanding\$" parts.txt &&
	grep -q "^prof.speedscope.json Memory growth during the run bytes " parts.txt &&
	pass "profile speedscope: on-CPU, outstanding and growth profiles with the run's totals" ||
	fail "profile speedscope parts: $(cat parts.txt)"
grep -q "^off.speedscope.json Off-CPU nanoseconds $((offtotal * 1000))\$" parts.txt &&
	pass "speedscope Off-CPU profile: the .offcpu.folded total in nanoseconds" ||
	fail "speedscope off-CPU: $(grep '^off' parts.txt)"
grep -q "^tree.speedscope.json root check_workload \[$A\]\$" parts.txt &&
	grep -q "^tree.speedscope.json root check_workload \[$B\]\$" parts.txt &&
	pass "speedscope: both process roots" || fail "speedscope roots: $(cat parts.txt)"
ltotal=$(awk '{s += $NF} END {print s}' ltree.folded)
grep -q "^ltree.speedscope.json Outstanding memory bytes $ltotal\$" parts.txt &&
	grep -q "^ltree.speedscope.json root check_workload \[$B\]\$" parts.txt &&
	pass "leaks tree speedscope: folded total and process roots" ||
	fail "leaks tree speedscope: $(grep '^ltree' parts.txt)"
grep -q "nanoseconds $((total * (1000000000 / 499)))\$" <(validate cpu.speedscope.json) &&
	pass "speedscope CPU weights = samples x period" || fail "speedscope CPU weights: $(validate cpu.speedscope.json)"
grep -q "bytes $mtotal\$" <(validate mem.speedscope.json) && pass "speedscope bytes = folded bytes" ||
	fail "speedscope bytes: $(validate mem.speedscope.json)"
sed 's/"type":"sampled"/"type":"sample"/' cpu.speedscope.json >broken.speedscope.json
validate broken.speedscope.json >/dev/null 2>&1 && fail "validator accepted a broken file" ||
	pass "validator rejects a broken file"

# pprof as input: flamegraph, diff and check read it like folded and JSON
expect_exit 0 "flamegraph reads pprof" "$SMOLDER" flamegraph mem.pb.gz -o back.folded
cmp -s <(sort back.folded) <(sort mem.folded) && pass "pprof -> folded: identical to the run's folded" ||
	fail "pprof -> folded differs: $(diff <(sort back.folded) <(sort mem.folded) | head -3)"
expect_exit 0 "diff reads folded and pprof" "$SMOLDER" diff cpu.folded cpu.pb.gz -o d.svg --normalize
expect_exit 0 "diff reads JSON and pprof" "$SMOLDER" diff cpu.json cpu.pb.gz -o d2.svg --normalize
printf '{"checks": [{"metric": "function_share", "function": "compute_result", "max": 0.9}]}' >b.json
expect_exit 0 "check reads pprof" "$SMOLDER" check cpu.pb.gz --budget b.json
grep -q '^function_share\[compute_result\] .* pass$' "$WORK/out" && pass "share from pprof" ||
	fail "check on pprof: $(cat "$WORK/out")"
head -c 200 cpu.pb.gz >cut.pb.gz
expect_exit 1 "truncated pprof" "$SMOLDER" check cut.pb.gz --budget b.json
grep -q 'corrupt gzip' "$WORK/err" && pass "truncated pprof: one clear line" || fail "truncated: $(cat "$WORK/err")"
finish
