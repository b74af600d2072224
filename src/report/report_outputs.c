/* report_outputs.c: format -> writer dispatch over atomic output files, for every command that
 * writes reports (record, leaks, profile). */
#include "smolder/report_outputs.h"

#include <errno.h>
#include <string.h>

#include "smolder/log.h"
#include "smolder/output_file.h"

static int write_one(const struct report_writers *w, const struct cli_output *out)
{
	report_writer_fn fn =
		(unsigned)out->format < OUTPUT_FORMAT_COUNT ? w->by_format[out->format] : NULL;
	struct output_file f = {0};
	int ret;

	/* The command line refuses formats a command does not write; this is the backstop. */
	if (!fn) {
		log_error("cannot write %s: this command does not write %s files", out->path,
			  cli_output_format_name(out->format));
		return -EINVAL;
	}
	ret = output_file_open(&f, out->path);
	if (ret) {
		log_error("cannot write %s: %s", out->path, strerror(-ret));
		return ret;
	}
	ret = fn(w->ctx, out, f.fp);
	if (ret) {
		output_file_abort(&f);
	} else {
		ret = output_file_commit(&f);
	}
	if (ret) {
		log_error("cannot write %s: %s", out->path, strerror(ret < 0 ? -ret : EIO));
		return ret < 0 ? ret : -EIO;
	}
	if (strcmp(out->path, "-") != 0) {
		const char *what = w->describe ? w->describe(w->ctx, out) : NULL;

		log_info("wrote %s%s", out->path, what ? what : ""); /* only once it is in place */
	}
	return 0;
}

int report_outputs_write(const struct report_writers *w, const struct cli_output *outs, size_t n)
{
	int first_err = 0;

	for (size_t i = 0; i < n; i++) {
		int ret = write_one(w, &outs[i]);

		if (ret && !first_err)
			first_err = ret;
	}
	return first_err;
}
