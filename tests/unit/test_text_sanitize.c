/* test_text_sanitize.c: the one replacement convention for text outputs: controls, DEL, C1, bidi
 * overrides and malformed UTF-8 become '?', ';' becomes ':' in folded frames, well-formed UTF-8 is
 * kept, truncation never splits a sequence, and in-place use works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/text_sanitize.h"

static void check(const char *in, unsigned flags, const char *want)
{
	char buf[256];

	text_sanitize_append(buf, sizeof(buf), 0, in, flags);
	assert_string_equal(buf, want);
}

static void test_controls(void **state)
{
	(void)state;
	check("plain name", 0, "plain name");
	check("a\nb\tc\rd", 0, "a?b?c?d");
	check("\033]0;pwned\007\033[2J", 0, "?]0;pwned??[2J");
	check("del\x7f", 0, "del?");
	check("ns::f(int);x", TEXT_SANITIZE_FOLDED, "ns::f(int):x");
	check("ns::f(int);x", 0, "ns::f(int);x");
}

static void test_utf8(void **state)
{
	(void)state;
	check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5", 0,
	      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5");
	check("c1 \xc2\x9b[2J", 0, "c1 ?[2J");		 /* U+009B CSI */
	check("raw \x9b[2J", 0, "raw ?[2J");		 /* a lone C1 byte */
	check("bidi \xe2\x80\xae!", 0, "bidi ?!");	 /* U+202E */
	check("isolate \xe2\x81\xa6x", 0, "isolate ?x"); /* U+2066 */
	check("overlong \xc0\xaf", 0, "overlong ??");
	check("cut \xe2\x82", 0, "cut ??");
	check("surrogate \xed\xa0\x80", 0, "surrogate ???");
}

static void test_truncation_and_append(void **state)
{
	char buf[8];
	size_t n;

	(void)state;
	/* 5 bytes + a 3-byte sequence do not fit in 7: the sequence is left out whole. */
	n = text_sanitize_append(buf, sizeof(buf), 0, "abcde\xe2\x82\xac", 0);
	assert_int_equal(n, 5);
	assert_string_equal(buf, "abcde");
	n = text_sanitize_append(buf, sizeof(buf), 2, "x\ny", 0);
	assert_int_equal(n, 5);
	assert_string_equal(buf, "abx?y");
	assert_int_equal(text_sanitize_append(buf, sizeof(buf), 0, NULL, 0), 0);
	assert_string_equal(buf, "");
	assert_int_equal(text_sanitize_append(NULL, 0, 0, "x", 0), 0);
}

static void test_inplace_and_fputs(void **state)
{
	char s[] = "t\nx\033[2J;\xc2\x9b\xe2\x82\xac";
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	(void)state;
	assert_non_null(fp);
	assert_int_equal(text_sanitize_fputs(s, fp, TEXT_SANITIZE_FOLDED), 0);
	fclose(fp);
	assert_string_equal(out, "t?x?[2J:?\xe2\x82\xac");
	free(out);
	assert_string_equal(text_sanitize_inplace(s, TEXT_SANITIZE_FOLDED),
			    "t?x?[2J:?\xe2\x82\xac");
	assert_null(text_sanitize_inplace(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_truncation_and_append),
		cmocka_unit_test(test_inplace_and_fputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
