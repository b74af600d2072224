/* flamegraph_diff.c: differential profiles. Owns matching call paths between BEFORE and AFTER
 * (a merge of name-sorted siblings, no hashing), per-function total and self shares of both
 * profiles, the stacks that vanished, the --fail-on figure, and the summary table. Rendering is
 * the shared core in flamegraph.c with a red/blue overlay. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph_internal.h"

#define REMOVED_LISTED 5

struct removed_subtree {
	uint32_t node; /* in BEFORE */
	double total;
};

struct flamegraph_diff {
	const struct folded_profile *before, *after;
	bool normalize;
	struct folded_children cb, ca;
	double *before_of_after; /* per AFTER node: BEFORE's total on the same path */
	double max_change;
	struct flamegraph_diff_function *functions;
	size_t function_count;
	char *function_names;
	size_t removed_stacks;
	double removed_total;
	struct removed_subtree removed[REMOVED_LISTED];
	size_t removed_listed;
};

static int name_cmp(const struct folded_profile *pa, uint32_t a, const struct folded_profile *pb,
		    uint32_t b)
{
	size_t la, lb;
	const char *sa = name_table_get(&pa->names, pa->nodes[a].name, &la);
	const char *sb = name_table_get(&pb->names, pb->nodes[b].name, &lb);
	int c = memcmp(sa, sb, la < lb ? la : lb);

	return c ? c : (la > lb) - (la < lb);
}

/* Stacks (nodes with a count of their own) in the subtree of NODE, iteratively: input depth is
 * unbounded, so no recursion over the tree anywhere. Preorder ids are not contiguous, so walk. */
static int subtree_stacks(const struct folded_profile *p, const struct folded_children *c,
			  uint32_t node, size_t *count)
{
	uint32_t *stack = malloc(64 * sizeof(*stack));
	size_t sp = 0, cap = 64, n = 0;

	if (!stack)
		return -ENOMEM;
	stack[sp++] = node;
	while (sp) {
		uint32_t x = stack[--sp];
		uint32_t m = c->start[x + 1] - c->start[x];

		n += p->nodes[x].self > 0;
		if (sp + m > cap) {
			uint32_t *t;

			while (sp + m > cap)
				cap *= 2;
			t = realloc(stack, cap * sizeof(*t));
			if (!t) {
				free(stack);
				return -ENOMEM;
			}
			stack = t;
		}
		memcpy(stack + sp, c->child + c->start[x], m * sizeof(*stack));
		sp += m;
	}
	free(stack);
	*count += n;
	return 0;
}

static int note_removed(struct flamegraph_diff *d, uint32_t node)
{
	double total = d->before->totals[node];
	size_t i;

	if (subtree_stacks(d->before, &d->cb, node, &d->removed_stacks))
		return -ENOMEM;
	d->removed_total += total;
	for (i = d->removed_listed; i > 0 && d->removed[i - 1].total < total; i--) {
		if (i < REMOVED_LISTED)
			d->removed[i] = d->removed[i - 1];
	}
	if (i < REMOVED_LISTED) {
		d->removed[i] = (struct removed_subtree){node, total};
		if (d->removed_listed < REMOVED_LISTED)
			d->removed_listed++;
	}
	return 0;
}

/* Walks both trees together from the roots; siblings are name-sorted in both, so matching is a
 * merge of the two child lists. Iterative: input depth is unbounded. */
static int match_paths(struct flamegraph_diff *d)
{
	const struct folded_profile *a = d->after, *b = d->before;
	struct pair {
		uint32_t ia, ea, ib, eb; /* cursors into the child lists of a matched pair */
	} * stack;
	size_t sp = 0, cap = 64;
	int err = 0;

	stack = malloc(cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	d->before_of_after[0] = b->totals[0];
	stack[sp++] = (struct pair){d->ca.start[0], d->ca.start[1], d->cb.start[0], d->cb.start[1]};
	while (sp) {
		struct pair *t = &stack[sp - 1];
		uint32_t an, bn;
		int c;

		if (t->ia == t->ea && t->ib == t->eb) {
			sp--;
			continue;
		}
		if (t->ia == t->ea)
			c = 1;
		else if (t->ib == t->eb)
			c = -1;
		else
			c = name_cmp(a, d->ca.child[t->ia], b, d->cb.child[t->ib]);
		if (c < 0) {
			t->ia++; /* only in AFTER: its before value stays 0 */
			continue;
		}
		if (c > 0) {
			err = note_removed(d, d->cb.child[t->ib++]);
			if (err)
				break;
			continue;
		}
		an = d->ca.child[t->ia++];
		bn = d->cb.child[t->ib++];
		d->before_of_after[an] = b->totals[bn];
		if (sp == cap) {
			struct pair *s = realloc(stack, cap * 2 * sizeof(*s));

			if (!s) {
				err = -ENOMEM;
				break;
			}
			stack = s;
			cap *= 2;
		}
		stack[sp++] = (struct pair){d->ca.start[an], d->ca.start[an + 1], d->cb.start[bn],
					    d->cb.start[bn + 1]};
	}
	free(stack);
	return err;
}

struct share_acc {
	double *total, *self;
	uint32_t *on_stack;
};

/* Adds each function's total (outermost occurrence per stack only, so recursion is not counted
 * twice) and self counts of profile p to acc; map takes p's name ids to function ids. */
static int accumulate(const struct folded_profile *p, const struct folded_children *c,
		      const uint32_t *map, struct share_acc *acc)
{
	struct walk {
		uint32_t node, next;
	} * stack;
	size_t sp = 0, cap = 64;

	stack = malloc(cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	stack[sp++] = (struct walk){0, c->start[0]};
	while (sp) {
		struct walk *top = &stack[sp - 1];
		uint32_t child;

		if (top->next == c->start[top->node + 1]) {
			if (top->node)
				acc->on_stack[map[p->nodes[top->node].name]]--;
			sp--;
			continue;
		}
		child = c->child[top->next++];
		{
			uint32_t f = map[p->nodes[child].name];

			acc->self[f] += p->nodes[child].self;
			if (acc->on_stack[f]++ == 0)
				acc->total[f] += p->totals[child];
		}
		if (sp == cap) {
			struct walk *s = realloc(stack, cap * 2 * sizeof(*s));

			if (!s) {
				free(stack);
				return -ENOMEM;
			}
			stack = s;
			cap *= 2;
		}
		stack[sp++] = (struct walk){child, c->start[child]};
	}
	free(stack);
	return 0;
}

static double row_key(const struct flamegraph_diff_function *f)
{
	double t = fabs(f->after_total - f->before_total), s = fabs(f->after_self - f->before_self);

	return t > s ? t : s;
}

static int function_cmp(const void *x, const void *y)
{
	const struct flamegraph_diff_function *a = x, *b = y;
	double ka = row_key(a), kb = row_key(b);

	if (ka != kb)
		return ka < kb ? 1 : -1;
	return strcmp(a->name, b->name);
}

static int build_functions(struct flamegraph_diff *d)
{
	struct name_table fn;
	uint32_t *map_b = NULL, *map_a = NULL;
	struct share_acc acc_b = {0}, acc_a = {0};
	double tb = folded_profile_total(d->before), ta = folded_profile_total(d->after);
	char *cursor;
	int err = -ENOMEM;

	name_table_init(&fn);
	map_b = malloc((d->before->names.count + 1) * sizeof(*map_b));
	map_a = malloc((d->after->names.count + 1) * sizeof(*map_a));
	if (!map_b || !map_a)
		goto out;
	for (uint32_t i = 0; i < d->before->names.count; i++) {
		size_t len;
		const char *s = name_table_get(&d->before->names, i, &len);
		int64_t id = name_table_intern(&fn, s, len);

		if (id < 0)
			goto out;
		map_b[i] = (uint32_t)id;
	}
	for (uint32_t i = 0; i < d->after->names.count; i++) {
		size_t len;
		const char *s = name_table_get(&d->after->names, i, &len);
		int64_t id = name_table_intern(&fn, s, len);

		if (id < 0)
			goto out;
		map_a[i] = (uint32_t)id;
	}
	acc_b.total = calloc(fn.count + 1, sizeof(double));
	acc_b.self = calloc(fn.count + 1, sizeof(double));
	acc_b.on_stack = calloc(fn.count + 1, sizeof(uint32_t));
	acc_a.total = calloc(fn.count + 1, sizeof(double));
	acc_a.self = calloc(fn.count + 1, sizeof(double));
	acc_a.on_stack = calloc(fn.count + 1, sizeof(uint32_t));
	d->functions = calloc(fn.count + 1, sizeof(*d->functions));
	d->function_names = malloc(fn.arena_len + fn.count + 1);
	if (!acc_b.total || !acc_b.self || !acc_b.on_stack || !acc_a.total || !acc_a.self ||
	    !acc_a.on_stack || !d->functions || !d->function_names)
		goto out;
	if (accumulate(d->before, &d->cb, map_b, &acc_b) ||
	    accumulate(d->after, &d->ca, map_a, &acc_a))
		goto out;
	cursor = d->function_names;
	for (uint32_t i = 0; i < fn.count; i++) {
		struct flamegraph_diff_function *f = &d->functions[i];
		size_t len;
		const char *s = name_table_get(&fn, i, &len);

		memcpy(cursor, s, len);
		cursor[len] = '\0';
		f->name = cursor;
		cursor += len + 1;
		f->before_total = acc_b.total[i] * 100.0 / tb;
		f->before_self = acc_b.self[i] * 100.0 / tb;
		f->after_total = acc_a.total[i] * 100.0 / ta;
		f->after_self = acc_a.self[i] * 100.0 / ta;
	}
	d->function_count = fn.count;
	if (d->function_count > 1) /* qsort(NULL, 0) is undefined */
		qsort(d->functions, d->function_count, sizeof(*d->functions), function_cmp);
	err = 0;
out:
	free(acc_b.total);
	free(acc_b.self);
	free(acc_b.on_stack);
	free(acc_a.total);
	free(acc_a.self);
	free(acc_a.on_stack);
	free(map_b);
	free(map_a);
	name_table_release(&fn);
	return err;
}

struct flamegraph_diff *flamegraph_diff_new(const struct folded_profile *before,
					    const struct folded_profile *after, bool normalize)
{
	struct flamegraph_diff *d;
	double ta;

	if (!before || !after || !(folded_profile_total(before) > 0) ||
	    !(folded_profile_total(after) > 0)) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		goto nomem;
	d->before = before;
	d->after = after;
	d->normalize = normalize;
	if (folded_profile_totals(before) || folded_profile_totals(after) ||
	    folded_children_build(before, &d->cb) || folded_children_build(after, &d->ca))
		goto nomem;
	d->before_of_after = calloc(after->node_count, sizeof(double));
	if (!d->before_of_after)
		goto nomem;
	if (match_paths(d))
		goto nomem;
	ta = folded_profile_total(after);
	{
		struct render_overlay ov = {d->before_of_after, folded_profile_total(before),
					    normalize, 0};

		for (uint32_t i = 1; i < after->node_count; i++) {
			double ch = fabs(render_overlay_change(&ov, after->totals[i], ta,
							       d->before_of_after[i]));

			if (ch > d->max_change)
				d->max_change = ch;
		}
	}
	if (build_functions(d))
		goto nomem;
	return d;
nomem:
	flamegraph_diff_free(d);
	errno = ENOMEM;
	return NULL;
}

void flamegraph_diff_free(struct flamegraph_diff *d)
{
	if (!d)
		return;
	folded_children_release(&d->cb);
	folded_children_release(&d->ca);
	free(d->before_of_after);
	free(d->functions);
	free(d->function_names);
	free(d);
}

int flamegraph_diff_render(const struct flamegraph_diff *d, const struct flamegraph_options *o,
			   FILE *out)
{
	struct render_overlay ov = {d->before_of_after, folded_profile_total(d->before),
				    d->normalize, d->max_change};

	return flamegraph_render_tree(d->after, &d->ca, o, &ov, out);
}

const struct flamegraph_diff_function *flamegraph_diff_functions(const struct flamegraph_diff *d,
								 size_t *count)
{
	*count = d->function_count;
	return d->functions;
}

double flamegraph_diff_max_growth(const struct flamegraph_diff *d, const char **name)
{
	double best = -INFINITY;
	const char *who = NULL;

	for (size_t i = 0; i < d->function_count; i++) {
		double g = d->functions[i].after_total - d->functions[i].before_total;

		if (g > best || (g == best && who && strcmp(d->functions[i].name, who) < 0)) {
			best = g;
			who = d->functions[i].name;
		}
	}
	if (name)
		*name = who;
	return d->function_count ? best : 0;
}

size_t flamegraph_diff_removed_stacks(const struct flamegraph_diff *d, double *before_share)
{
	if (before_share)
		*before_share = d->removed_total * 100.0 / folded_profile_total(d->before);
	return d->removed_stacks;
}

/* Prints a name safely for a terminal: invalid UTF-8 and control characters replaced. */
static void print_name(FILE *out, const char *s, size_t len)
{
	char *tmp = malloc(len * 3 + 1);

	if (!tmp) {
		fputs("?", out);
		return;
	}
	len = flamegraph_sanitize_utf8(s, len, tmp, NULL);
	fwrite(tmp, 1, len, out);
	free(tmp);
}

static void print_path(FILE *out, const struct folded_profile *p, uint32_t node)
{
	uint32_t path[64];
	size_t depth = 0, len;
	bool elided = false;

	for (uint32_t n = node; n != 0 && n != FOLDED_NO_NODE; n = p->nodes[n].parent) {
		if (depth == 64) {
			elided = true;
			break;
		}
		path[depth++] = n;
	}
	if (elided)
		fputs("...;", out);
	while (depth--) {
		const char *s = name_table_get(&p->names, p->nodes[path[depth]].name, &len);

		print_name(out, s, len);
		if (depth)
			fputc(';', out);
	}
}

int flamegraph_diff_write_summary(const struct flamegraph_diff *d, size_t max_rows, FILE *out)
{
	size_t rows = 0, gone = 0;
	double removed_share;
	size_t removed = flamegraph_diff_removed_stacks(d, &removed_share);

	fprintf(out, "before: %.15g, after: %.15g (%s)\n", folded_profile_total(d->before),
		folded_profile_total(d->after),
		d->normalize ? "graph compares shares" : "graph compares counts");
	fprintf(out, "%-26s %-26s %s\n", "total % before -> after", "self % before -> after",
		"function");
	for (size_t i = 0; i < d->function_count && rows < max_rows; i++) {
		const struct flamegraph_diff_function *f = &d->functions[i];

		if (row_key(f) < 0.005)
			break;
		fprintf(out, "%6.2f -> %6.2f %+8.2f  %6.2f -> %6.2f %+8.2f  ", f->before_total,
			f->after_total, f->after_total - f->before_total, f->before_self,
			f->after_self, f->after_self - f->before_self);
		print_name(out, f->name, strlen(f->name));
		if (f->after_total == 0 && f->after_self == 0)
			fputs(" (only in before)", out);
		else if (f->before_total == 0 && f->before_self == 0)
			fputs(" (new)", out);
		fputc('\n', out);
		rows++;
	}
	if (rows == 0)
		fputs("no function's share changed\n", out);
	for (size_t i = 0; i < d->function_count; i++) {
		if (d->functions[i].after_total == 0 && d->functions[i].before_total > 0)
			gone++;
	}
	if (gone)
		fprintf(out, "functions only in before: %zu\n", gone);
	if (removed) {
		fprintf(out, "stacks only in before: %zu (%.2f%% of before), not drawn:\n", removed,
			removed_share);
		for (size_t i = 0; i < d->removed_listed; i++) {
			fprintf(out, "  %6.2f%%  ",
				d->removed[i].total * 100.0 / folded_profile_total(d->before));
			print_path(out, d->before, d->removed[i].node);
			fputc('\n', out);
		}
	}
	return ferror(out) ? -EIO : 0;
}
