/* test_perf_map.c: the JIT perf map parser (/tmp/perf-PID.map: "START SIZE name" in hex) on
 * crafted files: names with spaces, unsorted input, a start listed twice (the later line wins),
 * zero start and zero size, malformed lines, huge names, empty and missing files; lookups at the
 * start, inside, at the end, in gaps, before the first and past the last entry; and a large
 * shuffled map checked against a brute-force lookup; overlapping entries (the latest line wins),
 * lines appended after the load (perf_map_update), a replaced file, and the parsing of V8's and
 * CPython's names into function, file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smolder/perf_map.h"

#include "tmp_dir.h"

static const char *tmp_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	return path;
}

static struct perf_map *load_text(const char *name, const char *text)
{
	const char *path = tmp_path(name);
	FILE *fp = fopen(path, "w");
	struct perf_map *pm;

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	pm = perf_map_load(path);
	assert_non_null(pm);
	return pm;
}

static void assert_finds(struct perf_map *pm, uint64_t addr, const char *name)
{
	const char *got = perf_map_find(pm, addr);

	if (!got)
		fail_msg("0x%llx: nothing, expected \"%s\"", (unsigned long long)addr, name);
	if (strcmp(got, name) != 0)
		fail_msg("0x%llx: \"%s\", expected \"%s\"", (unsigned long long)addr, got, name);
}

static void assert_finds_nothing(struct perf_map *pm, uint64_t addr)
{
	const char *got = perf_map_find(pm, addr);

	if (got)
		fail_msg("0x%llx: expected nothing, got \"%s\"", (unsigned long long)addr, got);
}

/* Three entries with gaps between them, as a JIT writes them (names with spaces and colons). */
static void check_normal(struct perf_map *pm)
{
	assert_finds_nothing(pm, 0);
	assert_finds_nothing(pm, 0x7f0000000fffull); /* before the first */
	assert_finds(pm, 0x7f0000001000ull, "LazyCompile:*handle server.js:12");
	assert_finds(pm, 0x7f0000001080ull, "LazyCompile:*handle server.js:12");
	assert_finds(pm, 0x7f00000010ffull, "LazyCompile:*handle server.js:12");
	assert_finds_nothing(pm, 0x7f0000001100ull); /* end is exclusive */
	assert_finds_nothing(pm, 0x7f0000001800ull); /* gap */
	assert_finds_nothing(pm, 0x7f0000001fffull);
	assert_finds(pm, 0x7f0000002000ull, "Stub:CEntry");
	assert_finds(pm, 0x7f000000200full, "Stub:CEntry");
	assert_finds_nothing(pm, 0x7f0000002010ull);
	assert_finds(pm, 0x7f0000003000ull, "java.lang.String::hashCode()");
	assert_finds(pm, 0x7f0000003fffull, "java.lang.String::hashCode()");
	assert_finds_nothing(pm, 0x7f0000004000ull); /* past the last */
	assert_finds_nothing(pm, UINT64_MAX);
}

static void test_normal(void **state)
{
	struct perf_map *pm;

	(void)state;
	pm = load_text("normal", "7f0000001000 100 LazyCompile:*handle server.js:12\n"
				 "7f0000002000 10 Stub:CEntry\n"
				 "7f0000003000 1000 java.lang.String::hashCode()\n");
	check_normal(pm);
	perf_map_free(pm);
	perf_map_free(NULL);
	assert_null(perf_map_find(NULL, 0x7f0000001000ull));
}

static void test_unsorted(void **state)
{
	struct perf_map *pm;

	(void)state;
	pm = load_text("unsorted", "7f0000003000 1000 java.lang.String::hashCode()\n"
				   "7f0000001000 100 LazyCompile:*handle server.js:12\n"
				   "7f0000002000 10 Stub:CEntry\n");
	check_normal(pm);
	perf_map_free(pm);
}

/* A JIT that reuses memory appends the new code at the same start: the later line wins, wherever
 * the lines sit in the file. */
static void test_same_start_later_wins(void **state)
{
	struct perf_map *pm;

	(void)state;
	pm = load_text("dup", "5000 100 old_code\n"
			      "1000 10 unrelated\n"
			      "5000 100 newer_code\n"
			      "9000 10 other\n"
			      "5000 100 newest_code\n");
	assert_finds(pm, 0x5000, "newest_code");
	assert_finds(pm, 0x50ff, "newest_code");
	assert_finds_nothing(pm, 0x5100);
	assert_finds(pm, 0x1000, "unrelated");
	assert_finds(pm, 0x9000, "other");
	perf_map_free(pm);

	/* The very same line twice: found once, no harm. */
	pm = load_text("dup2", "5000 100 same\n5000 100 same\n");
	assert_finds(pm, 0x5080, "same");
	perf_map_free(pm);
}

/* A start of zero is an address like any other; a size of zero covers nothing. */
static void test_zero_start_and_size(void **state)
{
	struct perf_map *pm;

	(void)state;
	pm = load_text("zero", "0 10 at_zero\n"
			       "2000 0 empty_code\n"
			       "3000 10 after_empty\n");
	assert_finds(pm, 0, "at_zero");
	assert_finds(pm, 0xf, "at_zero");
	assert_finds_nothing(pm, 0x10);
	assert_finds_nothing(pm, 0x2000);
	assert_finds(pm, 0x3000, "after_empty");
	perf_map_free(pm);
}

/* Broken lines are skipped; the good ones around them load. */
static void test_malformed_lines(void **state)
{
	struct perf_map *pm;

	(void)state;
	pm = load_text("malformed", "garbage line\n"
				    "\n"
				    "1000\n"
				    "1000 20\n"
				    "1000 20 \n"
				    "1000 zz name_with_bad_size\n"
				    "zzzz 20 name_with_bad_start\n"
				    "4000 40 good_one\n"
				    "  \n"
				    "6000 60    padded name  \n"
				    "8000 80 last_without_newline");
	assert_finds_nothing(pm, 0x1000);
	assert_finds_nothing(pm, 0x1010);
	assert_finds(pm, 0x4000, "good_one");
	/* The name starts at its first character and runs to the end of the line. */
	assert_finds(pm, 0x6000, "padded name  ");
	assert_finds(pm, 0x8000, "last_without_newline");
	assert_finds_nothing(pm, 0x8080);
	perf_map_free(pm);
}

static void test_huge_name(void **state)
{
	size_t len = 1u << 20;
	char *name = malloc(len + 1);
	const char *path = tmp_path("huge");
	struct perf_map *pm;
	const char *got;
	FILE *fp;

	(void)state;
	assert_non_null(name);
	for (size_t i = 0; i < len; i++)
		name[i] = (char)('a' + i % 26);
	name[len] = '\0';
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "1000 100 %s\n2000 100 small\n", name);
	assert_int_equal(fclose(fp), 0);
	pm = perf_map_load(path);
	assert_non_null(pm);
	got = perf_map_find(pm, 0x1050);
	assert_non_null(got);
	assert_int_equal(strlen(got), len);
	assert_true(memcmp(got, name, len) == 0);
	assert_finds(pm, 0x2000, "small");
	perf_map_free(pm);
	free(name);
}

static void test_empty_and_missing(void **state)
{
	struct perf_map *pm;

	(void)state;
	/* A JIT that has not compiled anything yet: an empty map, not an error. */
	pm = load_text("empty", "");
	assert_finds_nothing(pm, 0);
	assert_finds_nothing(pm, 0x1000);
	perf_map_free(pm);
	errno = 0;
	assert_null(perf_map_load(tmp_path("no-such-perf.map")));
	assert_int_equal(errno, ENOENT);
}

/* Many entries in shuffled order, with gaps: every lookup agrees with a scan of the entries. */
static void test_many_entries_against_brute_force(void **state)
{
	enum { N = 5000 };
	struct {
		uint64_t start, size;
	} *e = calloc(N, sizeof(*e));
	size_t *order = calloc(N, sizeof(*order));
	const char *path = tmp_path("many");
	unsigned seed = 12345;
	uint64_t at = 0x7f1200000000ull;
	struct perf_map *pm;
	FILE *fp;

	(void)state;
	assert_non_null(e);
	assert_non_null(order);
	for (size_t i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		e[i].start = at;
		e[i].size = 1 + (seed >> 16) % 0x300;
		/* Every other entry is followed by a gap. */
		at += e[i].size + ((i % 2) ? 0x40 : 0);
		order[i] = i;
	}
	for (size_t i = N - 1; i > 0; i--) {
		size_t j, tmp;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (size_t i = 0; i < N; i++)
		fprintf(fp, "%llx %llx jit_fn_%zu\n", (unsigned long long)e[order[i]].start,
			(unsigned long long)e[order[i]].size, order[i]);
	assert_int_equal(fclose(fp), 0);
	pm = perf_map_load(path);
	assert_non_null(pm);
	/* The entries were generated in address order: walk them alongside the addresses. */
	for (uint64_t addr = e[0].start - 0x10, k = 0; addr < at + 0x10; addr += 7) {
		char want[32] = "";

		while (k < N && addr >= e[k].start + e[k].size)
			k++;
		if (k < N && addr >= e[k].start)
			snprintf(want, sizeof(want), "jit_fn_%llu", (unsigned long long)k);
		if (want[0])
			assert_finds(pm, addr, want);
		else
			assert_finds_nothing(pm, addr);
	}
	perf_map_free(pm);
	free(order);
	free(e);
}

/* Overlapping ranges with different starts: for each address the latest line covering it wins, and
 * an older entry shows again where a newer one inside it ends. */
static void test_overlap_latest_wins(void **state)
{
	struct perf_map *pm;

	(void)state;
	pm = load_text("overlap", "1000 1000 old_big\n"
				  "1400 100 newer_inside\n"
				  "1f00 200 newer_across_end\n"
				  "0f00 180 newest_across_start\n"
				  "1450 10 newest_inner\n");
	assert_finds(pm, 0xf00, "newest_across_start");
	assert_finds(pm, 0x107f, "newest_across_start");
	assert_finds(pm, 0x1080, "old_big");
	assert_finds(pm, 0x13ff, "old_big");
	assert_finds(pm, 0x1400, "newer_inside");
	assert_finds(pm, 0x1450, "newest_inner");
	assert_finds(pm, 0x1460, "newer_inside");
	assert_finds(pm, 0x1500, "old_big");
	assert_finds(pm, 0x1eff, "old_big");
	assert_finds(pm, 0x1f00, "newer_across_end");
	assert_finds(pm, 0x20ff, "newer_across_end");
	assert_finds_nothing(pm, 0x2100);
	assert_int_equal(perf_map_count(pm), 5);
	perf_map_free(pm);

	/* An older, smaller entry written after a bigger one still wins where it lies. */
	pm = load_text("overlap2",
		       "1000 100 first_small\n1000 1000 then_big\n1010 10 last_small\n");
	assert_finds(pm, 0x1000, "then_big");
	assert_finds(pm, 0x1010, "last_small");
	assert_finds(pm, 0x1020, "then_big");
	perf_map_free(pm);
}

/* The JIT appends as it compiles: update reads only the new lines; a half-written last line is
 * read again once complete; a replaced file starts over, names handed out stay valid. */
static void test_update_appended_and_replaced(void **state)
{
	const char *path = tmp_path("grow");
	const char *old_name;
	struct perf_map *pm;
	FILE *fp;

	(void)state;
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("1000 100 first\n2000 100 half", fp);
	assert_int_equal(fclose(fp), 0);
	pm = perf_map_load(path);
	assert_non_null(pm);
	assert_finds(pm, 0x1000, "first");
	assert_finds(pm, 0x2000, "half");
	assert_int_equal(perf_map_update(pm), 0); /* nothing new */

	fp = fopen(path, "a");
	assert_non_null(fp);
	fputs("_written\n3000 10 third\n1000 100 first_again\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(perf_map_update(pm), 1);
	assert_finds(pm, 0x2000, "half_written");
	assert_finds(pm, 0x3000, "third");
	assert_finds(pm, 0x1000, "first_again");
	old_name = perf_map_find(pm, 0x3000);

	/* Replaced (a new process with the same pid, or a rewrite): only the new content answers.
	 */
	assert_int_equal(unlink(path), 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("5000 10 fresh\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(perf_map_update(pm), 1);
	assert_finds(pm, 0x5000, "fresh");
	assert_finds_nothing(pm, 0x3000);
	assert_string_equal(old_name, "third"); /* still allocated */
	assert_int_equal(perf_map_count(pm), 1);

	/* Gone from its path (the target exited with its mount namespace): the open file is still
	 * read, appended lines included. */
	fp = fopen(path, "a");
	assert_non_null(fp);
	assert_int_equal(unlink(path), 0);
	fputs("6000 10 after_unlink\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(perf_map_update(pm), 1);
	assert_finds(pm, 0x5000, "fresh");
	assert_finds(pm, 0x6000, "after_unlink");
	perf_map_free(pm);
}

static void check_parse(const char *name, const char *function, const char *file, uint32_t line,
			uint32_t kind)
{
	char storage[512];
	struct perf_map_symbol sym;

	perf_map_parse_name(name, storage, &sym);
	assert_string_equal(sym.name, name);
	assert_string_equal(sym.function, function);
	if (file)
		assert_string_equal(sym.file, file);
	else
		assert_null(sym.file);
	assert_int_equal(sym.line, line);
	assert_int_equal(sym.kind, kind);
}

/* node's names (tier marks stripped; node: internal modules; anonymous functions; getters with a
 * space in the name), older V8's prefixes, builtins by name, CPython's trampolines. */
static void test_parse_names(void **state)
{
	(void)state;
	check_parse("JS:*handleRequest /srv/app/server.js:27:23", "handleRequest",
		    "/srv/app/server.js", 27, PERF_MAP_JS);
	check_parse("JS:~renderPage /srv/app/server.js:22:20", "renderPage", "/srv/app/server.js",
		    22, PERF_MAP_JS);
	check_parse("JS:^processImmediate node:internal/timers:438:28", "processImmediate",
		    "node:internal/timers", 438, PERF_MAP_JS);
	check_parse("JS:+maglevd /a b/c.js:3:1", "maglevd", "/a b/c.js", 3, PERF_MAP_JS);
	check_parse("JS:~ node:internal/main/run_main_module:1:1", "(anonymous)",
		    "node:internal/main/run_main_module", 1, PERF_MAP_JS);
	check_parse("JS:~get length node:buffer:10:5", "get length", "node:buffer", 10,
		    PERF_MAP_JS);
	check_parse("JS:*run file:///srv/app/mod.mjs:4:9", "run", "file:///srv/app/mod.mjs", 4,
		    PERF_MAP_JS);
	check_parse("LazyCompile:*handle /srv/server.js:12", "handle", "/srv/server.js", 12,
		    PERF_MAP_JS);
	check_parse("Eval:~ :1:1", "(anonymous)", NULL, 1, PERF_MAP_JS);
	check_parse("JS:*nolocation", "nolocation", NULL, 0, PERF_MAP_JS);
	check_parse("Builtin:ArrayPrototypePush", "ArrayPrototypePush", NULL, 0, PERF_MAP_OTHER);
	check_parse("BytecodeHandler:Ldar", "BytecodeHandler:Ldar", NULL, 0, PERF_MAP_OTHER);
	check_parse("py::fib:/srv/app/calc.py", "fib", "/srv/app/calc.py", 0, PERF_MAP_PYTHON);
	check_parse("py::Server.handle.<locals>.inner:/srv/x.py", "Server.handle.<locals>.inner",
		    "/srv/x.py", 0, PERF_MAP_PYTHON);
	check_parse("java.lang.String::hashCode()", "java.lang.String::hashCode()", NULL, 0,
		    PERF_MAP_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_unsorted),
		cmocka_unit_test(test_same_start_later_wins),
		cmocka_unit_test(test_zero_start_and_size),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_huge_name),
		cmocka_unit_test(test_empty_and_missing),
		cmocka_unit_test(test_many_entries_against_brute_force),
		cmocka_unit_test(test_overlap_latest_wins),
		cmocka_unit_test(test_update_appended_and_replaced),
		cmocka_unit_test(test_parse_names),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
