/* test_unwind_elf.c: the unwinder's ELF reader on a real fixture (PT_LOAD layout, .eh_frame_hdr,
 * .debug_frame index, offset/address translation, bounded reads) and on crafted images whose
 * headers lie: each of these once read out of bounds or wrapped (found by fuzz/fuzz_unwind.c) and
 * must now parse safely (the ASan build checks the "safely"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/unwind_cfi.h"
#include "../../src/unwind_elf.h"

#define IMAGE_SIZE 4096

/* A minimal x86-64 ELF header with n program headers right after it, in a zeroed image. */
static uint8_t *image_new(uint16_t phnum)
{
	uint8_t *image = calloc(1, IMAGE_SIZE);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)image;

	assert_non_null(image);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = phnum;
	return image;
}

static Elf64_Phdr *phdr(uint8_t *image, size_t i)
{
	return (Elf64_Phdr *)(image + sizeof(Elf64_Ehdr)) + i;
}

static void test_fixture_layout(void **state)
{
	struct unwind_elf *eh, *dbg;
	char path[4096];
	uint8_t buf[16];
	uint64_t off;
	int64_t delta;

	(void)state;
	snprintf(path, sizeof(path), "%s/record_bigframe", SMOLDER_FIXTURE_DIR);
	eh = unwind_elf_open(path);
	snprintf(path, sizeof(path), "%s/record_bigframe_debugframe", SMOLDER_FIXTURE_DIR);
	dbg = unwind_elf_open(path);
	assert_non_null(eh);
	assert_non_null(dbg);
	assert_true(eh->n_loads >= 2);
	assert_true(eh->has_table && eh->fde_count >= 4);
	assert_true(eh->text_lo < eh->text_hi);
	assert_int_equal(eh->n_debug_fdes, 0);
	/* The .debug_frame index is sorted and its ranges do not overlap. */
	assert_true(dbg->n_debug_fdes >= 4);
	for (size_t i = 1; i < dbg->n_debug_fdes; i++)
		assert_true(dbg->debug_fdes[i - 1].hi <= dbg->debug_fdes[i].lo);
	/* Every page-aligned segment: its own offset maps back to its vaddr. */
	for (size_t i = 0; i < eh->n_loads; i++) {
		const struct unwind_elf_load *l = &eh->loads[i];

		assert_int_equal(unwind_elf_load_delta(eh, l->offset & ~(uint64_t)0xfff, &delta),
				 0);
		/* A segment that starts mid-page shares its first page with the one before. */
		if (!(l->offset & 0xfff))
			assert_true((uint64_t)delta == l->vaddr - l->offset);
		if (l->filesz) {
			assert_int_equal(unwind_elf_vaddr_offset(eh, l->vaddr, &off), 0);
			assert_true(off == l->offset);
		}
	}
	assert_int_equal(unwind_elf_vaddr_offset(eh, UINT64_MAX - 8, &off), -ENOENT);
	/* Reads past the end are zero-filled and counted. */
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(unwind_elf_read(eh, eh->size - 4, buf, sizeof(buf)), 4);
	for (size_t i = 4; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(unwind_elf_read(eh, eh->size + 100, buf, sizeof(buf)), 0);
	assert_int_equal(memcmp(eh->data, ELFMAG, SELFMAG), 0);
	unwind_elf_free(eh);
	unwind_elf_free(dbg);
	unwind_elf_free(NULL);
}

static void test_open_errors(void **state)
{
	char path[] = "/tmp/smolder-test-unwind-elf.XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(
		write(fd, "#!/bin/sh\necho not an ELF file, but long enough to parse\n", 57), 57);
	close(fd);
	errno = 0;
	assert_null(unwind_elf_open(path));
	assert_int_equal(errno, ENOEXEC);
	unlink(path);
	errno = 0;
	assert_null(unwind_elf_open("/nonexistent/smolder/object"));
	assert_int_equal(errno, ENOENT);
}

/* A segment claims file bytes far past the end of the file, and .eh_frame_hdr says (by its
 * vaddr) that its table lies there: the table must not be read (it once was, in find_fde). */
static void test_table_past_end_of_file(void **state)
{
	uint8_t *image = image_new(2);
	struct unwind_elf *elf;
	struct unwind_rule rule;
	uint8_t *hdr = image + 0x200;

	(void)state;
	*phdr(image, 0) = (Elf64_Phdr){.p_type = PT_LOAD,
				       .p_flags = PF_R | PF_X,
				       .p_offset = 0,
				       .p_vaddr = 0,
				       .p_filesz = 1ull << 40,
				       .p_memsz = 1ull << 40};
	/* version 1, eh_frame_ptr udata4, fde_count udata4, table datarel|sdata4 */
	*phdr(image, 1) = (Elf64_Phdr){.p_type = PT_GNU_EH_FRAME,
				       .p_offset = 0x200,
				       .p_vaddr = 1ull << 30,
				       .p_filesz = 12};
	hdr[0] = 1;
	hdr[1] = 0x03;
	hdr[2] = 0x03;
	hdr[3] = 0x3b;
	memcpy(hdr + 8, &(uint32_t){100}, 4); /* 100 entries: 800 bytes, inside the image */
	elf = unwind_elf_from_image(image, IMAGE_SIZE);
	assert_non_null(elf);
	assert_true(elf->has_table);
	assert_true(elf->table_vaddr > IMAGE_SIZE);
	unwind_cfi_rule(elf, 0x1000, &rule);
	assert_int_equal(rule.kind, UNWIND_RULE_NONE);
	unwind_elf_free(elf);
}

/* e_shnum 0 means "the count is in section 0's sh_size", a 64-bit field: a huge count must not
 * wrap the bounds check of the section header table. */
static void test_huge_section_count(void **state)
{
	uint8_t *image = image_new(0);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)image;
	Elf64_Shdr *sh = (Elf64_Shdr *)(image + 0x400);
	struct unwind_elf *elf;

	(void)state;
	eh->e_shoff = 0x400;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 0;
	eh->e_shstrndx = 1;
	sh[0].sh_size = (1ull << 58) + 1; /* times 64 wraps to 64 */
	elf = unwind_elf_from_image(image, IMAGE_SIZE);
	assert_non_null(elf);
	assert_int_equal(elf->n_debug_fdes, 0);
	unwind_elf_free(elf);
}

/* An executable segment whose end wraps around 2^64: the text range saturates. */
static void test_text_range_saturates(void **state)
{
	uint8_t *image = image_new(1);
	struct unwind_elf *elf;

	(void)state;
	*phdr(image, 0) = (Elf64_Phdr){.p_type = PT_LOAD,
				       .p_flags = PF_R | PF_X,
				       .p_vaddr = UINT64_MAX - 0xfff,
				       .p_filesz = 0x100,
				       .p_memsz = 0x2000};
	elf = unwind_elf_from_image(image, IMAGE_SIZE);
	assert_non_null(elf);
	assert_true(elf->text_lo == UINT64_MAX - 0xfff);
	assert_true(elf->text_hi == UINT64_MAX);
	unwind_elf_free(elf);
}

/* The .eh_frame section of an object, by name (for the index tests). */
static void eh_frame_section(const struct unwind_elf *elf, uint64_t *off, uint64_t *vaddr,
			     uint64_t *size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf->data;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(elf->data + eh->e_shoff);
	const char *names = (const char *)elf->data + sh[eh->e_shstrndx].sh_offset;

	for (size_t i = 1; i < eh->e_shnum; i++) {
		if (strcmp(names + sh[i].sh_name, ".eh_frame") == 0) {
			*off = sh[i].sh_offset;
			*vaddr = sh[i].sh_addr;
			*size = sh[i].sh_size;
			return;
		}
	}
	fail_msg("no .eh_frame section");
}

/* An object linked with .eh_frame_hdr: the table built from its .eh_frame must be the linker's,
 * entry for entry (same FDEs, same order), once rebased to the section's address. */
static void test_eh_frame_index_matches_linker_table(void **state)
{
	struct unwind_elf *elf, copy;
	uint64_t off = 0, vaddr = 0, size = 0, table_off;
	const int32_t *linker;
	char path[4096];

	(void)state;
	snprintf(path, sizeof(path), "%s/record_bigframe", SMOLDER_FIXTURE_DIR);
	elf = unwind_elf_open(path);
	assert_non_null(elf);
	assert_true(elf->has_table && !elf->synthetic_table);
	assert_int_equal(unwind_elf_vaddr_offset(elf, elf->table_vaddr, &table_off), 0);
	linker = (const int32_t *)(elf->data + table_off);
	eh_frame_section(elf, &off, &vaddr, &size);
	copy = *elf;
	copy.has_table = false;
	copy.fde_count = 0;
	assert_int_equal(unwind_cfi_index_eh_frame(&copy, off, vaddr, size), 0);
	assert_true(copy.has_table);
	assert_non_null(copy.synthetic_table);
	assert_int_equal(copy.fde_count, elf->fde_count);
	for (size_t i = 0; i < elf->fde_count; i++) {
		assert_true(elf->hdr_vaddr + (int64_t)linker[2 * i] ==
			    copy.hdr_vaddr + (int64_t)copy.synthetic_table[2 * i]);
		assert_true(elf->hdr_vaddr + (int64_t)linker[2 * i + 1] ==
			    copy.hdr_vaddr + (int64_t)copy.synthetic_table[2 * i + 1]);
	}
	free(copy.synthetic_table);
	unwind_elf_free(elf);
}

/* gcc -static links without .eh_frame_hdr: the unwinder indexes .eh_frame itself, and every
 * function of the program (here static_crunch's neighbourhood: all of .text) gets a rule. */
static void test_static_binary_indexed(void **state)
{
	struct unwind_elf *elf;
	struct unwind_rule rule;
	size_t simple = 0;
	char path[4096];

	(void)state;
	snprintf(path, sizeof(path), "%s/static_service", SMOLDER_FIXTURE_DIR);
	elf = unwind_elf_open(path);
	assert_non_null(elf);
	assert_true(elf->has_table);
	assert_non_null(elf->synthetic_table);
	assert_true(elf->fde_count > 500); /* glibc's functions are in there */
	for (size_t i = 1; i < elf->fde_count; i++)
		assert_true(elf->synthetic_table[2 * (i - 1)] <= elf->synthetic_table[2 * i]);
	for (size_t i = 0; i < elf->fde_count; i++) {
		unwind_cfi_rule(elf, elf->hdr_vaddr + (int64_t)elf->synthetic_table[2 * i], &rule);
		assert_int_not_equal(rule.kind, UNWIND_RULE_NONE);
		simple += rule.kind == UNWIND_RULE_SIMPLE;
	}
	assert_true(simple > elf->fde_count * 9 / 10);
	unwind_elf_free(elf);
}

/* ld.so's entry stub (_start: "mov %rsp,%rdi; call _dl_start") has no unwind info; the return
 * address after its call is the root of every stack ld.so runs for a program it loads (it once
 * ended them as truncated). Just past the stub, code without unwind info stays unknown. */
static void test_ld_so_entry_is_root(void **state)
{
	struct unwind_elf *elf = unwind_elf_open("/lib64/ld-linux-x86-64.so.2");
	struct unwind_rule rule;
	uint8_t code[8];
	uint64_t off;

	(void)state;
	assert_non_null(elf);
	assert_true(elf->entry != 0);
	assert_int_equal(unwind_elf_vaddr_offset(elf, elf->entry, &off), 0);
	assert_int_equal(unwind_elf_read(elf, off, code, sizeof(code)), sizeof(code));
	/* The stub as Debian 12's glibc builds it: mov %rsp,%rdi; call rel32. */
	assert_memory_equal(code, "\x48\x89\xe7\xe8", 4);
	unwind_cfi_rule(elf, elf->entry + 7, &rule); /* the return address's lookup address */
	assert_int_equal(rule.kind, UNWIND_RULE_ROOT);
	unwind_cfi_rule(elf, elf->entry + 64, &rule);
	assert_int_not_equal(rule.kind, UNWIND_RULE_ROOT);
	unwind_elf_free(elf);
}

/* A library rewritten in place (truncated on disk while the target runs it): reading the object
 * must never fault. Reads of its bytes come back short (they once were a mapping of the file and
 * killed smolder with SIGBUS), and its CFI, copied when it was opened, still gives every rule. */
static void test_truncated_after_open(void **state)
{
	char dir[] = "/tmp/smolder-unwind-elf-XXXXXX", copy[128], cmd[4096];
	struct unwind_elf *elf;
	struct unwind_rule rule;
	uint8_t buf[16];
	size_t rules = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/record_bigframe", dir);
	/* Quoted: a checkout path may hold spaces. */
	snprintf(cmd, sizeof(cmd), "cp '%s/record_bigframe' '%s'", SMOLDER_FIXTURE_DIR, copy);
	assert_int_equal(system(cmd), 0);
	elf = unwind_elf_open(copy);
	assert_non_null(elf);
	assert_true(elf->has_table && elf->fde_count >= 4);
	assert_int_equal(truncate(copy, 0), 0);
	/* Code (the first executable segment) and the last page of the file: gone, read as zeros.
	 */
	for (size_t i = 0; i < elf->n_loads; i++) {
		if (!(elf->loads[i].flags & PF_X))
			continue;
		memset(buf, 0xaa, sizeof(buf));
		assert_int_equal(unwind_elf_read(elf, elf->loads[i].offset, buf, sizeof(buf)), 0);
		assert_int_equal(buf[0], 0);
	}
	for (uint64_t pc = elf->text_lo; pc < elf->text_hi; pc += 16) {
		unwind_cfi_rule(elf, pc, &rule);
		rules += rule.kind != UNWIND_RULE_NONE;
	}
	assert_true(rules > 0);
	unwind_elf_free(elf);
	unlink(copy);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_layout),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_truncated_after_open),
		cmocka_unit_test(test_eh_frame_index_matches_linker_table),
		cmocka_unit_test(test_static_binary_indexed),
		cmocka_unit_test(test_ld_so_entry_is_root),
		cmocka_unit_test(test_table_past_end_of_file),
		cmocka_unit_test(test_huge_section_count),
		cmocka_unit_test(test_text_range_saturates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
