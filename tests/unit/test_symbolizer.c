/* test_symbolizer.c: the symbolizer on real processes: the symbolize_target fixtures (C with
 * always_inline chains, C++ templates), stripped copies, libc's separate debug file, the kernel's
 * kallsyms, and resolution after the target exited. Also the folded-frame formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smolder/kallsyms.h"
#include "smolder/proc_maps.h"
#include "smolder/symbolizer.h"

#define FIXTURE_C   SMOLDER_FIXTURE_DIR "/symbolize_target"
#define FIXTURE_CPP SMOLDER_FIXTURE_DIR "/symbolize_target_cpp"
#define SOURCE_C    SMOLDER_SOURCE_DIR "/tests/fixtures/symbolize_target.c"
#define SOURCE_CPP  SMOLDER_SOURCE_DIR "/tests/fixtures/symbolize_target_cpp.cpp"

struct target {
	pid_t pid;
	int stdin_fd;
	char names[16][64];
	uint64_t addrs[16];
	int n;
};

/* Starts a fixture (with one argument, or none when arg is NULL) and reads its "NAME 0xADDR"
 * lines up to "ready". */
static void target_start_arg(struct target *t, const char *path, const char *arg)
{
	int in[2], out[2];
	char line[256];
	FILE *f;

	memset(t, 0, sizeof(*t));
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(path, path, arg, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->stdin_fd = in[1];
	f = fdopen(out[0], "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "ready", 5))
			break;
		assert_true(t->n < 16);
		assert_int_equal(sscanf(line, "%63s %" SCNx64, t->names[t->n], &t->addrs[t->n]), 2);
		t->n++;
	}
	fclose(f);
	assert_true(t->n > 0);
}

static void target_start(struct target *t, const char *path)
{
	target_start_arg(t, path, NULL);
}

static uint64_t target_addr(const struct target *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->names[i], name))
			return t->addrs[i];
	fail_msg("fixture did not print %s", name);
	return 0;
}

/* Lets the fixture exit and reaps it. */
static void target_stop(struct target *t)
{
	int status;

	close(t->stdin_fd);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The line of a source file carrying "LINE:marker". */
static uint32_t marker_line(const char *path, const char *marker)
{
	char line[512], tag[128];
	uint32_t n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	snprintf(tag, sizeof(tag), "LINE:%s", marker);
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, tag)) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	fail_msg("no %s in %s", tag, path);
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return s && a >= b && !strcmp(s + a - b, suffix);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* addr's file offset computed independently from /proc/PID/maps. */
static uint64_t file_offset(pid_t pid, uint64_t addr)
{
	struct proc_maps maps = {0};
	const struct proc_map *m;
	uint64_t off;

	assert_int_equal(proc_maps_read(pid, &maps), 0);
	m = proc_maps_find(&maps, addr);
	assert_non_null(m);
	off = addr - m->start + m->offset;
	proc_maps_release(&maps);
	return off;
}

static void check_inline_chain_and_exit(const char *fixture, const char *module)
{
	const struct symbol_frame *f, *again;
	struct symbolizer_stats stats;
	struct symbolizer *sym;
	struct target t;
	uint64_t ret, leaf, off, modules;
	char buf[256];
	size_t n;

	target_start(&t, fixture);
	ret = target_addr(&t, "return_address");
	leaf = target_addr(&t, "symbolize_leaf");
	off = file_offset(t.pid, ret - 1);
	sym = symbolizer_new(t.pid);
	assert_non_null(sym);

	/* The unwinder's lookup address for a caller: return address - 1. */
	n = symbolizer_resolve(sym, ret - 1, &f);
	assert_int_equal(n, 3);
	assert_string_equal(f[0].function, "symbolize_inner");
	assert_int_equal(f[0].flags, SYMBOL_FRAME_INLINED);
	assert_true(ends_with(f[0].file, "/symbolize_target.c"));
	assert_int_equal(f[0].line, marker_line(SOURCE_C, "inner_call"));
	assert_string_equal(f[1].function, "symbolize_middle");
	assert_int_equal(f[1].flags, SYMBOL_FRAME_INLINED);
	assert_true(ends_with(f[1].file, "/symbolize_target.c"));
	assert_int_equal(f[1].line, marker_line(SOURCE_C, "middle_call"));
	assert_string_equal(f[2].function, "symbolize_outer");
	assert_int_equal(f[2].flags, 0);
	assert_int_equal(f[2].line, marker_line(SOURCE_C, "outer_call"));
	assert_string_equal(f[2].module, module);
	assert_int_equal(f[2].module_offset, off);
	symbol_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "symbolize_inner_[i]");
	symbol_frame_format(&f[2], buf, sizeof(buf));
	assert_string_equal(buf, "symbolize_outer");

	/* Cached: the same frames, not resolved again. */
	assert_int_equal(symbolizer_resolve(sym, ret - 1, &again), 3);
	assert_ptr_equal(again, f);

	n = symbolizer_resolve(sym, leaf, &f);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].function, "symbolize_leaf");
	assert_true(ends_with(f[0].file, "/symbolize_target.c"));
	assert_true(f[0].line > 0);

	/* Nothing new mapped: refreshing opens nothing. */
	symbolizer_get_stats(sym, &stats);
	assert_int_equal(symbolizer_refresh(sym), 0);
	modules = stats.modules;
	symbolizer_get_stats(sym, &stats);
	assert_int_equal(stats.modules, modules);

	/* The target exits; addresses never asked before still resolve. */
	target_stop(&t);
	n = symbolizer_resolve(sym, target_addr(&t, "main"), &f);
	assert_true(n >= 1);
	assert_string_equal(f[n - 1].function, "main");
	n = symbolizer_resolve(sym, target_addr(&t, "symbolize_outer"), &f);
	assert_true(n >= 1);
	assert_string_equal(f[n - 1].function, "symbolize_outer");
	assert_int_equal(symbolizer_refresh(sym), 0);

	symbolizer_get_stats(sym, &stats);
	assert_int_equal(stats.addresses, 4);
	assert_int_equal(stats.unknown, 0);
	assert_true(stats.modules >= 3); /* the fixture, libc, ld.so (and the vdso) */
	symbolizer_free(sym);
}

static void test_inline_chain_and_exit(void **state)
{
	check_inline_chain_and_exit(FIXTURE_C, "symbolize_target");
}

/* ET_EXEC: loaded at its link-time addresses. */
static void test_inline_chain_non_pie(void **state)
{
	check_inline_chain_and_exit(FIXTURE_C "_nopie", "symbolize_target_nopie");
}

/* An object mapped twice: node maps part of its (ET_EXEC) text again next to V8's JIT code. Both
 * placements resolve through the file offset; libdwfl sees the object once (reporting it twice
 * made libdwfl free the first module under our index: the SIGSEGV on node). */
static void check_remapped(const char *fixture, const char *module)
{
	uint64_t leaf, copy, modules;
	const struct symbol_frame *f;
	struct symbolizer_stats stats;
	struct symbolizer *sym;
	struct target t;
	size_t n;

	target_start_arg(&t, fixture, "remap");
	leaf = target_addr(&t, "symbolize_leaf");
	copy = target_addr(&t, "remapped_leaf");
	assert_true(copy != 0 && copy != leaf);
	sym = symbolizer_new(t.pid);
	assert_non_null(sym);
	symbolizer_get_stats(sym, &stats);
	modules = stats.modules;
	n = symbolizer_resolve(sym, copy + 1, &f);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].function, "symbolize_leaf");
	assert_string_equal(f[0].module, module);
	assert_int_equal(f[0].module_offset, file_offset(t.pid, copy + 1));
	assert_int_equal(f[0].line, marker_line(SOURCE_C, "leaf_body"));
	n = symbolizer_resolve(sym, leaf + 1, &f);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].function, "symbolize_leaf");
	assert_int_equal(f[0].line, marker_line(SOURCE_C, "leaf_body"));
	n = symbolizer_resolve(sym, target_addr(&t, "return_address") - 1, &f);
	assert_int_equal(n, 3);
	assert_string_equal(f[2].function, "symbolize_outer");
	assert_int_equal(symbolizer_refresh(sym), 0);
	symbolizer_get_stats(sym, &stats);
	assert_int_equal(stats.modules, modules); /* one object, opened once */
	target_stop(&t);
	symbolizer_free(sym);
}

static void test_remapped_non_pie(void **state)
{
	check_remapped(FIXTURE_C "_nopie", "symbolize_target_nopie");
}

static void test_remapped_pie(void **state)
{
	check_remapped(FIXTURE_C, "symbolize_target");
}

/* libc's DWARF comes from libc6-dbg's file under /usr/lib/debug/.build-id. */
static void test_separate_debuginfo(void **state)
{
	const struct symbol_frame *f;
	struct symbolizer *sym;
	struct target t;
	size_t n;

	target_start(&t, FIXTURE_C);
	sym = symbolizer_new(t.pid);
	assert_non_null(sym);
	n = symbolizer_resolve(sym, target_addr(&t, "fflush") + 8, &f);
	assert_true(n >= 1);
	assert_non_null(f[n - 1].function);
	assert_non_null(strstr(f[n - 1].function, "fflush"));
	assert_true(ends_with(f[n - 1].module, "libc.so.6"));
	/* A source file name proves the DWARF (not only the symbol table) was found. */
	assert_true(ends_with(f[0].file, "iofflush.c"));
	assert_true(f[0].line > 0);
	target_stop(&t);
	symbolizer_free(sym);
}

static void test_cpp_demangled_and_inlined(void **state)
{
	const struct symbol_frame *f;
	struct symbolizer *sym;
	struct target t;
	char buf[256];
	size_t n;

	target_start(&t, FIXTURE_CPP);
	sym = symbolizer_new(t.pid);
	assert_non_null(sym);
	n = symbolizer_resolve(sym, target_addr(&t, "return_address") - 1, &f);
	assert_int_equal(n, 2);
	assert_string_equal(f[0].function, "smolder_fixture::Widget::poke(long)");
	assert_int_equal(f[0].flags, SYMBOL_FRAME_INLINED);
	assert_true(ends_with(f[0].file, "/symbolize_target_cpp.cpp"));
	assert_int_equal(f[0].line, marker_line(SOURCE_CPP, "poke_call"));
	assert_string_equal(f[1].function, "long smolder_fixture::scale<long>(long)");
	assert_int_equal(f[1].flags, 0);
	assert_int_equal(f[1].line, marker_line(SOURCE_CPP, "scale_call"));
	symbol_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "smolder_fixture::Widget::poke(long)_[i]");
	target_stop(&t);
	symbolizer_free(sym);
}

/* Runs a shell command. Paths in it are single-quoted: a checkout path may hold spaces. */
static void run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

/* The link-time address of NAME@plt in path, from objdump (0 when absent). */
static uint64_t objdump_plt(const char *path, const char *name)
{
	char cmd[4096], line[256];
	uint64_t addr = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "objdump -d -j .plt -j .plt.sec -j .plt.got '%s' | grep ' <%s@plt>:$'", path,
		 name);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(line, sizeof(line), p))
		addr = strtoull(line, NULL, 16);
	pclose(p);
	return addr;
}

/* PLT stubs are "name@plt", not "_init" (crti's unsized _init just before .plt ran over them),
 * and _init itself stays _init. In libc (a shared object) too. */
static void test_plt_stubs(void **state)
{
	const struct symbol_frame *f;
	struct symbolizer *sym;
	struct target t;
	uint64_t fflush_plt, read_plt;
	size_t n;

	fflush_plt = objdump_plt(FIXTURE_C "_nopie", "fflush");
	read_plt = objdump_plt(FIXTURE_C "_nopie", "read");
	assert_true(fflush_plt && read_plt);
	target_start(&t, FIXTURE_C "_nopie");
	sym = symbolizer_new(t.pid);
	assert_non_null(sym);
	n = symbolizer_resolve(sym, fflush_plt + 4, &f);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].function, "fflush@plt");
	n = symbolizer_resolve(sym, read_plt + 15, &f);
	assert_string_equal(f[0].function, "read@plt");
	n = symbolizer_resolve(sym, target_addr(&t, "main"), &f);
	assert_string_equal(f[n - 1].function, "main");
	target_stop(&t);
	symbolizer_free(sym);
}

/* A crash while resolving costs that address, not the run: a library truncated on disk after it
 * was opened (rewritten in place) makes libelf fault (SIGBUS) reading its sections. Resolving it in
 * this process would kill the test; in the child it is named module+0xOFFSET with a warning and the
 * addresses after it are still resolved. */
static void test_isolated_survives_crash(void **state)
{
	char dir[] = "/tmp/smolder-isolated-XXXXXX", copy[128], cmd[4096], buf[128];
	const struct symbol_frame *f;
	struct symbolizer_stats stats;
	struct symbolizer *sym;
	uint64_t frames[3];
	void *h, *entry;
	size_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/libgen_copy.so", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s/libgen_alpha.so' '%s'", SMOLDER_FIXTURE_DIR, copy);
	run(cmd);
	h = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	entry = dlsym(h, "plugin_run");
	assert_non_null(entry);
	sym = symbolizer_new(getpid());
	assert_non_null(sym);
	/* Unloaded (its code must not run once truncated); the symbolizer keeps it open. */
	assert_int_equal(dlclose(h), 0);
	assert_int_equal(truncate(copy, 0), 0);
	frames[0] = (uint64_t)entry + 1;
	frames[1] = (uint64_t)fflush + 1;
	frames[2] = (uint64_t)entry + 1; /* the same value twice: resolved once */
	assert_int_equal(symbolizer_resolve_isolated(sym, frames, 3), 0);
	n = symbolizer_resolve(sym, frames[0], &f);
	assert_int_equal(n, 1);
	assert_null(f[0].function);
	assert_string_equal(f[0].module, "libgen_copy.so");
	symbol_frame_format(&f[0], buf, sizeof(buf));
	assert_non_null(strstr(buf, "libgen_copy.so+0x"));
	n = symbolizer_resolve(sym, frames[1], &f);
	assert_non_null(f[n - 1].function);
	assert_non_null(strstr(f[n - 1].function, "fflush"));
	symbolizer_get_stats(sym, &stats);
	assert_int_equal(stats.addresses, 2);
	assert_int_equal(stats.unknown, 1);
	symbolizer_free(sym);
	unlink(copy);
	rmdir(dir);
}

/* Without DWARF the symbol table names functions; without symbols, module+0xOFFSET. The copies are
 * deleted while running: they can only be opened through /proc/PID/map_files. */
static void test_stripped_and_deleted(void **state)
{
	char dir[] = "/tmp/smolder-symbolizer-XXXXXX", nodebug[128], stripped[128], cmd[4096];
	char buf[256], expect[256];
	const struct symbol_frame *f;
	struct symbolizer *sym;
	struct target t;
	uint64_t addr, off;
	size_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(nodebug, sizeof(nodebug), "%s/symbolize_target_nodebug", dir);
	snprintf(stripped, sizeof(stripped), "%s/symbolize_target_stripped", dir);
	snprintf(cmd, sizeof(cmd),
		 "objcopy --strip-debug '%s' '%s' && strip --strip-all -o '%s' '%s'", FIXTURE_C,
		 nodebug, stripped, FIXTURE_C);
	run(cmd);

	target_start(&t, nodebug);
	assert_int_equal(unlink(nodebug), 0);
	sym = symbolizer_new(t.pid);
	assert_non_null(sym);
	n = symbolizer_resolve(sym, target_addr(&t, "return_address") - 1, &f);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].function, "symbolize_outer");
	assert_null(f[0].file);
	assert_int_equal(f[0].flags, 0);
	assert_string_equal(f[0].module, "symbolize_target_nodebug");
	target_stop(&t);
	symbolizer_free(sym);

	target_start(&t, stripped);
	assert_int_equal(unlink(stripped), 0);
	addr = target_addr(&t, "return_address") - 1;
	off = file_offset(t.pid, addr);
	sym = symbolizer_new(t.pid);
	assert_non_null(sym);
	target_stop(&t);
	n = symbolizer_resolve(sym, addr, &f);
	assert_int_equal(n, 1);
	assert_null(f[0].function);
	assert_string_equal(f[0].module, "symbolize_target_stripped");
	assert_int_equal(f[0].module_offset, off);
	symbol_frame_format(&f[0], buf, sizeof(buf));
	snprintf(expect, sizeof(expect), "symbolize_target_stripped+0x%" PRIx64, off);
	assert_string_equal(buf, expect);
	/* libc still has its symbols after the target is gone. */
	n = symbolizer_resolve(sym, target_addr(&t, "fflush"), &f);
	assert_non_null(strstr(f[n - 1].function, "fflush"));
	symbolizer_free(sym);
	assert_int_equal(rmdir(dir), 0);
}

static void test_unmapped_and_vdso(void **state)
{
	const struct symbol_frame *f;
	struct proc_maps maps = {0};
	struct symbolizer *sym;
	struct target t;
	char buf[64];
	size_t i, n;
	bool vdso = false;

	target_start(&t, FIXTURE_C);
	sym = symbolizer_new(t.pid);
	assert_non_null(sym);
	n = symbolizer_resolve(sym, 0x10, &f);
	assert_int_equal(n, 1);
	assert_null(f[0].function);
	assert_null(f[0].module);
	symbol_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "[unknown]");

	/* The vdso has no file: it is read from the target's memory. Its code is named. */
	assert_int_equal(proc_maps_read(t.pid, &maps), 0);
	for (i = 0; i < maps.n; i++) {
		if (strcmp(maps.maps[i].path, "[vdso]") || !(maps.maps[i].perms & PROC_MAP_EXEC))
			continue;
		vdso = true;
		for (uint64_t a = maps.maps[i].start; a < maps.maps[i].end; a += 16) {
			n = symbolizer_resolve(sym, a, &f);
			assert_string_equal(f[0].module, "[vdso]");
			if (f[n - 1].function && strstr(f[n - 1].function, "clock_gettime"))
				break;
			assert_true(a + 16 < maps.maps[i].end); /* found before the end */
		}
	}
	assert_true(vdso);
	proc_maps_release(&maps);
	target_stop(&t);
	symbolizer_free(sym);
}

/* JIT code: named from /tmp/perf-PID.map, re-read by refresh as it grows; JS functions get their
 * file and line and the JIT flag; unnamed anonymous executable code is "[jit]". */
static void test_perf_map(void **state)
{
	const struct symbol_frame *f;
	struct symbolizer_stats stats;
	struct symbolizer *sym;
	struct target t;
	char path[64], buf[128];
	size_t n;
	FILE *fp;

	target_start(&t, FIXTURE_C);
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)t.pid);
	write_file(path, "100000 100 jit_fn;x\n100100 80 LazyCompile:*run\n"
			 "100200 40 JS:*handleRequest /srv/app/server.js:27:23\n");
	sym = symbolizer_new(t.pid);
	assert_non_null(sym);
	assert_null(symbolizer_jit_hint(sym));
	n = symbolizer_resolve(sym, 0x100010, &f);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].function, "jit_fn;x");
	assert_string_equal(f[0].module, "[jit]");
	assert_int_equal(f[0].flags, 0);
	symbol_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "jit_fn:x");
	n = symbolizer_resolve(sym, 0x100170, &f);
	assert_string_equal(f[0].function, "run");
	assert_int_equal(f[0].flags, SYMBOL_FRAME_JIT);
	symbol_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "run_[j]");
	n = symbolizer_resolve(sym, 0x100210, &f);
	assert_string_equal(f[0].function, "handleRequest");
	assert_string_equal(f[0].file, "/srv/app/server.js");
	assert_int_equal(f[0].line, 27);
	symbol_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "handleRequest (server.js:27)_[j]");
	n = symbolizer_resolve(sym, 0x100300, &f);
	assert_null(f[0].function);

	/* The JIT appends: the new line is read, and for a reused address the latest line wins. */
	fp = fopen(path, "a");
	assert_non_null(fp);
	fputs("200000 10 later_fn\n100400 40 JS:~renderPage /srv/app/server.js:22:20\n", fp);
	fclose(fp);
	assert_int_equal(symbolizer_refresh(sym), 0);
	n = symbolizer_resolve(sym, 0x200004, &f);
	assert_string_equal(f[0].function, "later_fn");
	n = symbolizer_resolve(sym, 0x100404, &f);
	assert_string_equal(f[0].function, "renderPage");
	/* Frames resolved before the reload stay valid. */
	n = symbolizer_resolve(sym, 0x100010, &f);
	assert_string_equal(f[0].function, "jit_fn;x");
	unlink(path);
	target_stop(&t);
	symbolizer_get_stats(sym, &stats);
	assert_int_equal(stats.jit_named, 5);
	symbolizer_free(sym);
}

/* Anonymous executable memory without a perf map: "[jit]", and the hint says how to get names. */
static void test_jit_unnamed(void **state)
{
	const struct symbol_frame *f;
	struct symbolizer *sym;
	char buf[64];
	void *code = mmap(NULL, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(code != MAP_FAILED);
	sym = symbolizer_new(getpid());
	assert_non_null(sym);
	assert_int_equal(symbolizer_resolve(sym, (uint64_t)code + 100, &f), 1);
	assert_null(f[0].function);
	assert_string_equal(f[0].module, "[jit]");
	symbol_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "[jit]");
	assert_non_null(symbolizer_jit_hint(sym));
	assert_non_null(strstr(symbolizer_jit_hint(sym), "--perf-basic-prof"));
	symbolizer_free(sym);
	munmap(code, 8192);
}

static uint64_t kallsyms_addr(const char *name)
{
	char line[512], sym[256], type;
	uint64_t addr;
	FILE *f = fopen("/proc/kallsyms", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, sym) == 3 &&
		    (type == 'T' || type == 't') && !strcmp(sym, name)) {
			fclose(f);
			return addr;
		}
	}
	fclose(f);
	fail_msg("%s not in /proc/kallsyms", name);
	return 0;
}

static void test_kernel(void **state)
{
	const struct symbol_frame *f;
	struct symbolizer *sym = symbolizer_new(0);
	uint64_t addr = kallsyms_addr("schedule");
	char buf[128];
	size_t n;

	assert_non_null(sym);
	/* Needs root or kernel.kptr_restrict=0: real addresses, not zeros. */
	assert_true(addr >= 0xffff800000000000ull);
	n = symbolizer_resolve(sym, addr + 4, &f);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].function, "schedule");
	assert_int_equal(f[0].flags, SYMBOL_FRAME_KERNEL);
	assert_string_equal(f[0].module, "[kernel]");
	symbol_frame_format(&f[0], buf, sizeof(buf));
	assert_string_equal(buf, "schedule_[k]");
	/* No process: user addresses are unknown, not an error. */
	n = symbolizer_resolve(sym, 0x401000, &f);
	assert_int_equal(n, 1);
	assert_null(f[0].function);
	symbolizer_free(sym);
}

static void test_kallsyms_parse(void **state)
{
	char path[] = "/tmp/smolder-kallsyms-XXXXXX";
	struct kallsyms *ks;
	uint64_t off;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	write_file(path, "ffffffff81000000 T _stext\n"
			 "ffffffff81000100 t __pfx_alpha\n"
			 "ffffffff81000110 t alpha\n"
			 "ffffffff81000200 D some_data\n"
			 "ffffffff81000180 W beta\n"
			 "ffffffffc0001000 t mod_fn\t[my_mod]\n"
			 "ffffffffc0001000 t mod_fn_alias\t[my_mod]\n");
	ks = kallsyms_load(path);
	assert_non_null(ks);
	assert_int_equal(kallsyms_count(ks), 5); /* not the data symbol or the __pfx_ pad */
	assert_null(kallsyms_find(ks, 0xffffffff80ffffffull, NULL));
	assert_string_equal(kallsyms_find(ks, 0xffffffff81000000ull, NULL), "_stext");
	assert_string_equal(kallsyms_find(ks, 0xffffffff81000108ull, NULL), "_stext");
	assert_string_equal(kallsyms_find(ks, 0xffffffff81000120ull, &off), "alpha");
	assert_int_equal(off, 0x10);
	assert_string_equal(kallsyms_find(ks, 0xffffffff81000200ull, NULL), "beta");
	assert_string_equal(kallsyms_find(ks, 0xffffffffc0001004ull, NULL), "mod_fn");
	assert_null(kallsyms_find(ks, 0xffffffffc0201000ull, NULL)); /* 2 MiB past it */
	kallsyms_free(ks);

	/* kptr_restrict: every address reads as zero. */
	write_file(path, "0000000000000000 T _stext\n0000000000000000 t alpha\n");
	assert_null(kallsyms_load(path));
	assert_int_equal(errno, EPERM);
	unlink(path);
	assert_null(kallsyms_load(path));
	assert_int_equal(errno, ENOENT);
	kallsyms_free(NULL);
}

static void test_format(void **state)
{
	struct symbol_frame f = {.function = "a;b\nc\x01\x7f d"};
	char buf[64], small[6];
	size_t n;

	n = symbol_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "a:b?c?? d");
	assert_int_equal(n, strlen(buf));

	f.flags = SYMBOL_FRAME_INLINED;
	symbol_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "a:b?c?? d_[i]");

	f = (struct symbol_frame){.function = "", .module = "libx;y.so", .module_offset = 0x1a2b};
	symbol_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "libx:y.so+0x1a2b");

	f = (struct symbol_frame){.flags = SYMBOL_FRAME_KERNEL,
				  .module = "[kernel]",
				  .module_offset = 0xffffffff81000000ull};
	symbol_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "[kernel]+0xffffffff81000000_[k]");

	f = (struct symbol_frame){0};
	symbol_frame_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "[unknown]");

	f.function = "long_function_name";
	n = symbol_frame_format(&f, small, sizeof(small));
	assert_int_equal(n, 5);
	assert_string_equal(small, "long_");
	assert_int_equal(symbol_frame_format(&f, small, 0), 0);
}

static void test_bad_pid(void **state)
{
	errno = 0;
	assert_null(symbolizer_new(-1));
	assert_int_equal(errno, EINVAL);
	/* pid_max is at most 4194304. */
	assert_null(symbolizer_new(4194305));
	assert_int_equal(errno, ESRCH);
	symbolizer_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline_chain_and_exit),
		cmocka_unit_test(test_inline_chain_non_pie),
		cmocka_unit_test(test_remapped_non_pie),
		cmocka_unit_test(test_remapped_pie),
		cmocka_unit_test(test_separate_debuginfo),
		cmocka_unit_test(test_cpp_demangled_and_inlined),
		cmocka_unit_test(test_stripped_and_deleted),
		cmocka_unit_test(test_unmapped_and_vdso),
		cmocka_unit_test(test_plt_stubs),
		cmocka_unit_test(test_isolated_survives_crash),
		cmocka_unit_test(test_perf_map),
		cmocka_unit_test(test_jit_unnamed),
		cmocka_unit_test(test_kernel),
		cmocka_unit_test(test_kallsyms_parse),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_bad_pid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
