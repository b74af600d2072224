/* test_kallsyms.c: the kernel symbol table parser on crafted files (types, module symbols, unsorted
 * input, aliases, ftrace padding symbols, kptr_restrict zeros, malformed lines, huge names, empty
 * file) and lookups at, inside, before and past symbols; then on the real /proc/kallsyms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smolder/kallsyms.h"

#include "tmp_dir.h"

/* Writes text to a fresh file in the test's directory; returns its path (static buffer). */
static const char *write_tmp(const char *name, const char *text)
{
	static char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static void assert_finds(const struct kallsyms *ks, uint64_t addr, const char *name,
			 uint64_t want_offset)
{
	uint64_t offset = ~0ull;
	const char *got = kallsyms_find(ks, addr, &offset);

	if (!got)
		fail_msg("0x%llx: no symbol, expected %s+0x%llx", (unsigned long long)addr, name,
			 (unsigned long long)want_offset);
	if (strcmp(got, name) != 0 || offset != want_offset)
		fail_msg("0x%llx: got %s+0x%llx, expected %s+0x%llx", (unsigned long long)addr, got,
			 (unsigned long long)offset, name, (unsigned long long)want_offset);
}

static void assert_finds_nothing(const struct kallsyms *ks, uint64_t addr)
{
	const char *got = kallsyms_find(ks, addr, NULL);

	if (got)
		fail_msg("0x%llx: expected no symbol, got %s", (unsigned long long)addr, got);
}

#define BASE 0xffffffff81000000ull

/* Text symbols of every type the loader keeps (t T w W), data symbols it must skip, and a module
 * area far above vmlinux. */
static const char normal_text[] = "ffffffff81000000 T _stext\n"
				  "ffffffff81000100 t helper\n"
				  "ffffffff81000200 T do_thing\n"
				  "ffffffff81000300 D some_data\n"
				  "ffffffff81000380 r some_rodata\n"
				  "ffffffff81000400 W weak_upper\n"
				  "ffffffff81000500 w weak_lower\n"
				  "ffffffff81000600 b some_bss\n"
				  "ffffffffc0001000 t mod_local\t[mymod]\n"
				  "ffffffffc0001080 T mod_global\t[mymod]\n";

static void check_normal(const struct kallsyms *ks)
{
	assert_int_equal(kallsyms_count(ks), 7);
	assert_finds(ks, BASE, "_stext", 0);
	assert_finds(ks, BASE + 0xff, "_stext", 0xff);
	assert_finds(ks, BASE + 0x100, "helper", 0);
	assert_finds(ks, BASE + 0x1ff, "helper", 0xff);
	assert_finds(ks, BASE + 0x200, "do_thing", 0);
	/* Data symbols are not functions: their addresses belong to the text symbol below. */
	assert_finds(ks, BASE + 0x300, "do_thing", 0x100);
	assert_finds(ks, BASE + 0x380, "do_thing", 0x180);
	assert_finds(ks, BASE + 0x400, "weak_upper", 0);
	assert_finds(ks, BASE + 0x500, "weak_lower", 0);
	assert_finds(ks, BASE + 0x600, "weak_lower", 0x100);
	/* Module symbols: the name alone, without the module. */
	assert_finds(ks, 0xffffffffc0001000ull, "mod_local", 0);
	assert_finds(ks, 0xffffffffc000107full, "mod_local", 0x7f);
	assert_finds(ks, 0xffffffffc0001080ull, "mod_global", 0);
	/* Past the last symbol: inside it up to 1 MiB, nothing from there on. */
	assert_finds(ks, 0xffffffffc0001080ull + 0xfffff, "mod_global", 0xfffff);
	assert_finds_nothing(ks, 0xffffffffc0001080ull + 0x100000);
	assert_finds_nothing(ks, UINT64_MAX);
	/* In the gap between vmlinux and the modules, more than 1 MiB from any symbol. */
	assert_finds(ks, BASE + 0x500 + 0xfffff, "weak_lower", 0xfffff);
	assert_finds_nothing(ks, BASE + 0x500 + 0x100000);
	assert_finds_nothing(ks, 0xffffffffa0000000ull);
	/* Before the first symbol. */
	assert_finds_nothing(ks, BASE - 1);
	assert_finds_nothing(ks, 0);
}

static void test_normal(void **state)
{
	struct kallsyms *ks;

	(void)state;
	ks = kallsyms_load(write_tmp("normal", normal_text));
	assert_non_null(ks);
	check_normal(ks);
	/* offset is optional */
	assert_string_equal(kallsyms_find(ks, BASE + 0x10, NULL), "_stext");
	kallsyms_free(ks);
	kallsyms_free(NULL);
	assert_null(kallsyms_find(NULL, BASE, NULL));
	assert_int_equal(kallsyms_count(NULL), 0);
}

/* The same symbols in scrambled order give the same table. */
static void test_unsorted(void **state)
{
	static const char text[] = "ffffffffc0001080 T mod_global\t[mymod]\n"
				   "ffffffff81000500 w weak_lower\n"
				   "ffffffff81000200 T do_thing\n"
				   "ffffffff81000600 b some_bss\n"
				   "ffffffffc0001000 t mod_local\t[mymod]\n"
				   "ffffffff81000000 T _stext\n"
				   "ffffffff81000380 r some_rodata\n"
				   "ffffffff81000400 W weak_upper\n"
				   "ffffffff81000300 D some_data\n"
				   "ffffffff81000100 t helper\n";
	struct kallsyms *ks;

	(void)state;
	ks = kallsyms_load(write_tmp("unsorted", text));
	assert_non_null(ks);
	check_normal(ks);
	kallsyms_free(ks);
}

/* Several names at one address (aliases, e.g. _stext and _text): the first listed wins, whatever
 * the sort does with them. */
static void test_aliases(void **state)
{
	struct kallsyms *ks;

	(void)state;
	ks = kallsyms_load(write_tmp("alias1", "ffffffff81000000 T srso_alias\n"
					       "ffffffff81000000 T _stext\n"
					       "ffffffff81000000 T _text\n"
					       "ffffffff81000040 T next_fn\n"));
	assert_non_null(ks);
	assert_int_equal(kallsyms_count(ks), 4);
	assert_finds(ks, BASE, "srso_alias", 0);
	assert_finds(ks, BASE + 0x3f, "srso_alias", 0x3f);
	assert_finds(ks, BASE + 0x40, "next_fn", 0);
	kallsyms_free(ks);

	/* Reversed listing, after a later address: still the first listed. */
	ks = kallsyms_load(write_tmp("alias2", "ffffffff81000040 T next_fn\n"
					       "ffffffff81000000 T _text\n"
					       "ffffffff81000000 T _stext\n"
					       "ffffffff81000000 T srso_alias\n"));
	assert_non_null(ks);
	assert_finds(ks, BASE + 0x10, "_text", 0x10);
	kallsyms_free(ks);

	/* The very same line twice: the symbol is found. */
	ks = kallsyms_load(write_tmp("alias3", "ffffffff81000000 T twice\n"
					       "ffffffff81000000 T twice\n"));
	assert_non_null(ks);
	assert_finds(ks, BASE + 8, "twice", 8);
	kallsyms_free(ks);
}

/* ftrace's __pfx_ padding symbols name no code: the padding belongs to the function before. */
static void test_ftrace_padding(void **state)
{
	struct kallsyms *ks;

	(void)state;
	ks = kallsyms_load(write_tmp("pfx", "ffffffff81000000 T first_fn\n"
					    "ffffffff81000030 T __pfx_schedule\n"
					    "ffffffff81000040 T schedule\n"));
	assert_non_null(ks);
	assert_int_equal(kallsyms_count(ks), 2);
	assert_finds(ks, BASE + 0x35, "first_fn", 0x35);
	assert_finds(ks, BASE + 0x40, "schedule", 0);
	kallsyms_free(ks);
}

/* kptr_restrict (or no CAP_SYSLOG): every address reads as zero. The table would map every kernel
 * address to one bogus name, so the load fails with EPERM, as documented. */
static void test_all_zero_addresses(void **state)
{
	struct kallsyms *ks;

	(void)state;
	errno = 0;
	ks = kallsyms_load(write_tmp("zeros", "0000000000000000 T _stext\n"
					      "0000000000000000 t helper\n"
					      "0000000000000000 T do_thing\tfoo\n"
					      "0000000000000000 t mod_local\t[mymod]\n"));
	assert_null(ks);
	assert_int_equal(errno, EPERM);
}

/* Broken lines are skipped without disturbing the good ones around them. */
static void test_malformed_lines(void **state)
{
	static const char text[] = "garbage without structure\n"
				   "\n"
				   "ffffffff81000000\n"
				   "ffffffff81000000 T\n"
				   "ffffffff81000000 T \n"
				   "ffffffff81000010  T two_spaces\n"
				   "ffffffff81000020 TT glued_type\n"
				   "ffffffff81000030\tT tab_separated\n"
				   "zzzzzzzzzzzzzzzz T bad_hex\n"
				   "ffffffff81000100 T good_one\n"
				   " T no_address\n"
				   "ffffffff81000200 t good_two\t[mod\n" /* unterminated module */
				   "ffffffff81000300 T good_three";	 /* no final newline */
	struct kallsyms *ks;

	(void)state;
	ks = kallsyms_load(write_tmp("malformed", text));
	assert_non_null(ks);
	assert_int_equal(kallsyms_count(ks), 3);
	assert_finds_nothing(ks, BASE + 0xff);
	assert_finds(ks, BASE + 0x100, "good_one", 0);
	assert_finds(ks, BASE + 0x200, "good_two", 0);
	assert_finds(ks, BASE + 0x300, "good_three", 0);
	assert_finds(ks, BASE + 0x310, "good_three", 0x10);
	kallsyms_free(ks);
}

/* Names far longer than any real one (C++/Rust manglings reach kilobytes), including one larger
 * than the initial name buffer. */
static void test_huge_names(void **state)
{
	size_t big = 3u << 20, small = 5000;
	char *name_big = malloc(big + 1), *name_small = malloc(small + 1);
	struct kallsyms *ks;
	FILE *fp;
	char path[256];
	const char *got;

	(void)state;
	assert_non_null(name_big);
	assert_non_null(name_small);
	memset(name_big, 'B', big);
	name_big[big] = '\0';
	memset(name_small, 's', small);
	name_small[small] = '\0';
	snprintf(path, sizeof(path), "%s/huge", tmp_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "ffffffff81000000 T %s\n", name_small);
	fprintf(fp, "ffffffff81001000 T %s\t[m]\n", name_big);
	fprintf(fp, "ffffffff81002000 T after\n");
	assert_int_equal(fclose(fp), 0);
	ks = kallsyms_load(path);
	assert_non_null(ks);
	assert_int_equal(kallsyms_count(ks), 3);
	got = kallsyms_find(ks, BASE + 0x10, NULL);
	assert_non_null(got);
	assert_int_equal(strlen(got), small);
	assert_string_equal(got, name_small);
	got = kallsyms_find(ks, BASE + 0x1010, NULL);
	assert_non_null(got);
	assert_int_equal(strlen(got), big);
	assert_true(memcmp(got, name_big, big) == 0);
	assert_finds(ks, BASE + 0x2000, "after", 0);
	kallsyms_free(ks);
	free(name_big);
	free(name_small);
}

/* No symbols at all is not a privilege problem: the error must not send the user after
 * CAP_SYSLOG. */
static void test_empty_and_missing(void **state)
{
	struct kallsyms *ks;

	(void)state;
	errno = 0;
	ks = kallsyms_load(write_tmp("empty", ""));
	assert_null(ks);
	assert_int_equal(errno, ENODATA);
	/* Only data symbols: nothing to load either. */
	errno = 0;
	ks = kallsyms_load(write_tmp("data_only", "ffffffff81000300 D some_data\n"
						  "ffffffff81000600 b some_bss\n"));
	assert_null(ks);
	assert_int_equal(errno, ENODATA);
	errno = 0;
	ks = kallsyms_load("/nonexistent/smolder/kallsyms");
	assert_null(ks);
	assert_int_equal(errno, ENOENT);
}

/* Address of name in path (first text line naming it), or 0. Independent of the module. */
static uint64_t scan_address(const char *path, const char *name, unsigned *lines)
{
	char line[512], type, sym[256];
	unsigned long long addr;
	uint64_t found = 0;
	FILE *fp = fopen(path, "r");

	assert_non_null(fp);
	*lines = 0;
	while (fgets(line, sizeof(line), fp)) {
		(*lines)++;
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && !found &&
		    strcmp(sym, name) == 0)
			found = addr;
	}
	fclose(fp);
	return found;
}

/* The real table: as root the well-known entry points resolve, and addresses inside them resolve
 * to them; without the privilege to see addresses, the documented EPERM. */
static void test_proc_kallsyms(void **state)
{
	static const char *const names[] = {"do_syscall_64", "schedule"};
	char first[64] = "", first_name[256];
	struct kallsyms *ks;
	unsigned lines;
	FILE *fp;

	(void)state;
	fp = fopen("/proc/kallsyms", "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%63s", first), 1);
	fclose(fp);
	errno = 0;
	ks = kallsyms_load("/proc/kallsyms");
	if (strspn(first, "0") == strlen(first)) {
		/* Addresses hidden from this process. */
		assert_null(ks);
		assert_int_equal(errno, EPERM);
		return;
	}
	assert_non_null(ks);
	assert_true(kallsyms_count(ks) > 10000);
	/* Several names share the first address (_stext, _text, ...): the first listed wins. */
	fp = fopen("/proc/kallsyms", "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%*s %*c %255s", first_name), 1);
	fclose(fp);
	assert_finds(ks, strtoull(first, NULL, 16), first_name, 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint64_t addr = scan_address("/proc/kallsyms", names[i], &lines), offset;
		const char *got;

		assert_true(lines > 10000);
		if (!addr)
			fail_msg("%s not in /proc/kallsyms", names[i]);
		assert_finds(ks, addr, names[i], 0);
		/* A return address inside the function (functions are longer than 4 bytes). */
		assert_finds(ks, addr + 4, names[i], 4);
		/* Just before it: some other symbol (the previous function or its padding's). */
		got = kallsyms_find(ks, addr - 1, &offset);
		assert_non_null(got);
		assert_string_not_equal(got, names[i]);
		assert_true(strncmp(got, "__pfx_", 6) != 0);
	}
	kallsyms_free(ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_unsorted),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_ftrace_padding),
		cmocka_unit_test(test_all_zero_addresses),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_huge_names),
		cmocka_unit_test(test_empty_and_missing),
		cmocka_unit_test(test_proc_kallsyms),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
