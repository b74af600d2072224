#!/usr/bin/env bash
# bootstrap.sh: installs the Debian packages smolder's build, tests and demo need, and mounts the
# kernel filesystems (tracefs, debugfs, bpffs) that eBPF tracing relies on. Idempotent: packages
# already present are not reinstalled and mounted filesystems are left alone. Run as root.
# Nothing is downloaded from anywhere but Debian's archive.
set -euo pipefail

# Build: compiler, CMake, BPF toolchain, libraries. Tests: cmocka, xmllint, perf/bpftrace/heaptrack
# for comparisons, chromium for the browser check of the flame graph, golang-go (go tool pprof) and
# npm (speedscope's schema, ajv) for the export formats. Demo: wrk as load generator.
PACKAGES=(
	build-essential cmake pkg-config git
	clang llvm libclang-rt-14-dev clang-format
	libbpf-dev bpftool linux-libc-dev
	libelf-dev libdw-dev elfutils libunwind-dev libjemalloc-dev zlib1g-dev liblzma-dev libzstd-dev
	libjansson-dev libprotobuf-c-dev protobuf-c-compiler
	libgoogle-perftools-dev
	libcmocka-dev libxml2-utils libxml2-dev
	g++ libstdc++-12-dev
	libc6-dbg binutils
	procps psmisc iproute2 curl python3
	wrk hyperfine linux-perf bpftrace
	chromium
	golang-go
)
# Tests validate speedscope output with the schema the npm package ships (installed by the test
# into the build tree): npm from Debian unless a Node.js with its own npm is already there.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

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
