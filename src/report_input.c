/* report_input.c: one reader for every input `check`, `diff` and `flamegraph` accept. The format
 * is told by content, not by name: gzip or a .pb name is pprof, a '{' is one of smolder's JSON
 * reports (which one by its keys), anything else folded stacks. JSON is parsed with jansson (a
 * maintained, strict RFC 8259 parser from Debian that reports line and column of an error and
 * keeps 64-bit integers exact); folded text with the flame graph library's parser. */
#include "smolder/report_input.h"
#include "smolder/cli.h"
#include "smolder/pprof.h"
#include "smolder/text_sanitize.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "folded.h"

/* Reports larger than this are refused rather than read into memory. */
#define REPORT_INPUT_MAX_BYTES (1ULL << 30)

static int input_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int input_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	text_sanitize_vformat(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *report_kind_name(enum report_kind kind)
{
	switch (kind) {
	case REPORT_KIND_RECORD:
		return "record report";
	case REPORT_KIND_LEAKS:
		return "leaks report";
	case REPORT_KIND_PROFILE:
		return "profile report";
	case REPORT_KIND_PPROF:
		return "pprof profile";
	default:
		return "folded stacks";
	}
}

int report_input_exit_code(int err)
{
	return err == -ENOMEM || err == -EIO ? SMOLDER_EXIT_INTERNAL : SMOLDER_EXIT_USAGE;
}

void report_input_free(struct report_input *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->n_stacks; i++) {
		for (size_t f = 0; f < in->stacks[i].n_frames; f++)
			free(in->stacks[i].frames[f]);
		free(in->stacks[i].frames);
	}
	free(in->stacks);
	json_decref(in->json);
	free(in->name);
	free(in);
}

int report_input_add_stack(struct report_input *in, const char *const *frames, size_t n,
			   double weight)
{
	struct report_stack *s;

	if (in->n_stacks == in->cap_stacks) {
		size_t cap = in->cap_stacks ? in->cap_stacks * 2 : 16;
		void *grown = realloc(in->stacks, cap * sizeof(*in->stacks));

		if (!grown)
			return -ENOMEM;
		in->stacks = grown;
		in->cap_stacks = cap;
	}
	s = &in->stacks[in->n_stacks];
	s->frames = calloc(n ? n : 1, sizeof(*s->frames));
	if (!s->frames)
		return -ENOMEM;
	s->n_frames = n;
	s->weight = weight;
	for (size_t i = 0; i < n; i++) {
		s->frames[i] = strdup(frames[i] && *frames[i] ? frames[i] : "[unknown]");
		if (!s->frames[i]) {
			while (i--)
				free(s->frames[i]);
			free(s->frames);
			return -ENOMEM;
		}
	}
	in->n_stacks++;
	in->total += weight;
	return 0;
}

static int input_new(const char *name, struct report_input **out)
{
	struct report_input *in = calloc(1, sizeof(*in));

	if (!in)
		return -ENOMEM;
	in->name = strdup(name ? name : "input");
	if (!in->name) {
		free(in);
		return -ENOMEM;
	}
	in->cpu_seconds = NAN;
	in->duration_s = NAN;
	snprintf(in->countname, sizeof(in->countname), "samples");
	*out = in;
	return 0;
}

static bool has_suffix(const char *name, const char *suffix)
{
	size_t n = name ? strlen(name) : 0, m = strlen(suffix);

	return n >= m && strcasecmp(name + n - m, suffix) == 0;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A JSON object starts '{' then a key or '}'. A folded line may start with '{' too (a frame named
 * "{closure}"), so one byte is not enough to tell; a caller that peeked one byte gets true and
 * asks again with the whole input. */
static bool looks_like_json(const char *p, const char *end)
{
	if (p >= end || *p != '{')
		return false;
	p = skip_space(p + 1, end);
	return p == end || *p == '"' || *p == '}';
}

bool report_input_is_structured(const void *data, size_t len, const char *name)
{
	const unsigned char *b = data;
	const char *p = skip_space(data, (const char *)data + len);

	/* A caller that peeked one byte sees gzip's first magic byte only. */
	if (len >= 1 && b[0] == 0x1f && (len == 1 || b[1] == 0x8b))
		return true;
	if (looks_like_json(p, (const char *)data + len))
		return true;
	return has_suffix(name, ".pb");
}

/* Weighted stacks from a JSON array of objects {"stack": [root..leaf], KEY: number}. */
static int json_stacks(struct report_input *in, json_t *array, const char *weight_key,
		       const char *where, char *err, size_t errlen)
{
	const char **frames = NULL;
	size_t cap = 0, i;
	json_t *item;
	int ret = 0;

	if (!array)
		return 0;
	if (!json_is_array(array))
		return input_error(err, errlen, "%s: \"%s\" is not an array", in->name, where);
	json_array_foreach(array, i, item)
	{
		json_t *stack = json_object_get(item, "stack");
		json_t *w = json_object_get(item, weight_key);
		size_t n, f;
		json_t *frame;

		if (!json_is_object(item) || !json_is_array(stack) || !json_is_number(w)) {
			ret = input_error(
				err, errlen,
				"%s: %s[%zu] needs a \"stack\" array and a numeric \"%s\"",
				in->name, where, i, weight_key);
			break;
		}
		n = json_array_size(stack);
		if (n > cap) {
			const char **grown = realloc(frames, n * sizeof(*frames));

			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			frames = grown;
			cap = n;
		}
		json_array_foreach(stack, f, frame)
		{
			if (!json_is_string(frame)) {
				ret = input_error(err, errlen,
						  "%s: %s[%zu].stack[%zu] is not a string",
						  in->name, where, i, f);
				goto out;
			}
			frames[f] = json_string_value(frame);
		}
		if (json_number_value(w) < 0 || !isfinite(json_number_value(w))) {
			ret = input_error(err, errlen, "%s: %s[%zu].%s is negative", in->name,
					  where, i, weight_key);
			break;
		}
		if (n == 0 || json_number_value(w) == 0)
			continue;
		ret = report_input_add_stack(in, frames, n, json_number_value(w));
		if (ret)
			break;
	}
out:
	free(frames);
	return ret;
}

static double json_num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static int parse_json(struct report_input *in, const char *data, size_t len, char *err,
		      size_t errlen)
{
	json_error_t je;
	json_t *root, *cpu;
	double hz, samples;

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return input_error(err, errlen, "%s: invalid JSON at line %d column %d: %s",
				   in->name, je.line, je.column, je.text);
	in->json = root;
	if (!json_is_object(root))
		return input_error(err, errlen, "%s: a report must be a JSON object", in->name);
	in->duration_s = json_num(root, "duration_s");
	if (json_object_get(root, "sites") && json_object_get(root, "rss")) {
		in->kind = REPORT_KIND_LEAKS;
		snprintf(in->countname, sizeof(in->countname), "bytes");
		return json_stacks(in, json_object_get(root, "sites"), "outstanding_bytes", "sites",
				   err, errlen);
	}
	if (json_is_array(json_object_get(root, "stacks")) &&
	    json_is_object(json_object_get(root, "totals")) && !json_object_get(root, "cpu")) {
		in->kind = REPORT_KIND_RECORD;
		hz = json_num(root, "frequency_hz");
		samples = json_num(json_object_get(root, "totals"), "samples");
		if (json_is_string(json_object_get(root, "countname")))
			snprintf(in->countname, sizeof(in->countname), "%s",
				 json_string_value(json_object_get(root, "countname")));
		if (hz > 0 && samples >= 0)
			in->cpu_seconds = samples / hz;
		if (isfinite(json_num(json_object_get(root, "totals"), "cpu_time_s"))) {
			in->cpu_seconds = json_num(json_object_get(root, "totals"), "cpu_time_s");
			in->cpu_seconds_measured = true;
		}
		return json_stacks(in, json_object_get(root, "stacks"), "count", "stacks", err,
				   errlen);
	}
	cpu = json_object_get(root, "cpu");
	if (json_is_object(cpu) || json_object_get(root, "timeline") ||
	    json_object_get(root, "per_op")) {
		in->kind = REPORT_KIND_PROFILE;
		/* The contract lists per-function shares; stacks are read when the report has them
		 * (cpu.stacks like record's). */
		if (json_is_object(cpu)) {
			hz = json_num(root, "frequency_hz");
			if (!(hz > 0))
				hz = json_num(cpu, "frequency_hz");
			samples = json_num(cpu, "samples");
			if (isfinite(json_num(cpu, "cpu_s"))) {
				/* The kernel's accounting when the report says so: no counting
				 * noise to allow for. */
				in->cpu_seconds = json_num(cpu, "cpu_s");
				in->cpu_seconds_measured =
					json_is_true(json_object_get(cpu, "cpu_s_measured"));
			} else if (isfinite(json_num(cpu, "seconds"))) {
				in->cpu_seconds = json_num(cpu, "seconds");
			} else if (hz > 0 && samples >= 0) {
				in->cpu_seconds = samples / hz;
			}
			return json_stacks(in, json_object_get(cpu, "stacks"), "count",
					   "cpu.stacks", err, errlen);
		}
		return 0;
	}
	return input_error(err, errlen,
			   "%s: not a smolder record, leaks or profile report (no \"stacks\", "
			   "\"sites\" or \"cpu\")",
			   in->name);
}

/* Folded text: parsed by the flame graph library, then read back in its canonical form. */
static int parse_folded(struct report_input *in, const char *data, size_t len, char *err,
			size_t errlen)
{
	struct folded_parse_stats st;
	struct folded_profile *p = folded_profile_new();
	FILE *fp = NULL, *canon = NULL;
	char *text = NULL, *line, *save = NULL;
	const char **frames = NULL;
	size_t text_len = 0, cap = 0;
	int ret = -ENOMEM;

	if (!p)
		return -ENOMEM;
	/* Text holds no NUL; a frame with one would be cut short when read back below. */
	if (memchr(data, '\0', len)) {
		ret = input_error(err, errlen, "%s: binary data (a NUL byte), not a report",
				  in->name);
		goto out;
	}
	fp = fmemopen((void *)data, len ? len : 1, "r");
	if (!fp)
		goto out;
	ret = folded_profile_parse(p, fp, &st);
	if (ret == -EILSEQ) {
		ret = input_error(err, errlen,
				  "%s: binary data (a NUL byte on line %zu), not a report",
				  in->name, st.nul_line);
		goto out;
	}
	if (ret)
		goto out;
	if (!(folded_profile_total(p) > 0)) {
		ret = input_error(err, errlen,
				  "%s: no stacks (%zu lines, %zu invalid); expected a smolder JSON "
				  "report, pprof or folded lines like 'main;foo 42'",
				  in->name, st.lines, st.invalid);
		goto out;
	}
	ret = -ENOMEM;
	canon = open_memstream(&text, &text_len);
	if (!canon)
		goto out;
	if (folded_profile_write(p, canon) || fclose(canon)) {
		canon = NULL;
		ret = -EIO;
		goto out;
	}
	canon = NULL;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *space = strrchr(line, ' '), *frame, *fsave = NULL;
		size_t n = 0;
		double count;

		if (!space)
			continue;
		*space = '\0';
		count = strtod(space + 1, NULL);
		if (!(count > 0) || !isfinite(count))
			continue;
		for (frame = strtok_r(line, ";", &fsave); frame;
		     frame = strtok_r(NULL, ";", &fsave)) {
			if (n == cap) {
				const char **grown =
					realloc(frames, (cap ? cap * 2 : 64) * sizeof(*frames));

				if (!grown)
					goto out;
				frames = grown;
				cap = cap ? cap * 2 : 64;
			}
			frames[n++] = frame;
		}
		if (n && report_input_add_stack(in, frames, n, count))
			goto out;
	}
	ret = 0;
out:
	free(frames);
	if (canon)
		fclose(canon);
	free(text);
	if (fp)
		fclose(fp);
	folded_profile_free(p);
	return ret;
}

/* Inflates a gzip stream into a new buffer (caller frees). */
static int gunzip(const void *data, size_t len, unsigned char **out, size_t *out_len, char *err,
		  size_t errlen, const char *name)
{
	z_stream zs = {0};
	unsigned char *buf = NULL;
	size_t cap = len * 4 + 4096;
	int zr;

	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	for (;;) {
		unsigned char *grown;

		if (cap > REPORT_INPUT_MAX_BYTES) {
			inflateEnd(&zs);
			free(buf);
			return input_error(err, errlen, "%s: decompresses to more than 1 GiB",
					   name);
		}
		grown = realloc(buf, cap);
		if (!grown) {
			inflateEnd(&zs);
			free(buf);
			return -ENOMEM;
		}
		buf = grown;
		zs.next_out = buf + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		zr = inflate(&zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
			zr = Z_DATA_ERROR; /* truncated */
			goto bad;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			goto bad;
		if (zs.avail_out == 0)
			cap *= 2;
	}
	*out = buf;
	*out_len = zs.total_out;
	inflateEnd(&zs);
	return 0;
bad:
	inflateEnd(&zs);
	free(buf);
	return input_error(err, errlen, "%s: corrupt gzip data (%s)", name,
			   zr == Z_DATA_ERROR ? "truncated or damaged" : "inflate failed");
}

int report_input_parse(const void *data, size_t len, const char *name, struct report_input **out,
		       char *err, size_t errlen)
{
	const unsigned char *b = data;
	const char *p = skip_space(data, (const char *)data + len);
	struct report_input *in;
	int ret;

	*out = NULL;
	err[0] = '\0';
	ret = input_new(name, &in);
	if (ret)
		return ret;
	if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
		unsigned char *raw = NULL;
		size_t raw_len = 0;

		ret = gunzip(data, len, &raw, &raw_len, err, errlen, in->name);
		if (!ret) {
			ret = pprof_read(raw, raw_len, in, err, errlen);
			free(raw);
		}
	} else if (looks_like_json(p, (const char *)data + len)) {
		ret = parse_json(in, data, len, err, errlen);
	} else if (has_suffix(name, ".pb")) {
		ret = pprof_read(data, len, in, err, errlen);
	} else {
		in->kind = REPORT_KIND_FOLDED;
		ret = parse_folded(in, data, len, err, errlen);
	}
	if (ret) {
		if (ret == -ENOMEM && !err[0])
			snprintf(err, errlen, "%s: out of memory", in->name);
		else if (!err[0])
			snprintf(err, errlen, "%s: %s", in->name, strerror(-ret));
		report_input_free(in);
		return ret;
	}
	*out = in;
	return 0;
}

int report_input_load(const char *path, struct report_input **out, char *err, size_t errlen)
{
	bool is_stdin = !strcmp(path, "-");
	const char *name = is_stdin ? "stdin" : path;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, ret;

	*out = NULL;
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *grown;

			if (cap >= REPORT_INPUT_MAX_BYTES) {
				ret = input_error(err, errlen, "%s: larger than 1 GiB", name);
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			grown = realloc(buf, cap);
			if (!grown) {
				ret = -ENOMEM;
				snprintf(err, errlen, "%s: out of memory", name);
				goto out;
			}
			buf = grown;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno == EISDIR ? -EINVAL : -EIO;
			snprintf(err, errlen, "cannot read %s: %s", name, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0) {
		ret = input_error(err, errlen, "%s is empty", name);
		goto out;
	}
	ret = report_input_parse(buf, len, name, out, err, errlen);
out:
	if (!is_stdin)
		close(fd);
	free(buf);
	return ret;
}

struct folded_profile *report_input_to_folded(const struct report_input *in)
{
	struct folded_profile *p = folded_profile_new();

	if (!p)
		return NULL;
	for (size_t i = 0; i < in->n_stacks; i++) {
		int ret = folded_profile_add(p, (const char *const *)in->stacks[i].frames,
					     in->stacks[i].n_frames, in->stacks[i].weight);

		if (ret) {
			folded_profile_free(p);
			errno = -ret;
			return NULL;
		}
	}
	return p;
}
