/* unwinder.c: unwinds one target's user stacks from snapshots (ip, sp, bp and the stack bytes from
 * sp up), over the model of the target's address space (its mappings and the ELF objects behind
 * them) that unwinder_maps.c keeps. Each frame is stepped by the first of:
 *  - the kernel's signal trampoline: the rt_sigframe layout;
 *  - a compact CFI rule (unwind_cfi.c) cached per address: CFA = rsp/rbp + offset, return address
 *    and rbp at fixed offsets. This covers nearly every frame of compiled code, at ~0.01 us each;
 *  - libunwind's remote API, for CFI with DWARF expressions (PLT stubs, realigned stacks). It costs
 *    5-10 us per stack when it steps every frame, mostly sigprocmask calls around its caches
 *    (scripts/bench/unwind.sh), hence the rules;
 *  - a frame pointer, only when no unwind info covers the ip and rbp checks out in the snapshot.
 * Stack memory comes from the snapshot only; everything else libunwind reads (the .eh_frame_hdr
 * table, .eh_frame, code bytes) from the mapped files, never from the live process, which has moved
 * on since the sample. Not thread-safe: one unwinder is driven by one thread. */
#include "smolder/unwinder.h"

#include "unwind_cfi.h"
#include "unwind_elf.h"
#include "unwinder_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Exported by libunwind-x86_64 but not declared in its headers: binary search of an
 * .eh_frame_hdr table read through the address space's accessors (UNW_INFO_FORMAT_REMOTE_TABLE). */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

/* libunwind's register-state cache, for the few ips it handles (power of two). */
#define RS_CACHE_SIZE 1024
/* Where libunwind reads a search table built from .eh_frame (objects without .eh_frame_hdr): a
 * kernel address, which no user mapping (snapshot or file) can hold. */
#define SYNTHETIC_TABLE_ADDR 0xfffff00000000000ull
/* A frame pointer must point this close above the frame's sp to be believed. */
#define FP_MAX_FRAME (1u << 20)

/* ---- libunwind accessors ---------------------------------------------------------------- */

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	struct unwinder *uw = arg;
	const struct uw_map *m = unwinder_find_map_refresh(uw, ip);
	const struct unwind_elf *elf;
	unw_dyn_info_t di;
	int ret;

	if (!m || !m->obj || !m->obj->elf || !m->obj->elf->has_table)
		goto no_info;
	elf = m->obj->elf;
	if (ip < elf->text_lo + m->bias || ip >= elf->text_hi + m->bias)
		goto no_info;
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = elf->text_lo + m->bias;
	di.end_ip = elf->text_hi + m->bias;
	di.u.rti.segbase = elf->hdr_vaddr + m->bias;
	di.u.rti.table_data = elf->table_vaddr + m->bias;
	if (elf->synthetic_table) {
		/* A table built from .eh_frame lives in our memory: libunwind reads it through
		 * access_mem at an address no user mapping can have. */
		di.u.rti.table_data = SYNTHETIC_TABLE_ADDR;
		uw->ctx.synthetic_table = elf->synthetic_table;
		uw->ctx.synthetic_len = elf->fde_count * 8;
	}
	/* Entries are two int32s; libunwind counts the table in words. */
	di.u.rti.table_len = elf->fde_count * 8 / sizeof(unw_word_t);
	ret = _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
	uw->ctx.synthetic_table = NULL;
	if (ret >= 0)
		return ret;
no_info:
	uw->ctx.lookup_failed = true;
	return -UNW_ENOINFO;
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* libunwind frees the CIE info dwarf_search_unwind_table allocated from its own pool. */
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
	return -UNW_ENOINFO;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp, int write, void *arg)
{
	struct unwinder *uw = arg;
	struct uw_frame_ctx *c = &uw->ctx;
	const struct unwind_snapshot *s = c->snap;
	uint64_t snap_end = s->sp + s->stack_len;
	const struct uw_map *m;

	if (write)
		return -UNW_EREADONLYREG;
	if (addr >= s->sp && addr < snap_end && snap_end - addr >= sizeof(*valp)) {
		memcpy(valp, s->stack + (addr - s->sp), sizeof(*valp));
		return 0;
	}
	if (c->synthetic_table && addr >= SYNTHETIC_TABLE_ADDR &&
	    addr - SYNTHETIC_TABLE_ADDR < c->synthetic_len) {
		uint64_t off = addr - SYNTHETIC_TABLE_ADDR;
		size_t n = c->synthetic_len - off < sizeof(*valp) ? c->synthetic_len - off
								  : sizeof(*valp);

		*valp = 0;
		memcpy(valp, (const uint8_t *)c->synthetic_table + off, n);
		return 0;
	}
	/* Read-only file mappings hold what the file holds; writable ones (.data, .got, relocated
	 * pointers) do not, and the live process has moved on since the sample. */
	m = unwinder_find_map(uw, addr);
	if (m && m->obj && !(m->pm->perms & PROC_MAP_WRITE) &&
	    unwind_elf_read(m->obj->elf, addr - m->pm->start + m->pm->offset, valp, sizeof(*valp)) >
		    0)
		return 0;
	if (addr >= s->sp && (c->stack_hi ? addr < c->stack_hi : s->stack_clipped))
		c->truncated_reads++;
	else
		c->bad_reads++;
	return -UNW_EINVAL;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *valp, int write, void *arg)
{
	struct uw_frame_ctx *c = &((struct unwinder *)arg)->ctx;

	if (write)
		return -UNW_EREADONLYREG;
	switch (reg) {
	case UNW_X86_64_RIP:
		*valp = c->ip;
		return 0;
	case UNW_X86_64_RSP:
		*valp = c->sp;
		return 0;
	case UNW_X86_64_RBP:
		if (!c->bp_known)
			return -UNW_EBADREG;
		*valp = c->bp;
		return 0;
	default:
		/* Not captured: a CFA rule that needs it cannot be followed. */
		return -UNW_EBADREG;
	}
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			void *arg)
{
	return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *cursor, void *arg)
{
	return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			 unw_word_t *offp, void *arg)
{
	return -UNW_ENOINFO; /* names are the symbolizer's job */
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = get_proc_name,
};

/* ---- unwinding -------------------------------------------------------------------------- */

/* True when ip is the kernel's signal return trampoline, which the handler "returns" into:
 * mov $15, %rax (rt_sigreturn); syscall. The glibc __restore_rt and every x86-64 libc use it.
 * (libunwind's unw_is_signal_frame does not recognise it for remote address spaces here.) */
static bool is_sigreturn(const struct unwinder *uw, uint64_t ip)
{
	static const uint8_t code[9] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
	const struct uw_map *m = unwinder_find_map(uw, ip);
	uint8_t buf[sizeof(code)];

	if (!m || !m->obj || !(m->pm->perms & PROC_MAP_EXEC))
		return false;
	return unwind_elf_read(m->obj->elf, ip - m->pm->start + m->pm->offset, buf, sizeof(buf)) ==
		       sizeof(buf) &&
	       memcmp(buf, code, sizeof(code)) == 0;
}

/* Registers of the frame being unwound. Only ip, sp and bp are known: callee-saved registers are
 * not in the snapshot, and ordinary CFI needs none of them to find the caller. */
struct uw_regs {
	uint64_t ip, sp, bp;
	bool bp_known;
};

enum step_result {
	STEP_OK,
	STEP_ROOT,	/* the CFI says this is the outermost frame */
	STEP_TRUNCATED, /* needed stack beyond the snapshot */
	STEP_NO_INFO,	/* no unwind info and no believable frame pointer */
	STEP_BAD,	/* unwind info found but the stack contradicts it */
};

/* Reads a stack word for the fast paths: from the snapshot only. */
static enum step_result stack_word(struct unwinder *uw, uint64_t addr, uint64_t *val)
{
	const struct unwind_snapshot *s = uw->ctx.snap;
	uint64_t end = s->sp + s->stack_len;

	if (addr >= s->sp && addr < end && end - addr >= 8) {
		memcpy(val, s->stack + (addr - s->sp), 8);
		return STEP_OK;
	}
	if (addr >= s->sp && (uw->ctx.stack_hi ? addr < uw->ctx.stack_hi : s->stack_clipped)) {
		uw->ctx.truncated_reads++;
		return STEP_TRUNCATED;
	}
	return STEP_BAD;
}

/* Rules for JIT code (anonymous executable memory, no CFI) that does not keep a frame pointer.
 * CPython 3.12's perf trampolines (-X perf) are copies of "sub $8,%rsp; call *%rcx; add $8,%rsp;
 * ret": at their return address the frame is CFA = rsp + 16, return address at CFA - 8, rbp
 * untouched. Recognised by their code bytes around the return address (lookup = return address -
 * 1), read from the live process: JIT code does not change under a return address still on a
 * stack. Anything else keeps kind NONE: the frame-pointer step (V8 keeps rbp as frame pointer). */
static void jit_rule(struct unwinder *uw, uint64_t lookup, struct unwind_rule *rule)
{
	static const uint8_t trampoline_tail[7] = {0xff, 0xd1, 0x48, 0x83, 0xc4, 0x08, 0xc3};
	uint8_t code[sizeof(trampoline_tail)];
	char path[64];

	if (uw->mem_fd == -1) {
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)uw->pid);
		uw->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (uw->mem_fd < 0)
			uw->mem_fd = -2; /* do not retry */
	}
	if (uw->mem_fd < 0 || lookup < 1 ||
	    pread(uw->mem_fd, code, sizeof(code), (off_t)(lookup - 1)) != (ssize_t)sizeof(code) ||
	    memcmp(code, trampoline_tail, sizeof(code)) != 0)
		return;
	rule->kind = UNWIND_RULE_SIMPLE;
	rule->cfa_reg = UNWIND_RULE_RSP;
	rule->cfa_off = 16;
	rule->ra_off = -8;
	rule->rbp_rule = UNWIND_RBP_SAME;
}

static struct rule_slot *rule_slot_of(struct unwinder *uw, uint64_t addr)
{
	return &uw->rules[(addr * 0x9e3779b97f4a7c15ull) >> (64 - RULE_CACHE_BITS)];
}

static const struct unwind_rule *get_rule(struct unwinder *uw, uint64_t addr)
{
	struct rule_slot *slot = rule_slot_of(uw, addr);
	const struct uw_map *m;

	if (slot->addr == addr && addr)
		return &slot->rule;
	memset(&slot->rule, 0, sizeof(slot->rule));
	slot->sigreturn = SIGRET_UNKNOWN;
	m = unwinder_find_map_refresh(uw, addr);
	/* An address in no known mapping is not cached: its code is newer than the maps, and the
	 * next lookup must be free to re-read them (rate-limited) instead of finding "no rule". */
	slot->addr = m ? addr : 0;
	if (m && m->obj && (m->pm->perms & PROC_MAP_EXEC))
		unwind_cfi_rule(m->obj->elf, addr - m->bias, &slot->rule);
	else if (m && !m->obj && (m->pm->perms & PROC_MAP_EXEC))
		jit_rule(uw, addr, &slot->rule);
	return &slot->rule;
}

/* is_sigreturn, remembered in the rule slot of ip - 1 (the lookup of return address ip) once that
 * slot holds ip - 1; the slot is cleared with the rules when the maps change. */
static bool is_sigreturn_cached(struct unwinder *uw, uint64_t ip)
{
	struct rule_slot *slot = rule_slot_of(uw, ip - 1);
	bool yes;

	if (slot->addr == ip - 1 && slot->sigreturn != SIGRET_UNKNOWN)
		return slot->sigreturn == SIGRET_YES;
	yes = is_sigreturn(uw, ip);
	if (slot->addr == ip - 1)
		slot->sigreturn = yes ? SIGRET_YES : SIGRET_NO;
	return yes;
}

/* The fast path: applies a compact CFI rule without libunwind. */
static enum step_result rule_step(struct unwinder *uw, const struct unwind_rule *rule,
				  struct uw_regs *regs)
{
	uint64_t cfa, ra, bp = regs->bp;
	enum step_result r;

	if (rule->cfa_reg == UNWIND_RULE_RBP && !regs->bp_known)
		return STEP_BAD;
	cfa = (rule->cfa_reg == UNWIND_RULE_RSP ? regs->sp : regs->bp) + (int64_t)rule->cfa_off;
	if (cfa <= regs->sp)
		return STEP_BAD; /* a caller's frame is always above its callee's */
	if ((r = stack_word(uw, cfa + (int64_t)rule->ra_off, &ra)) != STEP_OK)
		return r;
	/* In an epilogue after "pop %rbp" the CFI still says "saved at CFA - N", which is now below
	 * sp and not in the snapshot. Like libunwind, which reads saved registers lazily, that only
	 * matters if a caller's CFA is rbp-based: mark rbp unknown instead of failing. */
	if (rule->rbp_rule == UNWIND_RBP_SAVED) {
		uint32_t truncated = uw->ctx.truncated_reads;

		regs->bp_known = stack_word(uw, cfa + (int64_t)rule->rbp_off, &bp) == STEP_OK;
		uw->ctx.truncated_reads = truncated;
	} else if (rule->rbp_rule == UNWIND_RBP_UNDEFINED) {
		regs->bp_known = false;
	}
	regs->ip = ra;
	regs->sp = cfa;
	regs->bp = bp;
	return ra ? STEP_OK : STEP_BAD;
}

/* The frame-pointer step for a frame without unwind info (JIT code, hand-written asm): believed
 * only when rbp points into the snapshot just above sp and the saved return address is in code. */
static enum step_result fp_step(struct unwinder *uw, struct uw_regs *regs)
{
	uint64_t saved_bp, ra;
	const struct uw_map *m;
	enum step_result r;

	if (!regs->bp_known || regs->bp < regs->sp || regs->bp - regs->sp > FP_MAX_FRAME ||
	    (regs->bp & 7))
		return STEP_NO_INFO;
	if ((r = stack_word(uw, regs->bp, &saved_bp)) != STEP_OK ||
	    (r = stack_word(uw, regs->bp + 8, &ra)) != STEP_OK)
		return r == STEP_TRUNCATED ? r : STEP_NO_INFO;
	m = unwinder_find_map(uw, ra);
	if (!m || !(m->pm->perms & PROC_MAP_EXEC))
		return STEP_NO_INFO;
	regs->ip = ra;
	regs->sp = regs->bp + 16;
	regs->bp = saved_bp;
	return STEP_OK;
}

/* Steps out of the signal trampoline by the kernel's x86-64 rt_sigframe layout (a stable ABI):
 * at the trampoline, sp points at the ucontext, whose sigcontext (at +40) saves rbp at +80, rsp at
 * +120 and rip at +128. The same offsets glibc's CFI for __restore_rt encodes, without the trip
 * through libunwind's expression evaluator. */
static enum step_result sigreturn_step(struct unwinder *uw, struct uw_regs *regs)
{
	uint64_t bp, sp, ip;
	enum step_result r;

	if ((r = stack_word(uw, regs->sp + 40 + 80, &bp)) != STEP_OK ||
	    (r = stack_word(uw, regs->sp + 40 + 120, &sp)) != STEP_OK ||
	    (r = stack_word(uw, regs->sp + 40 + 128, &ip)) != STEP_OK)
		return r;
	if (!ip)
		return STEP_BAD;
	regs->ip = ip;
	regs->sp = sp;
	regs->bp = bp;
	regs->bp_known = true;
	return STEP_OK;
}

/* One step by libunwind, for CFI beyond the compact rules (signal frames, DWARF expressions, PLT
 * stubs). A caller frame is started at its call instruction (return address - 1), so libunwind
 * looks up the same row it would have when stepping into it. */
static enum step_result libunwind_step(struct unwinder *uw, struct uw_regs *regs, bool exact)
{
	struct uw_frame_ctx *c = &uw->ctx;
	unw_cursor_t cur;
	unw_word_t ip, sp, bp;
	int ret;

	c->ip = exact ? regs->ip : regs->ip - 1;
	c->sp = regs->sp;
	c->bp = regs->bp;
	c->bp_known = regs->bp_known;
	c->lookup_failed = false;
	if (unw_init_remote(&cur, uw->as, uw) < 0)
		return STEP_BAD;
	ret = unw_step(&cur);
	if (c->lookup_failed)
		return fp_step(uw, regs); /* ignore libunwind's own frame-chain guesses */
	if (ret == 0)
		return STEP_ROOT;
	if (ret < 0)
		return c->truncated_reads ? STEP_TRUNCATED : STEP_BAD;
	if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || unw_get_reg(&cur, UNW_X86_64_RSP, &sp) < 0 ||
	    ip == 0)
		return STEP_BAD;
	regs->bp_known = unw_get_reg(&cur, UNW_X86_64_RBP, &bp) == 0;
	regs->ip = ip;
	regs->sp = sp;
	regs->bp = regs->bp_known ? bp : 0;
	return STEP_OK;
}

/* One walk of snap with the maps as they are; result->n >= 1. */
static void unwind_walk(struct unwinder *uw, const struct unwind_snapshot *snap, uint64_t *ips,
			uint32_t max, struct unwind_result *result)
{
	struct uw_frame_ctx *c = &uw->ctx;
	struct uw_regs regs;
	uint32_t n = 0, flags = 0;
	bool exact; /* the leaf, and a frame interrupted by a signal, resume at their ip */
	enum step_result r = STEP_OK;

	memset(c, 0, sizeof(*c));
	c->snap = snap;
	{
		const struct uw_map *stack_map = unwinder_find_map(uw, snap->sp);

		c->stack_hi = stack_map ? stack_map->pm->end : 0;
	}
	regs = (struct uw_regs){.ip = snap->ip, .sp = snap->sp, .bp = snap->bp, .bp_known = true};
	exact = !snap->ip_is_return;
	ips[n++] = exact ? snap->ip : snap->ip - 1;
	while (n < max) {
		uint64_t lookup = exact ? regs.ip : regs.ip - 1;
		const struct unwind_rule *rule;
		bool from_sigreturn = false;

		if (!exact && !uw->slow_path_only && is_sigreturn_cached(uw, regs.ip)) {
			/* A handler returned into the trampoline: the next frame is the one the
			 * signal interrupted, which resumes at its exact ip. */
			if ((r = sigreturn_step(uw, &regs)) != STEP_OK)
				break;
			exact = true;
			ips[n++] = regs.ip;
			continue;
		}
		rule = get_rule(uw, lookup);
		switch (uw->slow_path_only && rule->kind != UNWIND_RULE_NONE ? UNWIND_RULE_COMPLEX
									     : rule->kind) {
		case UNWIND_RULE_ROOT:
			r = STEP_ROOT;
			break;
		case UNWIND_RULE_SIMPLE:
			r = rule_step(uw, rule, &regs);
			break;
		case UNWIND_RULE_COMPLEX:
			from_sigreturn = is_sigreturn_cached(uw, regs.ip);
			r = libunwind_step(uw, &regs, exact);
			break;
		default:
			r = fp_step(uw, &regs);
			if (r == STEP_OK)
				flags |= UNWIND_FP_USED;
			break;
		}
		if (r != STEP_OK)
			break;
		exact = from_sigreturn;
		ips[n++] = exact ? regs.ip : regs.ip - 1;
	}
	if (r == STEP_ROOT)
		flags |= UNWIND_COMPLETE;
	else if (r == STEP_TRUNCATED)
		flags |= UNWIND_TRUNCATED;
	else if (r == STEP_NO_INFO)
		flags |= UNWIND_NO_INFO;
	else if (n == max && r == STEP_OK)
		flags |= UNWIND_MAX_DEPTH;
	result->n = n;
	result->flags = flags;
	c->snap = NULL;
}

int unwinder_unwind(struct unwinder *uw, const struct unwind_snapshot *snap, uint64_t *ips,
		    uint32_t max, struct unwind_result *result)
{
	result->n = 0;
	result->flags = 0;
	result->generation = uw->generation;
	if (!snap || (!snap->stack && snap->stack_len))
		return -EINVAL;
	if (max == 0)
		return 0;
	uw->stats.unwinds++;
	unwind_walk(uw, snap, ips, max, result);
	/* The walk did not reach the root: the maps may be stale with the ip still inside a known
	 * mapping, so unwinder_find_map_refresh did not fire (ld.so maps a library in steps; dlopen
	 * over a reused range; after exec, the new image's code over the old image's ranges, whose
	 * rules then send the walk past the stack copy). Re-read (rate-limited) and walk once more;
	 * unchanged maps keep the caches. A walk that ran out of a copy clipped at its limit has
	 * its explanation already. */
	if (!(result->flags & (UNWIND_COMPLETE | UNWIND_MAX_DEPTH)) &&
	    !((result->flags & UNWIND_TRUNCATED) && snap->stack_clipped) &&
	    unwinder_refresh_allowed(uw) && unwinder_refresh_maps(uw) == 0)
		unwind_walk(uw, snap, ips, max, result);
	result->generation = uw->generation;
	if (result->flags & UNWIND_COMPLETE)
		uw->stats.complete++;
	if (result->flags & UNWIND_TRUNCATED)
		uw->stats.truncated++;
	if (result->flags & UNWIND_NO_INFO)
		uw->stats.no_info++;
	return 0;
}

int unwinder_rule_at(struct unwinder *uw, uint64_t ip, bool exact, struct unwind_rule *rule)
{
	uint64_t lookup = exact ? ip : ip - 1;
	const struct uw_map *m = unwinder_find_map_refresh(uw, lookup);

	/* ld.so maps a library read-only over its whole span before it maps the code: maps read
	 * in between show ip in a mapping that is not (yet) code. Re-read (rate-limited) once. */
	if (m && !(m->pm->perms & PROC_MAP_EXEC) && unwinder_refresh_allowed(uw) &&
	    unwinder_refresh_maps(uw) == 0)
		m = unwinder_find_map(uw, lookup);
	memset(rule, 0, sizeof(*rule));
	if (!m || !(m->pm->perms & PROC_MAP_EXEC))
		return -ENOENT;
	if (!exact && is_sigreturn(uw, ip)) {
		rule->kind = UNWIND_RULE_SIGRETURN;
		return 0;
	}
	*rule = *get_rule(uw, lookup);
	/* Code without unwind info that this unwinder steps by frame pointer (fp_step): JIT code
	 * (V8, CPython's perf trampolines) and node's builtins keep rbp as a frame pointer. At a
	 * return address the callee's prologue has run, so the caller's frame is
	 * rbp -> [saved rbp, return address]: CFA = rbp + 16, return address at CFA - 8, saved rbp
	 * at CFA - 16. Not at an exact ip: an interrupted prologue may not have pushed rbp yet. */
	if (rule->kind == UNWIND_RULE_NONE && !exact && (m->pm->perms & PROC_MAP_EXEC)) {
		rule->kind = UNWIND_RULE_SIMPLE;
		rule->cfa_reg = UNWIND_RULE_RBP;
		rule->cfa_off = 16;
		rule->ra_off = -8;
		rule->rbp_rule = UNWIND_RBP_SAVED;
		rule->rbp_off = -16;
	}
	return 0;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

struct unwinder *unwinder_new(pid_t pid)
{
	struct unwinder *uw = calloc(1, sizeof(*uw));
	int err;

	if (!uw)
		return NULL;
	uw->pid = pid;
	uw->mem_fd = -1;
	uw->rules = calloc((size_t)1 << RULE_CACHE_BITS, sizeof(*uw->rules));
	if (!uw->rules) {
		err = ENOMEM;
		goto err_free;
	}
	uw->as = unw_create_addr_space(&accessors, 0);
	if (!uw->as) {
		err = ENOMEM;
		goto err_free;
	}
	/* The unwinder runs on one thread but a process may hold several unwinders: a global
	 * (per address space) cache, never the per-thread one libunwind shares across spaces. */
	unw_set_caching_policy(uw->as, UNW_CACHE_GLOBAL);
	unw_set_cache_size(uw->as, RS_CACHE_SIZE, 0);
	err = -unwinder_refresh_maps(uw);
	if (err)
		goto err_free;
	return uw;

err_free:
	unwinder_free(uw);
	errno = err;
	return NULL;
}

void unwinder_free(struct unwinder *uw)
{
	if (!uw)
		return;
	if (uw->as)
		unw_destroy_addr_space(uw->as);
	if (uw->mem_fd >= 0)
		close(uw->mem_fd);
	for (size_t i = 0; i < uw->n_objects; i++) {
		unwind_elf_free(uw->objects[i]->elf);
		free(uw->objects[i]);
	}
	free(uw->objects);
	free(uw->maps);
	proc_maps_release(&uw->pm);
	free(uw->rules);
	free(uw);
}

void unwinder_set_maps_listener(struct unwinder *uw, unwinder_maps_listener *fn, void *arg)
{
	uw->listener = fn;
	uw->listener_arg = arg;
	if (fn && uw->have_maps)
		fn(arg, uw->generation, &uw->pm);
}

uint32_t unwinder_generation(const struct unwinder *uw)
{
	return uw->generation;
}

void unwinder_set_fast_path(struct unwinder *uw, bool enabled)
{
	uw->slow_path_only = !enabled;
}

void unwinder_get_stats(const struct unwinder *uw, struct unwinder_stats *stats)
{
	*stats = uw->stats;
}
