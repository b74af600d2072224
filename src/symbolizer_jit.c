/* symbolizer_jit.c: owns the symbolizer's view of JIT code: the target's perf map
 * (/tmp/perf-PID.map through /proc/PID/root, read as it grows), the anonymous executable mappings
 * seen, naming addresses in them, and the hint printed when JIT code had no names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/log.h"
#include "smolder/perf_map.h"
#include "symbolizer_internal.h"

/* The target's pid in its own pid namespace (what a JIT names its perf map after). */
static pid_t namespace_pid(pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	pid_t nspid = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (getline(&line, &cap, f) > 0) {
		if (!strncmp(line, "NSpid:", 6)) {
			char *last = strrchr(line, '\t');

			nspid = (pid_t)atoi(last ? last + 1 : line + 6);
			break;
		}
	}
	free(line);
	fclose(f);
	return nspid > 0 ? nspid : pid;
}

/* Reads the target's /tmp/perf-PID.map (through its root, named after its pid in its own
 * namespace) or what was appended to it since the last read. */
void symbolizer_jit_load_perf_map(struct symbolizer *sym)
{
	int err;

	if (!sym->perf_map_path[0])
		snprintf(sym->perf_map_path, sizeof(sym->perf_map_path),
			 "/proc/%d/root/tmp/perf-%d.map", (int)sym->pid,
			 (int)namespace_pid(sym->pid));
	if (!sym->perf_map) {
		sym->perf_map = perf_map_load(sym->perf_map_path);
		if (!sym->perf_map && errno != ENOENT && errno != ESRCH)
			log_debug("symbolizer: cannot read %s: %s", sym->perf_map_path,
				  strerror(errno));
		return;
	}
	err = perf_map_update(sym->perf_map);
	if (err < 0)
		log_debug("symbolizer: cannot read %s: %s", sym->perf_map_path, strerror(-err));
}

/* Remembers an anonymous executable mapping (JIT code). */
int symbolizer_jit_note_anon_exec(struct symbolizer *sym, uint64_t start, uint64_t end)
{
	size_t i, out = 0;

	for (i = 0; i < sym->nanon_exec; i++)
		if (start >= sym->anon_exec[i].start && end <= sym->anon_exec[i].end)
			return 0;
	if (sym->nanon_exec == sym->anon_exec_cap) {
		size_t ncap = sym->anon_exec_cap ? sym->anon_exec_cap * 2 : 16;
		struct sym_mapping *p = realloc(sym->anon_exec, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		sym->anon_exec = p;
		sym->anon_exec_cap = ncap;
	}
	/* Insert sorted, then merge what touches or overlaps. */
	for (i = sym->nanon_exec; i > 0 && sym->anon_exec[i - 1].start > start; i--)
		sym->anon_exec[i] = sym->anon_exec[i - 1];
	sym->anon_exec[i] = (struct sym_mapping){start, end, 0};
	sym->nanon_exec++;
	for (i = 0; i < sym->nanon_exec; i++) {
		if (out && sym->anon_exec[i].start <= sym->anon_exec[out - 1].end) {
			if (sym->anon_exec[i].end > sym->anon_exec[out - 1].end)
				sym->anon_exec[out - 1].end = sym->anon_exec[i].end;
			continue;
		}
		sym->anon_exec[out++] = sym->anon_exec[i];
	}
	sym->nanon_exec = out;
	return 0;
}

static bool in_anon_exec(const struct symbolizer *sym, uint64_t addr)
{
	size_t lo = 0, hi = sym->nanon_exec;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sym->anon_exec[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && addr < sym->anon_exec[lo - 1].end;
}

/* Code outside every mapped file: a JIT's, named from its perf map. JavaScript and Python functions
 * get their file and line and the JIT flag (coloured apart in flame graphs); other JIT code (V8's
 * builtins and stubs) its name. Unnamed code in an anonymous executable mapping is "[jit]". */
int symbolizer_jit_resolve(struct symbolizer *sym, uint64_t addr, struct frame_vec *out)
{
	const struct perf_map_symbol *ps = perf_map_lookup(sym->perf_map, addr);
	struct symbol_frame frame = {.module_offset = addr};

	if (ps) {
		frame.function = ps->function;
		frame.file = ps->file;
		frame.line = ps->line;
		frame.module = "[jit]";
		if (ps->kind == PERF_MAP_JS || ps->kind == PERF_MAP_PYTHON)
			frame.flags = SYMBOL_FRAME_JIT;
		sym->stats.jit_named++;
	} else if (in_anon_exec(sym, addr)) {
		frame.module = "[jit]";
		sym->stats.jit_unnamed++;
	}
	return symbolizer_push_frame(out, &frame);
}

const char *symbolizer_jit_hint(const struct symbolizer *sym)
{
	if (!sym || !sym->stats.jit_unnamed)
		return NULL;
	if (sym->perf_map)
		return "some JIT code is not in the target's perf map (/tmp/perf-PID.map): it was "
		       "compiled before the map was enabled, or freed";
	return "JIT code without names: the target writes no perf map (/tmp/perf-PID.map); for "
	       "JavaScript function names start node with --perf-basic-prof (or "
	       "NODE_OPTIONS=--perf-basic-prof; add --interpreted-frames-native-stack for "
	       "interpreted functions), for Python 3.12+ run python -X perf";
}
