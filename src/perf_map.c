/* perf_map.c: owns a parsed perf map file (JIT symbols): its entries in file order, read
 * incrementally as the JIT appends, and a flattened table of disjoint address ranges, each naming
 * the latest entry that covers it, for binary-search lookups. */
#include "smolder/perf_map.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* A range of addresses whose latest covering entry is entries[entry]. */
struct perf_map_segment {
	uint64_t start, end;
	uint32_t entry;
};

struct perf_map {
	char *path;
	int fd; /* the file being read, kept open: it stays readable after the target exits */
	dev_t dev;
	ino_t ino;
	off_t offset;			 /* bytes of complete lines consumed */
	off_t seen_size;		 /* the file's size when last read */
	struct perf_map_symbol *entries; /* in file order: a later index was written later */
	size_t n, cap;
	char **retired; /* names of entries of a replaced or truncated file, kept for callers */
	size_t nretired;
	struct perf_map_segment *segs; /* sorted, disjoint */
	size_t nsegs;
	bool stale; /* entries added since segs was built */
};

/* ---- names ---- */

static bool all_digits(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Copies s[0..n) to *storage as a string; returns it. */
static const char *store(char **storage, const char *s, size_t n)
{
	char *out = *storage;

	memcpy(out, s, n);
	out[n] = '\0';
	*storage += n + 1;
	return out;
}

/* V8's location "file:LINE:COL" (or "file:LINE") at the end of a name: returns true when loc has
 * that form and, with storage, sets sym's file and line. */
static bool parse_location(const char *loc, char **storage, struct perf_map_symbol *sym)
{
	size_t len = strlen(loc);
	const char *c1 = NULL, *c2 = NULL;

	for (size_t i = len; i-- > 0;) {
		if (loc[i] != ':')
			continue;
		if (!c2)
			c2 = loc + i;
		else {
			c1 = loc + i;
			break;
		}
	}
	if (c1 && all_digits(c1 + 1, (size_t)(c2 - c1 - 1)) && all_digits(c2 + 1, strlen(c2 + 1))) {
		if (!storage)
			return true;
		sym->line = (uint32_t)strtoul(c1 + 1, NULL, 10);
		sym->file = c1 > loc ? store(storage, loc, (size_t)(c1 - loc)) : NULL;
		return true;
	}
	if (c2 && all_digits(c2 + 1, strlen(c2 + 1))) {
		if (!storage)
			return true;
		sym->line = (uint32_t)strtoul(c2 + 1, NULL, 10);
		sym->file = c2 > loc ? store(storage, loc, (size_t)(c2 - loc)) : NULL;
		return true;
	}
	return false;
}

void perf_map_parse_name(const char *name, char *storage, struct perf_map_symbol *sym)
{
	/* V8's code kinds for JavaScript functions: node >= 18 writes "JS:", older ones
	 * "LazyCompile:", "Function:", "Script:", "Eval:", "InterpretedFunction:". */
	static const char *const js_prefixes[] = {
		"JS:",	 "LazyCompile:",	 "Function:",	"Script:",
		"Eval:", "InterpretedFunction:", "Interpreted:"};
	const char *rest, *loc;
	size_t i, len;

	sym->name = name;
	sym->function = name;
	sym->file = NULL;
	sym->line = 0;
	sym->kind = PERF_MAP_OTHER;
	if (!strncmp(name, "py::", 4)) {
		/* CPython 3.12+ -X perf: "py::QUALNAME:FILENAME". */
		const char *colon = strchr(name + 4, ':');

		sym->kind = PERF_MAP_PYTHON;
		if (!colon) {
			sym->function = name + 4;
			return;
		}
		sym->function = store(&storage, name + 4, (size_t)(colon - name - 4));
		if (colon[1])
			sym->file = store(&storage, colon + 1, strlen(colon + 1));
		return;
	}
	if (!strncmp(name, "Builtin:", 8) && name[8]) {
		sym->function = name + 8; /* V8 builtins: by name */
		return;
	}
	for (i = 0; i < sizeof(js_prefixes) / sizeof(js_prefixes[0]); i++) {
		len = strlen(js_prefixes[i]);
		if (!strncmp(name, js_prefixes[i], len))
			break;
	}
	if (i == sizeof(js_prefixes) / sizeof(js_prefixes[0]))
		return;
	sym->kind = PERF_MAP_JS;
	rest = name + len;
	/* The tier: ~ interpreted, ^ baseline (Sparkplug), + Maglev, * optimised (TurboFan). */
	if (*rest && strchr("~^+*", *rest))
		rest++;
	/* The location follows the name after a space; both can hold spaces ("get length",
	 * "/home/a b/x.js"). An absolute path is taken from its first space, else the last word. */
	for (loc = strchr(rest, ' '); loc; loc = strchr(loc + 1, ' '))
		if (loc[1] == '/' && parse_location(loc + 1, NULL, sym))
			break;
	if (!loc)
		loc = strrchr(rest, ' ');
	if (loc && parse_location(loc + 1, &storage, sym)) {
		len = (size_t)(loc - rest);
	} else {
		len = strlen(rest);
		if (len && rest[len - 1] == ' ')
			len--;
	}
	while (len && rest[0] == ' ')
		rest++, len--;
	sym->function = len ? store(&storage, rest, len) : "(anonymous)";
}

/* ---- lookup table ---- */

/* Max-heap of entry indexes: the latest written on top. */
struct heap {
	uint32_t *v;
	size_t n;
};

static void heap_push(struct heap *h, uint32_t x)
{
	size_t i = h->n++;

	while (i > 0 && h->v[(i - 1) / 2] < x) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static void heap_pop(struct heap *h)
{
	uint32_t x = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1] > h->v[c])
			c++;
		if (h->v[c] <= x)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = x;
}

static const struct perf_map_symbol *sort_entries; /* for by_start (qsort has no argument) */

static int by_start(const void *a, const void *b)
{
	uint64_t x = sort_entries[*(const uint32_t *)a].start;
	uint64_t y = sort_entries[*(const uint32_t *)b].start;

	return (x > y) - (x < y);
}

static int emit(struct perf_map_segment *segs, size_t *n, uint64_t start, uint64_t end,
		uint32_t entry)
{
	if (start >= end)
		return 0;
	if (*n && segs[*n - 1].entry == entry && segs[*n - 1].end == start) {
		segs[*n - 1].end = end;
		return 0;
	}
	segs[(*n)++] = (struct perf_map_segment){start, end, entry};
	return 0;
}

/* Rebuilds the segments: a sweep over the entries by start with a heap of the open ones, the
 * latest on top; each stretch between two boundaries belongs to the latest open entry. */
static int build_segments(struct perf_map *pm)
{
	struct perf_map_segment *segs;
	struct heap heap = {0};
	uint32_t *order;
	size_t i = 0, nsegs = 0;
	uint64_t pos = 0;

	free(pm->segs);
	pm->segs = NULL;
	pm->nsegs = 0;
	if (!pm->n)
		return 0;
	order = malloc(pm->n * sizeof(*order));
	heap.v = malloc(pm->n * sizeof(*heap.v));
	/* Each entry opens at most two segments: its own start and where it resumes after a
	 * later entry inside it ends. */
	segs = malloc(2 * pm->n * sizeof(*segs));
	if (!order || !heap.v || !segs) {
		free(order);
		free(heap.v);
		free(segs);
		return -ENOMEM;
	}
	for (i = 0; i < pm->n; i++)
		order[i] = (uint32_t)i;
	sort_entries = pm->entries;
	qsort(order, pm->n, sizeof(*order), by_start);
	i = 0;
	while (i < pm->n || heap.n) {
		uint64_t next;

		if (!heap.n && pos < pm->entries[order[i]].start)
			pos = pm->entries[order[i]].start;
		while (i < pm->n && pm->entries[order[i]].start <= pos)
			heap_push(&heap, order[i++]);
		while (heap.n && pm->entries[heap.v[0]].end <= pos)
			heap_pop(&heap);
		if (!heap.n)
			continue;
		next = pm->entries[heap.v[0]].end;
		if (i < pm->n && pm->entries[order[i]].start < next)
			next = pm->entries[order[i]].start;
		emit(segs, &nsegs, pos, next, heap.v[0]);
		pos = next;
	}
	free(order);
	free(heap.v);
	pm->segs = segs;
	pm->nsegs = nsegs;
	return 0;
}

/* ---- reading ---- */

/* Parses a hex number (after blanks) at line + *at, which must end at a blank; advances *at. 0 or
 * -EINVAL. (sscanf was most of the load time of a 100k-line map.) */
static int parse_hex(const char *line, int *at, uint64_t *out)
{
	const char *p = line + *at;
	uint64_t v = 0;
	int digits = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (;; p++, digits++) {
		int d = *p >= '0' && *p <= '9'	 ? *p - '0'
			: *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
			: *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
						 : -1;

		if (d < 0)
			break;
		if (digits >= 16)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	if (!digits || (*p != ' ' && *p != '\t'))
		return -EINVAL;
	*at = (int)(p - line);
	*out = v;
	return 0;
}

/* Parses one line ("START SIZE name", without its newline) into a new entry. 0 (also for a line
 * that is not an entry) or -ENOMEM. */
static int add_line(struct perf_map *pm, char *line)
{
	struct perf_map_symbol *sym;
	uint64_t start, size;
	int name_at = 0;
	size_t len;
	char *blob;

	if (parse_hex(line, &name_at, &start) || parse_hex(line, &name_at, &size) || !size)
		return 0;
	while (line[name_at] == ' ' || line[name_at] == '\t')
		name_at++;
	if (!line[name_at])
		return 0;
	if (pm->n == pm->cap) {
		size_t ncap = pm->cap ? pm->cap * 2 : 256;
		struct perf_map_symbol *e = realloc(pm->entries, ncap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		pm->entries = e;
		pm->cap = ncap;
	}
	len = strlen(line + name_at);
	/* One allocation: the name, then the parsed function and file. */
	blob = malloc(len + 1 + 2 * len + 16);
	if (!blob)
		return -ENOMEM;
	memcpy(blob, line + name_at, len + 1);
	sym = &pm->entries[pm->n++];
	perf_map_parse_name(blob, blob + len + 1, sym);
	sym->start = start;
	sym->end = start + size < start ? UINT64_MAX : start + size;
	return 0;
}

/* Moves the current entries out of lookups (their names stay allocated). */
static int retire_entries(struct perf_map *pm)
{
	char **r;

	if (!pm->n)
		return 0;
	r = realloc(pm->retired, (pm->nretired + pm->n) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	pm->retired = r;
	for (size_t i = 0; i < pm->n; i++)
		pm->retired[pm->nretired++] = (char *)pm->entries[i].name;
	pm->n = 0;
	free(pm->segs);
	pm->segs = NULL;
	pm->nsegs = 0;
	return 0;
}

/* Opens pm's path as its current file when there is none yet or the path now names another file
 * (replaced, or a new process with the same pid). A path that cannot be opened (the target exited
 * and its root went with it) keeps the file already open. */
static int reopen(struct perf_map *pm)
{
	struct stat st;
	int fd, err;

	fd = open(pm->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pm->fd >= 0 ? 0 : -errno;
	if (fstat(fd, &st) != 0) {
		err = -errno;
		close(fd);
		return pm->fd >= 0 ? 0 : err;
	}
	if (pm->fd >= 0 && st.st_dev == pm->dev && st.st_ino == pm->ino) {
		close(fd);
		return 0;
	}
	err = retire_entries(pm);
	if (err) {
		close(fd);
		return err;
	}
	if (pm->fd >= 0)
		close(pm->fd);
	pm->fd = fd;
	pm->dev = st.st_dev;
	pm->ino = st.st_ino;
	pm->offset = 0;
	pm->seen_size = 0;
	return 0;
}

int perf_map_update(struct perf_map *pm)
{
	size_t before = pm->n, len, used;
	char *buf, *line, *nl;
	struct stat st;
	ssize_t got;
	int err;

	err = reopen(pm);
	if (err)
		return err;
	if (fstat(pm->fd, &st) != 0)
		return -errno;
	if (st.st_size < pm->seen_size) {
		/* Truncated in place: start over. */
		err = retire_entries(pm);
		if (err)
			return err;
		pm->offset = 0;
	}
	if (st.st_size == pm->seen_size)
		return 0;
	len = (size_t)(st.st_size - pm->offset);
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	got = pread(pm->fd, buf, len, pm->offset);
	if (got < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	pm->seen_size = pm->offset + got;
	buf[got] = '\0';
	for (line = buf, used = 0; !err && line < buf + got; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(buf + got - line));
		if (!nl) {
			/* A last line without its newline may be half written: used now, read
			 * again (and so replaced by its complete self) next time. */
			err = add_line(pm, line);
			break;
		}
		*nl = '\0';
		used = (size_t)(nl + 1 - buf);
		err = add_line(pm, line);
	}
	pm->offset += used;
	free(buf);
	/* The lookup table is rebuilt at the next lookup, not at every read: record reads a
	 * growing map every second but looks addresses up once, at the end. */
	if (pm->n != before)
		pm->stale = true;
	if (!err)
		err = pm->n != before;
	return err;
}

struct perf_map *perf_map_load(const char *path)
{
	struct perf_map *pm = calloc(1, sizeof(*pm));
	int err;

	if (!pm)
		return NULL;
	pm->fd = -1;
	pm->path = strdup(path);
	if (!pm->path) {
		free(pm);
		errno = ENOMEM;
		return NULL;
	}
	err = perf_map_update(pm);
	if (err < 0) {
		perf_map_free(pm);
		errno = -err;
		return NULL;
	}
	return pm;
}

void perf_map_free(struct perf_map *pm)
{
	size_t i;

	if (!pm)
		return;
	for (i = 0; i < pm->n; i++)
		free((char *)pm->entries[i].name);
	for (i = 0; i < pm->nretired; i++)
		free(pm->retired[i]);
	free(pm->retired);
	free(pm->entries);
	free(pm->segs);
	free(pm->path);
	if (pm->fd >= 0)
		close(pm->fd);
	free(pm);
}

const struct perf_map_symbol *perf_map_lookup(struct perf_map *pm, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!pm)
		return NULL;
	if (pm->stale) {
		if (build_segments(pm) != 0)
			return NULL; /* out of memory: retried at the next lookup */
		pm->stale = false;
	}
	hi = pm->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->segs[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= pm->segs[lo - 1].end)
		return NULL;
	return &pm->entries[pm->segs[lo - 1].entry];
}

const char *perf_map_find(struct perf_map *pm, uint64_t addr)
{
	const struct perf_map_symbol *sym = perf_map_lookup(pm, addr);

	return sym ? sym->name : NULL;
}

uint64_t perf_map_count(const struct perf_map *pm)
{
	return pm ? pm->n : 0;
}
