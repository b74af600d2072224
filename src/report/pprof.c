/* pprof.c: writes pprof profiles (profile.proto, generated into C by protoc-c at build time; gzip
 * by zlib); pprof_read.c reads them. The builder keeps its own tables (strings, functions,
 * mappings, locations, samples) interned by string keys, and builds the protobuf-c message only
 * when writing. */
#include "smolder/pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pprof_table.h"
#include "profile.pb-c.h"

struct pb_location {
	uint64_t mapping_id, address;
	size_t first_line, n_lines; /* into lines */
};

struct pb_mapping {
	uint64_t start, limit, offset;
	int64_t file, build_id;
};

struct pb_function {
	int64_t name, file;
};

struct pb_line {
	uint64_t function_id;
	int64_t line;
};

struct pb_label {
	int64_t key, str, num;
};

struct pprof_builder {
	char **strings;
	size_t n_strings, cap_strings;
	struct pprof_intern string_ids, function_ids, mapping_ids, location_ids;
	struct pb_function *functions;
	size_t n_functions, cap_functions;
	struct pb_mapping *mappings;
	size_t n_mappings, cap_mappings;
	struct pb_location *locations;
	size_t n_locations, cap_locations;
	struct pb_line *lines;
	size_t n_lines, cap_lines;
	int64_t *types; /* pairs type, unit */
	size_t n_types;
	uint64_t *sample_locs; /* all samples' locations, concatenated */
	size_t n_sample_locs, cap_sample_locs;
	size_t *sample_first, *sample_n; /* per sample */
	int64_t *sample_values;		 /* n_types per sample */
	size_t n_samples, cap_samples;
	struct pb_label *labels; /* all samples' labels, concatenated */
	size_t n_labels, cap_labels;
	size_t *label_first, *label_n; /* per sample (cap_samples) */
	int64_t period_type, period_unit, period, default_type;
	int64_t time_nanos, duration_nanos;
	int64_t *comments;
	size_t n_comments;
};

/* Index of s in the string table (0 is ""), -1 on allocation failure. */
static int64_t string_id(struct pprof_builder *b, const char *s)
{
	bool failed = false;
	uint64_t id;

	if (!s || !*s)
		return 0;
	id = pprof_intern_get(&b->string_ids, s, 0, &failed);
	if (id)
		return (int64_t)id;
	if (pprof_grow((void **)&b->strings, &b->cap_strings, b->n_strings + 1,
		       sizeof(*b->strings)))
		return -1;
	b->strings[b->n_strings] = strdup(s);
	if (!b->strings[b->n_strings])
		return -1;
	id = pprof_intern_get(&b->string_ids, s, b->n_strings, &failed);
	if (failed) {
		free(b->strings[b->n_strings]);
		return -1;
	}
	return (int64_t)b->n_strings++;
}

struct pprof_builder *pprof_builder_new(void)
{
	struct pprof_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->strings = calloc(16, sizeof(*b->strings));
	if (!b->strings || !(b->strings[0] = strdup(""))) {
		free(b->strings);
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	b->cap_strings = 16;
	b->n_strings = 1;
	return b;
}

void pprof_builder_free(struct pprof_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_strings; i++)
		free(b->strings[i]);
	free(b->strings);
	pprof_intern_release(&b->string_ids);
	pprof_intern_release(&b->function_ids);
	pprof_intern_release(&b->mapping_ids);
	pprof_intern_release(&b->location_ids);
	free(b->functions);
	free(b->mappings);
	free(b->locations);
	free(b->lines);
	free(b->types);
	free(b->sample_locs);
	free(b->sample_first);
	free(b->sample_n);
	free(b->sample_values);
	free(b->labels);
	free(b->label_first);
	free(b->label_n);
	free(b->comments);
	free(b);
}

int pprof_builder_sample_type(struct pprof_builder *b, const char *type, const char *unit)
{
	int64_t t = string_id(b, type), u = string_id(b, unit);
	int64_t *types;

	if (b->n_samples)
		return -EINVAL;
	if (t < 0 || u < 0)
		return -ENOMEM;
	types = realloc(b->types, (b->n_types + 1) * 2 * sizeof(*types));
	if (!types)
		return -ENOMEM;
	b->types = types;
	types[b->n_types * 2] = t;
	types[b->n_types * 2 + 1] = u;
	b->n_types++;
	return 0;
}

int pprof_builder_default_type(struct pprof_builder *b, const char *type)
{
	int64_t t = string_id(b, type);

	if (t < 0)
		return -ENOMEM;
	b->default_type = t;
	return 0;
}

int pprof_builder_period(struct pprof_builder *b, const char *type, const char *unit,
			 int64_t period)
{
	b->period_type = string_id(b, type);
	b->period_unit = string_id(b, unit);
	b->period = period;
	return b->period_type < 0 || b->period_unit < 0 ? -ENOMEM : 0;
}

void pprof_builder_duration(struct pprof_builder *b, int64_t time_nanos, int64_t duration_nanos)
{
	b->time_nanos = time_nanos;
	b->duration_nanos = duration_nanos;
}

int pprof_builder_comment(struct pprof_builder *b, const char *text)
{
	int64_t id = string_id(b, text);
	int64_t *c;

	if (id < 0)
		return -ENOMEM;
	c = realloc(b->comments, (b->n_comments + 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	b->comments = c;
	c[b->n_comments++] = id;
	return 0;
}

uint64_t pprof_builder_mapping(struct pprof_builder *b, uint64_t start, uint64_t limit,
			       uint64_t offset, const char *file, const char *build_id)
{
	char *key;
	bool failed = false;
	uint64_t id = 0;
	int64_t f, bid;

	/* Two processes may map different files at one address: the file is part of the key. */
	if (asprintf(&key, "%" PRIx64 ":%" PRIx64 ":%" PRIx64 ":%s", start, limit, offset,
		     file ? file : "") < 0)
		return 0;
	id = pprof_intern_get(&b->mapping_ids, key, 0, &failed);
	if (id)
		goto out;
	f = string_id(b, file);
	bid = string_id(b, build_id);
	if (f < 0 || bid < 0 ||
	    pprof_grow((void **)&b->mappings, &b->cap_mappings, b->n_mappings + 1,
		       sizeof(*b->mappings)))
		goto out;
	b->mappings[b->n_mappings] = (struct pb_mapping){
		.start = start, .limit = limit, .offset = offset, .file = f, .build_id = bid};
	id = pprof_intern_get(&b->mapping_ids, key, b->n_mappings + 1, &failed);
	if (failed)
		id = 0;
	else
		b->n_mappings++;
out:
	free(key);
	return id;
}

static uint64_t function_id(struct pprof_builder *b, const char *name, const char *file)
{
	char *key;
	bool failed = false;
	uint64_t id;
	int64_t n, f;

	/* Lengths first: names come from the target and may hold any byte but NUL. */
	name = name ? name : "";
	file = file ? file : "";
	if (asprintf(&key, "%zu:%s%zu:%s", strlen(name), name, strlen(file), file) < 0)
		return 0;
	id = pprof_intern_get(&b->function_ids, key, 0, &failed);
	if (id)
		goto out;
	n = string_id(b, name);
	f = string_id(b, file);
	if (n < 0 || f < 0 ||
	    pprof_grow((void **)&b->functions, &b->cap_functions, b->n_functions + 1,
		       sizeof(*b->functions)))
		goto out;
	b->functions[b->n_functions] = (struct pb_function){.name = n, .file = f};
	id = pprof_intern_get(&b->function_ids, key, b->n_functions + 1, &failed);
	if (!failed)
		b->n_functions++;
out:
	free(key);
	return id;
}

uint64_t pprof_builder_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
				const struct pprof_line *lines, size_t n_lines)
{
	char *key = NULL;
	size_t len = 0;
	FILE *k = open_memstream(&key, &len);
	bool failed = false;
	uint64_t id = 0;

	if (!k)
		return 0;
	if (address) {
		fprintf(k, "%" PRIu64 "@%" PRIx64, mapping_id, address);
	} else {
		fprintf(k, "%" PRIu64 "|", mapping_id);
		for (size_t i = 0; i < n_lines; i++)
			fprintf(k, "%zu:%s%zu:%s%" PRId64 ";",
				lines[i].function ? strlen(lines[i].function) : 0,
				lines[i].function ? lines[i].function : "",
				lines[i].file ? strlen(lines[i].file) : 0,
				lines[i].file ? lines[i].file : "", lines[i].line);
	}
	if (fclose(k) || !key)
		goto out;
	id = pprof_intern_get(&b->location_ids, key, 0, &failed);
	if (id)
		goto out;
	if (pprof_grow((void **)&b->locations, &b->cap_locations, b->n_locations + 1,
		       sizeof(*b->locations)) ||
	    pprof_grow((void **)&b->lines, &b->cap_lines, b->n_lines + n_lines, sizeof(*b->lines)))
		goto out;
	for (size_t i = 0; i < n_lines; i++) {
		uint64_t fid = function_id(b, lines[i].function, lines[i].file);

		if (!fid)
			goto out;
		b->lines[b->n_lines + i] =
			(struct pb_line){.function_id = fid, .line = lines[i].line};
	}
	b->locations[b->n_locations] = (struct pb_location){.mapping_id = mapping_id,
							    .address = address,
							    .first_line = b->n_lines,
							    .n_lines = n_lines};
	id = pprof_intern_get(&b->location_ids, key, b->n_locations + 1, &failed);
	if (failed) {
		id = 0;
		goto out;
	}
	b->n_lines += n_lines;
	b->n_locations++;
out:
	free(key);
	return id;
}

int pprof_builder_sample(struct pprof_builder *b, const uint64_t *locations, size_t n,
			 const int64_t *values)
{
	size_t cap = b->cap_samples;

	if (!b->n_types)
		return -EINVAL;
	if (pprof_grow((void **)&b->sample_locs, &b->cap_sample_locs, b->n_sample_locs + n,
		       sizeof(*b->sample_locs)))
		return -ENOMEM;
	if (b->n_samples == b->cap_samples) {
		size_t ncap = cap ? cap * 2 : 64;
		size_t *first = realloc(b->sample_first, ncap * sizeof(*first));

		if (!first)
			return -ENOMEM;
		b->sample_first = first;
		first = realloc(b->sample_n, ncap * sizeof(*first));
		if (!first)
			return -ENOMEM;
		b->sample_n = first;
		int64_t *v = realloc(b->sample_values, ncap * b->n_types * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->sample_values = v;
		first = realloc(b->label_first, ncap * sizeof(*first));
		if (!first)
			return -ENOMEM;
		b->label_first = first;
		first = realloc(b->label_n, ncap * sizeof(*first));
		if (!first)
			return -ENOMEM;
		b->label_n = first;
		b->cap_samples = ncap;
	}
	b->label_first[b->n_samples] = b->n_labels;
	b->label_n[b->n_samples] = 0;
	memcpy(b->sample_locs + b->n_sample_locs, locations, n * sizeof(*locations));
	b->sample_first[b->n_samples] = b->n_sample_locs;
	b->sample_n[b->n_samples] = n;
	memcpy(b->sample_values + b->n_samples * b->n_types, values, b->n_types * sizeof(*values));
	b->n_sample_locs += n;
	b->n_samples++;
	return 0;
}

int pprof_builder_label(struct pprof_builder *b, const char *key, const char *str, int64_t num)
{
	int64_t k = string_id(b, key), v = str ? string_id(b, str) : 0;

	if (!b->n_samples || !key || !*key)
		return -EINVAL;
	if (k < 0 || v < 0 ||
	    pprof_grow((void **)&b->labels, &b->cap_labels, b->n_labels + 1, sizeof(*b->labels)))
		return -ENOMEM;
	b->labels[b->n_labels++] = (struct pb_label){.key = k, .str = v, .num = str ? 0 : num};
	b->label_n[b->n_samples - 1]++;
	return 0;
}

static int gzip_write(const uint8_t *data, size_t len, FILE *fp)
{
	z_stream zs = {0};
	uint8_t out[65536];
	int zr;

	if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	do {
		zs.next_out = out;
		zs.avail_out = sizeof(out);
		zr = deflate(&zs, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			deflateEnd(&zs);
			return -EIO;
		}
		if (fwrite(out, 1, sizeof(out) - zs.avail_out, fp) != sizeof(out) - zs.avail_out) {
			deflateEnd(&zs);
			return -EIO;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&zs);
	return ferror(fp) ? -EIO : 0;
}

int pprof_builder_write(const struct pprof_builder *b, FILE *fp)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType *types = NULL, **type_ptrs = NULL, period_type;
	Perftools__Profiles__Sample *samples = NULL, **sample_ptrs = NULL;
	Perftools__Profiles__Label *labels = NULL, **label_ptrs = NULL;
	Perftools__Profiles__Mapping *mappings = NULL, **mapping_ptrs = NULL;
	Perftools__Profiles__Location *locs = NULL, **loc_ptrs = NULL;
	Perftools__Profiles__Line *lines = NULL, **line_ptrs = NULL;
	Perftools__Profiles__Function *funcs = NULL, **func_ptrs = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int ret = -ENOMEM;

	types = calloc(b->n_types + 1, sizeof(*types));
	type_ptrs = calloc(b->n_types + 1, sizeof(*type_ptrs));
	samples = calloc(b->n_samples + 1, sizeof(*samples));
	sample_ptrs = calloc(b->n_samples + 1, sizeof(*sample_ptrs));
	labels = calloc(b->n_labels + 1, sizeof(*labels));
	label_ptrs = calloc(b->n_labels + 1, sizeof(*label_ptrs));
	mappings = calloc(b->n_mappings + 1, sizeof(*mappings));
	mapping_ptrs = calloc(b->n_mappings + 1, sizeof(*mapping_ptrs));
	locs = calloc(b->n_locations + 1, sizeof(*locs));
	loc_ptrs = calloc(b->n_locations + 1, sizeof(*loc_ptrs));
	lines = calloc(b->n_lines + 1, sizeof(*lines));
	line_ptrs = calloc(b->n_lines + 1, sizeof(*line_ptrs));
	funcs = calloc(b->n_functions + 1, sizeof(*funcs));
	func_ptrs = calloc(b->n_functions + 1, sizeof(*func_ptrs));
	if (!types || !type_ptrs || !samples || !sample_ptrs || !labels || !label_ptrs ||
	    !mappings || !mapping_ptrs || !locs || !loc_ptrs || !lines || !line_ptrs || !funcs ||
	    !func_ptrs)
		goto out;
	for (size_t i = 0; i < b->n_types; i++) {
		perftools__profiles__value_type__init(&types[i]);
		types[i].type = b->types[2 * i];
		types[i].unit = b->types[2 * i + 1];
		type_ptrs[i] = &types[i];
	}
	for (size_t i = 0; i < b->n_samples; i++) {
		perftools__profiles__sample__init(&samples[i]);
		samples[i].n_location_id = b->sample_n[i];
		samples[i].location_id = b->sample_locs + b->sample_first[i];
		samples[i].n_value = b->n_types;
		samples[i].value = b->sample_values + i * b->n_types;
		samples[i].n_label = b->label_n[i];
		samples[i].label = label_ptrs + b->label_first[i];
		sample_ptrs[i] = &samples[i];
	}
	for (size_t i = 0; i < b->n_labels; i++) {
		perftools__profiles__label__init(&labels[i]);
		labels[i].key = b->labels[i].key;
		labels[i].str = b->labels[i].str;
		labels[i].num = b->labels[i].num;
		label_ptrs[i] = &labels[i];
	}
	for (size_t i = 0; i < b->n_mappings; i++) {
		const struct pb_mapping *m = &b->mappings[i];

		perftools__profiles__mapping__init(&mappings[i]);
		mappings[i].id = i + 1;
		mappings[i].memory_start = m->start;
		mappings[i].memory_limit = m->limit;
		mappings[i].file_offset = m->offset;
		mappings[i].filename = m->file;
		mappings[i].build_id = m->build_id;
		/* Symbolized here: pprof must not try to symbolize these addresses again. */
		mappings[i].has_functions = 1;
		mappings[i].has_filenames = 1;
		mappings[i].has_line_numbers = 1;
		mappings[i].has_inline_frames = 1;
		mapping_ptrs[i] = &mappings[i];
	}
	for (size_t i = 0; i < b->n_lines; i++) {
		perftools__profiles__line__init(&lines[i]);
		lines[i].function_id = b->lines[i].function_id;
		lines[i].line = b->lines[i].line;
		line_ptrs[i] = &lines[i];
	}
	for (size_t i = 0; i < b->n_locations; i++) {
		perftools__profiles__location__init(&locs[i]);
		locs[i].id = i + 1;
		locs[i].mapping_id = b->locations[i].mapping_id;
		locs[i].address = b->locations[i].address;
		locs[i].n_line = b->locations[i].n_lines;
		locs[i].line = line_ptrs + b->locations[i].first_line;
		loc_ptrs[i] = &locs[i];
	}
	for (size_t i = 0; i < b->n_functions; i++) {
		perftools__profiles__function__init(&funcs[i]);
		funcs[i].id = i + 1;
		funcs[i].name = b->functions[i].name;
		funcs[i].system_name = b->functions[i].name;
		funcs[i].filename = b->functions[i].file;
		func_ptrs[i] = &funcs[i];
	}
	prof.n_sample_type = b->n_types;
	prof.sample_type = type_ptrs;
	prof.n_sample = b->n_samples;
	prof.sample = sample_ptrs;
	prof.n_mapping = b->n_mappings;
	prof.mapping = mapping_ptrs;
	prof.n_location = b->n_locations;
	prof.location = loc_ptrs;
	prof.n_function = b->n_functions;
	prof.function = func_ptrs;
	prof.n_string_table = b->n_strings;
	prof.string_table = b->strings;
	prof.time_nanos = b->time_nanos;
	prof.duration_nanos = b->duration_nanos;
	if (b->period_type || b->period_unit) {
		perftools__profiles__value_type__init(&period_type);
		period_type.type = b->period_type;
		period_type.unit = b->period_unit;
		prof.period_type = &period_type;
	}
	prof.period = b->period;
	prof.n_comment = b->n_comments;
	prof.comment = b->comments;
	prof.default_sample_type = b->default_type;

	len = perftools__profiles__profile__get_packed_size(&prof);
	buf = malloc(len ? len : 1);
	if (!buf)
		goto out;
	perftools__profiles__profile__pack(&prof, buf);
	ret = gzip_write(buf, len, fp);
out:
	free(buf);
	free(types);
	free(type_ptrs);
	free(samples);
	free(sample_ptrs);
	free(labels);
	free(label_ptrs);
	free(mappings);
	free(mapping_ptrs);
	free(locs);
	free(loc_ptrs);
	free(lines);
	free(line_ptrs);
	free(funcs);
	free(func_ptrs);
	return ret;
}
