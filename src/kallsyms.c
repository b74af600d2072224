/* kallsyms.c: owns the parsed kernel symbol table (/proc/kallsyms) and its address lookup. */
#include "smolder/kallsyms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kallsyms_entry {
	uint64_t addr;
	uint32_t name;	 /* offset into names */
	uint32_t module; /* offset into names of the module ("" for vmlinux) */
};

struct kallsyms {
	struct kallsyms_entry *entries;
	size_t n;
	char *names;
	size_t names_len, names_cap;
};

/* A symbol this far past the previous one, without a symbol in between, is not inside it: kernel
 * functions are far smaller, and module areas are separated by large gaps. */
#define KALLSYMS_MAX_SYMBOL_SIZE (1u << 20)

static int names_add(struct kallsyms *ks, const char *s, size_t len, uint32_t *off)
{
	if (ks->names_len + len + 1 > ks->names_cap) {
		size_t cap = ks->names_cap ? ks->names_cap * 2 : 1 << 20;
		char *p;

		while (cap < ks->names_len + len + 1)
			cap *= 2;
		p = realloc(ks->names, cap);
		if (!p)
			return -ENOMEM;
		ks->names = p;
		ks->names_cap = cap;
	}
	if (ks->names_len + len + 1 > UINT32_MAX)
		return -EOVERFLOW;
	memcpy(ks->names + ks->names_len, s, len);
	ks->names[ks->names_len + len] = '\0';
	*off = (uint32_t)ks->names_len;
	ks->names_len += len + 1;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct kallsyms_entry *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Stable among aliases: the first listed (the kernel's own order) wins. */
	return x->name < y->name ? -1 : x->name > y->name;
}

/* Parses one "ADDR TYPE NAME [\t[MODULE]]" line into ks. Lines of other types are skipped. */
static int parse_line(struct kallsyms *ks, char *line, uint32_t empty, size_t *cap, int *nonzero)
{
	char *end, *name, *mod, *p;
	uint64_t addr;
	char type;
	uint32_t name_off, mod_off = empty;
	int err;

	addr = strtoull(line, &end, 16);
	if (end == line || *end != ' ')
		return 0;
	type = end[1];
	if (type != 't' && type != 'T' && type != 'w' && type != 'W')
		return 0;
	if (end[2] != ' ')
		return 0;
	name = end + 3;
	p = name + strcspn(name, "\t \n");
	mod = NULL;
	if (*p == '\t' || *p == ' ') {
		char *q = p + strspn(p, "\t ");

		if (*q == '[') {
			mod = q + 1;
			mod[strcspn(mod, "]\n")] = '\0';
		}
	}
	*p = '\0';
	/* ftrace's function padding symbols precede their functions; they name no code of their
	 * own. */
	if (!*name || !strncmp(name, "__pfx_", 6))
		return 0;
	if (addr)
		*nonzero = 1;
	err = names_add(ks, name, strlen(name), &name_off);
	if (!err && mod)
		err = names_add(ks, mod, strlen(mod), &mod_off);
	if (err)
		return err;
	if (ks->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 65536;
		struct kallsyms_entry *e = realloc(ks->entries, ncap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		ks->entries = e;
		*cap = ncap;
	}
	ks->entries[ks->n++] = (struct kallsyms_entry){addr, name_off, mod_off};
	return 0;
}

struct kallsyms *kallsyms_load(const char *path)
{
	struct kallsyms *ks;
	char *line = NULL;
	size_t line_cap = 0, cap = 0;
	uint32_t empty;
	int nonzero = 0, err = 0;
	FILE *f;

	ks = calloc(1, sizeof(*ks));
	if (!ks)
		return NULL;
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		goto err_free;
	}
	err = names_add(ks, "", 0, &empty);
	while (!err && getline(&line, &line_cap, f) > 0)
		err = parse_line(ks, line, empty, &cap, &nonzero);
	free(line);
	fclose(f);
	if (err)
		goto err_free;
	/* An empty table is not hidden addresses: do not send the user after CAP_SYSLOG. */
	if (!ks->n) {
		err = -ENODATA;
		goto err_free;
	}
	if (!nonzero) {
		err = -EPERM;
		goto err_free;
	}
	if (ks->n > 1) /* qsort(NULL, 0) is undefined */
		qsort(ks->entries, ks->n, sizeof(*ks->entries), entry_cmp);
	return ks;

err_free:
	kallsyms_free(ks);
	errno = -err;
	return NULL;
}

void kallsyms_free(struct kallsyms *ks)
{
	if (!ks)
		return;
	free(ks->entries);
	free(ks->names);
	free(ks);
}

const char *kallsyms_find(const struct kallsyms *ks, uint64_t addr, uint64_t *offset)
{
	size_t lo = 0, hi, i;

	if (!ks || !ks->n || addr < ks->entries[0].addr)
		return NULL;
	hi = ks->n;
	/* Last entry with entry.addr <= addr. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->entries[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	/* Among aliases at one address, report the first in sorted order. */
	i = lo;
	while (i > 0 && ks->entries[i - 1].addr == ks->entries[i].addr)
		i--;
	if (addr - ks->entries[i].addr >= KALLSYMS_MAX_SYMBOL_SIZE)
		return NULL;
	if (offset)
		*offset = addr - ks->entries[i].addr;
	return ks->names + ks->entries[i].name;
}

size_t kallsyms_count(const struct kallsyms *ks)
{
	return ks ? ks->n : 0;
}
