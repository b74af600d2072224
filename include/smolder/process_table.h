/* process_table.h: the processes of a recording (one target, a list of PIDs, or a whole tree) and
 * each one's model of its address space: unwinder, symbolizer, name and root frame. A model is
 * created the first time a process shows up (its first sample, or its first after an exec) and
 * kept after the process exits or execs,
 * for the samples still queued and for symbolization at the end. One pid can have several models
 * in a run: one per program it ran (exec). Each model has its own root frame (FRAME_KIND_PROCESS,
 * "COMMAND [PID]"), so a stack says which model unwinds and symbolizes it. */
#ifndef SMOLDER_PROCESS_TABLE_H
#define SMOLDER_PROCESS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/python.h"

struct frame_names;
struct python_runtime;
struct unwinder;
struct symbolizer;
struct process_table;

/* What the table knows of a model's CPython interpreter (process_table_enable_python). */
enum process_python {
	PROCESS_PYTHON_OFF = 0, /* not examined: the table does not look for Python */
	PROCESS_PYTHON_PENDING, /* not yet (a launched interpreter starting): tried again */
	PROCESS_PYTHON_NONE,	/* not CPython 3.8-3.13, or offsets that did not validate */
	PROCESS_PYTHON_FOUND,	/* python holds its runtime */
};

/* One program run by one process. */
struct process_model {
	pid_t pid;
	uint32_t exec_count;	       /* execs seen before this model: 0 for the first */
	char comm[64];		       /* process name when the model was made (after its exec) */
	uint64_t root_frame;	       /* FRAME_KIND_PROCESS frame naming this model */
	struct unwinder *unwinder;     /* NULL when the process could not be read */
	struct symbolizer *symbolizer; /* NULL when the process could not be read */
	bool borrowed; /* unwinder/symbolizer not owned: the fork parent's, or adopted */
	bool adopted;  /* they are the caller's models of this same process (process_table_adopt) */
	bool exited;
	uint64_t last_map_refreshes; /* unwinder refreshes already passed on to the symbolizer */
	/* This program's CPython runtime, when the table looks for Python: owned by the model
	 * unless python_borrowed (its fork parent's, for a child gone before it was read). Frames
	 * of this model's samples are named with it. */
	struct python_runtime *python;
	bool python_borrowed;
	enum process_python python_state;
	uint64_t python_since_ns;    /* when the model was made (the retry schedule) */
	uint64_t python_next_try_ns; /* PENDING: when to try again */
};

/* Called when a model's Python state is settled (FOUND, or NONE after an attempt): the caller
 * hands the process's config to BPF (m->python NULL: not Python). A negative return (the config
 * cannot be set: map full, offsets too far apart) makes the model native-only (its runtime is
 * freed, state NONE) and is logged. */
typedef int (*process_python_fn)(void *arg, const struct process_model *m);

/* An empty table interning root frames in names (borrowed, outlives the table). NULL and errno. */
struct process_table *process_table_new(struct frame_names *names);
/* Frees every model. NULL-safe. */
void process_table_free(struct process_table *table);

/* From now on every model made looks for a CPython interpreter in its process: a fork of a
 * process whose interpreter is known copies it (python_runtime_fork: same addresses, nothing
 * read), any other process is opened (python_runtime_open; "not yet" is retried by
 * process_table_poll_python). fn (with arg) is told each settled result. */
void process_table_enable_python(struct process_table *table, process_python_fn fn, void *arg);
/* Looks for pid's interpreter before it has a model (before sampling starts, so that its first
 * samples already have their Python frames read): the result is handed to the callback at once
 * and kept for pid's first model. A process still starting (EAGAIN) is left to its model. */
void process_table_prepare_python(struct process_table *table, pid_t pid);
/* The caller examined pid's interpreter itself (leaks' first target) and handed its config to BPF:
 * pid's first model uses rt (borrowed: the caller frees it after the table; NULL: none it can
 * walk) instead of opening the interpreter again (and saying again why not). */
void process_table_python_examined(struct process_table *table, pid_t pid,
				   struct python_runtime *rt);
/* Tries the PENDING models of live processes again when due: every 100 ms during their first 5 s,
 * then every second. now_ns: run_control_now_ns(). */
void process_table_poll_python(struct process_table *table, uint64_t now_ns);
/* Sums the counters of the runtimes the table owns; returns how many processes have one. The
 * version of the first runtime found, or NULL, goes to *version (owned by the table). */
size_t process_table_python_stats(const struct process_table *table,
				  struct python_runtime_stats *sum, const char **version);

/* The current model of pid, made now (maps and files read, name read) when pid has none. A
 * process that cannot be read any more (exited) gets a model without unwinder and symbolizer,
 * or its fork parent's when the fork was seen (same address space, no exec since). NULL and
 * errno only when out of memory. Owned by the table. */
struct process_model *process_table_get(struct process_table *table, pid_t pid);

/* Like process_table_get, but a pid without a current model gets one made of uw and sym
 * (borrowed: the caller's, e.g. the session's models of its target, which must outlive the table;
 * their maps generations reach sym through uw's listener). One set of models per process, however
 * many collectors read it. NULL and errno only when out of memory. */
struct process_model *process_table_adopt(struct process_table *table, pid_t pid,
					  struct unwinder *uw, struct symbolizer *sym);

/* The current model of pid, or NULL when it has none (never made, or made obsolete by an exec
 * or exit): never makes one. */
struct process_model *process_table_find(const struct process_table *table, pid_t pid);

/* pid exec'd: its current model is kept for what was sampled before, and the next
 * process_table_get makes a new one for the new program (at its first sample: an exec'd process
 * that is never sampled costs nothing). 0 or -ENOMEM. */
int process_table_exec(struct process_table *table, pid_t pid);
/* child was forked by parent: a child that exits before it is read falls back to parent's model.
 * 0 or -ENOMEM. */
int process_table_fork(struct process_table *table, pid_t child, pid_t parent);
/* pid exited: its models stop re-reading maps, and a later process_table_get of pid (a new
 * process that reused it) makes a new model. */
void process_table_exit(struct process_table *table, pid_t pid);

/* Passes new mappings the unwinders found (dlopen, exec) on to the symbolizers; with all, every
 * live model's symbolizer re-reads its maps. */
void process_table_refresh(struct process_table *table, bool all);

/* The model a root frame names, or NULL. */
const struct process_model *process_table_find_root(const struct process_table *table,
						    uint64_t frame);
/* Models in creation order: *n gets the count. Owned by the table. */
struct process_model *const *process_table_models(const struct process_table *table, size_t *n);
/* Distinct pids seen. */
size_t process_table_pid_count(const struct process_table *table);

#endif
