/* alloc_probes.h: the allocator uprobes of the allocation tracker, per target process and object
 * file: which allocator functions each mapped object defines (scanned once per file, shared by
 * every process mapping it), the links that attach the tracker's programs to them with the process
 * as filter, and the names of the probed functions (the leaf frames of heap sites). Owns the links.
 *
 * Per process, not system-wide: a uprobe with a pid filter puts its breakpoints only in the
 * address spaces of the processes asked for, so the rest of the machine (compilers, other
 * services using the same libc) never traps into the kernel at each malloc. A child of a tree is
 * probed when its fork is seen (alloc_probes_attach_process from the fork record). */
#ifndef SMOLDER_ALLOC_PROBES_H
#define SMOLDER_ALLOC_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_program;
struct alloc_probes;

/* The tracker's programs; multi: attach as uprobe_multi links (Linux 6.6+). */
struct alloc_probe_programs {
	struct bpf_program *alloc_enter, *alloc_return, *free_enter, *delete_enter;
	bool multi;
};

/* NULL and errno on failure. progs is copied. */
struct alloc_probes *alloc_probes_new(const struct alloc_probe_programs *progs);
/* Closes every link (from several threads: each close waits for an RCU grace period) and frees.
 * NULL-safe. */
void alloc_probes_free(struct alloc_probes *probes);

/* Registers pid as a target, probed by the next alloc_probes_attach_process of it (the tracker's
 * interval scan goes over alloc_probes_processes). 0 or -ENOMEM. */
int alloc_probes_add_process(struct alloc_probes *probes, pid_t pid);
/* Probes the allocator functions of every executable object pid maps now that pid has no probes
 * on yet (first call; then new objects: dlopen, an exec'd program). Returns the probe points
 * attached, -ESRCH when pid is gone, or -errno (-EPERM/-EACCES: privilege). */
int alloc_probes_attach_process(struct alloc_probes *probes, pid_t pid);
/* Launch mode: probes the objects at paths for pid (not yet exec'd: a probe on a file applies
 * when the file is mapped, the pid filter holds across exec). Returns the points attached or
 * -errno. */
int alloc_probes_attach_paths(struct alloc_probes *probes, pid_t pid, char *const *paths, size_t n);
/* pid exited: its maps are not read again. Its links stay until alloc_probes_free (closing one
 * waits for a grace period; the event loop must not). */
void alloc_probes_forget(struct alloc_probes *probes, pid_t pid);
/* Processes known and not forgotten, into pids (at most max); returns how many there are. */
size_t alloc_probes_processes(const struct alloc_probes *probes, pid_t *pids, size_t max);

/* Name of allocator function id (uprobe cookie, 1-based), demangled; NULL when unknown. Owned by
 * probes. */
const char *alloc_probes_name(const struct alloc_probes *probes, uint32_t id);
/* Distinct object files with probes, probe points in them (each counted once, however many
 * processes map the file), and of those at emulated instructions. */
void alloc_probes_counts(const struct alloc_probes *probes, size_t *objects, size_t *points,
			 size_t *emulated);

#endif
