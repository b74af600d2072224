/* test_unwinder.c: unwinds real stack snapshots of the unwind_target fixture (built -O2
 * -fomit-frame-pointer) and checks the chains by symbol: deep chains, a thread to clone3, a qsort
 * callback through libc, a signal handler frame, the vdso, a PLT stub, a 16 KiB frame with a full
 * and an 8 KiB clipped copy, the frame-pointer fallback, depth limits and errors. Every snapshot is
 * unwound after the fixture was killed: the unwinder must not need the live process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unwind_capture.h"
#include "../../src/unwind_cfi.h"
#include "../../src/unwind_elf.h"

#include <gelf.h>
#include <sys/mman.h>
#include <unistd.h>
#include <libelf.h>

#define MAX_FRAMES 128

struct fixture_symbol {
	uint64_t lo, hi;
	char name[64];
};

static struct fixture_symbol *symbols;
static size_t n_symbols;
static uint64_t plt_ranges[3][2];
static struct unwind_elf *fixture_elf;

static int load_fixture_symbols(void **state)
{
	char path[4096];
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	size_t shstrndx, n_plt = 0;
	Elf *elf;
	int fd;

	snprintf(path, sizeof(path), "%s/unwind_target", SMOLDER_FIXTURE_DIR);
	fixture_elf = unwind_elf_open(path);
	fd = open(path, O_RDONLY);
	if (!fixture_elf || fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return -1;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		gelf_getshdr(scn, &shdr);
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (name && strncmp(name, ".plt", 4) == 0 && n_plt < 3) {
			plt_ranges[n_plt][0] = shdr.sh_addr;
			plt_ranges[n_plt++][1] = shdr.sh_addr + shdr.sh_size;
		}
		if (shdr.sh_type == SHT_SYMTAB) {
			Elf_Data *data = elf_getdata(scn, NULL);
			size_t count = shdr.sh_size / shdr.sh_entsize;

			symbols = calloc(count, sizeof(*symbols));
			for (size_t i = 0; i < count; i++) {
				GElf_Sym sym;

				gelf_getsym(data, (int)i, &sym);
				if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_size)
					continue;
				symbols[n_symbols].lo = sym.st_value;
				symbols[n_symbols].hi = sym.st_value + sym.st_size;
				snprintf(symbols[n_symbols++].name, sizeof(symbols[0].name), "%s",
					 elf_strptr(elf, shdr.sh_link, sym.st_name));
			}
		}
	}
	elf_end(elf);
	close(fd);
	return n_symbols ? 0 : -1;
}

static int free_fixture_symbols(void **state)
{
	free(symbols);
	unwind_elf_free(fixture_elf);
	return 0;
}

/* "name" for the fixture's functions ("plt" in its PLT), "libc", "vdso", or "?". */
static const char *frame_name(const struct capture *cap, uint64_t addr)
{
	const struct proc_map *m = proc_maps_find(&cap->maps, addr);
	size_t plen;
	int64_t delta;
	uint64_t vaddr;

	if (!m)
		return "?";
	if (strcmp(m->path, "[vdso]") == 0)
		return "vdso";
	if (strstr(m->path, "/libc.so"))
		return "libc";
	plen = strlen(m->path);
	if (plen < 14 || strcmp(m->path + plen - 14, "/unwind_target") != 0)
		return "?";
	if (unwind_elf_load_delta(fixture_elf, m->offset, &delta) < 0)
		return "?";
	vaddr = addr - m->start + m->offset + delta;
	for (size_t i = 0; i < 3; i++)
		if (vaddr >= plt_ranges[i][0] && vaddr < plt_ranges[i][1])
			return "plt";
	for (size_t i = 0; i < n_symbols; i++)
		if (vaddr >= symbols[i].lo && vaddr < symbols[i].hi)
			return symbols[i].name;
	return "?";
}

static void print_chain(const struct capture *cap, const uint64_t *ips, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		print_message("  #%u 0x%llx %s\n", i, (unsigned long long)ips[i],
			      frame_name(cap, ips[i]));
}

/* expected: space-separated names, leaf first; "NAME+" matches one or more frames named NAME. */
static bool chain_matches(const struct capture *cap, const uint64_t *ips, uint32_t n,
			  const char *expected)
{
	char buf[512], *save = NULL, *tok;
	uint32_t i = 0;

	snprintf(buf, sizeof(buf), "%s", expected);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		size_t len = strlen(tok);
		bool many = tok[len - 1] == '+';

		if (many)
			tok[len - 1] = '\0';
		if (i >= n || strcmp(frame_name(cap, ips[i]), tok) != 0)
			return false;
		i++;
		while (many && i < n && strcmp(frame_name(cap, ips[i]), tok) == 0)
			i++;
	}
	return i == n;
}

static void unwind_and_check(struct capture *cap, size_t clip, const char *expected,
			     uint32_t want_flags, uint32_t unwanted_flags)
{
	struct unwind_snapshot snap = capture_snapshot(cap, clip);
	uint64_t ips[MAX_FRAMES];
	struct unwind_result res;

	assert_int_equal(unwinder_unwind(cap->uw, &snap, ips, MAX_FRAMES, &res), 0);
	if (!chain_matches(cap, ips, res.n, expected) || (res.flags & want_flags) != want_flags ||
	    (res.flags & unwanted_flags)) {
		print_message("expected: %s (flags %#x), got flags %#x:\n", expected, want_flags,
			      res.flags);
		print_chain(cap, ips, res.n);
		fail();
	}
	assert_int_equal(ips[0], cap->regs.rip);
}

/* "ready" is written just before the leaf starts spinning: stop until the thread is in spin. */
static bool ip_in_spin(struct capture *cap)
{
	struct proc_maps maps;
	bool in;

	if (proc_maps_read(cap->pid, &maps) < 0)
		return false;
	cap->maps = maps;
	in = strcmp(frame_name(cap, cap->regs.rip), "spin") == 0;
	proc_maps_release(&maps);
	memset(&cap->maps, 0, sizeof(cap->maps));
	return in;
}

static void run_mode(const char *mode, bool (*want)(struct capture *), int tries,
		     const char *expected)
{
	struct capture cap;

	assert_int_equal(capture_begin(&cap, mode, want ? want : ip_in_spin, tries), 0);
	capture_end(&cap);
	unwind_and_check(&cap, 0, expected, UNWIND_COMPLETE,
			 UNWIND_TRUNCATED | UNWIND_NO_INFO | UNWIND_FP_USED);
	capture_release(&cap);
}

static void test_deep_chain(void **state)
{
	run_mode("deep", NULL, 5000,
		 "spin deep_leaf deep_d deep_c deep_b deep_a run_deep main libc+ _start");
}

/* A zombie's maps read as empty, successfully: a refresh then (samples still queued when a
 * launched command exits) must keep the maps it had, or every late sample unwinds to its leaf. */
static void test_zombie_keeps_maps(void **state)
{
	struct capture cap;
	siginfo_t info;
	pid_t pid;

	assert_int_equal(capture_begin(&cap, "deep", ip_in_spin, 5000), 0);
	pid = cap.pid;
	ptrace(PTRACE_DETACH, cap.tid, 0, 0);
	kill(pid, SIGKILL);
	/* Wait for the exit without reaping: the fixture stays a zombie. */
	assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
	assert_int_equal(unwinder_refresh_maps(cap.uw), -ESRCH);
	unwind_and_check(&cap, 0,
			 "spin deep_leaf deep_d deep_c deep_b deep_a run_deep main libc+ _start",
			 UNWIND_COMPLETE, UNWIND_TRUNCATED | UNWIND_NO_INFO);
	cap.tid = 0;
	capture_release(&cap);
}

static void test_thread_reaches_clone(void **state)
{
	/* start_thread, then clone3 whose CFI marks the return address undefined. */
	run_mode("thread", NULL, 5000, "spin thread_leaf thread_b thread_a thread_main libc+");
}

static void test_qsort_callback(void **state)
{
	run_mode("qsort", NULL, 5000,
		 "spin compare_leaf compare_ints libc+ run_qsort main libc+ _start");
}

static void test_signal_frame(void **state)
{
	struct capture cap;
	struct unwind_snapshot snap;
	uint64_t ips[MAX_FRAMES];
	struct unwind_result res;
	uint32_t i;

	/* handler, the libc restorer (__restore_rt), then the interrupted function. */
	run_mode("signal", NULL, 5000,
		 "spin handler_leaf on_signal libc interrupted run_signal main libc+ _start");

	/* The interrupted frame's address is its exact ip, not ip - 1: it is the instruction
	 * that was about to run, which the kernel saved in the ucontext on the stack. */
	assert_int_equal(capture_begin(&cap, "signal", ip_in_spin, 5000), 0);
	capture_end(&cap);
	snap = capture_snapshot(&cap, 0);
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, MAX_FRAMES, &res), 0);
	for (i = 0; i < res.n && strcmp(frame_name(&cap, ips[i]), "interrupted") != 0; i++)
		;
	assert_true(i < res.n);
	{
		/* struct rt_sigframe starts at the restorer frame's sp: pretcode (8), then
		 * ucontext: uc_flags 8, uc_link 8, uc_stack 24, then sigcontext whose rip is
		 * at offset 16 * 8. Find it as the word equal to our ip above the handler. */
		bool found = false;

		for (size_t off = 0; off + 8 <= cap.stack_len; off += 8) {
			uint64_t word;

			memcpy(&word, cap.stack + off, 8);
			if (word == ips[i])
				found = true;
		}
		assert_true(found);
	}
	capture_release(&cap);
}

static bool ip_in_vdso(struct capture *cap)
{
	struct proc_maps maps;
	const struct proc_map *m;
	bool in;

	if (proc_maps_read(cap->pid, &maps) < 0)
		return false;
	m = proc_maps_find(&maps, cap->regs.rip);
	in = m && strcmp(m->path, "[vdso]") == 0;
	proc_maps_release(&maps);
	return in;
}

static void test_vdso(void **state)
{
	run_mode("vdso", ip_in_vdso, 5000, "vdso+ libc+ vdso_loop run_vdso main libc+ _start");
}

static bool ip_in_plt(struct capture *cap)
{
	struct proc_maps maps;
	bool in;

	if (proc_maps_read(cap->pid, &maps) < 0)
		return false;
	cap->maps = maps;
	in = strcmp(frame_name(cap, cap->regs.rip), "plt") == 0;
	proc_maps_release(&maps);
	memset(&cap->maps, 0, sizeof(cap->maps));
	return in;
}

static void test_plt_stub(void **state)
{
	run_mode("plt", ip_in_plt, -100000, "plt plt_loop run_plt main libc+ _start");
}

static void test_big_frame_full_and_clipped(void **state)
{
	struct capture cap;

	assert_int_equal(capture_begin(&cap, "bigframe", ip_in_spin, 5000), 0);
	capture_end(&cap);
	assert_true(cap.stack_len > 16384 + 512);
	unwind_and_check(&cap, 0, "spin big_inner big_frame run_big main libc+ _start",
			 UNWIND_COMPLETE, UNWIND_TRUNCATED | UNWIND_NO_INFO);
	/* perf's default 8 KiB copy ends inside big_frame's 16 KiB array: the frames below it are
	 * still right, and the result says the copy was too short rather than "complete". */
	unwind_and_check(&cap, 8192, "spin big_inner big_frame", UNWIND_TRUNCATED,
			 UNWIND_COMPLETE | UNWIND_NO_INFO);
	capture_release(&cap);
}

static void test_max_depth(void **state)
{
	struct capture cap;
	struct unwind_snapshot snap;
	uint64_t ips[3];
	struct unwind_result res;

	assert_int_equal(capture_begin(&cap, "deep", ip_in_spin, 5000), 0);
	capture_end(&cap);
	snap = capture_snapshot(&cap, 0);
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, 3, &res), 0);
	assert_int_equal(res.n, 3);
	assert_int_equal(res.flags, UNWIND_MAX_DEPTH);
	assert_string_equal(frame_name(&cap, ips[2]), "deep_d");
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, 0, &res), 0);
	assert_int_equal(res.n, 0);
	capture_release(&cap);
}

/* A leaf without unwind info (its ip in non-code memory, like JIT code): the frame pointer is
 * followed when it points at a saved {rbp, return address} pair in the snapshot, and the unwind
 * continues with DWARF from the caller; with a bad frame pointer it stops with NO_INFO. */
static void test_frame_pointer_fallback(void **state)
{
	struct capture cap;
	struct unwind_snapshot snap;
	uint64_t ips[MAX_FRAMES], fake[2];
	struct unwind_result res;
	uint8_t *stack;

	assert_int_equal(capture_begin(&cap, "deep", ip_in_spin, 5000), 0);
	capture_end(&cap);
	stack = malloc(cap.stack_len + 16);
	assert_non_null(stack);
	fake[0] = cap.regs.rbp;
	fake[1] = cap.regs.rip + 1; /* a "return address" whose call site is the real ip */
	memcpy(stack, fake, 16);
	memcpy(stack + 16, cap.stack, cap.stack_len);
	snap = (struct unwind_snapshot){
		.ip = cap.regs.rsp - 64, /* in the stack mapping: no unwind info there */
		.sp = cap.regs.rsp - 16,
		.bp = cap.regs.rsp - 16,
		.stack = stack,
		.stack_len = (uint32_t)cap.stack_len + 16,
	};
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, MAX_FRAMES, &res), 0);
	if (!(res.flags & UNWIND_COMPLETE) || !(res.flags & UNWIND_FP_USED))
		print_chain(&cap, ips, res.n);
	assert_int_equal(res.flags, UNWIND_COMPLETE | UNWIND_FP_USED);
	assert_int_equal(ips[1], cap.regs.rip);
	assert_true(
		chain_matches(&cap, ips, res.n,
			      "? spin deep_leaf deep_d deep_c deep_b deep_a run_deep main libc+ "
			      "_start"));

	snap.bp = 8; /* not a frame pointer */
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, MAX_FRAMES, &res), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.flags, UNWIND_NO_INFO);
	free(stack);
	capture_release(&cap);
}

static void test_stats_and_errors(void **state)
{
	struct capture cap;
	struct unwind_snapshot snap;
	struct unwinder_stats stats;
	uint64_t ips[MAX_FRAMES];
	struct unwind_result res;

	assert_int_equal(capture_begin(&cap, "deep", ip_in_spin, 5000), 0);
	snap = capture_snapshot(&cap, 0);
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, MAX_FRAMES, &res), 0);
	snap = capture_snapshot(&cap, 64);
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, MAX_FRAMES, &res), 0);
	assert_int_equal(res.flags & (UNWIND_COMPLETE | UNWIND_TRUNCATED), UNWIND_TRUNCATED);
	unwinder_get_stats(cap.uw, &stats);
	assert_int_equal(stats.unwinds, 2);
	assert_int_equal(stats.complete, 1);
	assert_int_equal(stats.truncated, 1);
	assert_int_equal(stats.map_refreshes, 1);
	/* An ip in no known mapping (new code: dlopen, exec) re-reads the maps, at most once per
	 * rate-limit interval. */
	usleep(300000);
	snap = capture_snapshot(&cap, 0);
	snap.ip = 0x10000;
	snap.bp = 0;
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, MAX_FRAMES, &res), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.flags, UNWIND_NO_INFO);
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, MAX_FRAMES, &res), 0);
	unwinder_get_stats(cap.uw, &stats);
	assert_int_equal(stats.map_refreshes, 2);
	assert_int_equal(stats.no_info, 2);
	assert_int_equal(unwinder_refresh_maps(cap.uw), 0);
	capture_end(&cap);
	assert_int_equal(unwinder_refresh_maps(cap.uw), -ESRCH);
	/* The maps and objects survive a failed refresh. */
	snap = capture_snapshot(&cap, 0);
	assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, MAX_FRAMES, &res), 0);
	assert_int_equal(res.flags, UNWIND_COMPLETE);
	assert_int_equal(unwinder_unwind(cap.uw, NULL, ips, MAX_FRAMES, &res), -EINVAL);
	capture_release(&cap);

	errno = 0;
	assert_null(unwinder_new(0x3ffffff0));
	assert_int_equal(errno, ESRCH);
	unwinder_free(NULL);
}

static const struct fixture_symbol *symbol_named(const char *name)
{
	for (size_t i = 0; i < n_symbols; i++)
		if (strcmp(symbols[i].name, name) == 0)
			return &symbols[i];
	fail_msg("no symbol %s in the fixture", name);
	return NULL;
}

/* The compact rules computed from the fixture's own .eh_frame, checked against what its code
 * does: every function enters with CFA = rsp + 8 and the return address at CFA - 8; big_frame's
 * CFA sits more than its 16 KiB array above rsp; _start is the root; PLT stubs use DWARF
 * expressions (complex); addresses outside every FDE have no rule. */
static void test_cfi_rules(void **state)
{
	static const char *const functions[] = {
		"spin",	       "deep_leaf",   "deep_d",	      "deep_a",	      "run_deep",
		"big_inner",   "big_frame",   "compare_leaf", "compare_ints", "on_signal",
		"interrupted", "thread_main", "vdso_loop",    "plt_loop",     "main",
	};
	const struct fixture_symbol *sym;
	struct unwind_rule rule;
	int32_t deepest = 0;

	for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
		sym = symbol_named(functions[i]);
		unwind_cfi_rule(fixture_elf, sym->lo, &rule);
		assert_int_equal(rule.kind, UNWIND_RULE_SIMPLE);
		assert_int_equal(rule.cfa_reg, UNWIND_RULE_RSP);
		assert_int_equal(rule.cfa_off, 8);
		assert_int_equal(rule.ra_off, -8);
		assert_int_equal(rule.rbp_rule, UNWIND_RBP_SAME);
		for (uint64_t a = sym->lo; a < sym->hi; a++) {
			unwind_cfi_rule(fixture_elf, a, &rule);
			assert_int_equal(rule.kind, UNWIND_RULE_SIMPLE);
			assert_true(rule.cfa_off >= 8);
		}
	}
	sym = symbol_named("big_frame");
	for (uint64_t a = sym->lo; a < sym->hi; a++) {
		unwind_cfi_rule(fixture_elf, a, &rule);
		if (rule.cfa_off > deepest)
			deepest = rule.cfa_off;
	}
	assert_true(deepest > 16384);

	sym = symbol_named("_start");
	unwind_cfi_rule(fixture_elf, sym->lo + 1, &rule);
	assert_int_equal(rule.kind, UNWIND_RULE_ROOT);

	assert_true(plt_ranges[0][1] > plt_ranges[0][0] + 16);
	unwind_cfi_rule(fixture_elf, plt_ranges[0][0] + 16, &rule);
	assert_int_equal(rule.kind, UNWIND_RULE_COMPLEX);

	unwind_cfi_rule(fixture_elf, 0, &rule);
	assert_int_equal(rule.kind, UNWIND_RULE_NONE);
}

/* Address range of the function called name in the fixture file called fixture. */
static bool fixture_function(const char *fixture, const char *name, uint64_t *lo, uint64_t *hi)
{
	char path[4096];
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	bool found = false;
	Elf *elf;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", SMOLDER_FIXTURE_DIR, fixture);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_SYMTAB)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Sym sym;
			const char *sym_name;

			gelf_getsym(data, (int)i, &sym);
			sym_name = elf_strptr(elf, shdr.sh_link, sym.st_name);
			if (GELF_ST_TYPE(sym.st_info) == STT_FUNC && sym_name &&
			    strcmp(sym_name, name) == 0) {
				*lo = sym.st_value;
				*hi = sym.st_value + sym.st_size;
				found = true;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

/* record_bigframe built twice from one source: with .eh_frame, and with .debug_frame only. The
 * code is the same, so the rules read from .debug_frame must equal the .eh_frame ones at every
 * byte of every function (including the 12 KiB frame), where before there were none. */
static void test_debug_frame_rules(void **state)
{
	static const char *const functions[] = {"big_leaf", "big_frame", "big_outer", "main"};
	struct unwind_elf *eh = NULL, *dbg = NULL;
	int32_t deepest = 0;
	char path[4096];

	snprintf(path, sizeof(path), "%s/record_bigframe", SMOLDER_FIXTURE_DIR);
	eh = unwind_elf_open(path);
	snprintf(path, sizeof(path), "%s/record_bigframe_debugframe", SMOLDER_FIXTURE_DIR);
	dbg = unwind_elf_open(path);
	assert_non_null(eh);
	assert_non_null(dbg);
	assert_int_equal(eh->n_debug_fdes, 0);
	assert_true(dbg->n_debug_fdes >= 4);
	for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
		uint64_t eh_lo, eh_hi, dbg_lo, dbg_hi;

		assert_true(fixture_function("record_bigframe", functions[i], &eh_lo, &eh_hi));
		assert_true(fixture_function("record_bigframe_debugframe", functions[i], &dbg_lo,
					     &dbg_hi));
		assert_int_equal(eh_hi - eh_lo, dbg_hi - dbg_lo);
		for (uint64_t off = 0; off < eh_hi - eh_lo; off++) {
			struct unwind_rule want, got;

			unwind_cfi_rule(eh, eh_lo + off, &want);
			unwind_cfi_rule(dbg, dbg_lo + off, &got);
			assert_int_equal(want.kind, UNWIND_RULE_SIMPLE);
			if (memcmp(&want, &got, sizeof(want)) != 0) {
				print_message("%s+%#llx: .debug_frame rule differs\n", functions[i],
					      (unsigned long long)off);
				fail();
			}
			if (got.cfa_off > deepest)
				deepest = got.cfa_off;
		}
	}
	assert_true(deepest > 12 * 1024);
	{
		/* Without the index, nothing covers the code: .eh_frame has only crt1 and the PLT.
		 */
		size_t n = dbg->n_debug_fdes;
		uint64_t lo, hi;
		struct unwind_rule rule;

		assert_true(fixture_function("record_bigframe_debugframe", "big_leaf", &lo, &hi));
		dbg->n_debug_fdes = 0;
		unwind_cfi_rule(dbg, lo, &rule);
		dbg->n_debug_fdes = n;
		assert_int_equal(rule.kind, UNWIND_RULE_NONE);
	}
	unwind_elf_free(eh);
	unwind_elf_free(dbg);
}

/* unwinder_rule_at hands out the rules the unwinder applies (the allocation tracker's BPF walker
 * runs them): stepping the leaf by hand with its rule and resuming at the return address
 * (ip_is_return) must give the same frames as one full unwind, and the libc signal restorer's
 * return address must be reported as the signal trampoline. */
static void test_rule_at_and_resume(void **state)
{
	struct capture cap;
	struct unwind_snapshot snap, rest;
	struct unwind_rule rule;
	uint64_t full[MAX_FRAMES], tail[MAX_FRAMES], cfa, ra;
	struct unwind_result res, res2;
	uint32_t i;

	assert_int_equal(capture_begin(&cap, "signal", ip_in_spin, 5000), 0);
	capture_end(&cap);
	snap = capture_snapshot(&cap, 0);
	assert_int_equal(unwinder_unwind(cap.uw, &snap, full, MAX_FRAMES, &res), 0);
	assert_true(res.flags & UNWIND_COMPLETE);

	assert_int_equal(unwinder_rule_at(cap.uw, snap.ip, true, &rule), 0);
	assert_int_equal(rule.kind, UNWIND_RULE_SIMPLE);
	assert_int_equal(rule.cfa_reg, UNWIND_RULE_RSP);
	cfa = snap.sp + (int64_t)rule.cfa_off;
	memcpy(&ra, cap.stack + (cfa + (int64_t)rule.ra_off - snap.sp), 8);
	assert_int_equal(ra - 1, full[1]);
	rest = snap;
	rest.ip = ra;
	rest.sp = cfa;
	rest.stack = cap.stack + (cfa - snap.sp);
	rest.stack_len = (uint32_t)(cap.stack_len - (cfa - snap.sp));
	rest.ip_is_return = true;
	assert_int_equal(unwinder_unwind(cap.uw, &rest, tail, MAX_FRAMES, &res2), 0);
	assert_int_equal(res2.n, res.n - 1);
	assert_true(res2.flags & UNWIND_COMPLETE);
	assert_memory_equal(tail, full + 1, res2.n * sizeof(tail[0]));

	/* on_signal returns into the restorer; the frame after it is the interrupted one. */
	for (i = 0; i + 1 < res.n && strcmp(frame_name(&cap, full[i]), "on_signal") != 0; i++)
		;
	assert_true(i + 2 < res.n);
	assert_int_equal(unwinder_rule_at(cap.uw, full[i + 1] + 1, false, &rule), 0);
	assert_int_equal(rule.kind, UNWIND_RULE_SIGRETURN);
	assert_int_equal(unwinder_rule_at(cap.uw, full[i] + 1, false, &rule), 0);
	assert_int_equal(rule.kind, UNWIND_RULE_SIMPLE);
	assert_int_equal(unwinder_rule_at(cap.uw, 16, false, &rule), -ENOENT);
	assert_int_equal(rule.kind, UNWIND_RULE_NONE);
	capture_release(&cap);
}

static void assert_paths_agree(struct capture *cap, size_t clip)
{
	struct unwind_snapshot snap = capture_snapshot(cap, clip);
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES];
	struct unwind_result rf, rs;

	unwinder_set_fast_path(cap->uw, true);
	assert_int_equal(unwinder_unwind(cap->uw, &snap, fast, MAX_FRAMES, &rf), 0);
	unwinder_set_fast_path(cap->uw, false);
	assert_int_equal(unwinder_unwind(cap->uw, &snap, slow, MAX_FRAMES, &rs), 0);
	unwinder_set_fast_path(cap->uw, true);
	if (rf.n != rs.n || rf.flags != rs.flags || memcmp(fast, slow, rf.n * sizeof(fast[0]))) {
		print_message("fast path (flags %#x):\n", rf.flags);
		print_chain(cap, fast, rf.n);
		print_message("libunwind (flags %#x):\n", rs.flags);
		print_chain(cap, slow, rs.n);
		fail();
	}
}

/* Every stop must unwind to the root, except inside ld.so's lazy-binding trampoline
 * (_dl_runtime_resolve), whose CFA is computed from rbx: a snapshot carries only ip, sp and bp,
 * so neither path can step it (a known limit; the first call through each PLT slot passes there).
 */
static void assert_complete(struct capture *cap)
{
	struct unwind_snapshot snap = capture_snapshot(cap, 0);
	const struct proc_map *m = proc_maps_find(&cap->maps, cap->regs.rip);
	uint64_t ips[MAX_FRAMES];
	struct unwind_result res;

	assert_int_equal(unwinder_unwind(cap->uw, &snap, ips, MAX_FRAMES, &res), 0);
	if (m && strstr(m->path, "/ld-linux"))
		return; /* both paths agreed (checked before); completeness depends on the ip */
	if (res.flags != UNWIND_COMPLETE) {
		print_message("incomplete (flags %#x):\n", res.flags);
		print_chain(cap, ips, res.n);
		fail();
	}
}

static int steps_left;

static bool after_steps(struct capture *cap)
{
	return steps_left-- <= 0;
}

/* The fast path must give exactly what libunwind gives, frame for frame, on every kind of stack,
 * including stops at arbitrary instructions (prologues, epilogues, libc, the vdso). */
/* JIT code (anonymous executable memory, no unwind info): a return address there gets the
 * frame-pointer rule the in-kernel walker can apply; an interrupted ip (exact) does not, its
 * prologue may not have pushed rbp yet. */
static void test_rule_at_jit_code(void **state)
{
	struct unwind_rule rule;
	struct unwinder *uw;
	uint8_t *code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *data = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(code != MAP_FAILED && data != MAP_FAILED);
	uw = unwinder_new(getpid());
	assert_non_null(uw);
	assert_int_equal(unwinder_rule_at(uw, (uint64_t)code + 64, false, &rule), 0);
	assert_int_equal(rule.kind, UNWIND_RULE_SIMPLE);
	assert_int_equal(rule.cfa_reg, UNWIND_RULE_RBP);
	assert_int_equal(rule.cfa_off, 16);
	assert_int_equal(rule.ra_off, -8);
	assert_int_equal(rule.rbp_rule, UNWIND_RBP_SAVED);
	assert_int_equal(rule.rbp_off, -16);
	assert_int_equal(unwinder_rule_at(uw, (uint64_t)code + 64, true, &rule), 0);
	assert_int_equal(rule.kind, UNWIND_RULE_NONE);
	/* Not code: no rule, and -ENOENT (no code known there yet). */
	assert_int_equal(unwinder_rule_at(uw, (uint64_t)data + 64, false, &rule), -ENOENT);
	assert_int_equal(rule.kind, UNWIND_RULE_NONE);
	unwinder_free(uw);
	munmap(code, 4096);
	munmap(data, 4096);
}

static void test_fast_path_matches_libunwind(void **state)
{
	static const char *const modes[] = {"deep", "thread", "qsort", "signal", "bigframe"};
	static const char *const busy[] = {"vdso", "plt", "regs"};
	struct capture cap;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(capture_begin(&cap, modes[i], ip_in_spin, 5000), 0);
		capture_end(&cap);
		assert_paths_agree(&cap, 0);
		assert_paths_agree(&cap, 8192);
		capture_release(&cap);
	}
	for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++) {
		for (int stop = 0; stop < 40; stop++) {
			/* Single-step a varying number of instructions: stops in prologues,
			 * epilogues, libc, the PLT and the vdso. */
			steps_left = stop * 3;
			assert_int_equal(capture_begin(&cap, busy[i], after_steps, -1000), 0);
			capture_end(&cap);
			assert_paths_agree(&cap, 0);
			assert_complete(&cap);
			capture_release(&cap);
		}
	}
}

/* unwind_target linked -static (no .eh_frame_hdr): the search table built from .eh_frame serves
 * both paths, the fast rules and libunwind's (which reads it through access_mem), with the same
 * result; the deep and threaded chains reach their roots. */
static void test_static_binary(void **state)
{
	static const char *const modes[] = {"deep", "thread", "signal"};
	struct capture cap;

	(void)state;
	capture_program = "unwind_target_static";
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct unwind_snapshot snap;
		uint64_t ips[MAX_FRAMES];
		struct unwind_result res;

		assert_int_equal(capture_begin(&cap, modes[i], NULL, 0), 0);
		capture_end(&cap);
		snap = capture_snapshot(&cap, 0);
		assert_int_equal(unwinder_unwind(cap.uw, &snap, ips, MAX_FRAMES, &res), 0);
		if (!(res.flags & UNWIND_COMPLETE)) {
			print_message("%s: flags %#x\n", modes[i], res.flags);
			print_chain(&cap, ips, res.n);
			fail();
		}
		assert_true(res.n >= 4);
		assert_paths_agree(&cap, 0);
		capture_release(&cap);
	}
	capture_program = "unwind_target";
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_zombie_keeps_maps),
		cmocka_unit_test(test_thread_reaches_clone),
		cmocka_unit_test(test_qsort_callback),
		cmocka_unit_test(test_signal_frame),
		cmocka_unit_test(test_vdso),
		cmocka_unit_test(test_plt_stub),
		cmocka_unit_test(test_big_frame_full_and_clipped),
		cmocka_unit_test(test_max_depth),
		cmocka_unit_test(test_frame_pointer_fallback),
		cmocka_unit_test(test_stats_and_errors),
		cmocka_unit_test(test_cfi_rules),
		cmocka_unit_test(test_debug_frame_rules),
		cmocka_unit_test(test_rule_at_and_resume),
		cmocka_unit_test(test_fast_path_matches_libunwind),
		cmocka_unit_test(test_rule_at_jit_code),
		cmocka_unit_test(test_static_binary),
	};

	return cmocka_run_group_tests(tests, load_fixture_symbols, free_fixture_symbols);
}
