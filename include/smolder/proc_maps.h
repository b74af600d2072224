/* proc_maps.h: the target's memory mappings from /proc/PID/maps, sorted by address, with lookup.
 * Shared by the unwinder and the symbolizer. */
#ifndef SMOLDER_PROC_MAPS_H
#define SMOLDER_PROC_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum proc_map_perm {
	PROC_MAP_READ = 1,
	PROC_MAP_WRITE = 2,
	PROC_MAP_EXEC = 4,
	PROC_MAP_SHARED = 8,
};

struct proc_map {
	uint64_t start, end; /* [start, end) */
	uint64_t offset;     /* file offset of start */
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	uint32_t perms; /* enum proc_map_perm bits */
	char *path; /* "" for anonymous; "[stack]", "[vdso]", "/usr/lib/... (deleted)" kept as is */
};

struct proc_maps {
	struct proc_map *maps; /* sorted by start */
	size_t n;
};

/* Reads /proc/PID/maps. Returns 0 or -errno (-ESRCH when the process is gone). */
int proc_maps_read(pid_t pid, struct proc_maps *out);
/* Parses maps text (the format of /proc/PID/maps). Returns 0 or -errno. */
int proc_maps_parse(const char *text, struct proc_maps *out);
/* The mapping containing addr, or NULL. Binary search. */
const struct proc_map *proc_maps_find(const struct proc_maps *maps, uint64_t addr);
/* Frees the entries; the struct itself is the caller's. NULL-safe. */
void proc_maps_release(struct proc_maps *maps);

/* Path to open a mapping's file even from another mount namespace or after deletion:
 * /proc/PID/map_files/START-END. Writes into buf; returns 0 or -ENAMETOOLONG. */
int proc_maps_file_path(pid_t pid, const struct proc_map *map, char *buf, size_t len);

#endif
