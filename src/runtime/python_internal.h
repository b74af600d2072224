/* python_internal.h: what the CPython runtime's files share (python.c, python_offsets.c,
 * python_code.c, python_threads.c): the per-version offsets and the open runtime. Not a public
 * interface. */
#ifndef SMOLDER_PYTHON_INTERNAL_H
#define SMOLDER_PYTHON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/python.h"
#include "smolder/u64_map.h"

#define PY_NO_OFFSET	   SMOLDER_PY_NO_OFFSET
#define PY_CODE_HEADER_MAX 512 /* bytes of a code object read per lookup */

/* Byte offsets into CPython's structures for one minor version (x86-64). The code object's
 * fields are filled at open from PyCode_Type.tp_members in the target. */
struct python_offsets {
	int minor;
	uint32_t runtime_interp_head; /* _PyRuntime.interpreters.head */
	uint32_t runtime_tss_key;     /* _PyRuntime's thread-state Py_tss_t (3.8-3.12) */
	uint32_t interp_threads_head;
	uint32_t tstate_next, tstate_interp, tstate_frame, tstate_thread_id,
		tstate_native_thread_id;
	uint32_t cframe_current_frame;
	uint32_t frame_previous, frame_code, frame_instr, frame_is_entry, frame_owner;
	uint32_t owner_cstack;
	uint32_t interp_modules;       /* PyInterpreterState: sys.modules (thread names) */
	uint32_t type_cached_keys;     /* PyHeapTypeObject.ht_cached_keys (3.11+ instance dicts) */
	uint32_t unicode_ascii_data;   /* sizeof(PyASCIIObject): data of a compact ASCII string */
	uint32_t unicode_compact_data; /* sizeof(PyCompactUnicodeObject) */
	/* code object, from tp_members (and _Py_DebugOffsets on 3.13) */
	uint32_t code_filename, code_name, code_qualname, code_firstlineno, code_linetable;
	uint32_t code_adaptive; /* 3.11+: co_code_adaptive (PyCode_Type.tp_basicsize) */
};

/* The built-in table for 3.minor; NULL when minor is not 8-13. */
const struct python_offsets *python_offsets_for(int minor);
/* Applies SMOLDER_PYTHON_OFFSET=NAME=VALUE (test-only) to off. Returns 0, or -EINVAL for an
 * unknown name or value (logged). */
int python_offsets_override(struct python_offsets *off, const char *spec);

struct python_code_entry;

struct python_runtime {
	pid_t pid;
	struct frame_names *names; /* borrowed */
	char version[16];
	char object[4096]; /* path of the interpreter's object, as mapped */
	char cwd[4096];	   /* the target's working directory, for shortening paths */
	struct python_offsets off;
	uint64_t runtime_addr, code_type_addr, interp;
	uint64_t eval_lo, eval_hi, cold_lo, cold_hi; /* _PyEval_EvalFrameDefault and .cold */
	uint64_t *text_ranges;			     /* [lo, hi) pairs of the object's code */
	size_t n_text_ranges;
	struct u64_map code_index; /* code address -> index + 1 in codes */
	struct python_code_entry *codes;
	size_t n_codes, cap_codes;
	bool target_gone;
	struct python_runtime_stats stats;
};

/* Frees the code-object cache (python_code.c). */
void python_code_cache_free(struct python_runtime *rt);

/* Reads a str object as UTF-8 (malloc'd into *out). Returns 0, -EFAULT or -ENOMEM. */
int python_read_str(struct python_runtime *rt, uint64_t addr, char **out);

/* Reads len bytes at addr of the target. Returns 0, -ESRCH (gone) or -EFAULT. */
int python_read(struct python_runtime *rt, uint64_t addr, void *buf, size_t len);
int python_read_u64(struct python_runtime *rt, uint64_t addr, uint64_t *out);

#endif
