/* perf_map_bench.c: load and lookup time of a perf map as node --perf-basic-prof writes them:
 * N entries (default 100000) of "JS:*name /srv/app/file.js:LINE:COL" with V8-like sizes, 5% of
 * them reusing the range of an earlier entry (code freed and its memory reused), in file order by
 * time. Prints the load time, the cost of one lookup (random addresses, half inside code), and of
 * reading 1000 appended lines with perf_map_update.
 *   perf_map_bench [N] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smolder/perf_map.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 17;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, i, found = 0;
	char path[] = "/tmp/smolder-perf-map-bench-XXXXXX";
	uint64_t seed = 42, base = 0x7f0000000000ull, at = base, *starts, *sizes;
	const size_t lookups = 2000000;
	struct perf_map *pm;
	double t0, t_load, t_lookup, t_update;
	FILE *f;
	int fd = mkstemp(path);

	starts = malloc(n * sizeof(*starts));
	sizes = malloc(n * sizeof(*sizes));
	if (fd < 0 || !starts || !sizes || !(f = fdopen(fd, "w")))
		return 1;
	for (i = 0; i < n; i++) {
		if (i > 100 && rnd(&seed) % 20 == 0) {
			size_t k = rnd(&seed) % i; /* reuse an earlier entry's memory */

			starts[i] = starts[k];
			sizes[i] = sizes[k];
		} else {
			starts[i] = at;
			sizes[i] = 0x40 + rnd(&seed) % 0x1000;
			at += (sizes[i] + 63) & ~63ull;
		}
		fprintf(f,
			"%" PRIx64 " %" PRIx64
			" JS:%cfunction_%zu /srv/app/module_%zu.js:%zu:%zu\n",
			starts[i], sizes[i], "~^*"[i % 3], i, i % 500, 1 + i % 2000, 1 + i % 80);
	}
	fflush(f);
	t0 = now();
	pm = perf_map_load(path);
	if (!pm)
		return 1;
	perf_map_lookup(pm, base); /* builds the lookup table */
	t_load = now() - t0;
	t0 = now();
	for (i = 0; i < lookups; i++) {
		uint64_t a = base + rnd(&seed) % ((at - base) * 2);

		found += perf_map_lookup(pm, a) != NULL;
	}
	t_lookup = now() - t0;
	for (i = 0; i < 1000; i++) {
		fprintf(f, "%" PRIx64 " 100 JS:*late_%zu /srv/app/late.js:%zu:1\n", at, i, i + 1);
		at += 0x100;
	}
	fflush(f);
	t0 = now();
	if (perf_map_update(pm) != 1)
		return 1;
	perf_map_lookup(pm, base); /* rebuilds the lookup table */
	t_update = now() - t0;
	printf("perf map: %zu entries (%" PRIu64 " answering), file %ld bytes\n", n,
	       perf_map_count(pm), (long)lseek(fd, 0, SEEK_END));
	printf("load (with the lookup table): %.1f ms; lookup: %.0f ns each (%zu of %zu found); "
	       "1000 appended lines read and table rebuilt: %.1f ms\n",
	       t_load * 1e3, t_lookup * 1e9 / (double)lookups, found, lookups, t_update * 1e3);
	perf_map_free(pm);
	fclose(f);
	unlink(path);
	free(starts);
	free(sizes);
	return 0;
}
