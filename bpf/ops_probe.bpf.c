// SPDX-License-Identifier: GPL-2.0
/* ops_probe.bpf.c: `smolder profile --ops-probe FUNCTION`: a uprobe on one native function of the
 * target counts its calls (the operations a load test performed: the request handler). One per-CPU
 * counter, summed by user space; calls from other processes (the probe is attached with a pid
 * filter, checked again here) and failed lookups are counted apart. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile __u32 target_tgid = 0;

/* Index 0: calls counted; 1: calls from another process (ignored); 2: lookup failures. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &idx);

	if (v) {
		*v += 1;
		return;
	}
	idx = 2;
	v = bpf_map_lookup_elem(&counts, &idx);
	if (v)
		*v += 1;
}

SEC("uprobe")
int ops_probe_hit(struct pt_regs *ctx)
{
	if (target_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid) {
		count(1);
		return 0;
	}
	count(0);
	return 0;
}
