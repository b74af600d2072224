/* cmd_dump.c: `smolder dump -p PID [--json]`: every thread's stack right now. The target is held
 * only while registers and raw stack bytes are copied (ptrace_attach); unwinding and symbolization
 * run on those copies after the threads are running again, so the stop lasts milliseconds. A Python
 * target's frame chains are read while it is stopped too (python_runtime_read_threads) and their
 * frames replace the interpreter's native frames in each thread's stack. */
#include "smolder/cli.h"
#include "smolder/commands.h"
#include "smolder/json_writer.h"
#include "smolder/log.h"
#include "smolder/ptrace_attach.h"
#include "smolder/python.h"
#include "smolder/symbolizer.h"
#include "smolder/target.h"
#include "smolder/text_sanitize.h"
#include "smolder/u64_map.h"
#include "smolder/unwinder.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_STACK_CAP	     (256u * 1024u) /* bytes of stack copied per thread */
#define DUMP_MAX_FRAMES	     256
#define DUMP_STOP_TIMEOUT_MS 2000

/* One thread's copy taken while stopped, then its unwound addresses. */
struct dump_thread {
	pid_t tid;
	char name[64];	  /* the thread's name (comm) */
	char py_name[64]; /* threading.Thread.name, "" when unknown */
	struct unwind_snapshot snap;
	uint8_t *stack; /* owned */
	bool have_regs;
	int stack_error; /* -errno from the stack read, 0 if fine */
	uint64_t ips[DUMP_MAX_FRAMES];
	struct unwind_result result;
	int unwind_error;
	uint64_t fs_base; /* the thread pointer: pthread_self(), Python's thread_id */
	/* merged stack (frame values, leaf first) when the target runs Python */
	uint64_t *merged;
	size_t n_merged;
	bool python_truncated; /* its Python chain was cut short */
};

struct dump_context {
	pid_t pid;
	char command[64];
	struct dump_thread *threads;
	size_t n;
	double stopped_ms;
	size_t vanished;
	size_t not_stopped;
	bool target_was_stopped;
	struct unwinder *unwinder;
	struct symbolizer *symbolizer;
	struct frame_names *names;
	struct python_runtime *python;
	bool keep_native;		  /* --native: the interpreter's own frames stay */
	struct python_thread *py_threads; /* read while stopped */
	size_t n_py_threads;
	int py_error;		/* -errno from reading the chains */
	struct u64_map py_code; /* Python named frame -> code object address, for display */
};

static int dump_thread_compare(const void *a, const void *b, void *pid_arg)
{
	const struct dump_thread *x = a, *y = b;
	pid_t pid = *(const pid_t *)pid_arg;

	/* The main thread first, then by tid: the order gdb and py-spy users expect. */
	if ((x->tid == pid) != (y->tid == pid))
		return x->tid == pid ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Copies registers and stack of every stopped thread. Runs while the target is stopped: no
 * allocation bigger than the bytes actually copied, no parsing beyond the maps lookup. */
static int dump_copy_threads(struct dump_context *ctx, struct ptrace_session *s, uint8_t *scratch)
{
	ctx->threads = calloc(s->n ? s->n : 1, sizeof(*ctx->threads));
	if (!ctx->threads)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const struct ptrace_thread *t = &s->threads[i];
		struct dump_thread *d;
		bool clipped = false;
		ssize_t got;

		if (!t->stopped)
			continue;
		d = &ctx->threads[ctx->n++];
		d->tid = t->tid;
		if (!t->regs_valid)
			continue;
		d->have_regs = true;
		d->snap.ip = t->regs.rip;
		d->snap.sp = t->regs.rsp;
		d->snap.bp = t->regs.rbp;
		d->fs_base = t->regs.fs_base;
		got = ptrace_session_read_stack(s, t, scratch, DUMP_STACK_CAP, &clipped);
		if (got < 0) {
			d->stack_error = (int)got;
			continue;
		}
		if (got > 0) {
			d->stack = malloc((size_t)got);
			if (!d->stack)
				return -ENOMEM;
			memcpy(d->stack, scratch, (size_t)got);
		}
		d->snap.stack = d->stack;
		d->snap.stack_len = (uint32_t)got;
		d->snap.stack_clipped = clipped;
	}
	return 0;
}

static void dump_unwind_threads(struct dump_context *ctx)
{
	for (size_t i = 0; i < ctx->n; i++) {
		struct dump_thread *d = &ctx->threads[i];

		if (target_thread_name(ctx->pid, d->tid, d->name, sizeof(d->name)) < 0)
			snprintf(d->name, sizeof(d->name), "?");
		if (!d->have_regs)
			continue;
		d->unwind_error = unwinder_unwind(ctx->unwinder, &d->snap, d->ips, DUMP_MAX_FRAMES,
						  &d->result);
	}
}

/* The Python chain of a thread: matched by kernel tid (3.11+) or by thread pointer. */
static const struct python_thread *dump_python_thread(const struct dump_context *ctx,
						      const struct dump_thread *d)
{
	for (size_t i = 0; i < ctx->n_py_threads; i++) {
		const struct python_thread *p = &ctx->py_threads[i];

		if (p->native_tid ? p->native_tid == (uint32_t)d->tid
				  : d->fs_base && p->pthread_id == d->fs_base)
			return p;
	}
	return NULL;
}

/* Names each thread's Python frames and splices them into its native stack. A frame that cannot
 * be named (its code object freed since the stop, unreadable) shows as a marker, counted. */
static int dump_merge_python(struct dump_context *ctx)
{
	uint64_t unreadable;
	int rc;

	rc = frame_names_intern(ctx->names, FRAME_KIND_MARKER, "[unreadable Python frame]", NULL, 0,
				&unreadable);
	if (rc)
		return rc;
	for (size_t i = 0; i < ctx->n; i++) {
		struct dump_thread *d = &ctx->threads[i];
		const struct python_thread *p = dump_python_thread(ctx, d);
		uint64_t named[PYTHON_MAX_FRAMES];
		uint32_t flags[PYTHON_MAX_FRAMES];
		size_t cap;

		if (!p || !d->have_regs || d->unwind_error)
			continue;
		for (uint32_t f = 0; f < p->n_frames; f++) {
			flags[f] = p->frames[f].flags;
			if (python_runtime_frame(ctx->python, p->frames[f].code, p->frames[f].instr,
						 &named[f])) {
				named[f] = unreadable;
				continue;
			}
			if (u64_map_put(&ctx->py_code, named[f], p->frames[f].code))
				return -ENOMEM;
		}
		cap = d->result.n + p->n_frames;
		d->merged = malloc((cap ? cap : 1) * sizeof(*d->merged));
		if (!d->merged)
			return -ENOMEM;
		/* The unwinder's addresses are user lookup addresses below 2^47: frame values of
		 * generation 0. */
		d->n_merged = python_runtime_merge(ctx->python, d->ips, d->result.n, named, flags,
						   p->n_frames, ctx->keep_native, d->merged, cap);
		d->python_truncated = p->truncated;
		if (python_runtime_thread_name(ctx->python, p->pthread_id, d->py_name,
					       sizeof(d->py_name)))
			d->py_name[0] = '\0';
	}
	return 0;
}

/* The frames shown for a thread: the merged stack when it has one, else the native one. */
static const uint64_t *dump_frames(const struct dump_thread *d, size_t *n)
{
	if (d->merged) {
		*n = d->n_merged;
		return d->merged;
	}
	*n = d->result.n;
	return d->ips;
}

/* Why a stack did not reach its thread's root; NULL when it did. Every other stop is named too:
 * a stack is shown as complete only when the unwind info marked its root. */
static const char *dump_incomplete_reason(uint32_t flags)
{
	if (flags & UNWIND_COMPLETE)
		return NULL;
	if (flags & UNWIND_TRUNCATED)
		return "stack copy ended";
	if (flags & UNWIND_NO_INFO)
		return "no unwind information";
	if (flags & UNWIND_MAX_DEPTH)
		return "frame limit reached";
	return "the stack contradicts its unwind information";
}

/* Resolves every thread's frames in a child process first (symbolizer_resolve_isolated): a crash
 * in libdw names one address module+0xOFFSET instead of losing the dump. */
static void dump_resolve_isolated(struct dump_context *ctx)
{
	size_t total = 0, k = 0, n;
	uint64_t *all;

	for (size_t i = 0; i < ctx->n; i++) {
		dump_frames(&ctx->threads[i], &n);
		total += n;
	}
	all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		return;
	for (size_t i = 0; i < ctx->n; i++) {
		const uint64_t *ips = dump_frames(&ctx->threads[i], &n);

		memcpy(all + k, ips, n * sizeof(*all));
		k += n;
	}
	symbolizer_resolve_isolated(ctx->symbolizer, all, k);
	free(all);
}

static void dump_print_text(struct dump_context *ctx, FILE *fp)
{
	for (size_t i = 0; i < ctx->n; i++) {
		const struct dump_thread *d = &ctx->threads[i];
		unsigned frame_no = 0;
		const uint64_t *ips;
		size_t n_ips;
		const char *why;

		/* Names, files and modules come from the target: text_sanitize keeps escape
		 * sequences off the operator's terminal and newlines out of the line format. */
		fprintf(fp, "%sThread %d (", i ? "\n" : "", (int)d->tid);
		text_sanitize_fputs(d->py_name[0] ? d->py_name : d->name, fp, 0);
		fputs(")\n", fp);
		if (!d->have_regs) {
			fprintf(fp, "  (registers unavailable: thread exited while stopped)\n");
			continue;
		}
		if (d->unwind_error < 0) {
			fprintf(fp, "  (unwind failed: %s)\n", strerror(-d->unwind_error));
			continue;
		}
		ips = dump_frames(d, &n_ips);
		for (size_t f = 0; f < n_ips; f++) {
			const struct symbol_frame *frames;
			size_t nf;

			if (frame_is_named(ips[f])) {
				struct named_frame nfr;
				uint64_t code = 0;

				if (frame_names_get(ctx->names, ips[f], &nfr))
					continue;
				u64_map_get(&ctx->py_code, ips[f], &code);
				fprintf(fp, "  #%u 0x%016" PRIx64 " %s", frame_no++, code,
					nfr.function);
				if (nfr.file && nfr.line)
					fprintf(fp, " (%s:%u)", nfr.file, nfr.line);
				else if (nfr.file)
					fprintf(fp, " (%s)", nfr.file);
				fputs(nfr.kind == FRAME_KIND_PYTHON ? " [python]\n" : "\n", fp);
				continue;
			}
			nf = symbolizer_resolve(ctx->symbolizer, ips[f], &frames);
			for (size_t k = 0; k < nf; k++) {
				const struct symbol_frame *sf = &frames[k];

				fprintf(fp, "  #%u 0x%016" PRIx64 " ", frame_no++, ips[f]);
				if (sf->function) {
					text_sanitize_fputs(sf->function, fp, 0);
				} else if (sf->module) {
					text_sanitize_fputs(sf->module, fp, 0);
					fprintf(fp, "+0x%" PRIx64, sf->module_offset);
				} else {
					fputs("[unknown]", fp);
				}
				if (sf->file) {
					fputs(" (", fp);
					text_sanitize_fputs(sf->file, fp, 0);
					fprintf(fp, ":%u)", sf->line);
				} else if (sf->module) {
					fputs(" (", fp);
					text_sanitize_fputs(sf->module, fp, 0);
					fputc(')', fp);
				}
				if (sf->flags & SYMBOL_FRAME_INLINED)
					fputs(" [inlined]", fp);
				fputc('\n', fp);
			}
		}
		why = dump_incomplete_reason(d->result.flags);
		if (why)
			fprintf(fp, "  (stack incomplete: %s)\n", why);
		if (d->python_truncated)
			fprintf(fp, "  (Python stack incomplete: frame chain cut short)\n");
		if (d->stack_error)
			fprintf(fp, "  (stack unreadable: %s)\n", strerror(-d->stack_error));
	}
}

static int dump_print_json(struct dump_context *ctx, FILE *fp)
{
	struct json_writer w;
	const uint64_t *ips;
	size_t n_ips;
	char addr[32];

	json_writer_init(&w, fp, true);
	json_object_begin(&w);
	json_key(&w, "python");
	json_string(&w, ctx->python ? python_runtime_version(ctx->python) : NULL);
	json_key(&w, "pid");
	json_int(&w, ctx->pid);
	json_key(&w, "command");
	json_string(&w, ctx->command);
	json_key(&w, "stopped_ms");
	json_double(&w, ctx->stopped_ms);
	json_key(&w, "target_was_stopped");
	json_bool(&w, ctx->target_was_stopped);
	json_key(&w, "vanished_threads");
	json_uint(&w, ctx->vanished);
	json_key(&w, "unstoppable_threads");
	json_uint(&w, ctx->not_stopped);
	json_key(&w, "threads");
	json_array_begin(&w);
	for (size_t i = 0; i < ctx->n; i++) {
		const struct dump_thread *d = &ctx->threads[i];

		json_object_begin(&w);
		json_key(&w, "tid");
		json_int(&w, d->tid);
		json_key(&w, "name");
		json_string(&w, d->py_name[0] ? d->py_name : d->name);
		json_key(&w, "os_name");
		json_string(&w, d->name);
		json_key(&w, "python_complete");
		json_bool(&w, !d->python_truncated);
		json_key(&w, "complete");
		json_bool(&w,
			  d->have_regs && !d->unwind_error && (d->result.flags & UNWIND_COMPLETE));
		json_key(&w, "incomplete_reason");
		json_string(&w, !d->have_regs	  ? "registers unavailable"
				: d->unwind_error ? "unwind failed"
						  : dump_incomplete_reason(d->result.flags));
		json_key(&w, "frames");
		json_array_begin(&w);
		ips = dump_frames(d, &n_ips);
		for (size_t f = 0; d->have_regs && !d->unwind_error && f < n_ips; f++) {
			const struct symbol_frame *frames;
			size_t nf;

			if (frame_is_named(ips[f])) {
				struct named_frame nfr;
				uint64_t code = 0;

				if (frame_names_get(ctx->names, ips[f], &nfr))
					continue;
				u64_map_get(&ctx->py_code, ips[f], &code);
				snprintf(addr, sizeof(addr), "0x%" PRIx64, code);
				json_object_begin(&w);
				json_key(&w, "address");
				json_string(&w, addr);
				json_key(&w, "function");
				json_string(&w, nfr.function);
				json_key(&w, "file");
				json_string(&w, nfr.file);
				json_key(&w, "line");
				if (nfr.line)
					json_uint(&w, nfr.line);
				else
					json_null(&w);
				json_key(&w, "module");
				json_null(&w);
				json_key(&w, "inlined");
				json_bool(&w, false);
				json_key(&w, "python");
				json_bool(&w, nfr.kind == FRAME_KIND_PYTHON);
				json_object_end(&w);
				continue;
			}
			nf = symbolizer_resolve(ctx->symbolizer, ips[f], &frames);
			snprintf(addr, sizeof(addr), "0x%" PRIx64, ips[f]);
			for (size_t k = 0; k < nf; k++) {
				const struct symbol_frame *sf = &frames[k];

				json_object_begin(&w);
				json_key(&w, "address");
				json_string(&w, addr);
				json_key(&w, "function");
				json_string(&w, sf->function);
				json_key(&w, "file");
				json_string(&w, sf->file);
				json_key(&w, "line");
				if (sf->line)
					json_uint(&w, sf->line);
				else
					json_null(&w);
				json_key(&w, "module");
				json_string(&w, sf->module);
				json_key(&w, "inlined");
				json_bool(&w, sf->flags & SYMBOL_FRAME_INLINED);
				json_key(&w, "python");
				json_bool(&w, false);
				json_object_end(&w);
			}
		}
		json_array_end(&w);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_end(&w);
	return json_writer_finish(&w);
}

static bool dump_target_gone(pid_t pid)
{
	int state = target_task_state(pid, pid);

	return state < 0 || state == 'Z' || state == 'X';
}

static void dump_context_release(struct dump_context *ctx)
{
	for (size_t i = 0; ctx->threads && i < ctx->n; i++) {
		free(ctx->threads[i].stack);
		free(ctx->threads[i].merged);
	}
	free(ctx->threads);
	free(ctx->py_threads);
	u64_map_release(&ctx->py_code);
	python_runtime_free(ctx->python);
	frame_names_free(ctx->names);
	unwinder_free(ctx->unwinder);
	symbolizer_free(ctx->symbolizer);
}

/* Dumps one process. With a process list, header prints "Process PID (COMMAND)" before its
 * threads (text), and the JSON documents go into one array (the caller writes the brackets). */
static int dump_process(const struct cli_options *opts, pid_t pid, bool header, size_t *printed)
{
	struct dump_context ctx = {.pid = pid, .keep_native = opts->native};
	struct ptrace_session session;
	uint8_t *scratch = NULL;
	char err[512];
	int rc;

	rc = target_check(pid, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		return rc;
	}
	rc = ptrace_attach_check(pid, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		return rc;
	}
	if (target_comm(pid, ctx.command, sizeof(ctx.command)) < 0)
		snprintf(ctx.command, sizeof(ctx.command), "?");
	/* Everything slow (reading maps, opening ELF files) happens before the target stops. */
	ctx.unwinder = unwinder_new(pid);
	if (!ctx.unwinder) {
		log_error("cannot set up unwinding for PID %d: %s", (int)pid, strerror(errno));
		rc = errno == ESRCH ? SMOLDER_EXIT_TARGET : SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	ctx.symbolizer = symbolizer_new(pid);
	if (!ctx.symbolizer) {
		log_error("cannot set up symbolization for PID %d: %s", (int)pid, strerror(errno));
		rc = errno == ESRCH ? SMOLDER_EXIT_TARGET : SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	/* Python: found and validated before the stop; a target that is not Python, or whose
	 * offsets do not validate (said once by python_runtime_open), is dumped native-only. */
	ctx.names = frame_names_new();
	if (!ctx.names) {
		log_error("out of memory");
		rc = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	ctx.python = python_runtime_open(pid, ctx.names);
	if (!ctx.python && errno != ENOENT && errno != EPROTO)
		log_info("no Python frames: %s", strerror(errno));
	scratch = malloc(DUMP_STACK_CAP);
	if (!scratch) {
		log_error("out of memory");
		rc = SMOLDER_EXIT_INTERNAL;
		goto out;
	}

	ptrace_guard_install();
	ptrace_session_init(&session, pid);
	rc = ptrace_session_stop(&session, PTRACE_STOP_ALL, DUMP_STOP_TIMEOUT_MS, err, sizeof(err));
	if (rc) {
		ptrace_session_release(&session);
		log_error("%s", err);
		goto out;
	}
	ctx.target_was_stopped = session.target_was_stopped;
	rc = dump_copy_threads(&ctx, &session, scratch);
	if (!rc && ctx.python)
		ctx.py_error =
			python_runtime_read_threads(ctx.python, &ctx.py_threads, &ctx.n_py_threads);
	ptrace_session_detach(&session);
	ctx.stopped_ms = ptrace_session_stopped_ms(&session);
	ctx.vanished = session.n_vanished;
	ctx.not_stopped = session.n_not_stopped;
	ptrace_session_release(&session);
	if (rc < 0) {
		log_error("copying stacks failed: %s", strerror(-rc));
		rc = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	if (dump_target_gone(ctx.pid)) {
		size_t copied = 0;

		for (size_t i = 0; i < ctx.n; i++)
			copied += ctx.threads[i].snap.stack_len > 0;
		if (!copied) {
			log_error("process %d exited during the dump", (int)pid);
			rc = SMOLDER_EXIT_TARGET;
			goto out;
		}
		log_warn("process %d exited during the dump; showing the stacks copied before",
			 (int)pid);
	}
	log_info("target %d stopped for %.2f ms (%zu thread%s%s)", (int)pid, ctx.stopped_ms, ctx.n,
		 ctx.n == 1 ? "" : "s", ctx.target_was_stopped ? ", left stopped as found" : "");
	if (ctx.vanished)
		log_info("%zu thread(s) exited while smolder attached", ctx.vanished);
	if (ctx.not_stopped)
		log_warn("%zu thread(s) did not stop and are not shown", ctx.not_stopped);

	qsort_r(ctx.threads, ctx.n, sizeof(*ctx.threads), dump_thread_compare, &ctx.pid);
	/* Objects mapped since setup (dlopen) are picked up before resolving. */
	symbolizer_refresh(ctx.symbolizer);
	dump_unwind_threads(&ctx);
	if (ctx.python && ctx.py_error)
		log_warn("Python frame chains unreadable (%s): native stacks only",
			 strerror(-ctx.py_error));
	if (ctx.python && !ctx.py_error && dump_merge_python(&ctx)) {
		log_error("out of memory");
		rc = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	dump_resolve_isolated(&ctx);
	if (opts->json) {
		if (header && *printed)
			fputs(",\n", stdout);
		rc = dump_print_json(&ctx, stdout) ? SMOLDER_EXIT_INTERNAL : SMOLDER_EXIT_OK;
	} else {
		if (header) {
			fprintf(stdout, "%sProcess %d (", *printed ? "\n" : "", (int)pid);
			text_sanitize_fputs(ctx.command, stdout, 0);
			fputs(")\n", stdout);
		}
		dump_print_text(&ctx, stdout);
		rc = fflush(stdout) ? SMOLDER_EXIT_INTERNAL : SMOLDER_EXIT_OK;
	}
	(*printed)++;
	if (rc)
		log_error("writing the dump failed: %s", strerror(errno));
	else if (symbolizer_jit_hint(ctx.symbolizer))
		log_info("%s", symbolizer_jit_hint(ctx.symbolizer));
out:
	free(scratch);
	dump_context_release(&ctx);
	return rc;
}

int cmd_dump(const struct cli_options *opts)
{
	bool many = opts->n_pids > 1;
	size_t printed = 0;
	char err[512];
	int rc, first_rc = SMOLDER_EXIT_OK;

	/* Every PID is checked before any process is stopped. */
	for (size_t i = 0; i < opts->n_pids; i++) {
		rc = target_check(opts->pids[i], err, sizeof(err));
		if (rc) {
			log_error("%s", err);
			return rc;
		}
	}
	if (many && opts->json)
		fputs("[\n", stdout);
	/* One process at a time: each is stopped only for its own copy. A process that fails
	 * (exited meanwhile) does not keep the others from being dumped. */
	for (size_t i = 0; i < (opts->n_pids ? opts->n_pids : 1); i++) {
		rc = dump_process(opts, opts->n_pids ? opts->pids[i] : opts->pid, many, &printed);
		if (rc && !first_rc)
			first_rc = rc;
	}
	if (many && opts->json) {
		fputs("]\n", stdout);
		if (fflush(stdout) && !first_rc)
			first_rc = SMOLDER_EXIT_INTERNAL;
	}
	return first_rc;
}
