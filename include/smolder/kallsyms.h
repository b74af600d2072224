/* kallsyms.h: kernel text symbols from /proc/kallsyms (or a file in its format), sorted by address
 * for binary search. Used by the symbolizer for kernel frames. */
#ifndef SMOLDER_KALLSYMS_H
#define SMOLDER_KALLSYMS_H

#include <stddef.h>
#include <stdint.h>

struct kallsyms;

/* Loads the text symbols (types t, T, w, W) of path, e.g. "/proc/kallsyms". NULL + errno; errno
 * EPERM when every address reads as zero (kptr_restrict, missing CAP_SYSLOG), ENODATA when the
 * file holds no text symbol at all. */
struct kallsyms *kallsyms_load(const char *path);
/* NULL-safe. */
void kallsyms_free(struct kallsyms *ks);

/* The symbol containing addr: its name (owned by ks) and, when offset is not NULL, addr's offset
 * from the symbol's start. NULL when addr lies before the first symbol or 1 MiB or more past the
 * nearest symbol below it. */
const char *kallsyms_find(const struct kallsyms *ks, uint64_t addr, uint64_t *offset);

/* Number of symbols loaded. */
size_t kallsyms_count(const struct kallsyms *ks);

#endif
