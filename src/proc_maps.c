/* proc_maps.c: parses /proc/PID/maps into a sorted array and looks addresses up in it. */
#include "smolder/proc_maps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int proc_map_parse_line(const char *line, size_t len, struct proc_map *map)
{
	char perms[5] = {0};
	unsigned long long start, end, offset, inode;
	unsigned int major, minor;
	int consumed = 0;
	const char *path;
	size_t plen;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &offset, &major,
		   &minor, &inode, &consumed) < 7)
		return -EINVAL;
	if (end < start)
		return -EINVAL;
	map->start = start;
	map->end = end;
	map->offset = offset;
	map->dev_major = major;
	map->dev_minor = minor;
	map->inode = inode;
	map->perms =
		(perms[0] == 'r' ? PROC_MAP_READ : 0) | (perms[1] == 'w' ? PROC_MAP_WRITE : 0) |
		(perms[2] == 'x' ? PROC_MAP_EXEC : 0) | (perms[3] == 's' ? PROC_MAP_SHARED : 0);
	path = line + (consumed > 0 ? (size_t)consumed : len);
	if (path > line + len)
		path = line + len;
	plen = (size_t)(line + len - path);
	map->path = strndup(path, plen);
	return map->path ? 0 : -ENOMEM;
}

static int proc_map_compare(const void *a, const void *b)
{
	const struct proc_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int proc_maps_parse(const char *text, struct proc_maps *out)
{
	size_t cap = 0;
	const char *p = text;
	int err;

	out->maps = NULL;
	out->n = 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len) {
			if (out->n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct proc_map *nm = realloc(out->maps, ncap * sizeof(*nm));

				if (!nm) {
					err = -ENOMEM;
					goto err_free;
				}
				out->maps = nm;
				cap = ncap;
			}
			err = proc_map_parse_line(p, len, &out->maps[out->n]);
			if (err == -ENOMEM)
				goto err_free;
			if (!err)
				out->n++;
		}
		p += len + (eol ? 1 : 0);
	}
	/* The kernel lists maps in order already; sorting keeps lookups correct for any input. */
	if (out->n > 1) /* qsort(NULL, 0) is undefined */
		qsort(out->maps, out->n, sizeof(*out->maps), proc_map_compare);
	return 0;

err_free:
	proc_maps_release(out);
	return err;
}

int proc_maps_read(pid_t pid, struct proc_maps *out)
{
	char path[64], *text = NULL;
	size_t len = 0, cap = 0;
	FILE *fp;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return errno == ENOENT ? -ESRCH : -errno;
	for (;;) {
		size_t got;

		if (cap - len < 4096) {
			char *nt = realloc(text, cap ? cap * 2 : 65536);

			if (!nt) {
				err = -ENOMEM;
				goto out;
			}
			text = nt;
			cap = cap ? cap * 2 : 65536;
		}
		got = fread(text + len, 1, cap - len - 1, fp);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		err = errno ? -errno : -EIO;
		goto out;
	}
	text[len] = '\0';
	err = proc_maps_parse(text, out);
out:
	free(text);
	fclose(fp);
	return err;
}

const struct proc_map *proc_maps_find(const struct proc_maps *maps, uint64_t addr)
{
	size_t lo = 0, hi = maps ? maps->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct proc_map *m = &maps->maps[mid];

		if (addr < m->start)
			hi = mid;
		else if (addr >= m->end)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

void proc_maps_release(struct proc_maps *maps)
{
	if (!maps)
		return;
	for (size_t i = 0; i < maps->n; i++)
		free(maps->maps[i].path);
	free(maps->maps);
	maps->maps = NULL;
	maps->n = 0;
}

int proc_maps_file_path(pid_t pid, const struct proc_map *map, char *buf, size_t len)
{
	int n = snprintf(buf, len, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, map->start,
			 map->end);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
