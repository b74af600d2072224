/* test_json_writer.c: nesting and commas, escaping, invalid UTF-8, non-finite numbers, misuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "smolder/json_writer.h"

static void test_document(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	struct json_writer w;

	(void)state;
	json_writer_init(&w, fp, false);
	json_object_begin(&w);
	json_key(&w, "pid");
	json_int(&w, 42);
	json_key(&w, "name");
	json_string(&w, "a\"b\\c\n\x01</script>");
	json_key(&w, "list");
	json_array_begin(&w);
	json_uint(&w, 18446744073709551615ULL);
	json_double(&w, 0.5);
	json_double(&w, 1.0 / 0.0);
	json_bool(&w, true);
	json_null(&w);
	json_string(&w, NULL);
	json_array_begin(&w);
	json_array_end(&w);
	json_object_begin(&w);
	json_object_end(&w);
	json_array_end(&w);
	json_key(&w, "bad utf8");
	json_string(&w, "x\xff\xc3(y\xe2\x82\xac");
	json_object_end(&w);
	assert_int_equal(json_writer_finish(&w), 0);
	fclose(fp);
	assert_string_equal(buf, "{\"pid\":42,\"name\":\"a\\\"b\\\\c\\n\\u0001</script>\","
				 "\"list\":[18446744073709551615,0.5,null,true,null,null,[],{}],"
				 "\"bad utf8\":\"x\\ufffd\\ufffd(y\xe2\x82\xac\"}\n");
	free(buf);
}

static void test_unbalanced(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	struct json_writer w;

	(void)state;
	json_writer_init(&w, fp, true);
	json_object_begin(&w);
	assert_int_not_equal(json_writer_finish(&w), 0);
	fclose(fp);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_unbalanced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
