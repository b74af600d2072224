/* symbolize_bench: resolves a list of link-time addresses of one ELF object with smolder's
 * symbolizer (the object mapped at its p_vaddr, as symbolizer_new_from_maps allows) and reports
 * addresses per second on stderr. With --print, writes the frames to stdout in the format of
 * `addr2line -a -f -i -C` so scripts/bench/symbolize.sh can check agreement. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "smolder/proc_maps.h"
#include "smolder/symbolizer.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The PT_LOAD segments of path as mappings at their link-time addresses. */
static int elf_maps(const char *path, struct proc_maps *maps)
{
	struct stat st;
	size_t phnum, i;
	Elf *elf;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_getphdrnum(elf, &phnum) != 0)
		return -ENOEXEC;
	maps->maps = calloc(phnum, sizeof(*maps->maps));
	maps->n = 0;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		struct proc_map *m;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		m = &maps->maps[maps->n++];
		m->start = ph.p_vaddr & ~4095ull;
		m->end = (ph.p_vaddr + ph.p_memsz + 4095) & ~4095ull;
		m->offset = ph.p_offset & ~4095ull;
		m->inode = st.st_ino;
		m->perms = PROC_MAP_READ | (ph.p_flags & PF_X ? PROC_MAP_EXEC : 0) |
			   (ph.p_flags & PF_W ? PROC_MAP_WRITE : 0);
		m->path = strdup(path);
	}
	elf_end(elf);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct symbolizer_stats stats;
	struct proc_maps maps = {0};
	struct symbolizer *sym;
	uint64_t *addrs = NULL, a;
	size_t n = 0, cap = 0, i, frames = 0;
	int print = argc > 3 && !strcmp(argv[3], "--print");
	double t0, t1, t2;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: symbolize_bench ELF ADDRESS_FILE [--print]\n");
		return 1;
	}
	f = fopen(argv[2], "r");
	if (!f) {
		fprintf(stderr, "symbolize_bench: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	while (fscanf(f, "%" SCNx64, &a) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			addrs = realloc(addrs, cap * sizeof(*addrs));
		}
		addrs[n++] = a;
	}
	fclose(f);
	if (elf_maps(argv[1], &maps) != 0) {
		fprintf(stderr, "symbolize_bench: cannot read %s\n", argv[1]);
		return 1;
	}
	t0 = now();
	sym = symbolizer_new_from_maps(&maps);
	if (!sym) {
		fprintf(stderr, "symbolize_bench: symbolizer: %s\n", strerror(errno));
		return 1;
	}
	t1 = now();
	for (i = 0; i < n; i++) {
		const struct symbol_frame *fr;

		frames += symbolizer_resolve(sym, addrs[i], &fr);
	}
	t2 = now();
	if (print) {
		for (i = 0; i < n; i++) {
			const struct symbol_frame *fr;
			size_t k, m = symbolizer_resolve(sym, addrs[i], &fr);

			printf("0x%016" PRIx64 "\n", addrs[i]);
			for (k = 0; k < m; k++)
				printf("%s\n%s:%u\n", fr[k].function ? fr[k].function : "??",
				       fr[k].file ? fr[k].file : "??", fr[k].line);
		}
	}
	symbolizer_get_stats(sym, &stats);
	fprintf(stderr,
		"smolder: %zu addresses, %zu frames, %" PRIu64 " unknown: open %.3f s, resolve "
		"%.3f s, %.0f addresses/s\n",
		n, frames, stats.unknown, t1 - t0, t2 - t1, (double)n / (t2 - t0));
	symbolizer_free(sym);
	proc_maps_release(&maps);
	free(addrs);
	return 0;
}
