# ptrace_lib.sh: helpers for the ptrace tests (dump, ptrace backend), sourced after lib.sh: waiting
# for a fixture, and checking a target is neither stopped nor traced afterwards.

# wait_ready FILE: waits up to 10 s for a fixture's "ready" line in FILE.
wait_ready() {
	local file=$1 i
	for i in $(seq 1 200); do
		grep -q '^ready' "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "fixture did not print ready: $(head -c 300 "$file")"
	return 1
}

# thread_states PID: the state letters of all threads, one per line.
thread_states() {
	local t
	for t in /proc/"$1"/task/*; do
		sed -E 's/.*\) (.).*/\1/' "$t/stat" 2>/dev/null
	done
}

# tracer_pid PID: TracerPid of the process.
tracer_pid() {
	awk '/^TracerPid:/ {print $2}' "/proc/$1/status"
}

# assert_released PID WHAT: no thread is stopped or traced.
assert_released() {
	local pid=$1 what=$2 states
	states=$(thread_states "$pid" | sort | uniq -c | tr '\n' ' ')
	if [[ "$states" == *[Tt]* ]]; then
		fail "$what: target left stopped (states: $states)"
	else
		pass "$what: no thread stopped (states: $states)"
	fi
	if [ "$(tracer_pid "$pid")" != 0 ]; then
		fail "$what: target still traced by $(tracer_pid "$pid")"
	else
		pass "$what: TracerPid is 0"
	fi
	for t in /proc/"$pid"/task/*; do
		if [ "$(awk '/^TracerPid:/ {print $2}' "$t/status" 2>/dev/null || echo 0)" != 0 ]; then
			fail "$what: thread $(basename "$t") still traced"
		fi
	done
}

# thread_block FILE NAME: the lines of the dump block of the thread named NAME, with the
# checkout's paths in frame locations replaced (strip_checkout_paths), so patterns on function
# names cannot match a folder name.
thread_block() {
	awk -v name="$2" '/^Thread / { inblock = ($0 ~ "\\(" name "\\)$") } inblock' "$1" |
		strip_checkout_paths
}

# wait_stopped_by PID TRACER: waits up to 10 s until TRACER traces PID and a thread is in 't'.
wait_stopped_by() {
	local pid=$1 tracer=$2 i states
	for i in $(seq 1 200); do
		# (captured first: grep -q closing the pipe early would fail it under pipefail)
		states=$(thread_states "$pid")
		if [ "$(tracer_pid "$pid")" = "$tracer" ] && [[ "$states" == *t* ]]; then
			return 0
		fi
		sleep 0.05
	done
	fail "smolder $tracer never held $pid stopped"
	return 1
}

# cpu_ticks PID TID: utime+stime of a thread, in clock ticks.
cpu_ticks() {
	sed -E 's/.*\) //' "/proc/$1/task/$2/stat" | awk '{print $12 + $13}'
}

# tid_named PID NAME: the tid of the thread named NAME.
tid_named() {
	local t
	for t in /proc/"$1"/task/*; do
		if [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ]; then
			basename "$t"
			return 0
		fi
	done
	return 1
}
