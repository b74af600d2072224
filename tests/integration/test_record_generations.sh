#!/usr/bin/env bash
# test_record_generations.sh: code replaced during a record keeps the names it had when it was
# sampled (issue 9 item 2). gen_reload runs plugin alpha, unloads it, loads plugin omega at the same
# address and runs it as long: the profile holds both plugin_work_alpha and plugin_work_omega, about
# half each, under plugin_run (before maps generations, every sample was named omega).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/record_lib.sh"
require_root_bpf

"$SMOLDER" record -F 499 -o "$WORK/gen.folded" -- "$FIXTURES/gen_reload" \
	"$FIXTURES/libgen_alpha.so" "$FIXTURES/libgen_omega.so" 2 >"$WORK/gen.out" 2>"$WORK/gen.err"
rc=$?
[ "$rc" -eq 0 ] || fail "record exit $rc: $(cat "$WORK/gen.err")"
grep -q '^done' "$WORK/gen.out" || fail "gen_reload did not finish: $(cat "$WORK/gen.out")"
addrs=$(awk '/^loaded / {print $NF}' "$WORK/gen.out" | sort -u | wc -l) # $NF: a path may hold spaces
[ "$addrs" -eq 1 ] && pass "both plugins loaded at the same address" ||
	fail "the plugins were loaded at different addresses, the test proves nothing: $(cat "$WORK/gen.out")"
read -r a o t < <(awk '{ n = $NF; t += n
	if ($0 ~ /;plugin_run;plugin_work_alpha( |;)/) a += n
	if ($0 ~ /;plugin_run;plugin_work_omega( |;)/) o += n }
	END { print a + 0, o + 0, t + 0 }' "$WORK/gen.folded")
if [ "$t" -lt 100 ]; then # 2 s at 499 Hz each: ~2000 on an idle machine
	fail "only $t samples"
elif [ $((a * 100)) -ge $((t * 30)) ] && [ $((o * 100)) -ge $((t * 30)) ]; then
	pass "alpha $a and omega $o of $t samples, each named as it was sampled"
else
	fail "alpha $a, omega $o of $t samples (each ran half the time)"
fi
finish
