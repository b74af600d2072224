/* html_render_bench.c: times the HTML report's generation (report/html.c) from a profile JSON and
 * folded on-CPU / off-CPU stacks, as `smolder profile` does at the end of a run (for the off-CPU
 * and on-CPU graphs it starts from the same folded lines). Used by scripts/bench/report_size.sh.
 * Usage: html_render_bench REPORT.json CPU.folded OFFCPU.folded|- OUT.html [ROUNDS]
 * Prints "parse_ms render_ms bytes": folded parsing, then the median render time over ROUNDS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "folded.h"
#include "smolder/html_report.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct folded_profile *load_folded(const char *path)
{
	struct folded_profile *p;
	FILE *f;

	if (!strcmp(path, "-"))
		return NULL;
	f = fopen(path, "r");
	p = folded_profile_new();
	if (!f || !p || folded_profile_parse(p, f, NULL)) {
		fprintf(stderr, "html_render_bench: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	return p;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct html_report_input in = {0};
	double t0, parse_ms, times[64];
	int rounds = argc > 5 ? atoi(argv[5]) : 5;
	long bytes = 0;
	char *json = NULL;
	size_t cap = 0;
	FILE *f;

	if (argc < 5 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: html_render_bench REPORT.json CPU.folded OFFCPU.folded|- "
				"OUT.html [ROUNDS]\n");
		return 1;
	}
	f = fopen(argv[1], "r");
	if (!f || getdelim(&json, &cap, '\0', f) < 0) {
		fprintf(stderr, "html_render_bench: cannot read %s\n", argv[1]);
		return 1;
	}
	fclose(f);
	in.json = json;
	in.json_len = strlen(json);
	t0 = now_ms();
	in.cpu = load_folded(argv[2]);
	in.off_cpu = load_folded(argv[3]);
	parse_ms = now_ms() - t0;
	for (int r = 0; r < rounds; r++) {
		FILE *out = fopen(argv[4], "w");
		int ret;

		if (!out) {
			fprintf(stderr, "html_render_bench: cannot write %s\n", argv[4]);
			return 1;
		}
		t0 = now_ms();
		ret = html_report_write(out, &in);
		if (fflush(out) || ret) {
			fprintf(stderr, "html_render_bench: render failed: %s\n", strerror(-ret));
			return 1;
		}
		times[r] = now_ms() - t0;
		bytes = ftell(out);
		fclose(out);
	}
	qsort(times, (size_t)rounds, sizeof(double), cmp_double);
	printf("%.1f %.1f %ld\n", parse_ms, times[rounds / 2], bytes);
	folded_profile_free((struct folded_profile *)in.cpu);
	folded_profile_free((struct folded_profile *)in.off_cpu);
	free(json);
	return 0;
}
