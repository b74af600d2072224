/* fuzz_report.c: libFuzzer target over the readers of `check`, `diff` and `flamegraph` inputs: the
 * report reader (JSON through jansson, gzip + pprof protobuf, folded text), the budget parser, and
 * the evaluation of every default and budget check on what was read. Input: one selector byte,
 * then the document. Selector bit 0: the document is a budget (evaluated against a fixed record
 * report) instead of a report (evaluated against itself as baseline); bit 1: name it .pb (raw
 * protobuf); bit 2: also write what was read through the pprof writer (pprof_builder, one named
 * location per frame) and read it back. Oracles beyond the sanitizers: errors are one line;
 * input that decodes yields stacks with positive weights and frames that are never empty; the
 * round trip gives back the same stacks, frame for frame, with the same (integral) weights. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/check.h"
#include "smolder/pprof.h"
#include "smolder/report_input.h"

static const char record_json[] =
	"{\"frequency_hz\": 100, \"totals\": {\"samples\": 10, \"lost\": 0, \"cpu_time_s\": 0.1},"
	" \"stacks\": [{\"stack\": [\"main\", \"f\"], \"count\": 10}]}";

static void evaluate(struct check_budget *b, struct report_input *cur, struct report_input *base)
{
	struct check_result *r = NULL;
	struct report_input *bases[1] = {base};
	char err[512];
	size_t n;

	if (check_budget_add_defaults(b, cur, bases, base ? 1 : 0))
		return;
	if (check_evaluate(b, cur, bases, base ? 1 : 0, 10, &r, &n, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++) {
			char v[64];

			check_format_value(r[i].spec->metric, r[i].current, v, sizeof(v));
			if (strchr(r[i].message, '\n'))
				abort();
		}
		free(r);
	} else if (strchr(err, '\n')) {
		abort();
	}
}

/* Writes in's stacks with integral weights as pprof and reads them back: the same stacks. */
static void pprof_round_trip(const struct report_input *in)
{
	struct pprof_builder *b = pprof_builder_new();
	struct report_input *back = NULL;
	uint64_t *locs = NULL;
	size_t n_written = 0, len = 0, *written = calloc(in->n_stacks + 1, sizeof(*written));
	char *buf = NULL, err[512];
	FILE *fp = NULL;

	if (!b || !written || pprof_builder_sample_type(b, "samples", "count"))
		goto out;
	for (size_t i = 0; i < in->n_stacks; i++) {
		const struct report_stack *s = &in->stacks[i];
		int64_t v;
		uint64_t *grown;

		if (!(s->weight >= 1 && s->weight <= 4503599627370496.0) ||
		    s->weight != (double)(int64_t)s->weight)
			continue;
		v = (int64_t)s->weight;
		grown = realloc(locs, (s->n_frames + 1) * sizeof(*locs));
		if (!grown)
			goto out;
		locs = grown;
		for (size_t k = 0; k < s->n_frames; k++) {
			struct pprof_line line = {.function = s->frames[s->n_frames - 1 - k]};

			locs[k] = pprof_builder_location(b, 0, 0, &line, 1);
			if (!locs[k])
				goto out;
		}
		if (pprof_builder_sample(b, locs, s->n_frames, &v))
			goto out;
		written[n_written++] = i;
	}
	fp = open_memstream(&buf, &len);
	if (!fp || pprof_builder_write(b, fp) || fclose(fp))
		abort();
	fp = NULL;
	if (report_input_parse(buf, len, "rt.pb.gz", &back, err, sizeof(err))) {
		if (n_written)
			abort(); /* what the writer wrote must read back */
		goto out;
	}
	if (back->n_stacks != n_written)
		abort();
	for (size_t j = 0; j < n_written; j++) {
		const struct report_stack *a = &in->stacks[written[j]], *c = &back->stacks[j];

		if (a->weight != c->weight || a->n_frames != c->n_frames)
			abort();
		for (size_t k = 0; k < a->n_frames; k++)
			if (strcmp(a->frames[k], c->frames[k]))
				abort();
	}
out:
	if (fp)
		fclose(fp);
	free(buf);
	free(locs);
	free(written);
	report_input_free(back);
	pprof_builder_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_input *in = NULL, *rec = NULL;
	struct check_budget *b = NULL;
	char err[512];
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (flags & 1) {
		if (report_input_parse(record_json, strlen(record_json), "r.json", &rec, err,
				       sizeof(err)))
			abort();
		if (check_budget_parse((const char *)data, size, "budget.json", &b, err,
				       sizeof(err)) == 0)
			evaluate(b, rec, NULL);
		else if (strchr(err, '\n'))
			abort();
		check_budget_free(b);
		report_input_free(rec);
		return 0;
	}
	if (report_input_parse(data, size, (flags & 2) ? "x.pb" : "x", &in, err, sizeof(err))) {
		if (strchr(err, '\n'))
			abort();
		return 0;
	}
	for (size_t i = 0; i < in->n_stacks; i++) {
		if (!(in->stacks[i].weight > 0) || in->stacks[i].n_frames == 0)
			abort();
		for (size_t k = 0; k < in->stacks[i].n_frames; k++)
			if (!in->stacks[i].frames[k][0])
				abort();
	}
	if (flags & 4)
		pprof_round_trip(in);
	b = check_budget_empty();
	if (b) {
		evaluate(b, in, in);
		check_budget_free(b);
	}
	report_input_free(in);
	return 0;
}
