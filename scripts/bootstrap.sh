#!/usr/bin/env bash
# bootstrap.sh [--list] [SET...]: installs the Debian packages of the named sets (build, demo, test, bench;
# default: all of them) and mounts the kernel filesystems (tracefs, debugfs, bpffs) that eBPF
# tracing relies on. Idempotent: packages already present are not reinstalled and mounted
# filesystems are left alone. Run as root. Nothing is downloaded from anywhere but Debian's archive.
set -euo pipefail

# Packages per set; a command installs only the sets it needs (scripts/demo.sh: build demo;
# scripts/test.sh: build test). Add a package to the set of the command that uses it.
#   build: compiler, CMake, BPF toolchain, libraries; cmocka and tcmalloc because the default
#          build includes the unit tests and the fixtures (the demo's service is one of them).
#   demo:  what scripts/demo.sh runs besides the build (ss, pkill).
#   test:  what the test suite runs: xmllint, clang's fuzzer runtime, glibc's debug symbols,
#          chromium for the browser check of the flame graph, golang-go (go tool pprof) and npm
#          (speedscope's schema) for the export formats, and the real servers and load tools of
#          the smoke and process-tree tests (redis, nginx, ab, wrk, perl, python3, node, gunicorn,
#          uvicorn; node-express, the Express app of test_node_express); python3.11-dbg (the
#          symbol of _PyEval_EvalFrameDefault.cold in Debian's stripped python3.11).
#   bench: comparisons in scripts/bench/ (perf, bpftrace, heaptrack, hyperfine; strace for
#          leaks_setup_teardown.sh).
declare -A SET_PACKAGES=(
	[build]="build-essential cmake pkg-config clang llvm libbpf-dev bpftool linux-libc-dev
		libelf-dev libdw-dev elfutils libunwind-dev libjemalloc-dev zlib1g-dev liblzma-dev
		libzstd-dev libjansson-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev
		libgoogle-perftools-dev g++ libstdc++-12-dev binutils"
	[demo]="procps iproute2"
	[test]="git clang-format libclang-rt-14-dev libxml2-utils libxml2-dev libc6-dbg binutils
		procps psmisc iproute2 curl python3 python3.11-dbg perl wrk apache2-utils
		redis-server redis-tools nginx-light chromium golang-go python3-gunicorn python3-uvicorn
		node-express"
	[bench]="linux-perf bpftrace heaptrack hyperfine strace"
)
list_only=0
if [ "${1:-}" = --list ]; then # print the packages of the sets, one per line; install nothing
	list_only=1
	shift
fi
SETS=("$@")
[ "${#SETS[@]}" -eq 0 ] && SETS=(build demo test bench)
PACKAGES=()
for set in "${SETS[@]}"; do
	if [ -z "${SET_PACKAGES[$set]+x}" ]; then
		echo "bootstrap.sh: unknown set '$set' (build, demo, test, bench)" >&2
		exit 1
	fi
	read -r -a more <<<"$(echo ${SET_PACKAGES[$set]})"
	PACKAGES+=("${more[@]}")
done
if [[ " ${SETS[*]} " == *" test "* ]]; then
	# Tests validate speedscope output with the schema the npm package ships (installed by the
	# test into the build tree), and run node: Debian's unless a Node.js is already there.
	command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
	command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
	# node's headers build the native addon fixture (tests/fixtures/libleak_addon.c): Debian's
	# libnode-dev, unless the installed Node.js ships them (nodesource's does).
	[ -f /usr/include/node/node_api.h ] || PACKAGES+=(libnode-dev)
fi

if [ "$list_only" -eq 1 ]; then
	printf '%s\n' "${PACKAGES[@]}" | sort -u
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "bootstrap.sh: must run as root (installs packages, mounts tracefs/bpffs)" >&2
	exit 3
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "bootstrap: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "bootstrap: all packages present" >&2
fi

mount_if_missing() {
	local fstype=$1 dir=$2
	if ! grep -q " $dir $fstype " /proc/mounts; then
		mkdir -p "$dir"
		mount -t "$fstype" "$fstype" "$dir" 2>/dev/null ||
			echo "bootstrap: warning: could not mount $fstype on $dir" >&2
	fi
}
mount_if_missing debugfs /sys/kernel/debug
mount_if_missing tracefs /sys/kernel/tracing
mount_if_missing bpf /sys/fs/bpf

# perf_event_paranoid does not matter for root with CAP_PERFMON, but a value of 3 (some distros)
# would still block ptrace-less users; leave it as the machine has it and only report it.
echo "bootstrap: done (perf_event_paranoid=$(cat /proc/sys/kernel/perf_event_paranoid))" >&2
