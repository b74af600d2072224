/* symbolizer.h: addresses to names. User addresses through libdw/libdwfl (functions, C++ demangled,
 * inlined frames, file:line; separate debug files by build-id; .symtab/.dynsym fallback; then
 * module+0xOFFSET), kernel addresses through /proc/kallsyms. Each unique address is resolved once
 * and cached. Files are opened through /proc/PID/map_files or /proc/PID/root while the target
 * lives, so resolution still works after it exits. */
#ifndef SMOLDER_SYMBOLIZER_H
#define SMOLDER_SYMBOLIZER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct symbolizer;
struct proc_maps;

enum symbol_frame_flags {
	SYMBOL_FRAME_INLINED = 1, /* an inlined call inside the frame that follows it */
	SYMBOL_FRAME_KERNEL = 2,
	SYMBOL_FRAME_JIT = 4, /* a JavaScript or Python function named from a perf map: folded
				 "name (file.js:LINE)_[j]", coloured apart in flame graphs */
};

struct symbol_frame {
	const char *function;	/* demangled; NULL when unknown */
	const char *file;	/* source file; NULL when unknown */
	uint32_t line;		/* 0 when unknown */
	uint32_t flags;		/* enum symbol_frame_flags */
	const char *module;	/* basename of the object, "[kernel]", or NULL when unmapped */
	uint64_t module_offset; /* addr's offset in module (file offset for user objects) */
};

/* Creates a symbolizer for pid (0: kernel only), opening the objects mapped now. NULL + errno. */
struct symbolizer *symbolizer_new(pid_t pid);
/* Creates a symbolizer over given mappings (the format of struct proc_maps) without a live process:
 * paths are opened as they are, [vdso] stays unnamed. For offline tests and benchmarks: map an
 * ELF's PT_LOAD segments at their p_vaddr to resolve link-time addresses. NULL + errno. */
struct symbolizer *symbolizer_new_from_maps(const struct proc_maps *maps);
/* NULL-safe. */
void symbolizer_free(struct symbolizer *sym);

/* Picks up objects mapped since (dlopen) and a new or changed JIT perf map (/tmp/perf-PID.map,
 * read through /proc/PID/root). Call while the target lives; harmless after. 0 or -errno. */
int symbolizer_refresh(struct symbolizer *sym);

/* Records the mappings of the unwinder's maps generation gen (unwinder_set_maps_listener), opening
 * the objects new in them while they are mapped: a user frame stamped with gen (frame.h) then
 * resolves against these mappings, even after the object was unloaded and another loaded at the
 * same address. 0 or -errno. */
int symbolizer_add_maps(struct symbolizer *sym, uint32_t gen, const struct proc_maps *maps);

/* addr is a frame value (frame.h): a kernel address, or a user lookup address with the maps
 * generation it was taken in (0, as a plain address is, when generations are not used); named
 * frames are not the symbolizer's (one unknown frame). Anonymous code is named from the target's
 * perf map, if it writes one (frames of module "[jit]"; for an address the latest entry wins; JS
 * and Python functions get file, line and SYMBOL_FRAME_JIT); anonymous executable code without an
 * entry is module "[jit]", no function. Resolves addr (a lookup address from the unwinder, or a
 * kernel ip) into *frames: innermost first (inlined callees before the function that contains
 * them). Returns the frame count (>= 1; an unknown address gives one frame with function NULL). The
 * frames belong to sym and stay valid until symbolizer_free. */
size_t symbolizer_resolve(struct symbolizer *sym, uint64_t addr,
			  const struct symbol_frame **frames);

/* Resolves the frame values frames[0..n) in a child process and caches the results, so that a
 * crash in libelf/libdw on one of the target's files costs the address it happened on (named
 * module+0xOFFSET, with a warning) and never the run. Call before the outputs' symbolizer_resolve
 * calls, which then hit the cache. Returns 0 or -errno (no child could be started: nothing was
 * cached, symbolizer_resolve still works in this process). */
int symbolizer_resolve_isolated(struct symbolizer *sym, const uint64_t *frames, size_t n);

/* Formats a frame for folded stacks: the function name, "_[k]" for kernel and "_[i]" for inlined
 * frames, "name (file.js:LINE)_[j]" for JIT frames of JS/Python functions, "[jit]" for unnamed
 * JIT code, module+0xOFFSET or [unknown] when the name is unknown; sanitised by text_sanitize.h's
 * folded convention. Returns the length written (truncated to len-1). */
size_t symbol_frame_format(const struct symbol_frame *frame, char *buf, size_t len);

/* The object mapped at an address, for exporters that keep mappings (pprof). */
struct symbol_module_info {
	const char *path;     /* as in the maps; owned by the symbolizer */
	char build_id[129];   /* hex; "" when the object has none or could not be read */
	uint64_t start, end;  /* the mapping holding the address */
	uint64_t file_offset; /* file offset of start */
};

/* Fills info for the user object mapped at addr. Returns 0, or -ENOENT for an address in no
 * known object (kernel, JIT, unmapped). */
int symbolizer_module_at(const struct symbolizer *sym, uint64_t frame,
			 struct symbol_module_info *info);

struct symbolizer_stats {
	uint64_t addresses;   /* unique addresses resolved */
	uint64_t unknown;     /* of them, without a function name */
	uint64_t modules;     /* objects opened */
	uint64_t jit_named;   /* of the addresses, in JIT code named by the perf map */
	uint64_t jit_unnamed; /* in anonymous executable memory without a perf-map name */
	double seconds;	      /* time spent resolving */
};
void symbolizer_get_stats(const struct symbolizer *sym, struct symbolizer_stats *stats);

/* One line telling how to get names for the JIT frames that had none (node --perf-basic-prof,
 * python -X perf), or NULL when there were none. For the run's summary, once. Static string. */
const char *symbolizer_jit_hint(const struct symbolizer *sym);

#endif
