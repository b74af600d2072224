/* SPDX-License-Identifier: GPL-2.0 */
/* target_set.bpf.h: the set of target processes a BPF program keeps, shared by the programs that
 * watch process trees. A hash map of tgids filled by user space with the given PIDs (and their
 * descendants found at attach); with follow_children, sched_process_fork adds every new process
 * whose parent is in the set, so filtering stays in BPF and no fork is missed between two reads of
 * /proc. sched_process_exit removes a process when its last thread exits (its tgid may be reused).
 * fork, exec and exit of a target are sent through the includer's ring buffer in order with its
 * other records; an exec wakes the consumer at once, so it reads the new program's mappings while
 * the process still runs.
 *
 * A program that walks Python frames (python_walk.bpf.h included before this file) has its
 * per-process Python configs follow the set: copied at fork, deleted at exec and exit.
 *
 * The includer defines, before including this file: the ring buffer map `events`, and
 * target_set_stat(index) counting into its stats map; and the stat indices
 * TARGET_SET_STAT_FULL, TARGET_SET_STAT_EVENT_LOST and TARGET_SET_STAT_FOLLOWED. It may define
 * target_set_on_fork(parent_tgid, child_tgid) and target_set_on_exit(tgid), run when a followed
 * child joins the set and when a target leaves it (the allocation tracker keeps each process's
 * address-space layout with them). */
#ifndef SMOLDER_TARGET_SET_BPF_H
#define SMOLDER_TARGET_SET_BPF_H

#ifndef target_set_on_fork
#define target_set_on_fork(parent_tgid, child_tgid) ((void)0)
#endif
#ifndef target_set_on_exit
#define target_set_on_exit(tgid) ((void)0)
#endif

/* Set by user space before load: add children of targets as they are forked. */
const volatile __u8 follow_children = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_MAX_TARGETS);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* the parent tgid that brought it in; 0: given by user space */
} targets SEC(".maps");

static __always_inline bool target_set_has(__u32 tgid)
{
	return bpf_map_lookup_elem(&targets, &tgid) != 0;
}

static __always_inline void target_set_send(__u32 kind, __u32 tgid, __u32 parent,
					    struct task_struct *task, __u64 flags)
{
	struct smolder_process_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		target_set_stat(TARGET_SET_STAT_EVENT_LOST);
		return;
	}
	ev->kind = kind;
	ev->tgid = tgid;
	ev->parent_tgid = parent;
	ev->_pad = 0;
	ev->time_ns = bpf_ktime_get_ns();
	BPF_CORE_READ_STR_INTO(&ev->comm, task, comm);
	bpf_ringbuf_submit(ev, flags);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(target_set_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid, child_tgid = child->tgid;

	/* A new thread shares its parent's tgid: only new processes join the set. */
	if (!follow_children || child_tgid == parent_tgid || !target_set_has(parent_tgid))
		return 0;
	if (bpf_map_update_elem(&targets, &child_tgid, &parent_tgid, BPF_NOEXIST) != 0 &&
	    !target_set_has(child_tgid)) {
		target_set_stat(TARGET_SET_STAT_FULL);
		return 0;
	}
	target_set_stat(TARGET_SET_STAT_FOLLOWED);
#ifdef SMOLDER_PYTHON_WALK_BPF_H
	python_config_fork(parent_tgid, child_tgid);
#endif
	target_set_on_fork(parent_tgid, child_tgid);
	target_set_send(SMOLDER_EVENT_FORK, child_tgid, parent_tgid, child, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(target_set_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task->tgid;

	if (!target_set_has(tgid))
		return 0;
#ifdef SMOLDER_PYTHON_WALK_BPF_H
	python_config_forget(tgid);
#endif
	target_set_send(SMOLDER_EVENT_EXEC, tgid, 0, task, BPF_RB_FORCE_WAKEUP);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(target_set_exit, struct task_struct *task, bool group_dead)
{
	__u32 tgid = task->tgid;

	if (!group_dead || !target_set_has(tgid))
		return 0;
	target_set_send(SMOLDER_EVENT_EXIT, tgid, 0, task, 0);
	bpf_map_delete_elem(&targets, &tgid);
#ifdef SMOLDER_PYTHON_WALK_BPF_H
	python_config_forget(tgid);
#endif
	target_set_on_exit(tgid);
	return 0;
}

#endif
