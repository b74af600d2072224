/* fuzz_unwind.c: libFuzzer target over the unwinder's ELF and CFI parsing (src/unwind_elf.c,
 * src/unwind_cfi.c). They read files that belong to the profiled process, so any bytes must give
 * an object or an error, and any address of an object a rule, without reading out of bounds (ASan)
 * or taking time quadratic in the input (libFuzzer's -timeout). Oracle beyond the sanitizers: a
 * rule the fast path would apply must be one it can apply. */
#include "unwind_cfi.h"
#include "unwind_elf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LOOKUPS 512

static void check_rule(const struct unwind_elf *elf, uint64_t vaddr)
{
	struct unwind_rule rule;

	unwind_cfi_rule(elf, vaddr, &rule);
	if (rule.kind == UNWIND_RULE_SIMPLE &&
	    (rule.cfa_reg != UNWIND_RULE_RSP && rule.cfa_reg != UNWIND_RULE_RBP))
		__builtin_trap();
	if (rule.kind > UNWIND_RULE_COMPLEX)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *image = malloc(size ? size : 1);
	struct unwind_elf *elf;
	uint64_t buf[2];
	int64_t delta;

	if (!image)
		return 0;
	memcpy(image, data, size);
	elf = unwind_elf_from_image(image, size); /* owns image from here on */
	if (!elf)
		return 0;
	for (size_t i = 0; i < elf->n_debug_fdes && i < MAX_LOOKUPS; i++) {
		check_rule(elf, elf->debug_fdes[i].lo);
		check_rule(elf, elf->debug_fdes[i].hi - 1);
	}
	if (elf->text_hi > elf->text_lo) {
		uint64_t step = (elf->text_hi - elf->text_lo) / MAX_LOOKUPS + 1;

		for (uint64_t i = 0; i < MAX_LOOKUPS && i * step < elf->text_hi - elf->text_lo; i++)
			check_rule(elf, elf->text_lo + i * step);
	}
	check_rule(elf, 0);
	check_rule(elf, UINT64_MAX);
	for (size_t i = 0; i < elf->n_loads; i++) {
		unwind_elf_load_delta(elf, elf->loads[i].offset & ~(uint64_t)0xfff, &delta);
		unwind_elf_read(elf, elf->loads[i].offset, buf, sizeof(buf));
	}
	unwind_elf_read(elf, size > 8 ? size - 8 : 0, buf, sizeof(buf));
	unwind_elf_free(elf);
	return 0;
}
