/* output_file.c: complete-or-nothing output files: write to PATH.tmp.XXXXXX beside PATH, fsync,
 * rename over PATH. A crash or a second Ctrl-C leaves either the old file or the new one. Also
 * owns the check of a destination before a run starts, and the removal of temporary files that a
 * killed run left behind. */
#include "smolder/output_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_TMP_SUFFIX ".tmp."
#define OUTPUT_TMP_RANDOM 6 /* mkstemp's XXXXXX */

static int output_file_error(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int output_file_error(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Splits path into its directory ("." when none) and base name. Returns 0 or -ENOMEM. */
static int output_file_split(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	*base = slash ? slash + 1 : path;
	if (!slash)
		*dir = strdup(".");
	else if (slash == path)
		*dir = strdup("/");
	else
		*dir = strndup(path, (size_t)(slash - path));
	return *dir ? 0 : -ENOMEM;
}

static bool output_file_under(const char *resolved, const char *root)
{
	size_t n = strlen(root);

	return strncmp(resolved, root, n) == 0 && (resolved[n] == '\0' || resolved[n] == '/');
}

int output_file_check(const char *path, char *err, size_t errlen)
{
	char resolved[PATH_MAX], *dir = NULL, *probe = NULL;
	const char *base;
	struct stat st;
	int fd, ret = 0;

	if (!path || !*path)
		return output_file_error(err, errlen, -EINVAL, "empty output file name");
	if (strcmp(path, "-") == 0)
		return 0;
	if (output_file_split(path, &dir, &base))
		return output_file_error(err, errlen, -ENOMEM, "out of memory");
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		ret = output_file_error(err, errlen, -EISDIR, "output '%s' names a directory",
					path);
		goto out;
	}
	if (!realpath(dir, resolved)) {
		ret = output_file_error(err, errlen, -errno,
					"cannot write '%s': directory '%s': %s", path, dir,
					strerror(errno));
		goto out;
	}
	/* Kernel interfaces, not storage: a rename there fails late or changes the system. */
	if (output_file_under(resolved, "/proc") || output_file_under(resolved, "/sys")) {
		ret = output_file_error(err, errlen, -EPERM,
					"cannot write '%s': %s is a kernel interface, not a place "
					"for files",
					path,
					output_file_under(resolved, "/proc") ? "/proc" : "/sys");
		goto out;
	}
	if (stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ret = output_file_error(err, errlen, -ENOTDIR,
					"cannot write '%s': '%s' is not a directory", path, dir);
		goto out;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		ret = output_file_error(err, errlen, -EISDIR,
					"cannot write '%s': it is a directory", path);
		goto out;
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* The rename would replace a device, FIFO or socket node by a profile. */
		ret = output_file_error(err, errlen, -EEXIST,
					"cannot write '%s': it exists and is not a regular file",
					path);
		goto out;
	}
	/* The real test: create (and remove) a temporary file where the output will be written.
	 * This catches permissions, ACLs, read-only and full file systems alike. */
	if (asprintf(&probe, "%s" OUTPUT_TMP_SUFFIX "XXXXXX", path) < 0) {
		probe = NULL;
		ret = output_file_error(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	fd = mkstemp(probe);
	if (fd < 0) {
		ret = output_file_error(err, errlen, -errno, "cannot write '%s': %s", path,
					strerror(errno));
		goto out;
	}
	close(fd);
	unlink(probe);
out:
	free(probe);
	free(dir);
	return ret;
}

/* True when name is base + ".tmp." + six mkstemp characters. */
static bool output_file_is_temp_of(const char *name, const char *base)
{
	size_t n = strlen(base), k = strlen(OUTPUT_TMP_SUFFIX);

	if (strncmp(name, base, n) != 0 || strncmp(name + n, OUTPUT_TMP_SUFFIX, k) != 0)
		return false;
	name += n + k;
	if (strlen(name) != OUTPUT_TMP_RANDOM)
		return false;
	for (; *name; name++)
		if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') ||
		      (*name >= '0' && *name <= '9')))
			return false;
	return true;
}

int output_file_remove_stale(const char *path)
{
	char *dir = NULL;
	const char *base;
	struct dirent *de;
	int dfd, removed = 0;
	DIR *d;

	if (!path || !*path || strcmp(path, "-") == 0)
		return 0;
	if (output_file_split(path, &dir, &base))
		return -ENOMEM;
	d = opendir(dir);
	free(dir);
	if (!d)
		return -errno;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		struct stat st;
		int fd;

		if (!output_file_is_temp_of(de->d_name, base))
			continue;
		fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		/* A writer holds an exclusive lock on its temporary file until it is renamed; the
		 * kernel drops it when the writer dies. Ours, a regular file, and unlocked: left
		 * by a killed run. */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (unlinkat(dfd, de->d_name, 0) == 0)
				removed++;
		}
		close(fd);
	}
	closedir(d);
	return removed;
}

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
	/* Held until the rename: output_file_remove_stale skips locked (live) temporary files. */
	flock(fd, LOCK_EX | LOCK_NB);
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
