/* json_writer.c: streaming JSON with separators tracked per nesting level. Strings are escaped per
 * RFC 8259; bytes that are not valid UTF-8 become U+FFFD so the output always parses. */
#include "smolder/json_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

void json_writer_init(struct json_writer *w, FILE *fp, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->fp = fp;
	w->pretty = pretty;
}

static void json_indent(struct json_writer *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->fp);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->fp);
}

/* Emits the separator before a value: a comma between siblings, nothing right after a key. */
static void json_before_value(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->need_comma[w->depth])
			fputc(',', w->fp);
		w->need_comma[w->depth] = true;
		json_indent(w);
	}
}

static void json_open(struct json_writer *w, char c)
{
	json_before_value(w);
	fputc(c, w->fp);
	if (w->depth + 1 >= JSON_WRITER_MAX_DEPTH) {
		w->error = w->error ? w->error : -EINVAL;
		return;
	}
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void json_close(struct json_writer *w, char c)
{
	bool had = w->need_comma[w->depth];

	if (w->depth == 0) {
		w->error = w->error ? w->error : -EINVAL;
		return;
	}
	w->depth--;
	if (had)
		json_indent(w);
	fputc(c, w->fp);
}

void json_object_begin(struct json_writer *w)
{
	json_open(w, '{');
}

void json_object_end(struct json_writer *w)
{
	json_close(w, '}');
}

void json_array_begin(struct json_writer *w)
{
	json_open(w, '[');
}

void json_array_end(struct json_writer *w)
{
	json_close(w, ']');
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not valid. */
static size_t json_utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (s[0] == 0xed && s[1] > 0x9f)
			return 0; /* surrogates */
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

static void json_write_string(FILE *fp, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;

	fputc('"', fp);
	while (*s) {
		size_t n = json_utf8_len(s);

		if (n == 0) {
			fputs("\\ufffd", fp);
			s++;
			continue;
		}
		if (n > 1) {
			fwrite(s, 1, n, fp);
			s += n;
			continue;
		}
		switch (*s) {
		case '"':
			fputs("\\\"", fp);
			break;
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f)
				fprintf(fp, "\\u%04x", *s);
			else
				fputc(*s, fp);
		}
		s++;
	}
	fputc('"', fp);
}

void json_key(struct json_writer *w, const char *key)
{
	json_before_value(w);
	json_write_string(w->fp, key);
	fputs(w->pretty ? ": " : ":", w->fp);
	w->after_key = true;
}

void json_string(struct json_writer *w, const char *value)
{
	json_before_value(w);
	if (value)
		json_write_string(w->fp, value);
	else
		fputs("null", w->fp);
}

void json_int(struct json_writer *w, int64_t value)
{
	json_before_value(w);
	fprintf(w->fp, "%" PRId64, value);
}

void json_uint(struct json_writer *w, uint64_t value)
{
	json_before_value(w);
	fprintf(w->fp, "%" PRIu64, value);
}

void json_double(struct json_writer *w, double value)
{
	json_before_value(w);
	if (!isfinite(value))
		fputs("null", w->fp);
	else
		fprintf(w->fp, "%.10g", value);
}

void json_bool(struct json_writer *w, bool value)
{
	json_before_value(w);
	fputs(value ? "true" : "false", w->fp);
}

void json_null(struct json_writer *w)
{
	json_before_value(w);
	fputs("null", w->fp);
}

int json_writer_finish(struct json_writer *w)
{
	if (w->depth != 0 && !w->error)
		w->error = -EINVAL;
	fputc('\n', w->fp);
	if (fflush(w->fp) != 0 && !w->error)
		w->error = -EIO;
	if (ferror(w->fp) && !w->error)
		w->error = -EIO;
	return w->error;
}
