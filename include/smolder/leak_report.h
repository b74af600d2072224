/* leak_report.h: the result of a `smolder leaks` run (per-site series, verdicts, RSS trend, drop
 * counters) and its writers: text summary, JSON report (DESIGN.md schema, extended), and memory
 * flame graphs (folded/SVG) of outstanding bytes or of bytes gained during the run. */
#ifndef SMOLDER_LEAK_REPORT_H
#define SMOLDER_LEAK_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "smolder/alloc_tracker.h"
#include "smolder/events.h"
#include "smolder/growth.h"

struct symbolizer;
struct process_table;

/* One process's share of a site (process trees): its own books' series and verdict. */
struct leak_site_process {
	int pid;
	uint32_t stack_id; /* the process's own stack (ends in its root frame) */
	uint32_t flags;
	struct growth_series series;
	uint64_t outstanding_bytes, outstanding_allocs, first_bytes;
	uint64_t alloc_bytes_first, alloc_bytes_last, alloc_count_last;
	struct growth_result growth;
};

/* An object mapped in the target, for exporters that keep mappings (pprof). */
struct leak_module {
	char *path; /* as in the maps (owned) */
	char build_id[129];
	uint64_t start, end, offset;
};

/* A site: one call path of one command, over every process running that command (same-command
 * workers of a tree add up; a single target is one process). */
struct leak_site {
	uint32_t stack_id; /* a member's stack (names the frames) */
	uint32_t flags;	   /* enum alloc_site_flags */
	char **frames;	   /* names, root first (owned) */
	char **locations;  /* "file:line" or NULL per frame (owned) */
	size_t n_frames;
	/* Per frame (the first n_addresses; later ones 0): the lookup address it was named from,
	 * frames of one address (inlined calls and their function) consecutive, 0 for named frames
	 * and the allocator; its object, index + 1 into the report's modules (0: none); and its
	 * source file's full path (locations hold base names). */
	uint64_t *addresses;
	uint32_t *modules;
	char **source_files; /* full source path per frame, NULL when unknown (owned) */
	size_t n_addresses;
	uint32_t unknown_frames;     /* frames in no known object (after symbolization) */
	struct growth_series series; /* outstanding bytes over time */
	uint64_t outstanding_bytes;  /* at the end (after --min-age filtering) */
	uint64_t outstanding_allocs;
	uint64_t first_bytes; /* outstanding at the first sample that saw the site */
	uint64_t alloc_bytes_first, alloc_bytes_last; /* cumulative allocated bytes */
	uint64_t alloc_count_last;
	struct growth_result growth;
	char command[64];		 /* the processes' command */
	struct leak_site_process *procs; /* per process, by pid */
	size_t n_procs;
};

struct leak_report {
	int pid;
	char command[64];
	double duration_s, interval_s;
	const char *stop_reason;
	double min_age_s;
	struct leak_site *sites; /* heap and mmap sites; sorted by growth rate once analysed */
	size_t n_sites, cap_sites;
	struct growth_series rss, anon; /* target's VmRSS / RssAnon */
	struct growth_result rss_growth;
	uint64_t stats[SMOLDER_STAT_MAX];
	uint64_t snapshots_unwound, rules_installed;
	uint64_t rules_relearned; /* rules learned where no code was known yet, learned again */
	/* exec during the run: the old image's blocks closed then (not leaks), its command name and
	 * when (seconds into the run) the last exec happened. */
	struct alloc_tracker_exec_stats exec;
	char command_before_exec[64];
	double exec_at_s;
	size_t probe_objects, probe_points, probe_emulated;
	uint64_t tool_memory_bytes;
	bool complete;
	struct leak_module *modules; /* objects the sites' addresses lie in */
	size_t n_modules;
	/* Python targets: the interpreter's version ("" otherwise), Python frames named and not
	 * (code objects unreadable or stale), Python stacks whose native part was lost, and mmap
	 * sites that are pymalloc arenas. */
	char python_version[16];
	uint64_t python_frames, python_frames_unnamed, python_orphans, python_arena_sites;
	/* Process trees: processes with books (every target that allocated), and the tree's
	 * forks, exits and blocks closed by exits. With more than one process, stacks start with
	 * their process (COMMAND [PID], or COMMAND with merge_processes) in folded outputs and
	 * with COMMAND in JSON sites. */
	size_t n_processes;
	bool merge_processes;
	struct alloc_tracker_tree_stats tree;
};

/* The site's member for pid, added when new. NULL on allocation failure. */
struct leak_site_process *leak_site_process(struct leak_site *site, int pid, uint32_t stack_id);

/* Finds or adds the site for (stack_id, mmap flag). NULL on allocation failure. */
struct leak_site *leak_report_site(struct leak_report *report, uint32_t stack_id, uint32_t flags);
/* Runs growth analysis on every site and the RSS, sorts sites by growth rate (fastest first) and
 * decides completeness from the drop counters. */
void leak_report_analyse(struct leak_report *report);
/* Names every site's frames: return addresses through the symbolizer of the process the site's
 * stack is rooted at (processes, may be NULL) or else sym, the allocator pseudo frame (leaf of
 * heap sites) through the tracker. The process root frame is not one of the names. */
struct alloc_tracker;
void leak_report_symbolize(struct leak_report *report, const struct alloc_tracker *tracker,
			   struct symbolizer *sym, const struct process_table *processes);
/* Frees everything the report owns (not the struct). */
void leak_report_release(struct leak_report *report);

int leak_report_write_text(const struct leak_report *report, FILE *out, size_t max_sites);
int leak_report_write_json(const struct leak_report *report, FILE *out);
/* Memory flame graph: outstanding bytes (growth false) or bytes gained during the run (growth
 * true), as folded text (svg false) or SVG. */
int leak_report_write_flamegraph(const struct leak_report *report, FILE *out, bool growth,
				 bool svg);

/* A site's per-process breakdown as a JSON array: [{pid, outstanding_bytes, outstanding_allocs,
 * allocated_bytes, growth_bytes_per_s, verdict, closed_by_exit}] (profile's report shares it). */
struct json_writer;
void leak_report_json_site_processes(struct json_writer *w, const struct leak_site *site);

/* One stack of the memory flame graphs (and of pprof and speedscope): a site, or in a process tree
 * one process's share of it, under its root frame. */
struct leak_graph_stack {
	const struct leak_site_process *member; /* NULL: the whole site */
	char root[96]; /* "COMMAND [PID]", "COMMAND" (merged), "" (one process) */
	uint64_t outstanding_bytes, outstanding_allocs, first_bytes;
};

/* How many graph stacks site s has: one per process with several processes (unless merged),
 * else one. */
size_t leak_report_graph_stacks(const struct leak_report *r, const struct leak_site *s);
/* Graph stack m (< leak_report_graph_stacks) of site s. */
void leak_report_graph_stack(const struct leak_report *r, const struct leak_site *s, size_t m,
			     struct leak_graph_stack *g);

/* True when an output path selects the growth flame graph: NAME.growth.svg / NAME.growth.folded. */
bool leak_report_path_is_growth(const char *path);

#endif
