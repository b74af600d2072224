/* python_open_bench.c: what examining one process of a tree for CPython costs (scripts/bench/
 * python_tree.sh). Usage: python_open_bench PID N. Times python_runtime_open on PID (N times:
 * a non-Python process is what most processes of a mixed tree are) and, when PID runs CPython,
 * python_runtime_fork of its runtime (what a forked worker costs instead). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "smolder/frame_names.h"
#include "smolder/log.h"
#include "smolder/python.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct python_runtime *rt = NULL;
	struct frame_names *names;
	double t0, t1;
	pid_t pid;
	int n;

	if (argc != 3 || (pid = atoi(argv[1])) <= 0 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: python_open_bench PID N\n");
		return 1;
	}
	log_set_level(LOG_LEVEL_ERROR);
	names = frame_names_new();
	if (!names)
		return 6;
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		python_runtime_free(rt);
		rt = python_runtime_open(pid, names);
	}
	t1 = now_s();
	printf("python_runtime_open(PID %d, %s): %.3f ms each (%d runs)\n", (int)pid,
	       rt ? python_runtime_version(rt) : "not Python", (t1 - t0) * 1e3 / n, n);
	if (rt) {
		t0 = now_s();
		for (int i = 0; i < 100 * n; i++)
			python_runtime_free(python_runtime_fork(rt, pid));
		t1 = now_s();
		printf("python_runtime_fork: %.2f us each (%d runs)\n", (t1 - t0) * 1e6 / (100 * n),
		       100 * n);
	}
	python_runtime_free(rt);
	frame_names_free(names);
	return 0;
}
