/* pprof_read.c: reads a pprof profile (protobuf, already inflated) into report_input stacks for
 * `diff`, `check` and `flamegraph`. Every index and id in the file is checked before use: the
 * input comes from anywhere (fuzzed by fuzz/fuzz_report.c). */
#include "smolder/pprof.h"
#include "smolder/report_input.h"
#include "smolder/text_sanitize.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof_table.h"
#include "profile.pb-c.h"

static int read_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int read_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	text_sanitize_vformat(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static uint64_t location_id_of(const void *p, size_t i)
{
	return ((const Perftools__Profiles__Profile *)p)->location[i]->id;
}

static uint64_t function_id_of(const void *p, size_t i)
{
	return ((const Perftools__Profiles__Profile *)p)->function[i]->id;
}

static uint64_t mapping_id_of(const void *p, size_t i)
{
	return ((const Perftools__Profiles__Profile *)p)->mapping[i]->id;
}

/* string_table[i], or NULL when i is out of range. */
static const char *pstr(const Perftools__Profiles__Profile *p, int64_t i)
{
	return pprof_string_at(p->string_table, p->n_string_table, i);
}

int pprof_read(const void *data, size_t len, struct report_input *in, char *err, size_t errlen)
{
	Perftools__Profiles__Profile *p;
	struct pprof_id_index *loc_ids = NULL, *fn_ids = NULL, *map_ids = NULL;
	char **frames = NULL, *names = NULL;
	size_t cap_frames = 0, type_index, n = 0;
	const char *type, *unit;
	double cpu_ns = 0;
	bool is_cpu_ns;
	int ret = -ENOMEM;

	in->kind = REPORT_KIND_PPROF;
	p = perftools__profiles__profile__unpack(NULL, len, data);
	if (!p)
		return read_error(err, errlen, "%s: not a pprof profile (protobuf does not decode)",
				  in->name);
	if (p->n_string_table == 0 || p->string_table[0][0] != '\0') {
		ret = read_error(err, errlen, "%s: pprof string table must start with \"\"",
				 in->name);
		goto out;
	}
	if (p->n_sample_type == 0) {
		ret = read_error(err, errlen, "%s: pprof profile has no sample types", in->name);
		goto out;
	}
	/* pprof's own rule: default_sample_type if set, else the last type. */
	type_index = p->n_sample_type - 1;
	for (size_t i = 0; p->default_sample_type && i < p->n_sample_type; i++)
		if (p->sample_type[i]->type == p->default_sample_type)
			type_index = i;
	type = pstr(p, p->sample_type[type_index]->type);
	unit = pstr(p, p->sample_type[type_index]->unit);
	if (!type || !unit) {
		ret = read_error(err, errlen, "%s: pprof sample type names a missing string",
				 in->name);
		goto out;
	}
	snprintf(in->countname, sizeof(in->countname), "%s",
		 !strcmp(unit, "count") ? "samples" : unit);
	is_cpu_ns = !strcmp(unit, "nanoseconds") && (!strcmp(type, "cpu") || !strcmp(type, "wall"));
	if (p->duration_nanos > 0)
		in->duration_s = (double)p->duration_nanos / 1e9;

	loc_ids = pprof_id_table(p->n_location, location_id_of, p);
	fn_ids = pprof_id_table(p->n_function, function_id_of, p);
	map_ids = pprof_id_table(p->n_mapping, mapping_id_of, p);
	if (!loc_ids || !fn_ids || !map_ids)
		goto out;
	for (size_t s = 0; s < p->n_sample; s++) {
		const Perftools__Profiles__Sample *sm = p->sample[s];
		double w;

		if (sm->n_value != p->n_sample_type) {
			ret = read_error(err, errlen,
					 "%s: pprof sample %zu has %zu values for %zu sample types",
					 in->name, s, sm->n_value, p->n_sample_type);
			goto out;
		}
		w = (double)sm->value[type_index];
		if (!(w > 0))
			continue;
		/* Root first: locations are leaf first, lines innermost first. */
		for (size_t k = sm->n_location_id; k-- > 0;) {
			const struct pprof_id_index *li =
				pprof_id_find(loc_ids, p->n_location, sm->location_id[k]);
			const Perftools__Profiles__Location *loc;
			const char *map_file = NULL;
			bool kernel;

			if (!li) {
				ret = read_error(err, errlen,
						 "%s: pprof sample %zu names location %" PRIu64
						 " that does not exist",
						 in->name, s, sm->location_id[k]);
				goto out;
			}
			loc = p->location[li->index];
			if (loc->mapping_id) {
				const struct pprof_id_index *mi =
					pprof_id_find(map_ids, p->n_mapping, loc->mapping_id);

				if (mi)
					map_file = pstr(p, p->mapping[mi->index]->filename);
			}
			kernel = map_file && (!strcmp(map_file, "[kernel]") ||
					      !strncmp(map_file, "[kernel.kallsyms]", 17));
			if (pprof_grow((void **)&frames, &cap_frames, n + loc->n_line + 1,
				       sizeof(*frames)))
				goto out;
			if (loc->n_line == 0) {
				if (asprintf(&frames[n], "%s+0x%" PRIx64,
					     map_file && *map_file ? map_file : "[unknown]",
					     loc->address) < 0)
					goto out;
				n++;
			}
			for (size_t l = loc->n_line; l-- > 0;) {
				const struct pprof_id_index *fi = pprof_id_find(
					fn_ids, p->n_function, loc->line[l]->function_id);
				const char *name =
					fi ? pstr(p, p->function[fi->index]->name) : NULL;

				if (asprintf(&frames[n], "%s%s", name && *name ? name : "[unknown]",
					     kernel		   ? "_[k]"
					     : l + 1 < loc->n_line ? "_[i]"
								   : "") < 0)
					goto out;
				n++;
			}
		}
		if (n == 0) {
			if (pprof_grow((void **)&frames, &cap_frames, 1, sizeof(*frames)))
				goto out;
			frames[n++] = strdup("[unknown]");
			if (!frames[0])
				goto out;
		}
		ret = report_input_add_stack(in, (const char *const *)frames, n, w);
		for (size_t f = 0; f < n; f++)
			free(frames[f]);
		n = 0;
		if (ret)
			goto out;
		ret = -ENOMEM;
		if (is_cpu_ns)
			cpu_ns += w;
	}
	if (is_cpu_ns)
		in->cpu_seconds = cpu_ns / 1e9;
	ret = 0;
out:
	for (size_t f = 0; f < n; f++)
		free(frames[f]);
	free(names);
	free(frames);
	free(loc_ids);
	free(fn_ids);
	free(map_ids);
	perftools__profiles__profile__free_unpacked(p, NULL);
	return ret;
}
