/* test_u64_map.c: the 64-bit hash map against simple references: put, get, overwrite, the edge
 * keys 0 and UINT64_MAX, growth across a million keys, and release of empty maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/u64_map.h"

/* splitmix64 of a counter: a bijection, so distinct counters give distinct keys and the key set
 * for counters [0, n) is known without storing it. */
static uint64_t mix_key(uint64_t i)
{
	uint64_t z = i * 0x9e3779b97f4a7c15ULL + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void assert_map_shape(const struct u64_map *m)
{
	/* cap is a power of two and the table is never more than three quarters full */
	assert_true(m->cap != 0);
	assert_int_equal(m->cap & (m->cap - 1), 0);
	assert_true(m->count * 4 <= m->cap * 3);
	assert_true(u64_map_memory(m) >= m->cap * 2 * sizeof(uint64_t));
}

static void test_empty(void **state)
{
	struct u64_map m = {0};
	uint64_t v = 77;

	(void)state;
	assert_false(u64_map_get(&m, 0, &v));
	assert_false(u64_map_get(&m, 12345, &v));
	assert_true(v == 77);
	assert_int_equal(u64_map_memory(&m), 0);
	u64_map_release(&m);
	u64_map_release(&m);
	u64_map_release(NULL);
	assert_int_equal(m.cap, 0);
	assert_int_equal(m.count, 0);
	assert_false(u64_map_get(&m, 0, &v));
}

static void test_put_get_overwrite(void **state)
{
	struct u64_map m = {0};
	uint64_t v = 0;

	(void)state;
	assert_int_equal(u64_map_put(&m, 42, 1000), 0);
	assert_int_equal(u64_map_put(&m, 43, 2000), 0);
	assert_int_equal(m.count, 2);
	assert_map_shape(&m);
	assert_true(u64_map_get(&m, 42, &v));
	assert_true(v == 1000);
	assert_true(u64_map_get(&m, 43, &v));
	assert_true(v == 2000);

	/* overwrite: new value, no new entry, the neighbour untouched */
	assert_int_equal(u64_map_put(&m, 42, 1001), 0);
	assert_int_equal(m.count, 2);
	assert_true(u64_map_get(&m, 42, &v));
	assert_true(v == 1001);
	assert_true(u64_map_get(&m, 43, &v));
	assert_true(v == 2000);

	/* a miss leaves *value alone */
	v = 5;
	assert_false(u64_map_get(&m, 44, &v));
	assert_true(v == 5);
	assert_true(u64_map_memory(&m) > 0);
	u64_map_release(&m);
	assert_int_equal(u64_map_memory(&m), 0);
	assert_false(u64_map_get(&m, 42, &v));
}

/* The map marks occupied slots separately from keys, so 0 and UINT64_MAX are ordinary keys and
 * ordinary values. */
static void test_edge_keys(void **state)
{
	struct u64_map m = {0};
	uint64_t v = 1;

	(void)state;
	assert_false(u64_map_get(&m, 0, &v));
	assert_int_equal(u64_map_put(&m, 0, 0), 0);
	assert_true(u64_map_get(&m, 0, &v));
	assert_true(v == 0);
	assert_false(u64_map_get(&m, UINT64_MAX, &v));
	assert_int_equal(u64_map_put(&m, UINT64_MAX, UINT64_MAX), 0);
	assert_true(u64_map_get(&m, UINT64_MAX, &v));
	assert_true(v == UINT64_MAX);
	assert_true(u64_map_get(&m, 0, &v));
	assert_true(v == 0);
	assert_int_equal(u64_map_put(&m, 0, 9), 0);
	assert_true(u64_map_get(&m, 0, &v));
	assert_true(v == 9);
	assert_int_equal(m.count, 2);
	assert_false(u64_map_get(&m, 1, &v));
	assert_false(u64_map_get(&m, UINT64_MAX - 1, &v));
	u64_map_release(&m);
}

/* A million distinct pseudo-random keys: every one found with its value after all the growth,
 * and a million other keys absent. */
static void test_million_keys(void **state)
{
	enum { N = 1000000 };
	struct u64_map m = {0};
	uint64_t v;
	size_t last_cap = 0;
	int grew = 0;

	(void)state;
	for (uint64_t i = 0; i < N; i++) {
		assert_int_equal(u64_map_put(&m, mix_key(i), i ^ 0x5555), 0);
		if (m.cap != last_cap) {
			grew++;
			last_cap = m.cap;
		}
	}
	assert_int_equal(m.count, N);
	assert_map_shape(&m);
	assert_true(grew >= 10); /* 64 -> 2M slots by doubling */
	for (uint64_t i = 0; i < N; i++) {
		assert_true(u64_map_get(&m, mix_key(i), &v));
		assert_true(v == (i ^ 0x5555));
	}
	for (uint64_t i = N; i < 2 * N; i++)
		assert_false(u64_map_get(&m, mix_key(i), &v));
	u64_map_release(&m);
	assert_int_equal(m.cap, 0);
}

/* Keys that differ only in their high bits, or step by large powers of two, land in few slots
 * unless the hash mixes all bits; they must all stay distinct and findable. */
static void test_structured_keys(void **state)
{
	struct u64_map m = {0};
	uint64_t v;

	(void)state;
	for (uint64_t i = 0; i < 4096; i++) {
		assert_int_equal(u64_map_put(&m, i << 52, i), 0);
		assert_int_equal(u64_map_put(&m, (i << 20) | 1, i + 100000), 0);
	}
	assert_int_equal(m.count, 2 * 4096);
	for (uint64_t i = 0; i < 4096; i++) {
		assert_true(u64_map_get(&m, i << 52, &v));
		assert_true(v == i);
		assert_true(u64_map_get(&m, (i << 20) | 1, &v));
		assert_true(v == i + 100000);
	}
	u64_map_release(&m);
}

/* Random puts over a small key range (many overwrites) checked against a plain array. */
static void test_random_against_reference(void **state)
{
	enum { KEYS = 50000, OPS = 400000 };
	struct u64_map m = {0};
	uint64_t *ref = calloc(KEYS, sizeof(*ref));
	unsigned char *present = calloc(KEYS, 1);
	size_t distinct = 0;
	uint64_t v, rng = 12345;

	(void)state;
	assert_non_null(ref);
	assert_non_null(present);
	for (int op = 0; op < OPS; op++) {
		uint64_t k, val;

		rng = mix_key(rng);
		k = rng % KEYS;
		val = mix_key(rng + 1);
		assert_int_equal(u64_map_put(&m, k * 0x100000001ULL, val), 0);
		if (!present[k]) {
			present[k] = 1;
			distinct++;
		}
		ref[k] = val;
	}
	assert_int_equal(m.count, distinct);
	assert_true(distinct < OPS); /* the test did exercise overwrites */
	for (uint64_t k = 0; k < KEYS; k++) {
		bool found = u64_map_get(&m, k * 0x100000001ULL, &v);

		assert_int_equal(found, present[k]);
		if (found)
			assert_true(v == ref[k]);
	}
	u64_map_release(&m);
	free(ref);
	free(present);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_put_get_overwrite),
		cmocka_unit_test(test_edge_keys),
		cmocka_unit_test(test_million_keys),
		cmocka_unit_test(test_structured_keys),
		cmocka_unit_test(test_random_against_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
