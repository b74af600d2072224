/* python.h: CPython 3.8-3.13 in a target process, read from outside: finding the interpreter
 * (executable or libpython, version, _PyRuntime, _PyEval_EvalFrameDefault, PyCode_Type), the
 * per-version offsets (validated against the live interpreter at open), turning a code object
 * and an instruction into a named frame "qualname (file.py:LINE)", reading every thread's frame
 * chain (dump), and splicing Python frames into a native stack. The BPF walk gets its offsets
 * through python_runtime_bpf_config (struct smolder_python_config, events.h). */
#ifndef SMOLDER_PYTHON_H
#define SMOLDER_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/events.h"
#include "smolder/frame_names.h"

struct python_runtime;

/* Most Python frames read per thread by python_runtime_read_threads. */
#define PYTHON_MAX_FRAMES 256

/* Counters for the summary and the JSON totals (everything that could not be read). */
struct python_runtime_stats {
	uint64_t frames_named;	   /* python_runtime_frame calls that gave a name */
	uint64_t code_cache_hits;  /* of those, from the validated cache */
	uint64_t code_stale;	   /* address no longer the code object it was, or not one */
	uint64_t code_unreadable;  /* code object or its strings could not be read */
	uint64_t code_unverified;  /* named from the cache after the target exited (no re-check) */
	uint64_t threads_read;	   /* thread states read by python_runtime_read_threads */
	uint64_t threads_failed;   /* thread states whose chain could not be read */
	uint64_t chains_truncated; /* chains cut at PYTHON_MAX_FRAMES or by an unreadable frame */
};

/* Opens the Python runtime of process pid and validates its offsets against the live
 * interpreter. Named frames are interned in names (borrowed; must outlive the runtime).
 * NULL and errno: ENOENT not a CPython 3.8-3.13 process; EPROTO the offsets did not validate
 * (logged once with the reason; the caller profiles native-only); ESRCH the process is gone;
 * EAGAIN not yet (a process just launched): smolder's fork before its exec, a python3
 * executable whose libpython is not loaded yet, or an interpreter without a thread state yet;
 * try again later.
 * Test-only: SMOLDER_PYTHON_OFFSET=NAME=VALUE overrides one table offset (tstate_interp, ...). */
struct python_runtime *python_runtime_open(pid_t pid, struct frame_names *names);
/* The runtime of child, a fork of parent's process that has not exec'd: the same interpreter at
 * the same addresses, so nothing is read (no ELF, no validation); code objects are read from the
 * child. Costs microseconds where python_runtime_open costs milliseconds. NULL and errno (ENOMEM).
 * The caller owns the result. */
struct python_runtime *python_runtime_fork(const struct python_runtime *parent, pid_t child);
/* NULL-safe. */
void python_runtime_free(struct python_runtime *rt);

/* "3.11" (owned by rt). */
const char *python_runtime_version(const struct python_runtime *rt);
/* The path (as the target maps it) of the object holding the interpreter (owned by rt). */
const char *python_runtime_object(const struct python_runtime *rt);

/* Fills cfg for the BPF frame walk. Returns 0. */
int python_runtime_bpf_config(const struct python_runtime *rt, struct smolder_python_config *cfg);

/* Names one Python frame: code is the code object's address, instr the value read at
 * cfg.frame_instr (f_lasti on 3.8-3.10, the instruction pointer on 3.11+). *frame gets a
 * FRAME_KIND_PYTHON named frame "qualname (file.py:LINE)" (line 0 when unknown).
 * Returns 0, -ESTALE (not a code object, or no longer the one cached), -EFAULT (unreadable) or
 * -ENOMEM; the failures are counted in the stats. */
int python_runtime_frame(struct python_runtime *rt, uint64_t code, uint64_t instr, uint64_t *frame);

/* True for a user lookup address (frame_user_address of a frame value) inside
 * _PyEval_EvalFrameDefault or its .cold part. */
bool python_runtime_is_eval_frame(const struct python_runtime *rt, uint64_t addr);
/* True for an address in the interpreter's own code (the executable or libpython that holds
 * _PyEval_EvalFrameDefault), eval frames included: dropped from merged stacks unless --native.
 * C extensions and libc are separate objects and stay. On a statically linked interpreter
 * (Debian's python3.11) the extension modules built into the executable count as internal. */
bool python_runtime_is_internal(const struct python_runtime *rt, uint64_t addr);

/* One Python frame as read from a frame chain. */
struct python_raw_frame {
	uint64_t code;	/* code object address */
	uint64_t instr; /* as python_runtime_frame takes it */
	uint32_t flags; /* enum smolder_python_frame_flags */
	uint32_t _pad;
};

/* One thread state's frame chain, newest frame first. */
struct python_thread {
	uint64_t tstate;
	uint64_t pthread_id; /* thread_id: pthread_self(), the thread's fsbase on x86-64 glibc */
	uint32_t native_tid; /* 3.11+; 0 before */
	uint32_t n_frames;
	bool truncated; /* more frames than PYTHON_MAX_FRAMES, or an unreadable link */
	struct python_raw_frame frames[PYTHON_MAX_FRAMES];
};

/* Reads every thread state of the main interpreter and its frame chain with process_vm_readv;
 * meant for a stopped target (dump). *threads is malloc'd (caller frees), *n its length.
 * Returns 0, -EFAULT (thread list unreadable) or -ENOMEM. */
int python_runtime_read_threads(struct python_runtime *rt, struct python_thread **threads,
				size_t *n);

/* Python thread names (threading.Thread.name) by pthread id, read from threading._active;
 * writes the name of the thread with pthread_id into buf. Returns 0, or -ENOENT (no name:
 * threading not imported, or a thread it does not know), -EFAULT. */
int python_runtime_thread_name(struct python_runtime *rt, uint64_t pthread_id, char *buf,
			       size_t len);

/* Splices Python frames into a native stack. native: frame values (frame.h), leaf first;
 * py: named Python frames (python_runtime_frame), newest first, with their flags (an ENTRY frame
 * ends the group that one _PyEval_EvalFrameDefault frame runs). Each eval frame is replaced by
 * its group, newest group at the leafmost eval frame; other interpreter frames (and eval frames
 * left without a group) are dropped unless keep_native. Groups left over when the native stack ran
 * out of eval frames (a native stack cut short) are appended at the root end. Writes at most cap
 * values to out; returns how many (the stack is cut at cap, the caller marks it). */
size_t python_runtime_merge(const struct python_runtime *rt, const uint64_t *native,
			    size_t n_native, const uint64_t *py, const uint32_t *py_flags,
			    size_t n_py, bool keep_native, uint64_t *out, size_t cap);

/* Copies the counters. */
void python_runtime_stats(const struct python_runtime *rt, struct python_runtime_stats *out);

#endif
