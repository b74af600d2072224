/* unwind_rules.c: DWARF CFI rows turned into the compact rules memleak.bpf.c understands (CFA =
 * rsp|rbp + offset, return address and caller rbp at CFA + offset: what compilers emit for
 * x86-64 code outside hand-written assembly). Rows needing DWARF expressions become STOP rules: the
 * stack is reported truncated there rather than guessed. Objects are opened through
 * /proc/PID/map_files so the rules still come from the exact file the target mapped. */
#include "smolder/unwind_rules.h"
#include "smolder/proc_maps.h"
#include "smolder/u64_map.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DWARF_REG_RBP 6
#define DWARF_REG_RSP 7
#define DWARF_REG_RA  16

struct rules_object {
	uint64_t dev, inode;
	int fd;
	Elf *elf;
	Dwarf *dwarf;
	Dwarf_CFI *eh_cfi, *debug_cfi;
	GElf_Phdr *loads;
	size_t n_loads;
	bool broken; /* could not open: every address in it gets STOP */
};

struct unwind_rules {
	pid_t pid;
	struct proc_maps maps;
	struct rules_object *objects;
	size_t n_objects;
	struct u64_map cache; /* rule key -> packed rule */
};

static uint64_t rule_pack(const struct smolder_unwind_rule *r)
{
	/* kind:2 cfa_reg:1 bp_rule:1 | cfa_offset:20 | ra_offset:20 | bp_offset:20 (signed) */
	return (uint64_t)r->kind | (uint64_t)r->cfa_reg << 2 | (uint64_t)r->bp_rule << 3 |
	       ((uint64_t)(r->cfa_offset & 0xfffff) << 4) |
	       ((uint64_t)(r->ra_offset & 0xfffff) << 24) |
	       ((uint64_t)(r->bp_offset & 0xfffff) << 44);
}

static int32_t sext20(uint64_t v)
{
	v &= 0xfffff;
	return (int32_t)(v & 0x80000 ? v | 0xfff00000u : v);
}

static void rule_unpack(uint64_t v, struct smolder_unwind_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = v & 3;
	r->cfa_reg = (v >> 2) & 1;
	r->bp_rule = (v >> 3) & 1;
	r->cfa_offset = sext20(v >> 4);
	r->ra_offset = sext20(v >> 24);
	r->bp_offset = sext20(v >> 44);
}

static bool fits20(int64_t v)
{
	return v >= -(1 << 19) && v < (1 << 19);
}

struct unwind_rules *unwind_rules_new(pid_t pid)
{
	struct unwind_rules *ur = calloc(1, sizeof(*ur));
	int err;

	if (!ur)
		return NULL;
	ur->pid = pid;
	elf_version(EV_CURRENT);
	err = proc_maps_read(pid, &ur->maps);
	if (err) {
		free(ur);
		errno = -err;
		return NULL;
	}
	return ur;
}

static void object_release(struct rules_object *obj)
{
	if (obj->dwarf)
		dwarf_end(obj->dwarf);
	if (obj->elf)
		elf_end(obj->elf);
	if (obj->fd >= 0)
		close(obj->fd);
	free(obj->loads);
}

void unwind_rules_free(struct unwind_rules *ur)
{
	if (!ur)
		return;
	for (size_t i = 0; i < ur->n_objects; i++)
		object_release(&ur->objects[i]);
	free(ur->objects);
	proc_maps_release(&ur->maps);
	u64_map_release(&ur->cache);
	free(ur);
}

int unwind_rules_refresh(struct unwind_rules *ur)
{
	struct proc_maps fresh;
	int err = proc_maps_read(ur->pid, &fresh);

	if (err)
		return err;
	proc_maps_release(&ur->maps);
	ur->maps = fresh;
	return 0;
}

static struct rules_object *object_get(struct unwind_rules *ur, const struct proc_map *map)
{
	uint64_t dev = (uint64_t)map->dev_major << 32 | map->dev_minor;
	struct rules_object *obj, *grown;
	char path[4096];
	size_t nph;

	for (size_t i = 0; i < ur->n_objects; i++) {
		if (ur->objects[i].dev == dev && ur->objects[i].inode == map->inode)
			return &ur->objects[i];
	}
	grown = realloc(ur->objects, (ur->n_objects + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	ur->objects = grown;
	obj = &ur->objects[ur->n_objects++];
	memset(obj, 0, sizeof(*obj));
	obj->dev = dev;
	obj->inode = map->inode;
	obj->fd = -1;
	obj->fd = -1;
	if (proc_maps_file_path(ur->pid, map, path, sizeof(path)) == 0)
		obj->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (obj->fd < 0 && map->path[0] == '/')
		obj->fd = open(map->path, O_RDONLY | O_CLOEXEC);
	if (obj->fd < 0)
		goto broken;
	obj->elf = elf_begin(obj->fd, ELF_C_READ_MMAP, NULL);
	if (!obj->elf || elf_getphdrnum(obj->elf, &nph))
		goto broken;
	obj->loads = calloc(nph ? nph : 1, sizeof(GElf_Phdr));
	if (!obj->loads)
		goto broken;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(obj->elf, (int)i, &ph) && ph.p_type == PT_LOAD)
			obj->loads[obj->n_loads++] = ph;
	}
	obj->eh_cfi = dwarf_getcfi_elf(obj->elf);
	obj->dwarf = dwarf_begin_elf(obj->elf, DWARF_C_READ, NULL);
	if (obj->dwarf)
		obj->debug_cfi = dwarf_getcfi(obj->dwarf);
	return obj;
broken:
	obj->broken = true;
	return obj;
}

/* ELF virtual address of a runtime address inside map. */
static bool object_vaddr(const struct rules_object *obj, const struct proc_map *map, uint64_t addr,
			 uint64_t *vaddr)
{
	uint64_t off = addr - map->start + map->offset;

	for (size_t i = 0; i < obj->n_loads; i++) {
		const GElf_Phdr *ph = &obj->loads[i];

		if (off >= ph->p_offset && off < ph->p_offset + ph->p_filesz) {
			*vaddr = off - ph->p_offset + ph->p_vaddr;
			return true;
		}
	}
	return false;
}

static bool saved_at_cfa(const Dwarf_Op *ops, size_t nops, int64_t *off)
{
	if (nops == 1 && ops[0].atom == DW_OP_call_frame_cfa) {
		*off = 0;
		return true;
	}
	if (nops == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	return false;
}

static void rule_from_frame(Dwarf_Frame *frame, struct smolder_unwind_rule *rule)
{
	Dwarf_Op *ops, mem[3];
	size_t nops;
	int64_t off;
	Dwarf_Addr start, end;
	bool signal = false;

	rule->kind = SMOLDER_RULE_STOP;
	if (dwarf_frame_info(frame, &start, &end, &signal) < 0 || signal)
		return;
	/* Return address: undefined marks the outermost frame (_start, clone3's child). libdw says
	 * "undefined" with nops 0 and ops pointing at mem, "same value" with nops 0 and ops NULL.
	 */
	if (dwarf_frame_register(frame, DWARF_REG_RA, mem, &ops, &nops) != 0)
		return;
	if (nops == 0 && ops != NULL) {
		rule->kind = SMOLDER_RULE_END;
		return;
	}
	if (!saved_at_cfa(ops, nops, &off) || !fits20(off))
		return;
	rule->ra_offset = (int32_t)off;
	if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops != 1 || ops[0].atom != DW_OP_bregx)
		return;
	if (ops[0].number == DWARF_REG_RSP)
		rule->cfa_reg = SMOLDER_CFA_SP;
	else if (ops[0].number == DWARF_REG_RBP)
		rule->cfa_reg = SMOLDER_CFA_BP;
	else
		return;
	if (!fits20((int64_t)ops[0].number2))
		return;
	rule->cfa_offset = (int32_t)ops[0].number2;
	rule->bp_rule = SMOLDER_BP_SAME;
	if (dwarf_frame_register(frame, DWARF_REG_RBP, mem, &ops, &nops) == 0 &&
	    saved_at_cfa(ops, nops, &off) && fits20(off)) {
		rule->bp_rule = SMOLDER_BP_AT_CFA;
		rule->bp_offset = (int32_t)off;
	}
	rule->kind = SMOLDER_RULE_NORMAL;
}

static void rule_compute(struct unwind_rules *ur, uint64_t addr, bool exact,
			 struct smolder_unwind_rule *rule)
{
	const struct proc_map *map;
	struct rules_object *obj;
	uint64_t lookup = exact ? addr : addr - 1, vaddr;
	Dwarf_Frame *frame = NULL;

	memset(rule, 0, sizeof(*rule));
	rule->kind = SMOLDER_RULE_STOP;
	map = proc_maps_find(&ur->maps, lookup);
	if (!map && unwind_rules_refresh(ur) == 0)
		map = proc_maps_find(&ur->maps, lookup);
	if (!map || !map->path[0] || map->path[0] == '[')
		return;
	obj = object_get(ur, map);
	if (!obj || obj->broken || !object_vaddr(obj, map, lookup, &vaddr))
		return;
	if (obj->eh_cfi && dwarf_cfi_addrframe(obj->eh_cfi, vaddr, &frame) == 0) {
		rule_from_frame(frame, rule);
		free(frame);
		return;
	}
	if (obj->debug_cfi && dwarf_cfi_addrframe(obj->debug_cfi, vaddr, &frame) == 0) {
		rule_from_frame(frame, rule);
		free(frame);
	}
}

void unwind_rules_lookup(struct unwind_rules *ur, uint64_t addr, bool exact,
			 struct smolder_unwind_rule *rule)
{
	uint64_t key = addr | (exact ? SMOLDER_RULE_KEY_EXACT : 0), packed;

	if (u64_map_get(&ur->cache, key, &packed)) {
		rule_unpack(packed, rule);
		return;
	}
	rule_compute(ur, addr, exact, rule);
	u64_map_put(&ur->cache, key, rule_pack(rule));
}

static bool snapshot_read(const struct unwind_walk *w, uint64_t addr, uint64_t *value)
{
	if (addr < w->stack_base || addr + 8 > w->stack_base + w->stack_len)
		return false;
	memcpy(value, w->stack + (addr - w->stack_base), 8);
	return true;
}

void unwind_rules_walk(struct unwind_rules *ur, const struct unwind_walk *walk, uint64_t *ips,
		       uint32_t *n, uint32_t max, bool *truncated, unwind_rules_learn_fn learn,
		       void *ctx)
{
	uint64_t ip = walk->ip, sp = walk->sp, bp = walk->bp, cfa;
	bool exact = walk->exact;
	struct smolder_unwind_rule rule;

	*truncated = true;
	while (*n < max) {
		if (ip == 0) {
			*truncated = false;
			return;
		}
		ips[(*n)++] = ip;
		unwind_rules_lookup(ur, ip, exact, &rule);
		if (learn)
			learn(ctx, ip | (exact ? SMOLDER_RULE_KEY_EXACT : 0), &rule);
		exact = false;
		if (rule.kind == SMOLDER_RULE_END) {
			*truncated = false;
			return;
		}
		if (rule.kind != SMOLDER_RULE_NORMAL)
			return;
		cfa = (rule.cfa_reg == SMOLDER_CFA_BP ? bp : sp) + (int64_t)rule.cfa_offset;
		if (rule.bp_rule == SMOLDER_BP_AT_CFA &&
		    !snapshot_read(walk, cfa + (int64_t)rule.bp_offset, &bp))
			return;
		if (!snapshot_read(walk, cfa + (int64_t)rule.ra_offset, &ip))
			return;
		sp = cfa;
	}
}
