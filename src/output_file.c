/* output_file.c: complete-or-nothing output files: write to PATH.tmp.XXXXXX beside PATH, fsync,
 * rename over PATH. A crash or a second Ctrl-C leaves either the old file or the new one. */
#include "smolder/output_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int output_file_open(struct output_file *out, const char *path)
{
	int fd, err;

	memset(out, 0, sizeof(*out));
	if (!path || !*path)
		return -EINVAL;
	out->path = strdup(path);
	if (!out->path)
		return -ENOMEM;
	if (strcmp(path, "-") == 0) {
		out->fp = stdout;
		return 0;
	}
	if (asprintf(&out->tmp_path, "%s.tmp.XXXXXX", path) < 0) {
		out->tmp_path = NULL;
		err = -ENOMEM;
		goto err_path;
	}
	fd = mkstemp(out->tmp_path);
	if (fd < 0) {
		err = -errno;
		goto err_tmp;
	}
	/* mkstemp creates 0600; profiles are ordinary files, readable like any the user writes. */
	{
		mode_t mask = umask(0);

		umask(mask);
		fchmod(fd, 0666 & ~mask);
	}
	out->fp = fdopen(fd, "w");
	if (!out->fp) {
		err = -errno;
		close(fd);
		unlink(out->tmp_path);
		goto err_tmp;
	}
	return 0;

err_tmp:
	free(out->tmp_path);
	out->tmp_path = NULL;
err_path:
	free(out->path);
	out->path = NULL;
	return err;
}

int output_file_commit(struct output_file *out)
{
	int err = 0;

	if (!out->fp)
		return -EBADF;
	if (!out->tmp_path) { /* stdout */
		if (fflush(out->fp) != 0)
			err = -errno;
		out->fp = NULL;
		free(out->path);
		out->path = NULL;
		return err;
	}
	if (fflush(out->fp) != 0 || ferror(out->fp))
		err = -EIO;
	else if (fsync(fileno(out->fp)) != 0 && errno != EINVAL)
		err = -errno;
	if (fclose(out->fp) != 0 && !err)
		err = -errno;
	out->fp = NULL;
	if (!err && rename(out->tmp_path, out->path) != 0)
		err = -errno;
	if (err)
		unlink(out->tmp_path);
	free(out->tmp_path);
	free(out->path);
	out->tmp_path = NULL;
	out->path = NULL;
	return err;
}

void output_file_abort(struct output_file *out)
{
	if (!out)
		return;
	if (out->fp && out->tmp_path)
		fclose(out->fp);
	if (out->tmp_path)
		unlink(out->tmp_path);
	free(out->tmp_path);
	free(out->path);
	memset(out, 0, sizeof(*out));
}
