/* speedscope.c: speedscope's file format, version 0.0.1 of its schema: {"$schema", "shared":
 * {"frames": [{"name", "file"?, "line"?}]}, "profiles": [{"type": "sampled", "name", "unit",
 * "startValue", "endValue", "samples": [[frame index, root first]], "weights"}], "name",
 * "activeProfileIndex", "exporter"}. Frames are interned by name and shared by the profiles: one
 * per part of the run (on-CPU, off-CPU, outstanding memory, memory growth). */
#include "smolder/speedscope.h"
#include "smolder/alloc_tracker.h"
#include "smolder/json_writer.h"
#include "smolder/leak_report.h"
#include "smolder/profile_output.h"
#include "smolder/report_input.h"
#include "smolder/report_parts.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct frame_map {
	const char **names; /* borrowed from the stacks */
	uint32_t *slots;    /* index + 1 */
	size_t n, cap_names, n_slots;
};

static uint64_t hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* Index of name, added when new; -1 on allocation failure. */
static long frame_index(struct frame_map *m, const char *name)
{
	size_t s;

	if ((m->n + 1) * 2 > m->n_slots) {
		size_t n_slots = m->n_slots ? m->n_slots * 2 : 1024;
		uint32_t *slots = calloc(n_slots, sizeof(*slots));

		if (!slots)
			return -1;
		for (size_t i = 0; i < m->n; i++) {
			s = hash_name(m->names[i]) & (n_slots - 1);
			while (slots[s])
				s = (s + 1) & (n_slots - 1);
			slots[s] = (uint32_t)i + 1;
		}
		free(m->slots);
		m->slots = slots;
		m->n_slots = n_slots;
	}
	s = hash_name(name) & (m->n_slots - 1);
	while (m->slots[s]) {
		if (!strcmp(m->names[m->slots[s] - 1], name))
			return m->slots[s] - 1;
		s = (s + 1) & (m->n_slots - 1);
	}
	if (m->n == m->cap_names) {
		size_t cap = m->cap_names ? m->cap_names * 2 : 256;
		const char **names = realloc(m->names, cap * sizeof(*names));

		if (!names)
			return -1;
		m->names = names;
		m->cap_names = cap;
	}
	m->names[m->n] = name;
	m->slots[s] = (uint32_t)++m->n;
	return (long)m->n - 1;
}

/* "qualname (file.py:LINE)": the file and line of an interpreted frame. */
static void frame_source(struct json_writer *w, const char *name)
{
	size_t n = strlen(name);
	const char *open, *colon;
	char file[1024];
	long line;

	if (n < 5 || name[n - 1] != ')')
		return;
	open = strrchr(name, '(');
	colon = open ? strrchr(open, ':') : NULL;
	if (!open || open == name || open[-1] != ' ' || !colon)
		return;
	line = strtol(colon + 1, NULL, 10);
	if (line <= 0 || (size_t)(colon - open - 1) >= sizeof(file) || colon == open + 1)
		return;
	snprintf(file, sizeof(file), "%.*s", (int)(colon - open - 1), open + 1);
	json_key(w, "file");
	json_string(w, file);
	json_key(w, "line");
	json_int(w, line);
}

/* Interns every frame of the profiles' stacks; indices[p][i][k] is frame k of stack i. */
static int intern_frames(struct frame_map *m, const struct speedscope_profile *profiles, size_t n,
			 long ***indices)
{
	for (size_t p = 0; p < n; p++) {
		const struct speedscope_profile *prof = &profiles[p];

		indices[p] = calloc(prof->n_stacks ? prof->n_stacks : 1, sizeof(long *));
		if (!indices[p])
			return -ENOMEM;
		for (size_t i = 0; i < prof->n_stacks; i++) {
			const struct report_stack *st = &prof->stacks[i];

			indices[p][i] = calloc(st->n_frames ? st->n_frames : 1, sizeof(long));
			if (!indices[p][i])
				return -ENOMEM;
			for (size_t k = 0; k < st->n_frames; k++) {
				indices[p][i][k] = frame_index(m, st->frames[k]);
				if (indices[p][i][k] < 0)
					return -ENOMEM;
			}
		}
	}
	return 0;
}

static void write_profile(struct json_writer *w, const struct speedscope_profile *prof,
			  long **indices)
{
	double total = 0;

	for (size_t i = 0; i < prof->n_stacks; i++)
		total += prof->stacks[i].weight * prof->scale;
	json_object_begin(w);
	json_key(w, "type");
	json_string(w, "sampled");
	json_key(w, "name");
	json_string(w, prof->name);
	json_key(w, "unit");
	json_string(w, prof->unit);
	json_key(w, "startValue");
	json_int(w, 0);
	json_key(w, "endValue");
	json_double(w, total);
	json_key(w, "samples");
	json_array_begin(w);
	for (size_t i = 0; i < prof->n_stacks; i++) {
		json_array_begin(w);
		for (size_t k = 0; k < prof->stacks[i].n_frames; k++)
			json_int(w, indices[i][k]);
		json_array_end(w);
	}
	json_array_end(w);
	json_key(w, "weights");
	json_array_begin(w);
	for (size_t i = 0; i < prof->n_stacks; i++)
		json_double(w, prof->stacks[i].weight * prof->scale);
	json_array_end(w);
	json_object_end(w);
}

int speedscope_write_profiles(const struct speedscope_profile *profiles, size_t n, const char *name,
			      FILE *fp)
{
	struct frame_map m = {0};
	struct json_writer w;
	long ***indices = calloc(n ? n : 1, sizeof(*indices));
	int ret = -ENOMEM;

	if (!indices)
		return -ENOMEM;
	if (intern_frames(&m, profiles, n, indices))
		goto out;
	json_writer_init(&w, fp, false);
	json_object_begin(&w);
	json_key(&w, "$schema");
	json_string(&w, "https://www.speedscope.app/file-format-schema.json");
	json_key(&w, "shared");
	json_object_begin(&w);
	json_key(&w, "frames");
	json_array_begin(&w);
	for (size_t i = 0; i < m.n; i++) {
		json_object_begin(&w);
		json_key(&w, "name");
		json_string(&w, m.names[i]);
		frame_source(&w, m.names[i]);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_end(&w);
	json_key(&w, "profiles");
	json_array_begin(&w);
	for (size_t p = 0; p < n; p++)
		write_profile(&w, &profiles[p], indices[p]);
	json_array_end(&w);
	json_key(&w, "name");
	json_string(&w, name);
	json_key(&w, "activeProfileIndex");
	json_int(&w, 0);
	json_key(&w, "exporter");
	json_string(&w, "smolder " SMOLDER_VERSION);
	json_object_end(&w);
	ret = json_writer_finish(&w);
out:
	for (size_t p = 0; p < n; p++) {
		for (size_t i = 0; indices[p] && i < profiles[p].n_stacks; i++)
			free(indices[p][i]);
		free(indices[p]);
	}
	free(indices);
	free(m.names);
	free(m.slots);
	return ret;
}

int speedscope_write(const struct report_stack *stacks, size_t n, const char *name,
		     const char *unit, double scale, FILE *fp)
{
	struct speedscope_profile prof = {
		.name = name, .unit = unit, .scale = scale, .stacks = stacks, .n_stacks = n};

	return speedscope_write_profiles(&prof, 1, name, fp);
}

/* Stacks of one part, their frames pointing into copies (folded lines split at ';') or into
 * the leak report. */
struct part_stacks {
	struct report_stack *stacks;
	size_t n, cap;
	char **copies;
	size_t n_copies;
};

static void part_stacks_release(struct part_stacks *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->stacks[i].frames);
	free(p->stacks);
	for (size_t i = 0; i < p->n_copies; i++)
		free(p->copies[i]);
	free(p->copies);
	memset(p, 0, sizeof(*p));
}

static struct report_stack *part_stacks_next(struct part_stacks *p, size_t n_frames)
{
	struct report_stack *st;

	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 256;
		struct report_stack *s = realloc(p->stacks, ncap * sizeof(*s));
		char **c = realloc(p->copies, ncap * sizeof(*c));

		if (s)
			p->stacks = s;
		if (c)
			p->copies = c;
		if (!s || !c)
			return NULL;
		p->cap = ncap;
	}
	st = &p->stacks[p->n];
	memset(st, 0, sizeof(*st));
	st->frames = calloc(n_frames ? n_frames : 1, sizeof(char *));
	if (!st->frames)
		return NULL;
	p->n++;
	return st;
}

/* The folded profile's merged lines, exactly as the .folded output has them (process and thread
 * roots included). */
static int folded_part(const struct profile_folded *folded, struct part_stacks *p)
{
	uint64_t weight;
	const char *line;

	for (size_t i = 0; (line = profile_folded_line(folded, i, &weight)); i++) {
		char *copy, *frame, *save = NULL;
		struct report_stack *st;
		size_t frames = 1;

		for (const char *c = line; *c; c++)
			frames += *c == ';';
		st = part_stacks_next(p, frames);
		copy = strdup(line);
		if (!st || !copy) {
			free(copy);
			return -ENOMEM;
		}
		p->copies[p->n_copies++] = copy;
		for (frame = strtok_r(copy, ";", &save); frame; frame = strtok_r(NULL, ";", &save))
			st->frames[st->n_frames++] = frame;
		st->weight = (double)weight;
	}
	return 0;
}

/* Heap and mmap sites as the memory flame graphs draw them (process roots of a tree included):
 * bytes outstanding at the end (growth false) or gained during the run (growth true). */
static int memory_part(const struct leak_report *r, bool growth, struct part_stacks *p)
{
	for (size_t i = 0; i < r->n_sites; i++) {
		const struct leak_site *s = &r->sites[i];

		for (size_t m = 0; m < leak_report_graph_stacks(r, s); m++) {
			struct leak_graph_stack g;
			struct report_stack *st;
			char *root = NULL;
			double w;
			size_t k = 0;

			leak_report_graph_stack(r, s, m, &g);
			w = growth ? (double)g.outstanding_bytes - (double)g.first_bytes
				   : (double)g.outstanding_bytes;
			if (!(w > 0) || s->n_frames == 0)
				continue;
			st = part_stacks_next(p, s->n_frames + 2);
			if (!st || (g.root[0] && !(root = strdup(g.root))))
				return -ENOMEM;
			if (root) {
				/* owned by the part, like folded lines' copies */
				p->copies[p->n_copies++] = root;
				st->frames[k++] = root;
			}
			st->frames[k++] = (s->flags & ALLOC_SITE_MMAP) ? "[anon mmap]" : "[heap]";
			memcpy(st->frames + k, s->frames, s->n_frames * sizeof(char *));
			st->n_frames = k + s->n_frames;
			st->weight = w;
		}
	}
	return 0;
}

int speedscope_write_parts(const struct report_parts *parts, FILE *fp)
{
	const struct profile_output_meta *meta = parts->meta;
	const char *command = meta && meta->command ? meta->command
			      : parts->memory	    ? parts->memory->command
						    : "?";
	int pid = meta ? (int)meta->pid : parts->memory ? parts->memory->pid : 0;
	struct part_stacks stacks[4] = {0};
	struct speedscope_profile profiles[4];
	char names[4][160], title[200];
	size_t n = 0;
	int ret = 0;

	if (parts->cpu) {
		int freq = meta ? meta->frequency_hz : 0;

		ret = folded_part(parts->cpu, &stacks[n]);
		snprintf(names[n], sizeof(names[n]), "On-CPU: %s (PID %d)", command, pid);
		/* Samples times the integral period, as pprof has it. */
		profiles[n] = (struct speedscope_profile){
			.name = names[n],
			.unit = freq > 0 ? "nanoseconds" : "none",
			.scale = freq > 0 ? (double)(1000000000LL / freq) : 1};
		n++;
	}
	if (!ret && parts->off_cpu) {
		ret = folded_part(parts->off_cpu, &stacks[n]);
		snprintf(names[n], sizeof(names[n]), "Off-CPU: %s (PID %d)", command, pid);
		profiles[n] = (struct speedscope_profile){
			.name = names[n],
			.unit = "nanoseconds",
			.scale = (double)(parts->off_cpu_unit_ns > 0 ? parts->off_cpu_unit_ns : 1)};
		n++;
	}
	for (int growth = 0; !ret && parts->memory && growth < 2; growth++) {
		ret = memory_part(parts->memory, growth, &stacks[n]);
		snprintf(names[n], sizeof(names[n]), "%s: %s (PID %d)",
			 growth ? "Memory growth during the run" : "Outstanding memory", command,
			 pid);
		profiles[n] =
			(struct speedscope_profile){.name = names[n], .unit = "bytes", .scale = 1};
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		profiles[i].stacks = stacks[i].stacks;
		profiles[i].n_stacks = stacks[i].n;
	}
	snprintf(title, sizeof(title), "smolder %s: %s (PID %d)",
		 parts->tool ? parts->tool : "profile", command, pid);
	if (!ret)
		ret = n ? speedscope_write_profiles(profiles, n, title, fp) : -EINVAL;
	for (size_t i = 0; i < n; i++)
		part_stacks_release(&stacks[i]);
	return ret;
}

int speedscope_write_cpu(const struct profile_folded *folded,
			 const struct profile_output_meta *meta, FILE *fp)
{
	struct report_parts parts = {.tool = "record", .cpu = folded, .meta = meta};

	return speedscope_write_parts(&parts, fp);
}

int speedscope_write_leaks(const struct leak_report *r, FILE *fp)
{
	struct report_parts parts = {.tool = "leaks", .memory = r};

	return speedscope_write_parts(&parts, fp);
}
