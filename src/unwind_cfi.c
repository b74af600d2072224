/* unwind_cfi.c: evaluates .eh_frame and .debug_frame call frame information (DWARF 5 section 6.4,
 * LSB .eh_frame format) at one address into the unwinder's compact rule. Only the subset compilers
 * emit for ordinary functions is interpreted; everything else is reported as complex, never
 * guessed. All reads are bounds-checked against the mapped file. */
#include "unwind_cfi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* How far into an entry point a call may be and still be the entry stub's (ld.so's _start calls
 * _dl_start 3 bytes in; the main program's _start, which has CFI anyway, ~0x20 in). */
#define UNWIND_ENTRY_STUB_BYTES 64

#define DW_EH_PE_omit	  0xff
#define DW_EH_PE_uleb128  0x01
#define DW_EH_PE_udata2	  0x02
#define DW_EH_PE_udata4	  0x03
#define DW_EH_PE_udata8	  0x04
#define DW_EH_PE_sleb128  0x09
#define DW_EH_PE_sdata2	  0x0a
#define DW_EH_PE_sdata4	  0x0b
#define DW_EH_PE_sdata8	  0x0c
#define DW_EH_PE_pcrel	  0x10
#define DW_EH_PE_indirect 0x80

#define REG_RBP		 6
#define REG_RSP		 7
#define MAX_REMEMBER	 8
#define MAX_AUGMENTATION 16

struct reader {
	const uint8_t *p, *end;
	uint64_t vaddr; /* link-time address of *p */
	bool bad;
};

static bool need(struct reader *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return false;
	}
	return true;
}

static void skip(struct reader *r, uint64_t n)
{
	if (need(r, n)) {
		r->p += n;
		r->vaddr += n;
	}
}

static uint64_t read_fixed(struct reader *r, size_t n)
{
	uint64_t v = 0;

	if (!need(r, n))
		return 0;
	memcpy(&v, r->p, n); /* little-endian host and target */
	skip(r, n);
	return v;
}

/* LEB128: 7 bits a byte, low first. *shift gets the bits consumed, *last the final byte. */
static uint64_t read_leb(struct reader *r, unsigned *shift, uint8_t *last)
{
	uint64_t v = 0;
	uint8_t b;

	*shift = 0;
	do {
		if (!need(r, 1)) {
			*last = 0;
			return 0;
		}
		b = *r->p;
		skip(r, 1);
		if (*shift < 64)
			v |= (uint64_t)(b & 0x7f) << *shift;
		*shift += 7;
	} while (b & 0x80);
	*last = b;
	return v;
}

static uint64_t read_uleb(struct reader *r)
{
	unsigned shift;
	uint8_t last;

	return read_leb(r, &shift, &last);
}

static int64_t read_sleb(struct reader *r)
{
	unsigned shift;
	uint8_t last;
	uint64_t v = read_leb(r, &shift, &last);

	if (shift < 64 && (last & 0x40))
		v |= ~(uint64_t)0 << shift;
	return (int64_t)v;
}

/* Encoded pointer; only absolute and pc-relative forms (what .eh_frame FDEs use). */
static uint64_t read_encoded(struct reader *r, uint8_t enc)
{
	uint64_t field = r->vaddr, v;

	switch (enc & 0x0f) {
	case 0: /* absptr */
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		v = read_fixed(r, 8);
		break;
	case DW_EH_PE_udata4:
		v = read_fixed(r, 4);
		break;
	case DW_EH_PE_sdata4:
		v = (uint64_t)(int64_t)(int32_t)read_fixed(r, 4);
		break;
	case DW_EH_PE_udata2:
		v = read_fixed(r, 2);
		break;
	case DW_EH_PE_sdata2:
		v = (uint64_t)(int64_t)(int16_t)read_fixed(r, 2);
		break;
	case DW_EH_PE_uleb128:
		v = read_uleb(r);
		break;
	case DW_EH_PE_sleb128:
		v = (uint64_t)read_sleb(r);
		break;
	default:
		r->bad = true;
		return 0;
	}
	if (enc & DW_EH_PE_indirect)
		r->bad = true;
	switch (enc & 0x70) {
	case 0:
		return v;
	case DW_EH_PE_pcrel:
		return v + field;
	default:
		r->bad = true;
		return 0;
	}
}

/* A reader over the file bytes at link-time address vaddr, up to the end of the file. */
static bool reader_at(const struct unwind_elf *elf, uint64_t vaddr, struct reader *r)
{
	uint64_t off;

	if (unwind_elf_vaddr_offset(elf, vaddr, &off) < 0 || off >= elf->size)
		return false;
	r->p = elf->data + off;
	r->end = elf->data + elf->size;
	r->vaddr = vaddr;
	r->bad = false;
	return true;
}

/* Reads a CIE/FDE length and narrows r to the entry's body; returns false at a terminator.
 * *is64 says whether it uses the 64-bit DWARF format (8-byte CIE ids and pointers there). */
static bool enter_entry(struct reader *r, bool *is64)
{
	uint64_t len = read_fixed(r, 4);

	*is64 = len == 0xffffffff;
	if (*is64)
		len = read_fixed(r, 8);
	if (r->bad || len == 0 || len > (uint64_t)(r->end - r->p))
		return false;
	r->end = r->p + len;
	return true;
}

/* A reader over the file bytes at file offset off of .debug_frame, which is not loaded: it has
 * no address, and its entries use none but absolute pointers. */
static bool reader_at_debug(const struct unwind_elf *elf, uint64_t off, struct reader *r)
{
	if (off >= elf->debug_frame_size)
		return false;
	r->p = elf->data + elf->debug_frame_off + off;
	r->end = elf->data + elf->debug_frame_off + elf->debug_frame_size;
	r->vaddr = 0;
	r->bad = false;
	return true;
}

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra_reg;
	uint8_t fde_enc;
	bool has_z, signal;
	struct reader instr;
};

/* Parses the CIE at r (at its length field): an .eh_frame CIE (id 0, version 1 or 3) or, with
 * debug, a .debug_frame one (id all ones, version 1, 3 or 4, no augmentation data). */
static bool parse_cie(struct reader r, bool debug, struct cie *cie)
{
	const char *aug;
	uint8_t version;
	bool is64;

	memset(cie, 0, sizeof(*cie));
	if (!enter_entry(&r, &is64))
		return false;
	/* .eh_frame keeps 4-byte CIE ids even in 64-bit entries (LSB); .debug_frame widens them. */
	if (read_fixed(&r, debug && is64 ? 8 : 4) != (!debug ? 0 : is64 ? UINT64_MAX : 0xffffffff))
		return false;
	version = (uint8_t)read_fixed(&r, 1);
	if (version != 1 && version != 3 && (version != 4 || !debug))
		return false;
	/* Real augmentation strings are a few letters ("zR", "zPLR"). Bounding them keeps a crafted
	 * object (many FDEs sharing one huge CIE) from costing quadratic time. */
	aug = (const char *)r.p;
	for (int n = 0; need(&r, 1) && *r.p; n++) {
		if (n == MAX_AUGMENTATION)
			return false;
		skip(&r, 1);
	}
	skip(&r, 1);
	if (r.bad)
		return false;
	if (strncmp(aug, "eh", 2) == 0)
		return false; /* ancient GCC layout */
	if (debug && aug[0])
		return false; /* pc-relative pointers mean nothing in an unloaded section */
	if (version == 4 && (read_fixed(&r, 1) != 8 || read_fixed(&r, 1) != 0))
		return false; /* address size 8, no segment selectors */
	cie->code_align = read_uleb(&r);
	cie->data_align = read_sleb(&r);
	cie->ra_reg = version == 1 ? read_fixed(&r, 1) : read_uleb(&r);
	cie->fde_enc = 0; /* absptr */
	if (aug[0] == 'z') {
		uint64_t aug_len = read_uleb(&r);
		struct reader data = r;

		cie->has_z = true;
		data.end = r.p + (aug_len <= (uint64_t)(r.end - r.p) ? aug_len : 0);
		for (const char *a = aug + 1; *a && !data.bad; a++) {
			switch (*a) {
			case 'R':
				cie->fde_enc = (uint8_t)read_fixed(&data, 1);
				break;
			case 'P': {
				uint8_t enc = (uint8_t)read_fixed(&data, 1);

				read_encoded(&data, enc & 0x7f);
				break;
			}
			case 'L':
				skip(&data, 1);
				break;
			case 'S':
				cie->signal = true;
				break;
			default:
				return false; /* unknown augmentation: cannot find the instructions
					       */
			}
		}
		skip(&r, aug_len);
	} else if (aug[0]) {
		return false;
	}
	if (r.bad || !cie->code_align)
		return false;
	cie->instr = r;
	return true;
}

/* A factored offset times the CIE's data alignment, wrapping instead of overflowing (undefined for
 * signed types): corrupt values end up outside int32 and make the rule complex. */
static int64_t scaled(uint64_t value, int64_t align)
{
	return (int64_t)(value * (uint64_t)align);
}

enum how { HOW_SAME = 0, HOW_UNDEF, HOW_OFFSET, HOW_COMPLEX };

struct reg_rule {
	uint8_t how;
	int64_t off;
};

struct row {
	uint64_t cfa_reg;
	int64_t cfa_off;
	bool cfa_complex;
	struct reg_rule rbp, ra;
};

static struct reg_rule *tracked(struct row *row, const struct cie *cie, uint64_t reg)
{
	if (reg == REG_RBP)
		return &row->rbp;
	if (reg == cie->ra_reg)
		return &row->ra;
	return NULL;
}

/* Runs CFA instructions until the location passes target. Returns false on anything it does
 * not understand, which makes the address complex. */
static bool run_program(struct reader *r, const struct cie *cie, struct row *row,
			const struct row *initial, uint64_t loc, uint64_t target)
{
	struct row stack[MAX_REMEMBER];
	unsigned depth = 0;

	while (r->p < r->end && !r->bad) {
		uint8_t op = (uint8_t)read_fixed(r, 1), low = op & 0x3f;
		uint64_t reg, delta = 0;
		struct reg_rule *rule;

		switch (op & 0xc0) {
		case 0x40: /* advance_loc */
			delta = low;
			goto advance;
		case 0x80: /* offset */
			reg = low;
			rule = tracked(row, cie, reg);
			if (rule) {
				rule->how = HOW_OFFSET;
				rule->off = scaled(read_uleb(r), cie->data_align);
			} else {
				read_uleb(r);
			}
			continue;
		case 0xc0: /* restore */
			rule = tracked(row, cie, low);
			if (rule && initial)
				*rule = *tracked((struct row *)initial, cie, low);
			continue;
		}
		switch (op) {
		case 0x00: /* nop */
			break;
		case 0x02: /* advance_loc1 */
			delta = read_fixed(r, 1);
			goto advance;
		case 0x03: /* advance_loc2 */
			delta = read_fixed(r, 2);
			goto advance;
		case 0x04: /* advance_loc4 */
			delta = read_fixed(r, 4);
			goto advance;
		case 0x05: /* offset_extended */
		case 0x11: /* offset_extended_sf */
			reg = read_uleb(r);
			rule = tracked(row, cie, reg);
			{
				int64_t off = op == 0x05 ? (int64_t)read_uleb(r) : read_sleb(r);

				if (rule) {
					rule->how = HOW_OFFSET;
					rule->off = scaled((uint64_t)off, cie->data_align);
				}
			}
			break;
		case 0x06: /* restore_extended */
			reg = read_uleb(r);
			rule = tracked(row, cie, reg);
			if (rule && initial)
				*rule = *tracked((struct row *)initial, cie, reg);
			break;
		case 0x07: /* undefined */
		case 0x08: /* same_value */
			rule = tracked(row, cie, read_uleb(r));
			if (rule)
				rule->how = op == 0x07 ? HOW_UNDEF : HOW_SAME;
			break;
		case 0x09: /* register */
			rule = tracked(row, cie, read_uleb(r));
			read_uleb(r);
			if (rule)
				rule->how = HOW_COMPLEX;
			break;
		case 0x0a: /* remember_state */
			if (depth == MAX_REMEMBER)
				return false;
			stack[depth++] = *row;
			break;
		case 0x0b: /* restore_state */
			if (!depth)
				return false;
			*row = stack[--depth];
			break;
		case 0x0c: /* def_cfa */
			row->cfa_reg = read_uleb(r);
			row->cfa_off = (int64_t)read_uleb(r);
			row->cfa_complex = false;
			break;
		case 0x12: /* def_cfa_sf */
			row->cfa_reg = read_uleb(r);
			row->cfa_off = scaled((uint64_t)read_sleb(r), cie->data_align);
			row->cfa_complex = false;
			break;
		case 0x0d: /* def_cfa_register */
			row->cfa_reg = read_uleb(r);
			break;
		case 0x0e: /* def_cfa_offset */
			row->cfa_off = (int64_t)read_uleb(r);
			break;
		case 0x13: /* def_cfa_offset_sf */
			row->cfa_off = scaled((uint64_t)read_sleb(r), cie->data_align);
			break;
		case 0x0f: /* def_cfa_expression */
			row->cfa_complex = true;
			skip(r, read_uleb(r));
			break;
		case 0x10: /* expression */
		case 0x16: /* val_expression */
			rule = tracked(row, cie, read_uleb(r));
			if (rule)
				rule->how = HOW_COMPLEX;
			skip(r, read_uleb(r));
			break;
		case 0x14: /* val_offset */
			rule = tracked(row, cie, read_uleb(r));
			read_uleb(r);
			if (rule)
				rule->how = HOW_COMPLEX;
			break;
		case 0x15: /* val_offset_sf */
			rule = tracked(row, cie, read_uleb(r));
			read_sleb(r);
			if (rule)
				rule->how = HOW_COMPLEX;
			break;
		case 0x2e: /* GNU_args_size: the CFA already accounts for pushed arguments */
			read_uleb(r);
			break;
		default: /* set_loc, GNU_negative_offset_extended, vendor ops */
			return false;
		}
		continue;
advance:
		loc += delta * cie->code_align;
		if (loc > target)
			return !r->bad;
	}
	return !r->bad;
}

static int compare_fde_range(const void *a, const void *b)
{
	const struct unwind_fde_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The FDE for vaddr from the search table: the last entry starting at or below vaddr. */
static bool find_fde(const struct unwind_elf *elf, uint64_t vaddr, uint64_t *fde)
{
	uint64_t off, lo = 0, hi = elf->fde_count;
	const uint8_t *table;
	int32_t entry[2];

	if (elf->synthetic_table) {
		table = (const uint8_t *)elf->synthetic_table;
	} else {
		/* A PT_LOAD may claim file bytes past the end of a corrupt file: check off. */
		if (unwind_elf_vaddr_offset(elf, elf->table_vaddr, &off) < 0 || off > elf->size ||
		    elf->fde_count > (elf->size - off) / 8)
			return false;
		table = elf->data + off;
	}
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		memcpy(entry, table + mid * 8, 8);
		if (elf->hdr_vaddr + (int64_t)entry[0] <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	memcpy(entry, table + (lo - 1) * 8, 8);
	*fde = elf->hdr_vaddr + (int64_t)entry[1];
	return true;
}

/* The .debug_frame FDE covering vaddr from the index; its file offset in the section. */
static bool find_debug_fde(const struct unwind_elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t lo = 0, hi = elf->n_debug_fdes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (elf->debug_fdes[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || vaddr >= elf->debug_fdes[lo - 1].hi)
		return false;
	*off = elf->debug_fdes[lo - 1].off;
	return true;
}

/* Reads an FDE's CIE pointer and address range. r is at the FDE's length field and is left at
 * its augmentation data (if any). Returns false when the entry is not a usable FDE. */
static bool enter_fde(const struct unwind_elf *elf, struct reader *r, bool debug, struct cie *cie,
		      uint64_t *start, uint64_t *range)
{
	struct reader cie_r;
	uint64_t ptr_vaddr, ptr;
	bool is64;

	if (!enter_entry(r, &is64))
		return false;
	ptr_vaddr = r->vaddr;
	ptr = read_fixed(r, debug && is64 ? 8 : 4);
	if (r->bad)
		return false;
	if (debug) {
		/* The CIE pointer is a section offset; a CIE's own id is all ones. */
		if (ptr == (is64 ? UINT64_MAX : 0xffffffff) || !reader_at_debug(elf, ptr, &cie_r))
			return false;
	} else if (ptr == 0 || !reader_at(elf, ptr_vaddr - ptr, &cie_r)) {
		return false;
	}
	if (!parse_cie(cie_r, debug, cie))
		return false;
	*start = read_encoded(r, cie->fde_enc);
	*range = read_encoded(r, cie->fde_enc & 0x0f);
	return !r->bad;
}

int unwind_cfi_index_debug_frame(struct unwind_elf *elf)
{
	struct unwind_fde_range *fdes = NULL;
	size_t n = 0, cap = 0;
	uint64_t off = 0;

	while (off < elf->debug_frame_size) {
		struct reader r, body;
		struct cie cie;
		uint64_t start, range;
		bool is64;

		if (!reader_at_debug(elf, off, &r))
			break;
		body = r;
		if (!enter_entry(&body, &is64))
			break; /* a terminator or a corrupt length: nothing after it can be found */
		if (enter_fde(elf, &r, true, &cie, &start, &range) && range &&
		    start + range > start) {
			if (n == cap) {
				size_t grown_cap = cap ? cap * 2 : 64;
				struct unwind_fde_range *grown =
					realloc(fdes, grown_cap * sizeof(*grown));

				if (!grown) {
					free(fdes);
					return -ENOMEM;
				}
				fdes = grown;
				cap = grown_cap;
			}
			fdes[n++] = (struct unwind_fde_range){start, start + range, off};
		}
		off = (uint64_t)(body.end - (elf->data + elf->debug_frame_off));
	}
	/* The linker keeps the compilation units' order, which is usually but not always by
	 * address. */
	if (n > 1) /* qsort(NULL, 0) is undefined */
		qsort(fdes, n, sizeof(*fdes), compare_fde_range);
	elf->debug_fdes = fdes;
	elf->n_debug_fdes = n;
	return 0;
}

static int compare_table_entry(const void *a, const void *b)
{
	const int32_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

int unwind_cfi_index_eh_frame(struct unwind_elf *elf, uint64_t off, uint64_t vaddr, uint64_t size)
{
	int32_t *table = NULL;
	size_t n = 0, cap = 0;
	uint64_t pos = 0;

	if (!vaddr || off > elf->size || size > elf->size - off)
		return 0; /* not loaded, or not in the file: nothing to index */
	while (size - pos >= 4) {
		struct reader r, body;
		struct cie cie;
		uint64_t entry = pos, start, range;
		int64_t lo;
		bool is64;

		if (!reader_at(elf, vaddr + pos, &r))
			break;
		if ((size_t)(r.end - r.p) > size - pos)
			r.end = r.p + (size - pos);
		body = r;
		if (!enter_entry(&body, &is64))
			break; /* the zero terminator, or a corrupt length */
		pos = (uint64_t)(body.end - (elf->data + off));
		/* A CIE has id 0; an FDE's CIE pointer never is. */
		if (read_fixed(&body, 4) == 0 || !enter_fde(elf, &r, false, &cie, &start, &range) ||
		    !range || start + range < start)
			continue;
		/* int32 offsets from the section, as a linker's table holds them. */
		lo = (int64_t)(start - vaddr);
		if (lo != (int32_t)lo || entry > INT32_MAX)
			continue;
		if (n == cap) {
			size_t grown_cap = cap ? cap * 2 : 256;
			int32_t *grown = realloc(table, grown_cap * 2 * sizeof(*grown));

			if (!grown) {
				free(table);
				return -ENOMEM;
			}
			table = grown;
			cap = grown_cap;
		}
		table[2 * n] = (int32_t)lo;
		table[2 * n + 1] = (int32_t)entry;
		n++;
	}
	if (n == 0) {
		free(table);
		return 0;
	}
	qsort(table, n, 2 * sizeof(*table), compare_table_entry);
	elf->synthetic_table = table;
	elf->fde_count = n;
	elf->hdr_vaddr = vaddr;
	elf->has_table = true;
	return 0;
}

/* The compact rule from the FDE at r (at its length field), for vaddr. */
static void rule_from_fde(const struct unwind_elf *elf, struct reader r, bool debug, uint64_t vaddr,
			  struct unwind_rule *rule)
{
	struct cie cie;
	struct row initial, row;
	uint64_t start, range;

	if (!enter_fde(elf, &r, debug, &cie, &start, &range))
		goto complex;
	if (vaddr < start || vaddr - start >= range)
		return; /* a gap between FDEs: no unwind info here */
	if (cie.signal)
		goto complex;
	if (cie.has_z)
		skip(&r, read_uleb(&r));
	memset(&initial, 0, sizeof(initial));
	if (!run_program(&cie.instr, &cie, &initial, NULL, start, UINT64_MAX))
		goto complex;
	row = initial;
	if (!run_program(&r, &cie, &row, &initial, start, vaddr))
		goto complex;
	if (row.ra.how == HOW_UNDEF) {
		rule->kind = UNWIND_RULE_ROOT;
		return;
	}
	if (row.cfa_complex || (row.cfa_reg != REG_RSP && row.cfa_reg != REG_RBP) ||
	    row.ra.how != HOW_OFFSET || row.rbp.how == HOW_COMPLEX ||
	    row.cfa_off != (int32_t)row.cfa_off || row.ra.off != (int32_t)row.ra.off ||
	    row.rbp.off != (int32_t)row.rbp.off)
		goto complex;
	rule->kind = UNWIND_RULE_SIMPLE;
	rule->cfa_reg = (uint8_t)row.cfa_reg;
	rule->cfa_off = (int32_t)row.cfa_off;
	rule->ra_off = (int32_t)row.ra.off;
	rule->rbp_rule = row.rbp.how == HOW_OFFSET  ? UNWIND_RBP_SAVED
			 : row.rbp.how == HOW_UNDEF ? UNWIND_RBP_UNDEFINED
						    : UNWIND_RBP_SAME;
	rule->rbp_off = (int32_t)row.rbp.off;
	return;
complex:
	rule->kind = UNWIND_RULE_COMPLEX;
}

void unwind_cfi_rule(const struct unwind_elf *elf, uint64_t vaddr, struct unwind_rule *rule)
{
	struct reader r;
	uint64_t fde;

	memset(rule, 0, sizeof(*rule));
	if (elf->has_table && find_fde(elf, vaddr, &fde) && reader_at(elf, fde, &r)) {
		rule_from_fde(elf, r, false, vaddr, rule);
		if (rule->kind != UNWIND_RULE_NONE)
			return;
	}
	/* .eh_frame has nothing here (the object has none, or only for its start files and
	 * PLT): the code may have been compiled with .debug_frame alone. */
	if (elf->n_debug_fdes && find_debug_fde(elf, vaddr, &fde) && reader_at_debug(elf, fde, &r))
		rule_from_fde(elf, r, true, vaddr, rule);
	/* The entry point's first instructions with no unwind info: the kernel starts the main
	 * thread there with nothing on the stack to return to, so a call made from them is the
	 * outermost frame. ld.so's _start ("mov %rsp,%rdi; call _dl_start") is such a stub: every
	 * allocation the loader makes for a launched program came through it. */
	if (rule->kind == UNWIND_RULE_NONE && elf->entry && vaddr >= elf->entry &&
	    vaddr - elf->entry < UNWIND_ENTRY_STUB_BYTES)
		rule->kind = UNWIND_RULE_ROOT;
}
