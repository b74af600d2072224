/* process_table.c: per-process models of a recording. Models live in one array in creation order
 * (never removed during a run: samples of an exited process may still be queued, and symbols are
 * resolved at the end); a pid maps to its current model, a root frame to any model. */
#include "smolder/process_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/log.h"
#include "smolder/python.h"
#include "smolder/run_control.h"
#include "smolder/symbolizer.h"
#include "smolder/target.h"
#include "smolder/u64_map.h"
#include "smolder/unwinder.h"

struct process_table {
	struct frame_names *names;
	struct process_model **models;
	size_t n_models, cap_models;
	struct u64_map current; /* pid -> index of its current model + 1 (0: none any more) */
	struct u64_map roots;	/* root frame -> index of its model */
	struct u64_map parents; /* child pid -> parent pid, from fork events */
	struct u64_map execs;	/* pid -> execs seen, for the pid's next model */
	struct u64_map seen;	/* pids that have had a model, to count them */
	size_t n_pids;
	process_python_fn python_fn; /* non-NULL: models look for CPython */
	void *python_arg;
	/* Interpreters looked for before the pid had a model (process_table_prepare_python,
	 * process_table_python_examined), for the pid's first model: settled, rt NULL when not
	 * Python (or not walkable: said once, when examined), borrowed when the caller owns rt. */
	struct process_prepared {
		pid_t pid;
		struct python_runtime *rt;
		bool settled, borrowed;
	} * prepared;
	size_t n_prepared;
};

struct process_table *process_table_new(struct frame_names *names)
{
	struct process_table *table;

	if (!names) {
		errno = EINVAL;
		return NULL;
	}
	table = calloc(1, sizeof(*table));
	if (!table)
		return NULL;
	table->names = names;
	return table;
}

void process_table_free(struct process_table *table)
{
	if (!table)
		return;
	for (size_t i = 0; i < table->n_models; i++) {
		struct process_model *m = table->models[i];

		if (!m->borrowed) {
			symbolizer_free(m->symbolizer);
			unwinder_free(m->unwinder);
		}
		if (!m->python_borrowed)
			python_runtime_free(m->python);
		free(m);
	}
	free(table->models);
	/* A borrowed runtime (process_table_python_examined) is the caller's to free, also when
	 * no model took it: a target gone during attach. */
	for (size_t i = 0; i < table->n_prepared; i++)
		if (!table->prepared[i].borrowed)
			python_runtime_free(table->prepared[i].rt);
	free(table->prepared);
	u64_map_release(&table->current);
	u64_map_release(&table->roots);
	u64_map_release(&table->parents);
	u64_map_release(&table->execs);
	u64_map_release(&table->seen);
	free(table);
}

static struct process_model *process_table_current(const struct process_table *table, pid_t pid)
{
	uint64_t index;

	if (!u64_map_get(&table->current, (uint64_t)pid, &index) || index == 0)
		return NULL;
	return table->models[index - 1];
}

static void process_model_on_maps(void *arg, uint32_t generation, const struct proc_maps *maps)
{
	int err = symbolizer_add_maps(arg, generation, maps);

	if (err)
		log_debug("symbolizer: maps generation %u: %s", generation, strerror(-err));
}

/* Reads pid's mappings and files now. A process already gone borrows its fork parent's model:
 * until it execs, a child maps what its parent mapped. */
static void process_model_open(struct process_table *table, struct process_model *m)
{
	struct process_model *parent;
	uint64_t parent_pid;

	m->unwinder = unwinder_new(m->pid);
	if (m->unwinder)
		m->symbolizer = symbolizer_new(m->pid);
	if (m->unwinder && m->symbolizer) {
		/* Frames carry the unwinder's maps generation: the symbolizer keeps each
		 * generation's mappings, so code unloaded during the run keeps its names. */
		unwinder_set_maps_listener(m->unwinder, process_model_on_maps, m->symbolizer);
		return;
	}
	log_debug("process %d: cannot read its mappings (%s)", (int)m->pid, strerror(errno));
	unwinder_free(m->unwinder);
	m->unwinder = NULL;
	if (m->exec_count == 0 && u64_map_get(&table->parents, (uint64_t)m->pid, &parent_pid) &&
	    (parent = process_table_current(table, (pid_t)parent_pid)) && parent->unwinder) {
		symbolizer_free(m->symbolizer);
		m->symbolizer = parent->symbolizer;
		m->unwinder = parent->unwinder;
		m->borrowed = true;
		if (!m->comm[0])
			snprintf(m->comm, sizeof(m->comm), "%s", parent->comm);
	}
}

/* Hands m's settled state to the caller (BPF config); a refusal makes m native-only. */
static void process_python_publish(struct process_table *table, struct process_model *m)
{
	int err = table->python_fn(table->python_arg, m);

	if (err >= 0 || !m->python)
		return;
	log_warn("python %s in PID %d: the frame walk cannot be set up (%s); native frames only",
		 python_runtime_version(m->python), (int)m->pid, strerror(-err));
	python_runtime_free(m->python);
	m->python = NULL;
	m->python_state = PROCESS_PYTHON_NONE;
}

/* Looks for m's interpreter: a copy of its fork parent's (no exec since: same interpreter, same
 * addresses), else opened from the process. */
static void process_python_examine(struct process_table *table, struct process_model *m)
{
	struct process_model *parent = NULL;
	uint64_t parent_pid;
	int err;

	if (m->borrowed && !m->adopted) {
		/* Gone before it was read: its parent's mappings, and its parent's interpreter. */
		if (u64_map_get(&table->parents, (uint64_t)m->pid, &parent_pid))
			parent = process_table_current(table, (pid_t)parent_pid);
		m->python = parent ? parent->python : NULL;
		m->python_borrowed = true;
		m->python_state = m->python ? PROCESS_PYTHON_FOUND : PROCESS_PYTHON_NONE;
		return;
	}
	for (size_t i = 0; m->exec_count == 0 && i < table->n_prepared; i++) {
		if (table->prepared[i].pid != m->pid || !table->prepared[i].settled)
			continue;
		/* Examined before sampling started; its config is in BPF already. Not opened again:
		 * a Python whose offsets did not validate was said once. */
		m->python = table->prepared[i].rt;
		m->python_borrowed = table->prepared[i].borrowed;
		table->prepared[i].rt = NULL;
		table->prepared[i].settled = false;
		m->python_state = m->python ? PROCESS_PYTHON_FOUND : PROCESS_PYTHON_NONE;
		return;
	}
	if (m->exec_count == 0 && u64_map_get(&table->parents, (uint64_t)m->pid, &parent_pid) &&
	    (parent = process_table_current(table, (pid_t)parent_pid)) &&
	    parent->python_state == PROCESS_PYTHON_FOUND) {
		m->python = python_runtime_fork(parent->python, m->pid);
		err = m->python ? 0 : errno;
	} else {
		m->python = python_runtime_open(m->pid, table->names);
		err = m->python ? 0 : errno;
	}
	if (err == EAGAIN) {
		m->python_state = PROCESS_PYTHON_PENDING;
		return;
	}
	/* python_runtime_open said why for a Python whose offsets do not validate (EPROTO). */
	if (err && err != ENOENT && err != EPROTO && err != ENOSYS && err != ESRCH)
		log_warn("Python runtime of PID %d: %s; native frames only", (int)m->pid,
			 strerror(err));
	m->python_state = m->python ? PROCESS_PYTHON_FOUND : PROCESS_PYTHON_NONE;
	if (m->python)
		log_debug("process %d: python %s (%s)%s", (int)m->pid,
			  python_runtime_version(m->python), python_runtime_object(m->python),
			  parent && m->exec_count == 0 ? ", its fork parent's" : "");
	if (!m->exited)
		process_python_publish(table, m);
}

void process_table_enable_python(struct process_table *table, process_python_fn fn, void *arg)
{
	table->python_fn = fn;
	table->python_arg = arg;
}

/* Keeps pid's settled interpreter (rt NULL: none) for its first model. False when out of memory
 * (then the model looks again). */
static bool prepared_add(struct process_table *table, pid_t pid, struct python_runtime *rt,
			 bool borrowed)
{
	struct process_prepared *grown;

	grown = realloc(table->prepared, (table->n_prepared + 1) * sizeof(*grown));
	if (!grown)
		return false;
	table->prepared = grown;
	table->prepared[table->n_prepared++] = (struct process_prepared){pid, rt, true, borrowed};
	return true;
}

void process_table_python_examined(struct process_table *table, pid_t pid,
				   struct python_runtime *rt)
{
	prepared_add(table, pid, rt, true);
}

void process_table_prepare_python(struct process_table *table, pid_t pid)
{
	struct process_model probe = {.pid = pid};
	int err;

	if (!table->python_fn)
		return;
	probe.python = python_runtime_open(pid, table->names);
	err = probe.python ? 0 : errno;
	if (err == EAGAIN)
		return;
	if (err && err != ENOENT && err != EPROTO && err != ENOSYS && err != ESRCH)
		log_warn("Python runtime of PID %d: %s; native frames only", (int)pid,
			 strerror(err));
	if (table->python_fn(table->python_arg, &probe) < 0 && probe.python) {
		log_warn("python %s in PID %d: the frame walk cannot be set up; native frames only",
			 python_runtime_version(probe.python), (int)pid);
		python_runtime_free(probe.python);
		return;
	}
	if (!prepared_add(table, pid, probe.python, false))
		python_runtime_free(probe.python); /* its model opens it again */
}

void process_table_poll_python(struct process_table *table, uint64_t now_ns)
{
	if (!table->python_fn)
		return;
	for (size_t i = 0; i < table->n_models; i++) {
		struct process_model *m = table->models[i];

		if (m->python_state != PROCESS_PYTHON_PENDING || now_ns < m->python_next_try_ns)
			continue;
		if (m->exited) {
			m->python_state = PROCESS_PYTHON_NONE; /* gone before its interpreter ran */
			continue;
		}
		m->python_next_try_ns =
			now_ns + (now_ns - m->python_since_ns < 5000000000ULL ? 100000000ULL
									      : 1000000000ULL);
		process_python_examine(table, m);
	}
}

size_t process_table_python_stats(const struct process_table *table,
				  struct python_runtime_stats *sum, const char **version)
{
	size_t n = 0;

	memset(sum, 0, sizeof(*sum));
	*version = NULL;
	for (size_t i = 0; i < table->n_models; i++) {
		const struct process_model *m = table->models[i];
		struct python_runtime_stats rs;

		if (!m->python || m->python_borrowed)
			continue;
		python_runtime_stats(m->python, &rs);
		sum->frames_named += rs.frames_named;
		sum->code_cache_hits += rs.code_cache_hits;
		sum->code_stale += rs.code_stale;
		sum->code_unreadable += rs.code_unreadable;
		sum->code_unverified += rs.code_unverified;
		sum->threads_read += rs.threads_read;
		sum->threads_failed += rs.threads_failed;
		sum->chains_truncated += rs.chains_truncated;
		if (!*version)
			*version = python_runtime_version(m->python);
		n++;
	}
	return n;
}

/* A new current model of pid: its own unwinder and symbolizer read now, or (uw or sym given) the
 * caller's, borrowed. */
static struct process_model *process_table_create(struct process_table *table, pid_t pid,
						  uint32_t exec_count, struct unwinder *uw,
						  struct symbolizer *sym)
{
	struct process_model *m;
	char name[96];
	bool new_pid = !u64_map_get(&table->seen, (uint64_t)pid, &(uint64_t){0});

	if (table->n_models == table->cap_models) {
		size_t cap = table->cap_models ? table->cap_models * 2 : 16;
		struct process_model **grown = realloc(table->models, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		table->models = grown;
		table->cap_models = cap;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->pid = pid;
	m->exec_count = exec_count;
	if (target_comm(pid, m->comm, sizeof(m->comm)) != 0)
		m->comm[0] = '\0';
	if (uw || sym) {
		m->unwinder = uw;
		m->symbolizer = sym;
		m->borrowed = true;
		m->adopted = true;
		if (uw && sym)
			unwinder_set_maps_listener(uw, process_model_on_maps, sym);
	} else {
		process_model_open(table, m);
	}
	if (!m->comm[0])
		snprintf(m->comm, sizeof(m->comm), "[exited]");
	snprintf(name, sizeof(name), "%s [%d]", m->comm, (int)pid);
	/* The model's index keeps the root frames of one pid apart (a program that execs itself,
	 * a pid reused): the line of a frame without a file is not printed. */
	if (frame_names_intern(table->names, FRAME_KIND_PROCESS, name, NULL,
			       (uint32_t)table->n_models, &m->root_frame) != 0 ||
	    u64_map_put(&table->roots, m->root_frame, table->n_models) != 0 ||
	    u64_map_put(&table->current, (uint64_t)pid, table->n_models + 1) != 0) {
		if (!m->borrowed) {
			symbolizer_free(m->symbolizer);
			unwinder_free(m->unwinder);
		}
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	table->models[table->n_models++] = m;
	if (new_pid && u64_map_put(&table->seen, (uint64_t)pid, 1) == 0)
		table->n_pids++;
	if (table->python_fn) {
		m->python_since_ns = run_control_now_ns();
		m->python_next_try_ns = m->python_since_ns + 100000000ULL;
		process_python_examine(table, m);
	}
	log_debug("process %d (%s): model %zu%s", (int)pid, m->comm, table->n_models - 1,
		  m->adopted	? " (the session's models)"
		  : m->borrowed ? " (parent's mappings)"
		  : m->unwinder ? ""
				: " (unreadable)");
	return m;
}

struct process_model *process_table_find(const struct process_table *table, pid_t pid)
{
	return process_table_current(table, pid);
}

struct process_model *process_table_get(struct process_table *table, pid_t pid)
{
	struct process_model *m = process_table_current(table, pid);
	uint64_t execs = 0;

	if (m)
		return m;
	u64_map_get(&table->execs, (uint64_t)pid, &execs);
	return process_table_create(table, pid, (uint32_t)execs, NULL, NULL);
}

struct process_model *process_table_adopt(struct process_table *table, pid_t pid,
					  struct unwinder *uw, struct symbolizer *sym)
{
	struct process_model *m = process_table_current(table, pid);
	uint64_t execs = 0;

	if (m || (!uw && !sym))
		return m ? m : process_table_get(table, pid);
	u64_map_get(&table->execs, (uint64_t)pid, &execs);
	return process_table_create(table, pid, (uint32_t)execs, uw, sym);
}

/* The new program's model is made at its first sample, not here: a tree that forks and execs
 * short-lived helpers (a shell, a build) would pay a model per exec (~15 ms of CPU: maps, ELF
 * files, DWARF index) for processes that are never sampled. */
int process_table_exec(struct process_table *table, pid_t pid)
{
	struct process_model *old = process_table_current(table, pid);
	uint64_t execs = 0;

	if (old)
		old->exited = true; /* its program is gone: no more map refreshes */
	u64_map_get(&table->execs, (uint64_t)pid, &execs);
	if (old && old->exec_count + 1 > execs)
		execs = old->exec_count;
	if (u64_map_put(&table->execs, (uint64_t)pid, execs + 1) != 0)
		return -ENOMEM;
	return u64_map_put(&table->current, (uint64_t)pid, 0);
}

int process_table_fork(struct process_table *table, pid_t child, pid_t parent)
{
	return u64_map_put(&table->parents, (uint64_t)child, (uint64_t)parent);
}

void process_table_exit(struct process_table *table, pid_t pid)
{
	struct process_model *m = process_table_current(table, pid);

	/* A runtime prepared for a process that exited before its first sample: not for the next
	 * process to reuse its pid. */
	for (size_t i = 0; i < table->n_prepared; i++)
		if (table->prepared[i].pid == pid && table->prepared[i].settled) {
			if (!table->prepared[i].borrowed)
				python_runtime_free(table->prepared[i].rt);
			table->prepared[i].rt = NULL;
			table->prepared[i].settled = false;
		}
	if (!m)
		return;
	m->exited = true;
	/* The exit record follows the process's last sample in the ring buffer: a later sample of
	 * this pid is a new process that reused it, and gets a model of its own. (A failed put
	 * leaves the old model current: only that reuse would be misattributed.) */
	u64_map_put(&table->current, (uint64_t)pid, 0);
	u64_map_put(&table->parents, (uint64_t)pid, 0);
	u64_map_put(&table->execs, (uint64_t)pid, 0);
}

void process_table_refresh(struct process_table *table, bool all)
{
	for (size_t i = 0; i < table->n_models; i++) {
		struct process_model *m = table->models[i];
		struct unwinder_stats st;

		if (m->exited || m->borrowed || !m->unwinder || !m->symbolizer)
			continue;
		unwinder_get_stats(m->unwinder, &st);
		if (all || st.map_refreshes != m->last_map_refreshes) {
			m->last_map_refreshes = st.map_refreshes;
			symbolizer_refresh(m->symbolizer);
		}
	}
}

const struct process_model *process_table_find_root(const struct process_table *table,
						    uint64_t frame)
{
	uint64_t index;

	if (!table || frame_kind(frame) != FRAME_KIND_PROCESS ||
	    !u64_map_get(&table->roots, frame, &index) || index >= table->n_models)
		return NULL;
	return table->models[index];
}

struct process_model *const *process_table_models(const struct process_table *table, size_t *n)
{
	*n = table->n_models;
	return table->models;
}

size_t process_table_pid_count(const struct process_table *table)
{
	return table->n_pids;
}
