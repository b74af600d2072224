/* ops_probe.h: `smolder profile --ops-probe [LIB:]FUNCTION`: a session collector that counts
 * calls of one native function of the target with a uprobe (bpf/ops_probe.bpf.c), for the
 * operation count of per-operation figures. FUNCTION is an ELF symbol (.symtab or .dynsym; C++
 * names mangled; GCC's NAME.constprop.N / NAME.isra.N clones count as NAME) of the main program,
 * or of the loaded object whose file name starts with LIB. */
#ifndef SMOLDER_OPS_PROBE_H
#define SMOLDER_OPS_PROBE_H

#include <stddef.h>
#include <stdint.h>

struct session_collector;
struct ops_probe;

/* A probe for spec ("FUNCTION" or "LIB:FUNCTION"; borrowed). NULL with errno set; free with
 * ops_probe_free. */
struct ops_probe *ops_probe_new(const char *spec);
/* Detaches and frees. NULL-safe. */
void ops_probe_free(struct ops_probe *op);
/* Fills plug: attach resolves the function (one-line error, exit 1, when it is not there) and
 * attaches the uprobe before the target runs. */
void ops_probe_plug(struct ops_probe *op, struct session_collector *plug);
/* Calls counted so far. 0 or -errno. */
int ops_probe_count(void *op, uint64_t *count);
/* Calls seen from other processes and failed counter lookups (dropped). */
uint64_t ops_probe_dropped(const struct ops_probe *op);

/* Splits spec into the library prefix (lib, len bytes; len 0: the main program) and the function
 * name: the first single ':' separates them ("ns::f" has no library). */
const char *ops_probe_split(const char *spec, size_t *lib_len);
/* File offsets of the defined functions named name in the ELF file at path (distinct offsets,
 * up to max; *n counts them). 0 (with *n possibly 0) or -errno when the file is unreadable. */
int ops_probe_find_function(const char *path, const char *name, uint64_t *offsets, size_t max,
			    size_t *n);

#endif
