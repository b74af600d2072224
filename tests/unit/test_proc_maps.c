/* test_proc_maps.c: parsing /proc/PID/maps text (odd paths included) and address lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "smolder/proc_maps.h"

static const char sample[] =
	"7f0000002000-7f0000003000 r-xp 00001000 08:01 42 /usr/lib/libc.so.6\n"
	"55d000000000-55d000001000 r--p 00000000 08:01 7 /srv/my app (deleted)\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"7f0000000000-7f0000002000 r--p 00000000 08:01 42 /usr/lib/libc.so.6\n"
	"garbage line\n"
	"7fff00000000-7fff00002000 r-xs 00000000 00:00 0 \n";

static void test_parse_and_sort(void **state)
{
	struct proc_maps maps;

	(void)state;
	assert_int_equal(proc_maps_parse(sample, &maps), 0);
	assert_int_equal(maps.n, 5);
	assert_true(maps.maps[0].start == 0x55d000000000ULL);
	assert_string_equal(maps.maps[0].path, "/srv/my app (deleted)");
	assert_true(maps.maps[1].start == 0x7f0000000000ULL);
	assert_true(maps.maps[2].offset == 0x1000);
	assert_int_equal(maps.maps[2].perms, PROC_MAP_READ | PROC_MAP_EXEC);
	assert_true(maps.maps[2].inode == 42);
	assert_int_equal(maps.maps[2].dev_major, 8);
	assert_string_equal(maps.maps[3].path, "[stack]");
	assert_int_equal(maps.maps[3].perms, PROC_MAP_READ | PROC_MAP_WRITE);
	assert_string_equal(maps.maps[4].path, "");
	assert_true(maps.maps[4].perms & PROC_MAP_SHARED);
	proc_maps_release(&maps);
	assert_int_equal(maps.n, 0);
	proc_maps_release(NULL);
}

static void test_find(void **state)
{
	struct proc_maps maps;

	(void)state;
	assert_int_equal(proc_maps_parse(sample, &maps), 0);
	assert_non_null(proc_maps_find(&maps, 0x7f0000002000ULL));
	assert_true(proc_maps_find(&maps, 0x7f0000002fffULL)->offset == 0x1000);
	assert_true(proc_maps_find(&maps, 0x7f0000001000ULL)->offset == 0);
	assert_null(proc_maps_find(&maps, 0x7f0000003000ULL)); /* end is exclusive */
	assert_null(proc_maps_find(&maps, 0x1000));
	assert_null(proc_maps_find(&maps, 0xffffffffffffffffULL));
	proc_maps_release(&maps);
}

static void test_read_self(void **state)
{
	struct proc_maps maps;
	const struct proc_map *m;
	char path[128];

	(void)state;
	assert_int_equal(proc_maps_read(getpid(), &maps), 0);
	m = proc_maps_find(&maps, (uint64_t)(uintptr_t)&test_read_self);
	assert_non_null(m);
	assert_true(m->perms & PROC_MAP_EXEC);
	assert_non_null(strstr(m->path, "test_proc_maps"));
	assert_int_equal(proc_maps_file_path(getpid(), m, path, sizeof(path)), 0);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(proc_maps_file_path(getpid(), m, path, 8), -ENAMETOOLONG);
	proc_maps_release(&maps);
	assert_int_equal(proc_maps_read(0x7ffffff0, &maps), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_sort),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_read_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
