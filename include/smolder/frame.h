/* frame.h: what one 64-bit frame value in a stack means. Every producer (unwinder, ptrace and BPF
 * samplers, language runtimes, process roots, markers) and every consumer (outputs, symbolizer)
 * uses this one encoding, so a stack table can hold native and interpreted frames side by side:
 *
 *   bit 63 set             kernel address (0xffff800000000000 and up; x86-64 upper half)
 *   bits 63..62 = 01       named frame: kind in bits 56..61, id in bits 0..55 (see frame_names.h)
 *   bits 63..62 = 00       user lookup address in bits 0..46 (x86-64 user space is below 2^47),
 *                          the maps generation it was taken in, in bits 47..61 (0: the first)
 *
 * The generation lets an address be resolved against the mappings in force when it was sampled:
 * the same address can mean another object after dlclose + dlopen or exec. */
#ifndef SMOLDER_FRAME_H
#define SMOLDER_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#define FRAME_USER_ADDRESS_BITS 47
#define FRAME_USER_ADDRESS_MASK ((1ULL << FRAME_USER_ADDRESS_BITS) - 1)
#define FRAME_GENERATION_MAX	((1U << 15) - 1)
#define FRAME_NAMED_TAG		(1ULL << 62)
#define FRAME_NAMED_KIND_SHIFT	56
#define FRAME_NAMED_ID_MASK	((1ULL << FRAME_NAMED_KIND_SHIFT) - 1)

/* Kinds of named frames. */
enum frame_kind {
	FRAME_KIND_NATIVE = 0, /* not a named frame: a user or kernel address */
	FRAME_KIND_PYTHON = 1, /* a Python function: "qualname (file.py:LINE)" */
	FRAME_KIND_JS = 2,     /* a JavaScript function (JIT), "name (file.js:LINE)" */
	FRAME_KIND_MARKER =
		3, /* "[truncated]" and similar: not code, says something of the stack */
	FRAME_KIND_PROCESS = 4, /* a process root, "COMMAND [PID]" */
	FRAME_KIND_MAX = 63,
};

static inline bool frame_is_kernel(uint64_t frame)
{
	return frame >= 0xffff800000000000ULL;
}

static inline bool frame_is_named(uint64_t frame)
{
	return (frame >> 62) == 1;
}

static inline bool frame_is_user(uint64_t frame)
{
	return (frame >> 62) == 0;
}

/* A user frame: addr (below 2^47) taken in maps generation gen. */
static inline uint64_t frame_user(uint64_t addr, uint32_t gen)
{
	return (addr & FRAME_USER_ADDRESS_MASK) |
	       ((uint64_t)(gen & FRAME_GENERATION_MAX) << FRAME_USER_ADDRESS_BITS);
}

static inline uint64_t frame_user_address(uint64_t frame)
{
	return frame & FRAME_USER_ADDRESS_MASK;
}

static inline uint32_t frame_user_generation(uint64_t frame)
{
	return (uint32_t)(frame >> FRAME_USER_ADDRESS_BITS) & FRAME_GENERATION_MAX;
}

static inline uint64_t frame_named(uint32_t kind, uint64_t id)
{
	return FRAME_NAMED_TAG | ((uint64_t)(kind & 63) << FRAME_NAMED_KIND_SHIFT) |
	       (id & FRAME_NAMED_ID_MASK);
}

/* The kind of a frame: FRAME_KIND_NATIVE for addresses. */
static inline uint32_t frame_kind(uint64_t frame)
{
	return frame_is_named(frame) ? (uint32_t)(frame >> FRAME_NAMED_KIND_SHIFT) & 63
				     : FRAME_KIND_NATIVE;
}

static inline uint64_t frame_named_id(uint64_t frame)
{
	return frame & FRAME_NAMED_ID_MASK;
}

#endif
