/* speedscope.c: speedscope's file format, version 0.0.1 of its schema: {"$schema", "shared":
 * {"frames": [{"name", "file"?, "line"?}]}, "profiles": [{"type": "sampled", "name", "unit",
 * "startValue", "endValue", "samples": [[frame index, root first]], "weights"}], "name",
 * "activeProfileIndex", "exporter"}. Frames are interned by name. */
#include "smolder/speedscope.h"
#include "smolder/alloc_tracker.h"
#include "smolder/json_writer.h"
#include "smolder/leak_report.h"
#include "smolder/profile_output.h"
#include "smolder/report_input.h"

#include <errno.h>
#include <math.h>
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

int speedscope_write(const struct report_stack *stacks, size_t n, const char *name,
		     const char *unit, double scale, FILE *fp)
{
	struct frame_map m = {0};
	struct json_writer w;
	long **indices = calloc(n ? n : 1, sizeof(*indices));
	double total = 0;
	int ret = -ENOMEM;

	if (!indices)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		indices[i] = calloc(stacks[i].n_frames ? stacks[i].n_frames : 1, sizeof(long));
		if (!indices[i])
			goto out;
		for (size_t k = 0; k < stacks[i].n_frames; k++) {
			indices[i][k] = frame_index(&m, stacks[i].frames[k]);
			if (indices[i][k] < 0)
				goto out;
		}
		total += stacks[i].weight * scale;
	}
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
	json_object_begin(&w);
	json_key(&w, "type");
	json_string(&w, "sampled");
	json_key(&w, "name");
	json_string(&w, name);
	json_key(&w, "unit");
	json_string(&w, unit);
	json_key(&w, "startValue");
	json_int(&w, 0);
	json_key(&w, "endValue");
	json_double(&w, total);
	json_key(&w, "samples");
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++) {
		json_array_begin(&w);
		for (size_t k = 0; k < stacks[i].n_frames; k++)
			json_int(&w, indices[i][k]);
		json_array_end(&w);
	}
	json_array_end(&w);
	json_key(&w, "weights");
	json_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		json_double(&w, stacks[i].weight * scale);
	json_array_end(&w);
	json_object_end(&w);
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
	for (size_t i = 0; i < n; i++)
		free(indices[i]);
	free(indices);
	free(m.names);
	free(m.slots);
	return ret;
}

static void stacks_release(struct report_stack *stacks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(stacks[i].frames);
	free(stacks);
}

int speedscope_write_cpu(const struct profile_folded *folded,
			 const struct profile_output_meta *meta, FILE *fp)
{
	struct report_stack *stacks = NULL;
	char **copies = NULL, title[160];
	size_t n = 0, cap = 0;
	uint64_t weight;
	const char *line;
	int ret = -ENOMEM;

	/* Folded lines split at ';' (names never hold one). */
	for (size_t i = 0; (line = profile_folded_line(folded, i, &weight)); i++) {
		char *copy, *frame, *save = NULL;
		size_t frames = 1;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct report_stack *s = realloc(stacks, ncap * sizeof(*s));
			char **c = realloc(copies, ncap * sizeof(*c));

			if (s)
				stacks = s;
			if (c)
				copies = c;
			if (!s || !c)
				goto out;
			cap = ncap;
		}
		for (const char *p = line; *p; p++)
			frames += *p == ';';
		copy = strdup(line);
		stacks[n].frames = calloc(frames, sizeof(char *));
		copies[n] = copy;
		if (!copy || !stacks[n].frames) {
			free(stacks[n].frames);
			free(copy);
			goto out;
		}
		stacks[n].n_frames = 0;
		for (frame = strtok_r(copy, ";", &save); frame; frame = strtok_r(NULL, ";", &save))
			stacks[n].frames[stacks[n].n_frames++] = frame;
		stacks[n].weight = (double)weight;
		n++;
	}
	snprintf(title, sizeof(title), "CPU: %s (PID %d)", meta->command ? meta->command : "?",
		 (int)meta->pid);
	if (meta->frequency_hz > 0)
		ret = speedscope_write(stacks, n, title, "nanoseconds",
				       (double)(1000000000LL / meta->frequency_hz), fp);
	else
		ret = speedscope_write(stacks, n, title, "none", 1, fp);
out:
	for (size_t i = 0; i < n; i++)
		free(copies[i]);
	free(copies);
	stacks_release(stacks, n);
	return ret;
}

int speedscope_write_leaks(const struct leak_report *r, FILE *fp)
{
	struct report_stack *stacks = calloc(r->n_sites + 1, sizeof(*stacks));
	char title[160];
	size_t n = 0;
	int ret = -ENOMEM;

	if (!stacks)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_sites; i++) {
		const struct leak_site *s = &r->sites[i];

		if (s->outstanding_bytes == 0 || s->n_frames == 0)
			continue;
		stacks[n].frames = calloc(s->n_frames + 1, sizeof(char *));
		if (!stacks[n].frames)
			goto out;
		stacks[n].frames[0] = (s->flags & ALLOC_SITE_MMAP) ? "[anon mmap]" : "[heap]";
		memcpy(stacks[n].frames + 1, s->frames, s->n_frames * sizeof(char *));
		stacks[n].n_frames = s->n_frames + 1;
		stacks[n].weight = (double)s->outstanding_bytes;
		n++;
	}
	snprintf(title, sizeof(title), "Outstanding memory: %s (PID %d)", r->command, r->pid);
	ret = speedscope_write(stacks, n, title, "bytes", 1, fp);
out:
	stacks_release(stacks, n);
	return ret;
}
