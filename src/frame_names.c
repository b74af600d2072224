/* frame_names.c: the named-frame registry. Tuples live in one array indexed by id; an
 * open-addressing table (linear probing, power of two, under 70% full) finds a tuple's id from
 * its hash. Strings are copied once per tuple. */
#include "smolder/frame_names.h"
#include "smolder/text_sanitize.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct name_entry {
	uint64_t hash;
	char *function;
	char *file;
	uint32_t kind;
	uint32_t line;
};

struct frame_names {
	struct name_entry *entries; /* by id */
	size_t count, cap;
	uint32_t *slots; /* id + 1; 0 = empty */
	size_t n_slots;
	size_t bytes;
};

static uint64_t hash_string(uint64_t h, const char *s)
{
	if (!s)
		return (h ^ 0xff) * 0x100000001b3ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0) * 0x100000001b3ULL;
}

static uint64_t hash_tuple(uint32_t kind, const char *function, const char *file, uint32_t line)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)kind << 32 | line);

	h = hash_string(h * 0x100000001b3ULL, function);
	h = hash_string(h, file);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static bool same_string(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

struct frame_names *frame_names_new(void)
{
	struct frame_names *names = calloc(1, sizeof(*names));

	if (!names)
		return NULL;
	names->n_slots = 256;
	names->slots = calloc(names->n_slots, sizeof(*names->slots));
	if (!names->slots) {
		free(names);
		errno = ENOMEM;
		return NULL;
	}
	return names;
}

void frame_names_free(struct frame_names *names)
{
	if (!names)
		return;
	for (size_t i = 0; i < names->count; i++) {
		free(names->entries[i].function);
		free(names->entries[i].file);
	}
	free(names->entries);
	free(names->slots);
	free(names);
}

static int grow_slots(struct frame_names *names)
{
	size_t n_slots = names->n_slots * 2;
	uint32_t *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t id = 0; id < names->count; id++) {
		size_t s = names->entries[id].hash & (n_slots - 1);

		while (slots[s])
			s = (s + 1) & (n_slots - 1);
		slots[s] = (uint32_t)id + 1;
	}
	free(names->slots);
	names->slots = slots;
	names->n_slots = n_slots;
	return 0;
}

int frame_names_intern(struct frame_names *names, uint32_t kind, const char *function,
		       const char *file, uint32_t line, uint64_t *frame)
{
	struct name_entry *e;
	uint64_t hash;
	size_t s;

	if (!names || !function || kind == FRAME_KIND_NATIVE || kind > FRAME_KIND_MAX || !frame)
		return -EINVAL;
	hash = hash_tuple(kind, function, file, line);
	for (s = hash & (names->n_slots - 1); names->slots[s]; s = (s + 1) & (names->n_slots - 1)) {
		e = &names->entries[names->slots[s] - 1];
		if (e->hash == hash && e->kind == kind && e->line == line &&
		    same_string(e->function, function) && same_string(e->file, file)) {
			*frame = frame_named(kind, names->slots[s] - 1);
			return 0;
		}
	}
	if (names->count >= UINT32_MAX - 1)
		return -ENOMEM;
	if (names->count == names->cap) {
		size_t cap = names->cap ? names->cap * 2 : 64;
		struct name_entry *grown = realloc(names->entries, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		names->entries = grown;
		names->cap = cap;
	}
	e = &names->entries[names->count];
	memset(e, 0, sizeof(*e));
	e->function = strdup(function);
	e->file = file ? strdup(file) : NULL;
	if (!e->function || (file && !e->file)) {
		free(e->function);
		free(e->file);
		return -ENOMEM;
	}
	e->hash = hash;
	e->kind = kind;
	e->line = line;
	names->bytes += sizeof(*e) + strlen(function) + 1 + (file ? strlen(file) + 1 : 0);
	names->slots[s] = (uint32_t)names->count + 1;
	*frame = frame_named(kind, names->count);
	names->count++;
	if (names->count * 10 >= names->n_slots * 7 && grow_slots(names) < 0) {
		/* The entry is in; a full-ish table still works, only slower. */
	}
	return 0;
}

int frame_names_get(const struct frame_names *names, uint64_t frame, struct named_frame *out)
{
	const struct name_entry *e;
	uint64_t id;

	if (!names || !frame_is_named(frame))
		return -ENOENT;
	id = frame_named_id(frame);
	if (id >= names->count)
		return -ENOENT;
	e = &names->entries[id];
	if (e->kind != frame_kind(frame))
		return -ENOENT;
	if (out) {
		out->kind = e->kind;
		out->line = e->line;
		out->function = e->function;
		out->file = e->file;
	}
	return 0;
}

/* Appends s by the one text convention (text_sanitize.h), folded flavour. */
static size_t append_clean(char *buf, size_t len, size_t n, const char *s)
{
	return text_sanitize_append(buf, len, n, s, TEXT_SANITIZE_FOLDED);
}

size_t frame_names_format(const struct frame_names *names, uint64_t frame, char *buf, size_t len)
{
	struct named_frame nf;
	char line[16];
	size_t n = 0;

	if (!buf || !len)
		return 0;
	buf[0] = '\0';
	if (frame_names_get(names, frame, &nf) < 0)
		return 0;
	n = append_clean(buf, len, n, nf.function);
	if (nf.file) {
		n = append_clean(buf, len, n, " (");
		n = append_clean(buf, len, n, nf.file);
		if (nf.line) {
			snprintf(line, sizeof(line), ":%u", nf.line);
			n = append_clean(buf, len, n, line);
		}
		n = append_clean(buf, len, n, ")");
	}
	return n;
}

int frame_names_truncated(struct frame_names *names, uint64_t *frame)
{
	return frame_names_intern(names, FRAME_KIND_MARKER, FRAME_MARKER_TRUNCATED, NULL, 0, frame);
}

bool frame_names_is_truncated(const struct frame_names *names, uint64_t frame)
{
	struct named_frame nf;

	return names && frame_kind(frame) == FRAME_KIND_MARKER &&
	       frame_names_get(names, frame, &nf) == 0 && !nf.file &&
	       strcmp(nf.function, FRAME_MARKER_TRUNCATED) == 0;
}

size_t frame_names_count(const struct frame_names *names)
{
	return names ? names->count : 0;
}

size_t frame_names_memory(const struct frame_names *names)
{
	if (!names)
		return 0;
	return sizeof(*names) + names->cap * sizeof(*names->entries) +
	       names->n_slots * sizeof(*names->slots) + names->bytes;
}
