/* folded_input.c: loads folded-stack input for the flamegraph and diff commands and reports what
 * was skipped; the parser itself (flamegraph/folded.c) never prints. Input that starts like JSON or
 * gzip (or is named .pb) is one of smolder's reports or pprof: report_input reads it and its
 * stacks are used, so diff and flamegraph take folded, JSON and pprof alike. */
#include "smolder/folded_input.h"
#include "smolder/cli.h"
#include "smolder/log.h"
#include "smolder/report_input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Parses folded stacks from in and reports what was skipped; name is for messages. */
static int load_folded(FILE *in, const char *name, struct folded_profile **out)
{
	struct folded_parse_stats ps;
	struct folded_profile *p;
	int err;

	p = folded_profile_new();
	if (!p) {
		log_error("out of memory reading %s", name);
		return -ENOMEM;
	}
	err = folded_profile_parse(p, in, &ps);
	if (err == -EILSEQ) {
		log_error("%s: binary data (line %zu: over %u MiB without a newline, holding NUL "
			  "bytes), not folded stacks",
			  name, ps.nul_line, FOLDED_MAX_LINE >> 20);
		goto out;
	}
	if (err) {
		log_error("%s: %s", name, err == -ENOMEM ? "out of memory" : strerror(-err));
		goto out;
	}
	if (ps.too_long)
		log_warn("%s: skipped %zu line%s longer than %u MiB", name, ps.too_long,
			 ps.too_long == 1 ? "" : "s", FOLDED_MAX_LINE >> 20);
	if (ps.invalid > ps.too_long)
		log_warn("%s: ignored %zu line%s that %s not 'stack count' (first: line %zu)", name,
			 ps.invalid - ps.too_long, ps.invalid - ps.too_long == 1 ? "" : "s",
			 ps.invalid - ps.too_long == 1 ? "is" : "are", ps.first_invalid_line);
	if (!(folded_profile_total(p) > 0)) {
		log_error(
			"%s: no stacks to draw (%zu line%s read, %zu invalid); expected lines like "
			"'main;foo;bar 42'",
			name, ps.lines, ps.lines == 1 ? "" : "s", ps.invalid);
		err = -ENODATA;
		goto out;
	}
	log_debug("%s: %zu stacks, total %.15g", name, folded_profile_stack_count(p),
		  folded_profile_total(p));
	*out = p;
	p = NULL;
out:
	folded_profile_free(p);
	return err;
}

/* Reads the rest of in (its first byte pushed back, which looked like JSON or gzip). Read whole,
 * the input is sniffed again: a folded file whose first frame merely starts with '{' (or a
 * control byte 0x1f) is folded stacks after all and goes to the folded parser. */
static int load_structured(FILE *in, const char *name, bool is_stdin, struct folded_profile **out)
{
	struct report_input *report = NULL;
	char err[512], *buf = NULL, chunk[65536];
	size_t len = 0, n;
	FILE *mem = open_memstream(&buf, &len);
	int ret;

	if (!mem) {
		log_error("out of memory reading %s", name);
		return -ENOMEM;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		fwrite(chunk, 1, n, mem);
	ret = ferror(in) ? -EIO : 0;
	if (fclose(mem) && !ret)
		ret = -ENOMEM;
	if (ret) {
		free(buf);
		log_error("cannot read %s", name);
		return ret;
	}
	if (!report_input_is_structured(buf, len, is_stdin ? NULL : name)) {
		mem = len ? fmemopen(buf, len, "r") : NULL;
		if (!mem) {
			free(buf);
			log_error("out of memory reading %s", name);
			return -ENOMEM;
		}
		ret = load_folded(mem, name, out);
		fclose(mem);
		free(buf);
		return ret;
	}
	ret = report_input_parse(buf, len, name, &report, err, sizeof(err));
	free(buf);
	if (ret) {
		log_error("%s", err);
		return ret;
	}
	if (!(report->total > 0)) {
		log_error("%s: a %s without stacks", name, report_kind_name(report->kind));
		report_input_free(report);
		return -ENODATA;
	}
	*out = report_input_to_folded(report);
	ret = *out ? 0 : -ENOMEM;
	if (ret)
		log_error("out of memory reading %s", name);
	report_input_free(report);
	return ret;
}

int folded_input_load(const char *path, struct folded_profile **out)
{
	struct stat st;
	bool is_stdin = !path || !strcmp(path, "-");
	const char *name = is_stdin ? "stdin" : path;
	FILE *in;
	int err;

	*out = NULL;
	in = is_stdin ? stdin : fopen(path, "r");
	if (!in) {
		err = -errno;
		log_error("cannot open %s: %s", path, strerror(errno));
		return err;
	}
	/* fopen takes a directory for reading; the first read would fail with EISDIR (an I/O error,
	 * exit 6) although the argument is what is wrong. */
	if (fstat(fileno(in), &st) == 0 && S_ISDIR(st.st_mode)) {
		log_error("%s is a directory, not a file of folded stacks", path);
		fclose(in);
		return -EISDIR;
	}
	{
		int c = getc(in);
		unsigned char first = (unsigned char)c;

		if (c != EOF)
			ungetc(c, in);
		if (c != EOF && report_input_is_structured(&first, 1, is_stdin ? NULL : path)) {
			err = load_structured(in, name, is_stdin, out);
			if (!is_stdin)
				fclose(in);
			return err;
		}
	}
	err = load_folded(in, name, out);
	if (!is_stdin)
		fclose(in);
	return err;
}

int folded_input_exit_code(int err)
{
	if (err == -ENOMEM || err == -EIO)
		return SMOLDER_EXIT_INTERNAL;
	return SMOLDER_EXIT_USAGE;
}

void folded_input_render_options(const struct cli_options *opts, struct flamegraph_options *fo)
{
	flamegraph_options_init(fo);
	fo->title = opts->title;
	fo->subtitle = opts->subtitle;
	if (opts->countname)
		fo->countname = opts->countname;
	fo->inverted = opts->inverted;
	fo->width = opts->width;
	fo->minwidth = opts->minwidth;
}
