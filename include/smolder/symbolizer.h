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

/* Anonymous code is named from the target's perf map, if it writes one (frames of module "[jit]").
 * Resolves addr (a lookup address from the unwinder, or a kernel ip) into *frames: innermost first
 * (inlined callees before the function that contains them). Returns the frame count (>= 1; an
 * unknown address gives one frame with function NULL). The frames belong to sym and stay valid
 * until symbolizer_free. */
size_t symbolizer_resolve(struct symbolizer *sym, uint64_t addr,
			  const struct symbol_frame **frames);

/* Formats a frame for folded stacks: the function name, "_[k]" for kernel and "_[i]" for inlined
 * frames, module+0xOFFSET or [unknown] when the name is unknown; sanitised by text_sanitize.h's
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
int symbolizer_module_at(const struct symbolizer *sym, uint64_t addr,
			 struct symbol_module_info *info);

struct symbolizer_stats {
	uint64_t addresses; /* unique addresses resolved */
	uint64_t unknown;   /* of them, without a function name */
	uint64_t modules;   /* objects opened */
	double seconds;	    /* time spent resolving */
};
void symbolizer_get_stats(const struct symbolizer *sym, struct symbolizer_stats *stats);

#endif
