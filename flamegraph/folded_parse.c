/* folded_parse.c: the streaming parser for folded-stack text ("root;caller;leaf COUNT" lines):
 * a buffered line reader, strict count parsing, and the per-line path resolution that is the hot
 * path of `smolder flamegraph` (frames shared with the previous line are matched without hashing,
 * the slots of the rest are prefetched together). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "folded_internal.h"

#define READ_CHUNK (1u << 20)

/* Buffered line reader: lines are returned in place in one buffer that grows to the longest
 * line (at most FOLDED_MAX_LINE plus one read), so a 60 MB input costs one 1 MiB buffer. */
struct line_reader {
	FILE *in;
	char *buf;
	size_t cap, start, end;
	bool eof;
	bool skipping; /* inside a line longer than FOLDED_MAX_LINE: discard up to its newline */
};

/* Ends a line at buf[start, start + len): 1 for a line to parse, 2 for a skipped one. */
static int line_reader_end(struct line_reader *r, char **line, size_t *len, size_t n)
{
	*line = r->buf + r->start;
	*len = n;
	if (!r->skipping)
		return 1;
	r->skipping = false;
	return 2;
}

/* Returns 1 with line and len set, 2 for a line longer than FOLDED_MAX_LINE (skipped, its bytes
 * discarded as they arrive), 0 at end of input, or a negative errno (-EILSEQ: an over-long line
 * holding NUL bytes). */
static int line_reader_next(struct line_reader *r, char **line, size_t *len)
{
	size_t scanned = 0;

	for (;;) {
		char *nl = memchr(r->buf + r->start + scanned, '\n', r->end - r->start - scanned);
		int ret;

		if (nl) {
			ret = line_reader_end(r, line, len, (size_t)(nl - (r->buf + r->start)));
			r->start += *len + 1;
			return ret;
		}
		scanned = r->end - r->start;
		if (r->eof) {
			if (scanned == 0 && !r->skipping)
				return 0;
			ret = line_reader_end(r, line, len, scanned);
			r->start = r->end;
			return ret;
		}
		if (scanned >= FOLDED_MAX_LINE) {
			/* Too long to be a stack: drop what is held and keep dropping to the
			 * newline. */
			/* Megabytes without a newline, holding NUL bytes: a binary file or a
			 * device such as /dev/zero, which would be read forever. */
			if (memchr(r->buf + r->start, '\0', scanned))
				return -EILSEQ;
			r->skipping = true;
			r->start = r->end = 0;
			scanned = 0;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, scanned);
			r->start = 0;
			r->end = scanned;
		}
		if (r->end == r->cap) {
			char *buf = realloc(r->buf, r->cap * 2);

			if (!buf)
				return -ENOMEM;
			r->buf = buf;
			r->cap *= 2;
		}
		size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->in);

		r->end += got;
		if (got == 0) {
			if (ferror(r->in))
				return -EIO;
			r->eof = true;
		}
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parses a non-negative decimal count, optionally with a fraction and exponent. */
static bool parse_count(const char *s, size_t len, double *out)
{
	size_t i = 0, mantissa_digits = 0;
	char tmp[128];
	char *end;
	double v;

	if (len <= 15) {
		uint64_t n = 0;

		for (i = 0; i < len && is_digit(s[i]); i++)
			n = n * 10 + (uint64_t)(s[i] - '0');
		if (i == len && len > 0) {
			*out = (double)n;
			return true;
		}
		i = 0;
	}
	while (i < len && is_digit(s[i])) {
		i++;
		mantissa_digits++;
	}
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && is_digit(s[i])) {
			i++;
			mantissa_digits++;
		}
	}
	if (mantissa_digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp_digits = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < len && is_digit(s[i])) {
			i++;
			exp_digits++;
		}
		if (exp_digits == 0)
			return false;
	}
	if (i != len || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	v = strtod(tmp, &end);
	if (*end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

struct parse_frame {
	size_t offset, len;
	uint32_t name_hash; /* hash_bytes of the frame */
	uint32_t path_hash; /* hash_chain over the frames up to this one */
	uint32_t node;	    /* resolved node id */
};

struct parse_state {
	struct parse_frame *frames; /* this line's frames; on entry, the previous line's */
	size_t depth, cap;
};

/* Adds one folded line. Returns 1 if valid, 0 if invalid, or a negative errno. */
static int parse_line(struct folded_profile *p, struct parse_state *ps, const char *line,
		      size_t len)
{
	size_t start = 0, sep, depth = 0, reused = 0;
	uint32_t node = 0, path_hash = FOLDED_ROOT_PATH_HASH;
	double count;

	while (start < len && is_space(line[start]))
		start++;
	while (len > start && is_space(line[len - 1]))
		len--;
	sep = len;
	while (sep > start && !is_space(line[sep - 1]))
		sep--;
	if (sep == start || sep == len)
		return 0;
	if (!parse_count(line + sep, len - sep, &count))
		return 0;
	while (sep > start && is_space(line[sep - 1]))
		sep--;
	if (sep == start)
		return 0;
	if (count == 0)
		return 1;

	/* Frames equal to the previous line's at the same depth (sorted input shares long
	 * prefixes) keep their node without any lookup. */
	for (size_t pos = start; pos <= sep; depth++) {
		const char *f = line + pos;
		const char *semi = memchr(f, ';', sep - pos);
		size_t flen = semi ? (size_t)(semi - f) : sep - pos;

		if (depth == ps->cap) {
			size_t cap = ps->cap ? ps->cap * 2 : 64;
			struct parse_frame *frames = realloc(ps->frames, cap * sizeof(*frames));

			if (!frames)
				return -ENOMEM;
			ps->frames = frames;
			ps->cap = cap;
		}
		if (reused == depth && depth < ps->depth) {
			const struct parse_frame *prev = &ps->frames[depth];
			size_t nlen;
			const char *name =
				name_table_get(&p->names, p->nodes[prev->node].name, &nlen);

			if (flen && nlen == flen && !memcmp(name, f, flen)) {
				reused++;
				pos += flen + 1;
				continue;
			}
		}
		ps->frames[depth].offset = pos;
		ps->frames[depth].len = flen;
		pos += flen + 1;
	}
	/* Path hashes of the new frames first, prefetching their slots, then resolve: the slot
	 * misses of one line overlap instead of queueing one behind another. */
	if (reused) {
		node = ps->frames[reused - 1].node;
		path_hash = ps->frames[reused - 1].path_hash;
	}
	for (size_t d = reused; d < depth; d++) {
		struct parse_frame *fr = &ps->frames[d];
		const char *f = fr->len ? line + fr->offset : FOLDED_UNKNOWN_FRAME;
		size_t flen = fr->len ? fr->len : strlen(FOLDED_UNKNOWN_FRAME);

		fr->name_hash = folded_hash_bytes(f, flen);
		path_hash = folded_hash_chain(path_hash, fr->name_hash);
		fr->path_hash = path_hash;
		__builtin_prefetch(&p->slots[path_hash & p->slots_mask]);
	}
	path_hash = reused ? ps->frames[reused - 1].path_hash : FOLDED_ROOT_PATH_HASH;
	for (size_t d = reused; d < depth; d++) {
		struct parse_frame *fr = &ps->frames[d];
		const char *f = fr->len ? line + fr->offset : FOLDED_UNKNOWN_FRAME;
		size_t flen = fr->len ? fr->len : strlen(FOLDED_UNKNOWN_FRAME);
		int64_t child = folded_profile_descend(p, node, path_hash, f, flen, fr->name_hash,
						       &path_hash);

		if (child < 0)
			return (int)child;
		fr->node = (uint32_t)child;
		node = (uint32_t)child;
	}
	ps->depth = depth;
	folded_profile_commit(p, node, count);
	return 1;
}

int folded_profile_parse(struct folded_profile *p, FILE *in, struct folded_parse_stats *st)
{
	struct folded_parse_stats local;
	struct line_reader r = {.in = in, .cap = READ_CHUNK};
	struct parse_state ps = {0};
	char *line;
	size_t len;
	int err = 0, got;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (!p->slots && folded_profile_rebuild_index(p))
		return -ENOMEM;
	r.buf = malloc(r.cap);
	if (!r.buf)
		return -ENOMEM;
	while ((got = line_reader_next(&r, &line, &len)) > 0) {
		size_t blank_check = 0;
		int ok;

		st->lines++;
		if (got == 2) {
			st->too_long++;
			st->invalid++;
			if (!st->first_invalid_line)
				st->first_invalid_line = st->lines;
			continue;
		}
		while (blank_check < len && is_space(line[blank_check]))
			blank_check++;
		if (blank_check == len) {
			st->blank++;
			continue;
		}
		ok = parse_line(p, &ps, line, len);
		if (ok < 0) {
			err = ok;
			goto out;
		}
		if (ok) {
			st->valid++;
		} else {
			st->invalid++;
			if (!st->first_invalid_line)
				st->first_invalid_line = st->lines;
		}
	}
	if (got == -EILSEQ)
		st->nul_line = st->lines + 1;
	if (got < 0)
		err = got;
out:
	free(ps.frames);
	free(r.buf);
	return err;
}
