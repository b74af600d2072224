/* python_offsets.c: the built-in per-minor-version offsets of CPython 3.8-3.13 on x86-64.
 * Facts from CPython's headers of each version (Include/cpython/pystate.h, frameobject.h,
 * Include/internal/pycore_frame.h, pycore_runtime.h, pycore_interp.h, cpython/unicodeobject.h),
 * each confirmed against the pyenv builds and Debian's python3.11 by reading a live
 * interpreter's own structures (its PyThreadState_Get(), frames, pthread keys, sys.modules and
 * a class's shared instance keys). 3.13's come
 * from its _Py_DebugOffsets at open too; the code object's from PyCode_Type.tp_members. */
#include "python_internal.h"

#include "smolder/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define N PY_NO_OFFSET

static const struct python_offsets python_tables[] = {
	/* 3.8: PyFrameObject f_back 24, f_code 32, f_lasti 104 (bytes); gilstate.autoTSSkey */
	{.minor = 8,
	 .runtime_interp_head = 32,
	 .runtime_tss_key = 1392,
	 .interp_threads_head = 8,
	 .tstate_next = 8,
	 .tstate_interp = 16,
	 .tstate_frame = 24,
	 .tstate_thread_id = 176,
	 .tstate_native_thread_id = N,
	 .cframe_current_frame = N,
	 .frame_previous = 24,
	 .frame_code = 32,
	 .frame_instr = 104,
	 .frame_is_entry = N,
	 .frame_owner = N,
	 .owner_cstack = N,
	 .interp_modules = 56,
	 .type_cached_keys = 872,
	 .unicode_ascii_data = 48,
	 .unicode_compact_data = 72},
	{.minor = 9,
	 .runtime_interp_head = 32,
	 .runtime_tss_key = 584,
	 .interp_threads_head = 8,
	 .tstate_next = 8,
	 .tstate_interp = 16,
	 .tstate_frame = 24,
	 .tstate_thread_id = 176,
	 .tstate_native_thread_id = N,
	 .cframe_current_frame = N,
	 .frame_previous = 24,
	 .frame_code = 32,
	 .frame_instr = 104,
	 .frame_is_entry = N,
	 .frame_owner = N,
	 .owner_cstack = N,
	 .interp_modules = 856,
	 .type_cached_keys = 864,
	 .unicode_ascii_data = 48,
	 .unicode_compact_data = 72},
	/* 3.10: f_lasti 96, counted in code units */
	{.minor = 10,
	 .runtime_interp_head = 32,
	 .runtime_tss_key = 584,
	 .interp_threads_head = 8,
	 .tstate_next = 8,
	 .tstate_interp = 16,
	 .tstate_frame = 24,
	 .tstate_thread_id = 176,
	 .tstate_native_thread_id = N,
	 .cframe_current_frame = N,
	 .frame_previous = 24,
	 .frame_code = 32,
	 .frame_instr = 96,
	 .frame_is_entry = N,
	 .frame_owner = N,
	 .owner_cstack = N,
	 .interp_modules = 856,
	 .type_cached_keys = 872,
	 .unicode_ascii_data = 48,
	 .unicode_compact_data = 72},
	/* 3.11: tstate->cframe->current_frame; _PyInterpreterFrame f_code 32, previous 48,
	 * prev_instr 56, is_entry 68, owner 69 */
	{.minor = 11,
	 .runtime_interp_head = 40,
	 .runtime_tss_key = 592,
	 .interp_threads_head = 16,
	 .tstate_next = 8,
	 .tstate_interp = 16,
	 .tstate_frame = 56,
	 .tstate_thread_id = 152,
	 .tstate_native_thread_id = 160,
	 .cframe_current_frame = 8,
	 .frame_previous = 48,
	 .frame_code = 32,
	 .frame_instr = 56,
	 .frame_is_entry = 68,
	 .frame_owner = 69,
	 .owner_cstack = N,
	 .interp_modules = 888,
	 .type_cached_keys = 872,
	 .unicode_ascii_data = 48,
	 .unicode_compact_data = 72},
	/* 3.12: f_code 0, previous 8, prev_instr 56, owner 70 (FRAME_OWNED_BY_CSTACK 3);
	 * _PyRuntime.autoTSSkey; PyASCIIObject lost wstr */
	{.minor = 12,
	 .runtime_interp_head = 40,
	 .runtime_tss_key = 1544,
	 .interp_threads_head = 72,
	 .tstate_next = 8,
	 .tstate_interp = 16,
	 .tstate_frame = 56,
	 .tstate_thread_id = 136,
	 .tstate_native_thread_id = 144,
	 .cframe_current_frame = 0,
	 .frame_previous = 8,
	 .frame_code = 0,
	 .frame_instr = 56,
	 .frame_is_entry = N,
	 .frame_owner = 70,
	 .owner_cstack = 3,
	 .interp_modules = 944,
	 .type_cached_keys = 880,
	 .unicode_ascii_data = 40,
	 .unicode_compact_data = 56},
	/* 3.13: tstate->current_frame; f_executable 0, instr_ptr 56; the thread state lives in a
	 * static TLS variable, and autoTSSkey (_PyRuntime + 2160, pyenv 3.13.0's DWARF) is bound
	 * for every thread too (bind_gilstate_tstate): the BPF walk reads that, as on 3.8-3.12.
	 * Overwritten from _Py_DebugOffsets at open. */
	{.minor = 13,
	 .runtime_interp_head = N,
	 .runtime_tss_key = 2160,
	 .interp_threads_head = 7344,
	 .tstate_next = 8,
	 .tstate_interp = 16,
	 .tstate_frame = 72,
	 .tstate_thread_id = 152,
	 .tstate_native_thread_id = 160,
	 .cframe_current_frame = N,
	 .frame_previous = 8,
	 .frame_code = 0,
	 .frame_instr = 56,
	 .frame_is_entry = N,
	 .frame_owner = 70,
	 .owner_cstack = 3,
	 .interp_modules = 7656,
	 .type_cached_keys = 880,
	 .unicode_ascii_data = 40,
	 .unicode_compact_data = 56},
};

const struct python_offsets *python_offsets_for(int minor)
{
	for (size_t i = 0; i < sizeof(python_tables) / sizeof(python_tables[0]); i++)
		if (python_tables[i].minor == minor)
			return &python_tables[i];
	return NULL;
}

#define FIELD(name)                                                                                \
	{                                                                                          \
#name, offsetof(struct python_offsets, name)                                       \
	}

static const struct {
	const char *name;
	size_t at;
} python_offset_fields[] = {
	FIELD(runtime_interp_head), FIELD(interp_threads_head), FIELD(tstate_next),
	FIELD(tstate_interp),	    FIELD(tstate_frame),	FIELD(tstate_thread_id),
	FIELD(frame_previous),	    FIELD(frame_code),		FIELD(frame_instr),
	FIELD(code_filename),	    FIELD(code_name),		FIELD(code_qualname),
	FIELD(code_firstlineno),    FIELD(code_linetable),
};

int python_offsets_override(struct python_offsets *off, const char *spec)
{
	const char *eq = strchr(spec, '=');
	char *end;
	unsigned long value;

	if (!eq)
		goto bad;
	errno = 0;
	value = strtoul(eq + 1, &end, 0);
	if (errno || *end || value > 0xffffffffUL)
		goto bad;
	for (size_t i = 0; i < sizeof(python_offset_fields) / sizeof(python_offset_fields[0]);
	     i++) {
		if (strlen(python_offset_fields[i].name) == (size_t)(eq - spec) &&
		    !strncmp(python_offset_fields[i].name, spec, (size_t)(eq - spec))) {
			memcpy((char *)off + python_offset_fields[i].at, &(uint32_t){value},
			       sizeof(uint32_t));
			log_warn("python: offset %s overridden to %lu (SMOLDER_PYTHON_OFFSET)",
				 python_offset_fields[i].name, value);
			return 0;
		}
	}
bad:
	log_error("SMOLDER_PYTHON_OFFSET: expected NAME=VALUE with a known NAME, got '%s'", spec);
	return -EINVAL;
}
