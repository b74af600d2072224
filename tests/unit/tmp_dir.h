/* tmp_dir.h: test helper (header-only): a temporary directory for one cmocka group, made by the
 * group setup and removed with its contents by the group teardown. */
#ifndef SMOLDER_TEST_TMP_DIR_H
#define SMOLDER_TEST_TMP_DIR_H

#include <stdio.h>
#include <stdlib.h>

static char tmp_dir[] = "/tmp/smolder-unit-XXXXXX";

static int setup_tmp(void **state)
{
	(void)state;
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
