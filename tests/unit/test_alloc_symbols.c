/* test_alloc_symbols.c: allocator name classification, the prologue decoder that picks an
 * emulated probe instruction (on hand-written x86-64 bytes), and the ELF scan on the system libc,
 * tcmalloc, a synthetic ELF with known aliases and code, and files that are not ELF. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smolder/alloc_symbols.h"
#include "smolder/events.h"

#define LIBC_PATH     "/lib/x86_64-linux-gnu/libc.so.6"
#define TCMALLOC_PATH "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"

#define REG(r)	 ALLOC_REG_BIT(ALLOC_REG_##r)
#define KEEP_RDI REG(RDI)

/* ---- alloc_symbols_kind ---- */

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Every name in names has kind and is_delete. */
static void check_kinds(const char *const *names, size_t n, uint32_t want_kind, bool want_delete)
{
	for (size_t i = 0; i < n; i++) {
		bool is_delete = !want_delete; /* must be overwritten */
		uint32_t kind = alloc_symbols_kind(names[i], &is_delete);

		if (kind != want_kind || is_delete != want_delete)
			fail_msg("%s: kind %u is_delete %d, want %u %d", names[i], kind, is_delete,
				 want_kind, want_delete);
	}
}

static void check_kind(const char *name, uint32_t want_kind)
{
	check_kinds(&name, 1, want_kind, false);
}

static void test_kind_standard(void **state)
{
	static const char *const mallocs[] = {"malloc", "valloc"};
	static const char *const frees[] = {"free", "cfree"};
	static const char *const memaligns[] = {"aligned_alloc", "memalign"};

	(void)state;
	check_kinds(mallocs, N_OF(mallocs), SMOLDER_ALLOC_MALLOC, false);
	check_kinds(frees, N_OF(frees), SMOLDER_ALLOC_FREE, false);
	check_kinds(memaligns, N_OF(memaligns), SMOLDER_ALLOC_MEMALIGN, false);
	check_kind("calloc", SMOLDER_ALLOC_CALLOC);
	check_kind("realloc", SMOLDER_ALLOC_REALLOC);
	check_kind("reallocarray", SMOLDER_ALLOC_REALLOCARRAY);
	check_kind("posix_memalign", SMOLDER_ALLOC_POSIX_MEMALIGN);
	check_kind("pvalloc", SMOLDER_ALLOC_PVALLOC);
	/* is_delete is optional */
	assert_int_equal(alloc_symbols_kind("malloc", NULL), SMOLDER_ALLOC_MALLOC);
	assert_int_equal(alloc_symbols_kind("nope", NULL), 0);
}

static void test_kind_cxx(void **state)
{
	/* operator new / new[]: plain, nothrow, aligned, aligned nothrow */
	static const char *const news[] = {
		"_Znwm",
		"_Znam",
		"_ZnwmRKSt9nothrow_t",
		"_ZnamRKSt9nothrow_t",
		"_ZnwmSt11align_val_t",
		"_ZnamSt11align_val_t",
		"_ZnwmSt11align_val_tRKSt9nothrow_t",
		"_ZnamSt11align_val_tRKSt9nothrow_t",
	};
	/* operator delete / delete[]: plain, sized, aligned, sized aligned, nothrow */
	static const char *const deletes[] = {
		"_ZdlPv",
		"_ZdaPv",
		"_ZdlPvm",
		"_ZdaPvm",
		"_ZdlPvSt11align_val_t",
		"_ZdaPvSt11align_val_t",
		"_ZdlPvmSt11align_val_t",
		"_ZdaPvmSt11align_val_t",
		"_ZdlPvRKSt9nothrow_t",
		"_ZdaPvRKSt9nothrow_t",
		"_ZdlPvSt11align_val_tRKSt9nothrow_t",
		"_ZdaPvSt11align_val_tRKSt9nothrow_t",
	};
	/* 32-bit size_t (j) variants and placement new/delete are not this ABI's allocators */
	static const char *const others[] = {"_Znwj", "_Znaj", "_ZnwmPv", "_ZdlPvS_"};

	(void)state;
	check_kinds(news, N_OF(news), SMOLDER_ALLOC_MALLOC, false);
	check_kinds(deletes, N_OF(deletes), SMOLDER_ALLOC_FREE, true);
	for (size_t i = 0; i < N_OF(others); i++)
		assert_int_equal(alloc_symbols_kind(others[i], NULL), 0);
}

static void test_kind_jemalloc_tcmalloc(void **state)
{
	/* jemalloc's API, unprefixed and with --with-jemalloc-prefix=je_ */
	static const char *const je_mallocs[] = {"mallocx", "je_malloc", "je_mallocx", "je_valloc"};
	static const char *const je_reallocs[] = {"rallocx", "je_realloc", "je_rallocx"};
	static const char *const je_frees[] = {"sdallocx", "dallocx", "je_free", "je_sdallocx",
					       "je_dallocx"};
	static const char *const xallocx[] = {"xallocx", "je_xallocx"};
	/* gperftools */
	static const char *const tc_mallocs[] = {"tc_malloc",
						 "tc_malloc_skip_new_handler",
						 "tc_valloc",
						 "tc_new",
						 "tc_newarray",
						 "tc_new_nothrow",
						 "tc_newarray_nothrow",
						 "tc_new_aligned",
						 "tc_newarray_aligned",
						 "tc_new_aligned_nothrow",
						 "tc_newarray_aligned_nothrow"};
	static const char *const tc_frees[] = {"tc_free", "tc_free_sized", "tc_cfree"};
	static const char *const tc_deletes[] = {"tc_delete",
						 "tc_deletearray",
						 "tc_delete_nothrow",
						 "tc_deletearray_nothrow",
						 "tc_delete_sized",
						 "tc_deletearray_sized",
						 "tc_delete_aligned",
						 "tc_deletearray_aligned",
						 "tc_delete_sized_aligned",
						 "tc_deletearray_sized_aligned",
						 "tc_delete_aligned_nothrow",
						 "tc_deletearray_aligned_nothrow"};

	(void)state;
	check_kinds(je_mallocs, N_OF(je_mallocs), SMOLDER_ALLOC_MALLOC, false);
	check_kinds(je_reallocs, N_OF(je_reallocs), SMOLDER_ALLOC_REALLOC, false);
	check_kinds(je_frees, N_OF(je_frees), SMOLDER_ALLOC_FREE, false);
	check_kinds(xallocx, N_OF(xallocx), SMOLDER_ALLOC_XALLOCX, false);
	check_kind("je_calloc", SMOLDER_ALLOC_CALLOC);
	check_kind("je_posix_memalign", SMOLDER_ALLOC_POSIX_MEMALIGN);
	check_kind("je_aligned_alloc", SMOLDER_ALLOC_MEMALIGN);
	check_kinds(tc_mallocs, N_OF(tc_mallocs), SMOLDER_ALLOC_MALLOC, false);
	check_kinds(tc_frees, N_OF(tc_frees), SMOLDER_ALLOC_FREE, false);
	check_kinds(tc_deletes, N_OF(tc_deletes), SMOLDER_ALLOC_FREE, true);
	check_kind("tc_calloc", SMOLDER_ALLOC_CALLOC);
	check_kind("tc_realloc", SMOLDER_ALLOC_REALLOC);
	check_kind("tc_memalign", SMOLDER_ALLOC_MEMALIGN);
	check_kind("tc_posix_memalign", SMOLDER_ALLOC_POSIX_MEMALIGN);
	check_kind("tc_pvalloc", SMOLDER_ALLOC_PVALLOC);
}

static void test_kind_not_allocators(void **state)
{
	static const char *const names[] = {
		"",
		"mallo",
		"malloc2",
		"Malloc",
		"malloc@@GLIBC_2.2.5", /* versions are stripped by the scan, not here */
		"__libc_malloc",
		"malloc_usable_size",
		"malloc_trim",
		"tc_malloc_size",
		"tc_nallocx",
		"nallocx",
		"je_",
		"je_nope",
		"je__Znwm",	/* je_ followed by '_' is not jemalloc's prefix */
		"je_tc_malloc", /* tcmalloc names are never je_-prefixed */
		"je_je_malloc",
		"strdup",
		"mmap",
		"_ZdlPvX"};

	(void)state;
	for (size_t i = 0; i < N_OF(names); i++) {
		bool is_delete = false;

		if (alloc_symbols_kind(names[i], &is_delete) != 0)
			fail_msg("'%s' classified as an allocator", names[i]);
	}
}

/* ---- alloc_probe_choose_offset ---- */

struct probe_case {
	const uint8_t *code;
	size_t len;	  /* bytes given to the decoder */
	size_t func_size; /* 0: same as len */
	uint32_t keep_regs;
	bool keep_sp;
	uint32_t want_off;
	bool want_emulated;
	const char *what;
};

/* bytes is a string literal of hex escapes; its length is the code length */
#define CASE(bytes, func_size, keep_regs, keep_sp, want_off, want_emulated, what)                  \
	{                                                                                          \
		(const uint8_t *)(bytes), sizeof(bytes) - 1, func_size, keep_regs, keep_sp,        \
			want_off, want_emulated, what                                              \
	}

static void check_probe_cases(const struct probe_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool emulated = !c[i].want_emulated; /* must be overwritten */
		uint32_t off = alloc_probe_choose_offset(c[i].code, c[i].len,
							 c[i].func_size ? c[i].func_size : c[i].len,
							 c[i].keep_regs, c[i].keep_sp, &emulated);

		if (off != c[i].want_off || emulated != c[i].want_emulated)
			fail_msg("%s: offset %u emulated %d, want %u %d", c[i].what, off, emulated,
				 c[i].want_off, c[i].want_emulated);
	}
}

/* The cases allocator prologues actually open with. */
static void test_probe_prologues(void **state)
{
	static const struct probe_case c[] = {
		CASE("\x48\x85\xff\x0f\x84\xbf\x00\x00\x00\x55\x48\x8d\x77\xf0", 200, KEEP_RDI,
		     false, 3, true, "glibc free: test %rdi,%rdi; je rel32 (probe the je)"),
		CASE("\x48\x85\xff\x74\x10\x55", 64, KEEP_RDI, false, 3, true,
		     "test %rdi,%rdi; je rel8"),
		CASE("\x55\x48\x89\xe5\x48\x85\xff\x74\x02", 0, KEEP_RDI, true, 0, true,
		     "push %rbp first: emulated at the entry"),
		CASE("\x41\x54\x55\x53\x48\x89\xfb", 0, KEEP_RDI, true, 0, true,
		     "push %r12 (REX.B) first, as glibc malloc"),
		CASE("\xf3\x0f\x1e\xfa\x55\x48\x89\xe5", 0, KEEP_RDI, true, 4, true,
		     "endbr64; push %rbp: probe the push"),
		CASE("\xf3\x0f\x1e\xfa\x48\x85\xff\x74\x05", 0, KEEP_RDI, false, 7, true,
		     "endbr64; test %rdi,%rdi; je"),
		CASE("\x48\x89\xfb\x48\x85\xdb\x74\x05", 0, KEEP_RDI, true, 6, true,
		     "reading a kept register is fine: mov %rdi,%rbx; test; je"),
		CASE("\x80\x3d\x46\x1b\x14\x00\x00\x0f\x84\xf8\x01\x00\x00", 0, KEEP_RDI, true, 7,
		     true, "cmpb $0,rip-relative; je (glibc malloc's hook check)"),
		CASE("\x48\x8b\x44\x24\x08\x74\x00", 0, KEEP_RDI, true, 5, true,
		     "mov 0x8(%rsp),%rax (SIB + disp8); je"),
		CASE("\x48\x39\xf7\x72\x04", 0, KEEP_RDI | REG(RSI), true, 3, true,
		     "cmp %rsi,%rdi; jb"),
		CASE("\x90\x48\x85\xff", 0, KEEP_RDI, false, 0, true, "nop at the entry"),
		CASE("\x66\x90\x48\x85\xff", 0, KEEP_RDI, false, 0, true,
		     "xchg %ax,%ax (66 90) is a nop the kernel emulates"),
		CASE("\x48\x89\xfb\xe8\x10\x00\x00\x00", 32, KEEP_RDI, true, 3, true,
		     "mov %rdi,%rbx; call rel32 (a call is emulated)"),
		CASE("\x48\x89\xfb\xe9\x10\x00\x00\x00", 32, KEEP_RDI, false, 3, true,
		     "mov %rdi,%rbx; jmp rel32 (tail jump)"),
	};

	(void)state;
	check_probe_cases(c, sizeof(c) / sizeof(c[0]));
}

/* Instructions that write what the probe must still see end the search. */
static void test_probe_register_writes(void **state)
{
	static const struct probe_case c[] = {
		CASE("\x48\x89\xf7\x74\x05", 0, KEEP_RDI, false, 0, false,
		     "mov %rsi,%rdi overwrites rdi"),
		CASE("\x48\x89\xf7\x74\x05", 0, REG(RSI), false, 3, true,
		     "mov %rsi,%rdi is harmless when only rsi is kept"),
		CASE("\x31\xff\x74\x05", 0, KEEP_RDI, false, 0, false,
		     "xor %edi,%edi (32-bit write clears rdi)"),
		CASE("\x48\x8d\x7e\x08\x74\x05", 0, KEEP_RDI, false, 0, false,
		     "lea 0x8(%rsi),%rdi"),
		CASE("\x8b\x38\x74\x05", 0, KEEP_RDI, false, 0, false, "mov (%rax),%edi"),
		CASE("\xbe\x00\x00\x00\x00\x74\x05", 0, KEEP_RDI | REG(RSI), false, 0, false,
		     "mov $0,%esi before je: realloc keeps rsi"),
		CASE("\xbe\x00\x00\x00\x00\x74\x05", 0, KEEP_RDI, false, 5, true,
		     "mov $0,%esi before je: free keeps only rdi"),
		CASE("\x48\xba\x01\x02\x03\x04\x05\x06\x07\x08\x74\x05", 0,
		     KEEP_RDI | REG(RSI) | REG(RDX), false, 0, false,
		     "movabs $imm64,%rdx before je: reallocarray keeps rdx"),
		CASE("\x48\xba\x01\x02\x03\x04\x05\x06\x07\x08\x74\x05", 0, KEEP_RDI, false, 10,
		     true, "movabs $imm64,%rdx before je: imm64 length decoded when rdx is free"),
		CASE("\x49\x89\xff\x74\x05", 0, KEEP_RDI, false, 3, true,
		     "mov %rdi,%r15 (REX.B) writes r15, not rdi"),
		CASE("\x4c\x89\xff\x74\x05", 0, KEEP_RDI, false, 0, false,
		     "mov %r15,%rdi (REX.R source) writes rdi"),
		CASE("\x4c\x89\xff\x74\x05", 0, ALLOC_REG_BIT(15), false, 3, true,
		     "mov %r15,%rdi does not write r15"),
		CASE("\x4c\x8b\xff\x74\x05", 0, KEEP_RDI, false, 3, true,
		     "mov %rdi,%r15 (8b form, REX.R destination) writes r15, not rdi"),
		CASE("\x4c\x8b\xff\x74\x05", 0, ALLOC_REG_BIT(15), false, 0, false,
		     "mov %rdi,%r15 (8b form) writes r15"),
		CASE("\x49\x8b\xff\x74\x05", 0, KEEP_RDI, false, 0, false,
		     "mov %r15,%rdi (8b form, REX.B source) writes rdi"),
		CASE("\x88\xc7\x74\x05", 0, ALLOC_REG_BIT(3), false, 0, false,
		     "mov %al,%bh (no REX: byte register 7 is bh, part of rbx)"),
		CASE("\x40\x88\xc7\x74\x05", 0, KEEP_RDI, false, 0, false,
		     "mov %al,%dil (REX: byte register 7 is dil)"),
		CASE("\x48\xf7\xe1\x74\x05", 0, REG(RDX), false, 0, false,
		     "mul %rcx writes rdx:rax"),
		CASE("\x48\x83\xc7\x01\x74\x05", 0, KEEP_RDI, false, 0, false, "add $1,%rdi"),
		CASE("\x48\x83\xff\x01\x74\x05", 0, KEEP_RDI, false, 4, true,
		     "cmp $1,%rdi only reads"),
		CASE("\x48\xc1\xe7\x04\x74\x05", 0, KEEP_RDI, false, 0, false, "shl $4,%rdi"),
		CASE("\x48\xf7\xdf\x74\x05", 0, KEEP_RDI, false, 0, false, "neg %rdi"),
		CASE("\xc7\xc7\x07\x00\x00\x00\x74\x05", 0, KEEP_RDI, false, 0, false,
		     "movl $7,%edi (c7 /0)"),
		/* return probes need the return address at (%rsp) when the probe fires */
		CASE("\x48\x83\xec\x18\x74\x05", 0, KEEP_RDI, true, 0, false,
		     "sub $0x18,%rsp before je: a return probe stays at the entry"),
		CASE("\x48\x83\xec\x18\x74\x05", 0, KEEP_RDI, false, 4, true,
		     "sub $0x18,%rsp before je: an entry probe may move"),
		CASE("\x48\x89\xfc\x74\x05", 0, KEEP_RDI, true, 0, false,
		     "mov %rdi,%rsp before je, return probe"),
	};

	(void)state;
	check_probe_cases(c, sizeof(c) / sizeof(c[0]));
}

/* Truncated code, unknown instructions and branches back into the prologue: the entry. */
static void test_probe_fallbacks(void **state)
{
	static const struct probe_case c[] = {
		CASE("", 1, KEEP_RDI, false, 0, false, "no code at all"),
		CASE("\x48\x85", 0, KEEP_RDI, false, 0, false, "test with its ModRM cut off"),
		CASE("\x48\x85\xff", 0, KEEP_RDI, false, 0, false, "test, then the function ends"),
		CASE("\x48\x85\xff\x74", 0, KEEP_RDI, false, 0, false,
		     "je rel8 missing its displacement"),
		CASE("\x48\x85\xff\x0f\x84\x00\x00\x00", 0, KEEP_RDI, false, 0, false,
		     "je rel32 one byte short"),
		CASE("\x48\x89\xfb\xe8\x00\x00\x00", 0, KEEP_RDI, false, 0, false,
		     "call rel32 one byte short"),
		CASE("\xb8\x01", 0, KEEP_RDI, false, 0, false, "mov imm32 cut off"),
		CASE("\x48", 0, KEEP_RDI, false, 0, false, "only a REX prefix"),
		CASE("\x55", 0, KEEP_RDI, true, 0, true, "a single push"),
		CASE("\xc3", 0, KEEP_RDI, false, 0, false, "ret (unknown to the decoder)"),
		CASE("\x0f\x0b\x74\x00", 0, KEEP_RDI, false, 0, false, "ud2"),
		CASE("\x48\x85\xff\xff\x25\x00\x00\x00\x00", 0, KEEP_RDI, false, 0, false,
		     "test; jmp *rip-relative (unknown)"),
		CASE("\x48\x85\xff\x0f\x29\x04\x24\x74\x00", 0, KEEP_RDI, false, 0, false,
		     "test; movaps (unknown SSE) before je"),
		CASE("\x66\x55", 0, KEEP_RDI, false, 0, false,
		     "pushw (66 55) is not emulated by the kernel"),
		/* test (0); je +5 (3 -> 10); xor %eax,%eax (5); jmp -6 (7 -> 3): a loop back to the
		 * je would count one call twice */
		CASE("\x48\x85\xff\x74\x05\x31\xc0\xeb\xfa\xc3\xc3", 0, KEEP_RDI, false, 0, false,
		     "jmp back into the prologue"),
		CASE("\x48\x85\xff\x74\x05\x31\xc0\xeb\x00\xc3\xc3", 0, KEEP_RDI, false, 3, true,
		     "same code, jmp to the next instruction"),
		CASE("\x48\x85\xff\x74\x08\x31\xc0\x0f\x85\xf6\xff\xff\xff", 0, KEEP_RDI, false, 0,
		     false, "jcc rel32 back to the probed je"),
		CASE("\x48\x85\xff\x74\x08\x31\xc0\xe8\xf7\xff\xff\xff", 0, KEEP_RDI, false, 0,
		     false, "call rel32 into the prologue"),
	};

	(void)state;
	check_probe_cases(c, sizeof(c) / sizeof(c[0]));
}

/* The search is bounded: a long run of harmless instructions ends at the entry. */
static void test_probe_long_prologue(void **state)
{
	uint8_t code[64 * 3 + 2];
	size_t n = 0;
	bool emulated = true;

	(void)state;
	for (int i = 0; i < 3; i++) { /* mov %rax,%rcx */
		code[n++] = 0x48;
		code[n++] = 0x89;
		code[n++] = 0xc1;
	}
	code[n++] = 0x74;
	code[n++] = 0x00;
	assert_int_equal(alloc_probe_choose_offset(code, n, n, KEEP_RDI, true, &emulated), 9);
	assert_true(emulated);

	n = 0;
	for (int i = 0; i < 64; i++) {
		code[n++] = 0x48;
		code[n++] = 0x89;
		code[n++] = 0xc1;
	}
	code[n++] = 0x74;
	code[n++] = 0x00;
	assert_int_equal(alloc_probe_choose_offset(code, n, n, KEEP_RDI, true, &emulated), 0);
	assert_false(emulated);
}

/* len may be shorter than the function: only code[0..len) is read (ASan checks). */
static void test_probe_reads_within_len(void **state)
{
	static const uint8_t full[] = {0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00};
	bool emulated = true;

	(void)state;
	for (size_t len = 0; len < sizeof(full); len++) {
		uint8_t *copy = malloc(len ? len : 1);

		assert_non_null(copy);
		memcpy(copy, full, len);
		assert_int_equal(
			alloc_probe_choose_offset(copy, len, 200, KEEP_RDI, false, &emulated), 0);
		assert_false(emulated);
		free(copy);
	}
	assert_int_equal(
		alloc_probe_choose_offset(full, sizeof(full), 200, KEEP_RDI, false, &emulated), 3);
	assert_true(emulated);
}

/* ---- alloc_symbols_scan: helpers ---- */

static const struct alloc_probe_point *find_point(const struct alloc_probe_set *set,
						  const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->points[i].name, name) == 0)
			return &set->points[i];
	return NULL;
}

static const struct alloc_probe_point *find_vaddr(const struct alloc_probe_set *set, uint64_t vaddr)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->points[i].vaddr == vaddr)
			return &set->points[i];
	return NULL;
}

/* Invariants of every scan: one point per address, names without versions, offsets inside the
 * file, a delta consistent with the file offset, return probes for everything but releases. */
static void check_set_invariants(const struct alloc_probe_set *set, const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	for (size_t i = 0; i < set->n; i++) {
		const struct alloc_probe_point *p = &set->points[i];
		bool is_delete;

		assert_non_null(p->name);
		assert_null(strchr(p->name, '@'));
		assert_int_equal(alloc_symbols_kind(p->name, &is_delete), p->kind);
		assert_int_equal(p->retprobe, p->kind != SMOLDER_ALLOC_FREE);
		assert_true(p->vaddr != 0);
		assert_true(p->file_offset < (uint64_t)st.st_size);
		assert_true(p->file_offset >= p->probe_delta);
		if (p->probe_delta > 0)
			assert_true(p->emulated);
		for (size_t j = i + 1; j < set->n; j++)
			if (set->points[j].vaddr == p->vaddr)
				fail_msg("%s and %s share %#llx", p->name, set->points[j].name,
					 (unsigned long long)p->vaddr);
	}
}

static int read_at(const char *path, uint64_t off, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* The loaded copy of path's symbol name and its vaddr in the file (load address - base). */
static void *loaded_symbol(void *handle, const char *name, uint64_t *vaddr)
{
	void *addr = dlsym(handle, name);
	Dl_info info;

	assert_non_null(addr);
	assert_int_not_equal(dladdr(addr, &info), 0);
	*vaddr = (uint64_t)((uintptr_t)addr - (uintptr_t)info.dli_fbase);
	return addr;
}

/* An opcode at which the kernel emulates rather than single-steps (independent of the
 * decoder's own tables: jcc, jmp, call, push, nop). */
static bool emulated_opcode(const uint8_t *b)
{
	if (b[0] == 0x41)
		b++; /* push %r8..%r15 */
	return (b[0] >= 0x70 && b[0] <= 0x7f) || (b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f) ||
	       b[0] == 0xe8 || b[0] == 0xe9 || b[0] == 0xeb || (b[0] >= 0x50 && b[0] <= 0x57) ||
	       b[0] == 0x90;
}

/* ---- alloc_symbols_scan on the system libc ---- */

static void test_scan_libc(void **state)
{
	static const struct {
		const char *name;
		uint32_t kind;
	} want[] = {
		{"malloc", SMOLDER_ALLOC_MALLOC},
		{"calloc", SMOLDER_ALLOC_CALLOC},
		{"realloc", SMOLDER_ALLOC_REALLOC},
		{"free", SMOLDER_ALLOC_FREE},
		{"posix_memalign", SMOLDER_ALLOC_POSIX_MEMALIGN},
		{"aligned_alloc", SMOLDER_ALLOC_MEMALIGN},
	};
	struct alloc_probe_set set = {0};
	const struct alloc_probe_point *p;
	void *libc;
	uint64_t vaddr, memalign_vaddr;

	(void)state;
	assert_int_equal(alloc_symbols_scan(LIBC_PATH, &set), 0);
	check_set_invariants(&set, LIBC_PATH);
	libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(libc);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const uint8_t *mem;
		uint8_t file[16];

		p = find_point(&set, want[i].name);
		if (!p)
			fail_msg("libc: no probe point named %s", want[i].name);
		assert_int_equal(p->kind, want[i].kind);
		assert_false(p->is_delete);
		/* the vaddr is the one the dynamic linker resolved, and the file offset maps to
		 * the very code that is mapped there */
		mem = loaded_symbol(libc, want[i].name, &vaddr);
		assert_true(p->vaddr == vaddr);
		assert_int_equal(read_at(LIBC_PATH, p->file_offset - p->probe_delta, file, 16), 0);
		assert_memory_equal(file, mem, 16);
		assert_int_equal(read_at(LIBC_PATH, p->file_offset, file, 2), 0);
		assert_int_equal(p->emulated, emulated_opcode(file));
	}

	/* free opens with `test %rdi,%rdi` (single-stepped): the probe sits past it, on an
	 * emulated instruction, and free needs no return probe */
	p = find_point(&set, "free");
	assert_true(p->probe_delta > 0);
	assert_true(p->emulated);
	assert_false(p->retprobe);
	assert_true(find_point(&set, "malloc")->retprobe);

	/* memalign and aligned_alloc are one function: one point, with the standard name */
	loaded_symbol(libc, "memalign", &memalign_vaddr);
	loaded_symbol(libc, "aligned_alloc", &vaddr);
	assert_true(vaddr == memalign_vaddr);
	assert_null(find_point(&set, "memalign"));
	p = find_vaddr(&set, vaddr);
	assert_non_null(p);
	assert_string_equal(p->name, "aligned_alloc");
	/* cfree (a compat alias of free) does not get its own point */
	assert_null(find_point(&set, "cfree"));
	dlclose(libc);

	alloc_probe_set_release(&set);
	assert_null(set.points);
	assert_int_equal(set.n, 0);
	alloc_probe_set_release(&set);
}

/* tcmalloc exports malloc = tc_malloc, free = cfree = tc_free = tc_cfree = operator delete:
 * one point each, named by the standard name, and the shared free is a plain free. */
static void test_scan_tcmalloc(void **state)
{
	struct alloc_probe_set set = {0};
	const struct alloc_probe_point *m, *f, *n;

	(void)state;
	assert_int_equal(alloc_symbols_scan(TCMALLOC_PATH, &set), 0);
	check_set_invariants(&set, TCMALLOC_PATH);
	m = find_point(&set, "malloc");
	f = find_point(&set, "free");
	n = find_point(&set, "_Znwm");
	assert_non_null(m);
	assert_non_null(f);
	assert_non_null(n);
	assert_int_equal(m->kind, SMOLDER_ALLOC_MALLOC);
	assert_int_equal(f->kind, SMOLDER_ALLOC_FREE);
	assert_false(f->is_delete);
	assert_true(m->vaddr != f->vaddr);
	for (size_t i = 0; i < set.n; i++) {
		const char *name = set.points[i].name;

		if (!strcmp(name, "tc_malloc") || !strcmp(name, "tc_cfree") ||
		    !strcmp(name, "tc_free") || !strcmp(name, "cfree") || !strcmp(name, "_ZdlPv") ||
		    !strcmp(name, "tc_new") || !strcmp(name, "tc_delete"))
			fail_msg("alias %s has its own point", name);
	}
	assert_true(set.n >= 10);
	alloc_probe_set_release(&set);
}

/* Setup/teardown: an empty temporary file whose path is *state, removed even when a test fails. */
static int temp_file_setup(void **state)
{
	char *path = strdup("/tmp/test_alloc_symbols_XXXXXX");
	int fd;

	if (!path)
		return -1;
	fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return -1;
	}
	close(fd);
	*state = path;
	return 0;
}

static int temp_file_teardown(void **state)
{
	unlink(*state);
	free(*state);
	return 0;
}

/* ---- alloc_symbols_scan on a synthetic ELF with known symbols and code ---- */

struct fake_sym {
	const char *name;
	uint64_t value;
	uint64_t size;
	unsigned char type;
	bool undefined;
};

#define TEXT_ADDR 0x401000ULL

/* A new section holding buf; its header for the caller to fill in, NULL on failure. */
static Elf64_Shdr *add_section(Elf *elf, Elf_Scn **scn, const void *buf, size_t size, Elf_Type type,
			       size_t align, Elf64_Word name, Elf64_Word sh_type)
{
	Elf_Data *d;
	Elf64_Shdr *sh;

	*scn = elf_newscn(elf);
	if (!*scn || !(d = elf_newdata(*scn)) || !(sh = elf64_getshdr(*scn)))
		return NULL;
	d->d_buf = (void *)buf;
	d->d_size = size;
	d->d_type = type;
	d->d_align = align;
	d->d_version = EV_CURRENT;
	sh->sh_name = name;
	sh->sh_type = sh_type;
	sh->sh_flags = SHF_ALLOC;
	return sh;
}

/* Writes a minimal x86-64 ET_DYN with .text at TEXT_ADDR and a .dynsym in the given order;
 * returns the file offset of .text, or 0 on failure. */
static uint64_t write_fake_elf(const char *path, const uint8_t *text, size_t text_len,
			       const struct fake_sym *syms, size_t nsyms)
{
	/* section names at offsets 1, 7, 15 and 23 */
	static const char shstrtab[] = "\0.text\0.dynstr\0.dynsym\0.shstrtab";
	char strtab[1024] = "";
	Elf64_Sym symtab[32];
	size_t strtab_used = 1;
	Elf *elf = NULL;
	Elf64_Ehdr *eh;
	Elf_Scn *text_scn, *str_scn, *sym_scn, *shstr_scn;
	Elf64_Shdr *sh;
	uint64_t text_off = 0;
	int fd;

	if (nsyms + 1 > sizeof(symtab) / sizeof(symtab[0]))
		return 0;
	memset(symtab, 0, sizeof(symtab));
	for (size_t i = 0; i < nsyms; i++) {
		size_t l = strlen(syms[i].name) + 1;

		if (strtab_used + l > sizeof(strtab))
			return 0;
		memcpy(strtab + strtab_used, syms[i].name, l);
		symtab[i + 1].st_name = (Elf64_Word)strtab_used;
		symtab[i + 1].st_info = ELF64_ST_INFO(STB_GLOBAL, syms[i].type);
		symtab[i + 1].st_shndx = syms[i].undefined ? SHN_UNDEF : 1; /* .text */
		symtab[i + 1].st_value = syms[i].value;
		symtab[i + 1].st_size = syms[i].size;
		strtab_used += l;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!elf || !(eh = elf64_newehdr(elf)))
		goto out;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	sh = add_section(elf, &text_scn, text, text_len, ELF_T_BYTE, 16, 1, SHT_PROGBITS);
	if (!sh)
		goto out;
	sh->sh_flags |= SHF_EXECINSTR;
	sh->sh_addr = TEXT_ADDR;
	if (!add_section(elf, &str_scn, strtab, strtab_used, ELF_T_BYTE, 1, 7, SHT_STRTAB))
		goto out;
	sh = add_section(elf, &sym_scn, symtab, (nsyms + 1) * sizeof(Elf64_Sym), ELF_T_SYM, 8, 15,
			 SHT_DYNSYM);
	if (!sh)
		goto out;
	sh->sh_link = (Elf64_Word)elf_ndxscn(str_scn);
	sh->sh_info = 1;
	sh->sh_entsize = sizeof(Elf64_Sym);
	sh = add_section(elf, &shstr_scn, shstrtab, sizeof(shstrtab), ELF_T_BYTE, 1, 23,
			 SHT_STRTAB);
	if (!sh)
		goto out;
	sh->sh_flags = 0;
	eh->e_shstrndx = (Elf64_Half)elf_ndxscn(shstr_scn);
	if (elf_update(elf, ELF_C_WRITE) < 0)
		goto out;
	text_off = elf64_getshdr(text_scn)->sh_offset;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return text_off;
}

static void test_scan_synthetic(void **state)
{
	/* 0x00 free-like: test %rdi,%rdi; je +0x10           -> probe at +3
	 * 0x20 malloc-like: push %r12                        -> probe at +0
	 * 0x40 delete-like: endbr64; push %rbp               -> probe at +4
	 * 0x60 memalign-like: sub $8,%rsp; je (return probe) -> entry, single-stepped
	 * 0x80 je_malloc: ret (unknown)                      -> entry, single-stepped */
	uint8_t text[0xa0];
	static const struct fake_sym syms[] = {
		/* delete aliases first, then the plain free: a free, not a forwarding delete */
		{"tc_delete", TEXT_ADDR + 0x00, 0x20, STT_FUNC, false},
		{"_ZdlPv", TEXT_ADDR + 0x00, 0x20, STT_FUNC, false},
		{"free", TEXT_ADDR + 0x00, 0x20, STT_FUNC, false},
		{"tc_free", TEXT_ADDR + 0x00, 0x20, STT_FUNC, false},
		{"malloc@@GLIBC_2.2.5", TEXT_ADDR + 0x20, 0x20, STT_FUNC, false},
		{"tc_deletearray", TEXT_ADDR + 0x40, 0x20, STT_FUNC, false},
		{"_ZdaPv", TEXT_ADDR + 0x40, 0x20, STT_FUNC, false},
		{"memalign", TEXT_ADDR + 0x60, 0x20, STT_FUNC, false},
		{"aligned_alloc", TEXT_ADDR + 0x60, 0x20, STT_FUNC, false},
		{"je_malloc", TEXT_ADDR + 0x80, 0x20, STT_FUNC, false},
		/* none of these gives a point */
		{"calloc", 0, 0, STT_FUNC, true},		     /* undefined */
		{"realloc", TEXT_ADDR + 0x90, 8, STT_OBJECT, false}, /* not a function */
		{"valloc", 0x900000, 0x20, STT_FUNC, false},	     /* outside .text */
		{"strdup", TEXT_ADDR + 0x90, 8, STT_FUNC, false},    /* not an allocator */
		{"pvalloc", 0, 8, STT_FUNC, false},		     /* address 0 */
		{"_ZnwmPv", TEXT_ADDR + 0x98, 8, STT_FUNC, false},   /* placement new */
	};
	const char *path = *state;
	struct alloc_probe_set set = {0};
	const struct alloc_probe_point *p;
	uint64_t text_off;

	memset(text, 0xc3, sizeof(text));
	memcpy(text + 0x00, "\x48\x85\xff\x74\x10", 5);
	memcpy(text + 0x20, "\x41\x54\x55", 3);
	memcpy(text + 0x40, "\xf3\x0f\x1e\xfa\x55", 5);
	memcpy(text + 0x60, "\x48\x83\xec\x08\x74\x02", 6);
	text_off = write_fake_elf(path, text, sizeof(text), syms, sizeof(syms) / sizeof(syms[0]));
	assert_true(text_off > 0);

	assert_int_equal(alloc_symbols_scan(path, &set), 0);
	check_set_invariants(&set, path);
	assert_int_equal(set.n, 5);

	p = find_vaddr(&set, TEXT_ADDR + 0x00);
	assert_non_null(p);
	assert_string_equal(p->name, "free");
	assert_int_equal(p->kind, SMOLDER_ALLOC_FREE);
	/* a function that is free itself releases the block; flagging it as a delete that
	 * forwards to free would make the tracker skip a quick second free of a reused address */
	assert_false(p->is_delete);
	assert_false(p->retprobe);
	assert_int_equal(p->probe_delta, 3);
	assert_true(p->emulated);
	assert_true(p->file_offset == text_off + 3);

	p = find_vaddr(&set, TEXT_ADDR + 0x20);
	assert_non_null(p);
	assert_string_equal(p->name, "malloc");
	assert_int_equal(p->kind, SMOLDER_ALLOC_MALLOC);
	assert_true(p->retprobe);
	assert_int_equal(p->probe_delta, 0);
	assert_true(p->emulated);
	assert_true(p->file_offset == text_off + 0x20);

	p = find_vaddr(&set, TEXT_ADDR + 0x40);
	assert_non_null(p);
	assert_string_equal(p->name, "_ZdaPv");
	assert_true(p->is_delete); /* every alias is a delete */
	assert_int_equal(p->probe_delta, 4);
	assert_true(p->emulated);
	assert_true(p->file_offset == text_off + 0x44);

	p = find_vaddr(&set, TEXT_ADDR + 0x60);
	assert_non_null(p);
	assert_string_equal(p->name, "aligned_alloc");
	assert_int_equal(p->kind, SMOLDER_ALLOC_MEMALIGN);
	assert_int_equal(p->probe_delta, 0); /* sub %rsp before the je: keep the entry */
	assert_false(p->emulated);
	assert_true(p->file_offset == text_off + 0x60);

	p = find_vaddr(&set, TEXT_ADDR + 0x80);
	assert_non_null(p);
	assert_string_equal(p->name, "je_malloc");
	assert_false(p->emulated);

	alloc_probe_set_release(&set);
}

/* ---- alloc_symbols_scan failures ---- */

static void test_scan_errors(void **state)
{
	const char *path = *state;
	struct alloc_probe_set set;
	int fd;

	memset(&set, 0x5a, sizeof(set)); /* scan must initialise the set itself */
	assert_int_equal(alloc_symbols_scan("/nonexistent/libnothing.so", &set), -ENOENT);
	assert_null(set.points);
	assert_int_equal(set.n, 0);
	alloc_probe_set_release(&set);

	/* a text file */
	memset(&set, 0x5a, sizeof(set));
	assert_int_equal(alloc_symbols_scan(SMOLDER_SOURCE_DIR "/CMakeLists.txt", &set), -ENOEXEC);
	assert_null(set.points);
	assert_int_equal(set.n, 0);

	/* an empty file */
	assert_int_equal(alloc_symbols_scan(path, &set), -ENOEXEC);
	assert_int_equal(set.n, 0);
	/* a file that starts like ELF and is then cut off */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\177ELF\2\1\1", 7), 7);
	close(fd);
	assert_true(alloc_symbols_scan(path, &set) < 0);
	assert_int_equal(set.n, 0);

	/* a directory */
	assert_true(alloc_symbols_scan("/tmp", &set) < 0);
	assert_int_equal(set.n, 0);

	alloc_probe_set_release(NULL);
	alloc_probe_set_release(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_standard),
		cmocka_unit_test(test_kind_cxx),
		cmocka_unit_test(test_kind_jemalloc_tcmalloc),
		cmocka_unit_test(test_kind_not_allocators),
		cmocka_unit_test(test_probe_prologues),
		cmocka_unit_test(test_probe_register_writes),
		cmocka_unit_test(test_probe_fallbacks),
		cmocka_unit_test(test_probe_long_prologue),
		cmocka_unit_test(test_probe_reads_within_len),
		cmocka_unit_test(test_scan_libc),
		cmocka_unit_test(test_scan_tcmalloc),
		cmocka_unit_test_setup_teardown(test_scan_synthetic, temp_file_setup,
						temp_file_teardown),
		cmocka_unit_test_setup_teardown(test_scan_errors, temp_file_setup,
						temp_file_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
