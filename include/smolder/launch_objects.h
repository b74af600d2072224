/* launch_objects.h: the ELF objects a program will map when it runs, found before it runs, so that
 * launch mode can attach uprobes by path and see the program from its first instruction. The
 * program's own dynamic loader resolves its libraries (`ld.so --list`: DT_NEEDED, RPATH/RUNPATH,
 * LD_LIBRARY_PATH, ld.so.cache, exactly as at run time) without running any of its code. */
#ifndef SMOLDER_LAUNCH_OBJECTS_H
#define SMOLDER_LAUNCH_OBJECTS_H

#include <stddef.h>

struct launch_objects {
	char **paths; /* absolute paths, the program first (owned) */
	size_t n;
};

/* Resolves command (PATH search as execvp does when it has no '/') and the objects it loads.
 * A static program is its only object. Falls back to the program plus the C library smolder
 * itself uses when the loader cannot list them (scripts, other loaders). Returns 0 or -errno
 * (-ENOENT: command not found). */
int launch_objects_resolve(const char *command, struct launch_objects *objects);
/* Frees the paths; NULL-safe. */
void launch_objects_release(struct launch_objects *objects);

/* Parses `ld.so --list` output into objects (appending, skipping duplicates and the vdso).
 * Returns 0 or -ENOMEM. Exposed for tests. */
int launch_objects_parse_list(const char *text, struct launch_objects *objects);

#endif
