# record_lib.sh: helpers for the `smolder record` integration tests (sourced after lib.sh).

# record_attach FIXTURE FIXTURE_SECONDS -- RECORD_ARGS...: starts FIXTURE, lets it settle, runs
# `smolder record -p PID RECORD_ARGS...` (stderr in $WORK/record.err, exit code in RECORD_EXIT),
# then kills the fixture.
record_attach() {
	local fixture=$1 seconds=$2
	shift 3
	start_fixture "$fixture" "$seconds"
	sleep 0.5
	"$SMOLDER" record -p "$FIXTURE_PID" "$@" >"$WORK/record.out" 2>"$WORK/record.err"
	RECORD_EXIT=$?
	kill "$FIXTURE_PID" 2>/dev/null
	wait "$FIXTURE_PID" 2>/dev/null
}

# chain_stats FOLDED LEAF_RE FULL_RE: prints "FULL TOTAL": TOTAL samples whose leaf (the last user
# frame; kernel frames "_[k]" are ignored) matches LEAF_RE (anchored), FULL of them whose whole user
# stack (frames joined by ';', root first) matches FULL_RE (an awk ERE; anchor it yourself).
chain_stats() {
	awk -v leaf="$2" -v full_re="$3" '
	{
		count = $NF; line = $0; sub(/ [0-9]+$/, "", line)
		m = split(line, f, ";")
		while (m > 0 && f[m] ~ /_[[]k[]]$/) m--
		if (m == 0 || f[m] !~ ("^(" leaf ")$")) next
		total += count
		user = f[1]
		for (i = 2; i <= m; i++) user = user ";" f[i]
		if (user ~ full_re) full += count
	}
	END { print full + 0, total + 0 }' "$1"
}

# Root prefixes for FULL_RE: a main-thread stack starts at the executable's _start; a thread's
# has 2 or 3 frames above its start routine (glibc 2.36: clone3 -> start_thread -> fn).
ROOT_MAIN='^_start;([^;]+;)*'
ROOT_THREAD='^[^;]+;[^;]+;([^;]+;)?'

# expect_chain FOLDED LEAF_RE FULL_RE MIN_SAMPLES: at least 95% of the samples in the leaf carry
# the full chain, and the leaf has at least MIN_SAMPLES samples.
expect_chain() {
	local folded=$1 leaf=$2 full_re=$3 min=$4 full total
	read -r full total < <(chain_stats "$folded" "$leaf" "$full_re")
	if [ "$total" -lt "$min" ]; then
		fail "leaf $leaf: only $total samples (need $min)"
	elif [ $((full * 100)) -lt $((total * 95)) ]; then
		fail "leaf $leaf: $full of $total samples match $full_re (< 95%)"
		sort -t' ' -k2 -nr "$folded" | head -5 >&2
	else
		pass "leaf $leaf: $full/$total samples have the full chain"
	fi
}

# expect_folded_file FILE: a complete folded file: non-empty, every line "stack COUNT".
expect_folded_file() {
	local file=$1 bad
	if [ ! -s "$file" ]; then
		fail "$file missing or empty"
		return
	fi
	bad=$(grep -cvE '^[^ ].* [0-9]+$' "$file")
	if [ "$bad" -ne 0 ]; then fail "$file: $bad malformed lines"; else pass "$file is well formed"; fi
	if ls "$file".tmp.* >/dev/null 2>&1; then fail "temporary file left next to $file"; fi
}

# folded_total FILE: the sum of counts.
folded_total() {
	awk '{ s += $NF } END { print s + 0 }' "$1"
}

# summary_value LABEL: a number from the summary on stderr, e.g. "kept" -> samples kept.
summary_samples() {
	sed -nE 's/.*samples: ([0-9]+) kept.*/\1/p' "$WORK/record.err"
}
