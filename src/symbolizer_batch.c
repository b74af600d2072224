/* symbolizer_batch.c: owns resolving a run's addresses in a child process. libelf and libdw parse
 * files the target brought: a bug there (or a hostile file) must cost the address it happened on,
 * not the run. The child (a fork: it shares the opened objects, the index, the perf map) resolves
 * each frame value in order and writes its frames down a pipe, one record per value; the parent
 * copies them into its cache. When the child dies, the value after the last record it sent is
 * the one it died on: it is named module+0xOFFSET without libdw, and a new child goes on with the
 * rest. */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smolder/frame.h"
#include "smolder/log.h"
#include "symbolizer_internal.h"

/* After this many dead children the rest is named without libdw. */
#define BATCH_MAX_CRASHES 8
#define NO_STRING	  UINT32_MAX

/* ---- child ---- */

struct record_buf {
	char *v;
	size_t n, cap;
};

static int put(struct record_buf *b, const void *p, size_t len)
{
	if (b->n + len > b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		char *v;

		while (ncap < b->n + len)
			ncap *= 2;
		v = realloc(b->v, ncap);
		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = ncap;
	}
	memcpy(b->v + b->n, p, len);
	b->n += len;
	return 0;
}

static int put_string(struct record_buf *b, const char *s)
{
	uint32_t len = s ? (uint32_t)strlen(s) : NO_STRING;

	if (put(b, &len, sizeof(len)))
		return -ENOMEM;
	return s ? put(b, s, len) : 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static bool wanted(struct symbolizer *sym, uint64_t frame)
{
	return !frame_is_named(frame) && !symbolizer_cache_find(sym, frame);
}

/* Record: u64 index, u32 frame count, then per frame u32 flags, u32 line, u64 module_offset and
 * the strings function, file, module (u32 length, or NO_STRING for NULL, then the bytes). */
static void child_run(struct symbolizer *sym, const uint64_t *frames, size_t from, size_t n, int fd)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	struct record_buf b = {0};
	sigset_t set;

	/* A fault must end this process, not run a handler inherited from the parent (which may
	 * clean up the parent's state, or longjmp back into its code). */
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		signal(fatal[i], SIG_DFL);
		sigaddset(&set, fatal[i]);
	}
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	for (size_t i = from; i < n; i++) {
		const struct symbol_frame *f;
		uint64_t index = i;
		uint32_t count;

		if (!wanted(sym, frames[i]))
			continue;
		count = (uint32_t)symbolizer_resolve(sym, frames[i], &f);
		b.n = 0;
		if (put(&b, &index, sizeof(index)) || put(&b, &count, sizeof(count)))
			_exit(2);
		for (uint32_t k = 0; k < count; k++) {
			if (put(&b, &f[k].flags, sizeof(f[k].flags)) ||
			    put(&b, &f[k].line, sizeof(f[k].line)) ||
			    put(&b, &f[k].module_offset, sizeof(f[k].module_offset)) ||
			    put_string(&b, f[k].function) || put_string(&b, f[k].file) ||
			    put_string(&b, f[k].module))
				_exit(2);
		}
		if (write_all(fd, b.v, b.n))
			_exit(3);
	}
	_exit(0);
}

/* ---- parent ---- */

static int read_exact(FILE *f, void *p, size_t len)
{
	return fread(p, 1, len, f) == len ? 0 : -EIO;
}

/* Reads one frame's strings into a malloc'd block appended to *strings. */
static int read_string(FILE *f, char **out)
{
	uint32_t len;

	*out = NULL;
	if (read_exact(f, &len, sizeof(len)))
		return -EIO;
	if (len == NO_STRING)
		return 0;
	if (len > (1u << 24))
		return -EIO;
	*out = malloc(len + 1);
	if (!*out)
		return -ENOMEM;
	if (read_exact(f, *out, len)) {
		free(*out);
		*out = NULL;
		return -EIO;
	}
	(*out)[len] = '\0';
	return 0;
}

/* Keeps a string for the life of sym (cached frames point to it). */
static const char *keep(struct symbolizer *sym, char *s)
{
	char **v;

	if (!s)
		return NULL;
	v = realloc(sym->batch_strings, (sym->nbatch_strings + 1) * sizeof(*v));
	if (!v) {
		free(s);
		return NULL;
	}
	sym->batch_strings = v;
	v[sym->nbatch_strings++] = s;
	return s;
}

static void count(struct symbolizer *sym, const struct symbol_frame *f)
{
	sym->stats.addresses++;
	if (!f->function)
		sym->stats.unknown++;
	if (f->module && !strcmp(f->module, "[jit]")) {
		if (f->function)
			sym->stats.jit_named++;
		else
			sym->stats.jit_unnamed++;
	}
}

/* Reads the child's records into the cache. Returns the index of the last one, or -1. */
static long read_records(struct symbolizer *sym, const uint64_t *frames, size_t n, FILE *f)
{
	long last = -1;

	for (;;) {
		struct symbol_frame *out;
		uint64_t index;
		uint32_t cnt;
		char *function, *file, *module;

		if (read_exact(f, &index, sizeof(index)) || read_exact(f, &cnt, sizeof(cnt)))
			break;
		if (index >= n || cnt == 0 || cnt > 4096)
			break;
		out = calloc(cnt, sizeof(*out));
		if (!out)
			break;
		for (uint32_t k = 0; k < cnt; k++) {
			if (read_exact(f, &out[k].flags, sizeof(out[k].flags)) ||
			    read_exact(f, &out[k].line, sizeof(out[k].line)) ||
			    read_exact(f, &out[k].module_offset, sizeof(out[k].module_offset)) ||
			    read_string(f, &function) || read_string(f, &file) ||
			    read_string(f, &module)) {
				free(out);
				return last;
			}
			out[k].function = keep(sym, function);
			out[k].file = keep(sym, file);
			out[k].module = keep(sym, module);
		}
		if (symbolizer_cache_insert(sym, frames[index], out, cnt) != 0) {
			free(out);
			break;
		}
		count(sym, &out[0]);
		last = (long)index;
	}
	return last;
}

/* Names frame without libdw: module+0xOFFSET of its placement, or unknown. */
static void fallback(struct symbolizer *sym, uint64_t frame)
{
	struct symbol_frame *f = calloc(1, sizeof(*f));
	const struct sym_module *mod;
	uint64_t offset = 0;

	if (!f)
		return;
	if (frame_is_user(frame)) {
		mod = symbolizer_find_module(sym, frame_user_address(frame),
					     frame_user_generation(frame), &offset);
		if (mod) {
			f->module = mod->obj->name;
			f->module_offset = offset;
		}
	}
	if (symbolizer_cache_insert(sym, frame, f, 1) != 0) {
		free(f);
		return;
	}
	count(sym, f);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int symbolizer_resolve_isolated(struct symbolizer *sym, const uint64_t *frames, size_t n)
{
	double start = now_seconds();
	unsigned crashes = 0;
	size_t from = 0;

	if (!sym || !n)
		return 0;
	while (from < n) {
		int fds[2], status;
		long last;
		pid_t pid;
		FILE *f;

		while (from < n && !wanted(sym, frames[from]))
			from++;
		if (from == n)
			break;
		if (crashes >= BATCH_MAX_CRASHES) {
			for (; from < n; from++)
				if (wanted(sym, frames[from]))
					fallback(sym, frames[from]);
			break;
		}
		if (pipe2(fds, O_CLOEXEC) != 0)
			return -errno;
		fflush(NULL); /* nothing buffered is written twice */
		pid = fork();
		if (pid < 0) {
			close(fds[0]);
			close(fds[1]);
			return -errno;
		}
		if (pid == 0) {
			close(fds[0]);
			child_run(sym, frames, from, n, fds[1]);
		}
		close(fds[1]);
		f = fdopen(fds[0], "r");
		if (!f) {
			close(fds[0]);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -ENOMEM;
		}
		last = read_records(sym, frames, n, f);
		fclose(f);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			break;
		/* The child died on the first value after its last record. */
		from = last >= 0 ? (size_t)last + 1 : from;
		while (from < n && !wanted(sym, frames[from]))
			from++;
		if (from == n)
			break;
		crashes++;
		if (WIFSIGNALED(status))
			log_warn("symbolization crashed (signal %d) on address 0x%llx: named "
				 "without "
				 "debug information; resolving the rest in a new process",
				 WTERMSIG(status),
				 (unsigned long long)frame_user_address(frames[from]));
		else
			log_warn("symbolization process failed (status %d) at address 0x%llx",
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				 (unsigned long long)frame_user_address(frames[from]));
		fallback(sym, frames[from]);
		from++;
	}
	sym->stats.seconds += now_seconds() - start;
	return 0;
}
