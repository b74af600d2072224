/* python_threads.c: every thread state of a target's interpreter and its frame chain, read from
 * user space with process_vm_readv (dump), and the Python names of threads. */
#include "python_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PY_FRAME_READ 128 /* bytes of a frame read at once (f_lasti of 3.8 is at 104) */

/* Reads one chain, newest first. A C-stack shim frame (3.12+) is not shown: it marks the frame
 * before it as the entry frame of its _PyEval_EvalFrameDefault call. */
static void python_read_chain(struct python_runtime *rt, uint64_t frame, struct python_thread *t)
{
	const struct python_offsets *o = &rt->off;
	uint8_t buf[PY_FRAME_READ];
	size_t steps = 0;

	if (o->frame_code > PY_FRAME_READ - 8 || o->frame_previous > PY_FRAME_READ - 8 ||
	    o->frame_instr > PY_FRAME_READ - 8 ||
	    (o->frame_owner != PY_NO_OFFSET && o->frame_owner >= PY_FRAME_READ) ||
	    (o->frame_is_entry != PY_NO_OFFSET && o->frame_is_entry >= PY_FRAME_READ)) {
		t->truncated = true; /* an override outside what is read */
		return;
	}

	while (frame) {
		uint64_t code, instr = 0, previous;
		uint8_t owner = 0;

		if (++steps > 4 * PYTHON_MAX_FRAMES || python_read(rt, frame, buf, sizeof(buf))) {
			t->truncated = true;
			break;
		}
		memcpy(&code, buf + o->frame_code, 8);
		memcpy(&previous, buf + o->frame_previous, 8);
		if (o->minor >= 11) {
			memcpy(&instr, buf + o->frame_instr, 8);
		} else {
			int32_t lasti;

			memcpy(&lasti, buf + o->frame_instr, 4);
			instr = (uint64_t)(int64_t)lasti;
		}
		if (o->frame_owner != PY_NO_OFFSET)
			owner = buf[o->frame_owner];
		frame = previous;
		if (o->owner_cstack != PY_NO_OFFSET && owner == o->owner_cstack) {
			if (t->n_frames)
				t->frames[t->n_frames - 1].flags |= SMOLDER_PY_FRAME_ENTRY;
			continue;
		}
		if (t->n_frames == PYTHON_MAX_FRAMES) {
			t->truncated = true;
			break;
		}
		t->frames[t->n_frames].code = code;
		t->frames[t->n_frames].instr = instr;
		t->frames[t->n_frames].flags =
			o->minor <= 10 || (o->frame_is_entry != PY_NO_OFFSET &&
					   buf[o->frame_is_entry])
				? SMOLDER_PY_FRAME_ENTRY
				: 0;
		t->n_frames++;
	}
	/* The oldest frame always ends its call's group. */
	if (t->n_frames)
		t->frames[t->n_frames - 1].flags |= SMOLDER_PY_FRAME_ENTRY;
}

int python_runtime_read_threads(struct python_runtime *rt, struct python_thread **threads,
				size_t *n)
{
	const struct python_offsets *o = &rt->off;
	struct python_thread *list = NULL;
	size_t count = 0, cap = 0;
	uint64_t ts;

	*threads = NULL;
	*n = 0;
	if (python_read_u64(rt, rt->interp + o->interp_threads_head, &ts))
		return -EFAULT;
	for (; ts && count < 4096; count++) {
		struct python_thread *t;
		uint64_t frame = 0, p;

		if (count == cap) {
			struct python_thread *grown;

			cap = cap ? 2 * cap : 8;
			grown = realloc(list, cap * sizeof(*grown));
			if (!grown) {
				free(list);
				return -ENOMEM;
			}
			list = grown;
		}
		t = &list[count];
		memset(t, 0, sizeof(*t));
		t->tstate = ts;
		rt->stats.threads_read++;
		if (python_read_u64(rt, ts + o->tstate_thread_id, &t->pthread_id)) {
			rt->stats.threads_failed++;
			t->truncated = true;
			break;
		}
		if (o->tstate_native_thread_id != PY_NO_OFFSET &&
		    !python_read_u64(rt, ts + o->tstate_native_thread_id, &p))
			t->native_tid = (uint32_t)p;
		if (python_read_u64(rt, ts + o->tstate_frame, &p)) {
			rt->stats.threads_failed++;
			t->truncated = true;
		} else if (o->cframe_current_frame != PY_NO_OFFSET) {
			if (p && python_read_u64(rt, p + o->cframe_current_frame, &frame)) {
				rt->stats.threads_failed++;
				t->truncated = true;
			}
		} else {
			frame = p;
		}
		python_read_chain(rt, frame, t);
		if (t->truncated)
			rt->stats.chains_truncated++;
		if (python_read_u64(rt, ts + o->tstate_next, &ts)) {
			count++;
			break;
		}
	}
	*threads = list;
	*n = count;
	return 0;
}

/* ---- thread names: threading._active[ident]._name ----
 * Dictionaries and instance attributes are read as each version lays them out:
 *   PyDictObject: ma_keys at 32, ma_values at 40 (3.8-3.13).
 *   keys 3.8-3.10: dk_size at 8, dk_nentries at 32, indices at 40 (1/2/4/8 bytes each by size),
 *     then {hash, key, value} entries.
 *   keys 3.11+: dk_log2_size at 8, dk_log2_index_bytes at 9, dk_kind at 10 (0 general: {hash,
 *     key, value}; else {key, value}), dk_nentries at 24, indices at 32.
 *   split tables: value i in ma_values (3.13: after an 8-byte header).
 *   instance dict: 3.8-3.10 at tp_dictoffset (PyTypeObject+288); 3.11 managed: dict at -24,
 *     values at -32; 3.12: -24 holds the dict, or the values - 1 (odd: tagged); 3.13: dict at -24,
 * or inline values at tp_basicsize ({capacity, size, embedded, valid}, then the values). The keys
 * of values without a dict are the type's ht_cached_keys. int: digits (30-bit, u32) at 24; 3.8-3.11
 * ob_size at 16, 3.12+ lv_tag at 16 (count << 3). */

#define PY_DICT_MAX_ENTRIES 65536

struct python_keys {
	uint64_t entries; /* address of entry 0 */
	uint64_t n;
	uint32_t entry_size, key_at, value_at;
};

static int python_keys_read(struct python_runtime *rt, uint64_t keys, struct python_keys *k)
{
	uint8_t hdr[40];
	uint64_t size, n;

	if (python_read(rt, keys, hdr, sizeof(hdr)))
		return -EFAULT;
	if (rt->off.minor <= 10) {
		size_t ix;

		memcpy(&size, hdr + 8, 8);
		memcpy(&n, hdr + 32, 8);
		if (size > (1u << 26))
			return -EFAULT;
		ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffULL ? 4 : 8;
		k->entries = keys + 40 + size * ix;
		k->entry_size = 24;
		k->key_at = 8;
	} else {
		if (hdr[9] > 40)
			return -EFAULT;
		memcpy(&n, hdr + 24, 8);
		k->entries = keys + 32 + (1ULL << hdr[9]);
		k->entry_size = hdr[10] == 0 ? 24 : 16;
		k->key_at = hdr[10] == 0 ? 8 : 0;
	}
	k->value_at = k->key_at + 8;
	k->n = n > PY_DICT_MAX_ENTRIES ? PY_DICT_MAX_ENTRIES : n;
	return 0;
}

/* Entry i's key and value (value from values when the table is split). */
static int python_keys_entry(struct python_runtime *rt, const struct python_keys *k, uint64_t i,
			     uint64_t values, uint64_t *key, uint64_t *value)
{
	uint64_t e[3];

	if (python_read(rt, k->entries + i * k->entry_size, e, k->entry_size))
		return -EFAULT;
	memcpy(key, (uint8_t *)e + k->key_at, 8);
	if (values)
		return python_read_u64(rt, values + 8 * i, value);
	memcpy(value, (uint8_t *)e + k->value_at, 8);
	return 0;
}

static bool python_str_equals(struct python_runtime *rt, uint64_t str, const char *want)
{
	char *s = NULL;
	bool eq;

	if (!str || python_read_str(rt, str, &s))
		return false;
	eq = !strcmp(s, want);
	free(s);
	return eq;
}

/* The value of str key name in keys (+ values for a split table). */
static int python_keys_get(struct python_runtime *rt, uint64_t keys, uint64_t values,
			   const char *name, uint64_t *value)
{
	struct python_keys k;

	if (python_keys_read(rt, keys, &k))
		return -EFAULT;
	for (uint64_t i = 0; i < k.n; i++) {
		uint64_t key, v;

		if (python_keys_entry(rt, &k, i, values, &key, &v))
			return -EFAULT;
		if (v && python_str_equals(rt, key, name)) {
			*value = v;
			return 0;
		}
	}
	return -ENOENT;
}

static uint64_t python_dict_values(struct python_runtime *rt, uint64_t values)
{
	return values && rt->off.minor >= 13 ? values + 8 : values;
}

static int python_dict_get(struct python_runtime *rt, uint64_t dict, const char *name,
			   uint64_t *value)
{
	uint64_t kv[2];

	if (!dict || python_read(rt, dict + 32, kv, sizeof(kv)))
		return -EFAULT;
	return python_keys_get(rt, kv[0], python_dict_values(rt, kv[1]), name, value);
}

/* An instance attribute kept in the instance's dict or its inline values. */
static int python_attr(struct python_runtime *rt, uint64_t obj, const char *name, uint64_t *value)
{
	int minor = rt->off.minor;
	uint64_t type, p, values = 0, keys;

	if (python_read_u64(rt, obj + 8, &type))
		return -EFAULT;
	if (minor <= 10) {
		int64_t dictoffset;

		if (python_read(rt, type + 288, &dictoffset, 8) || dictoffset <= 0 ||
		    python_read_u64(rt, obj + (uint64_t)dictoffset, &p))
			return -EFAULT;
		return python_dict_get(rt, p, name, value);
	}
	if (python_read_u64(rt, obj - 24, &p))
		return -EFAULT;
	if (minor == 12 && (p & 1)) {
		values = p + 1; /* stored as the values pointer - 1 */
	} else if (p) {
		return python_dict_get(rt, p, name, value);
	} else if (minor == 11) {
		if (python_read_u64(rt, obj - 32, &values))
			return -EFAULT;
	} else if (minor >= 13) {
		uint64_t basicsize;
		uint8_t hdr[4];

		if (python_read_u64(rt, type + 32, &basicsize) ||
		    python_read(rt, obj + basicsize, hdr, sizeof(hdr)) || !hdr[3])
			return -EFAULT;
		values = obj + basicsize + 8;
	}
	if (!values || python_read_u64(rt, type + rt->off.type_cached_keys, &keys) || !keys)
		return -EFAULT;
	return python_keys_get(rt, keys, values, name, value);
}

static int python_long(struct python_runtime *rt, uint64_t obj, uint64_t *out)
{
	int64_t size;
	uint32_t digits[3];
	uint64_t v = 0;

	if (python_read(rt, obj + 16, &size, 8))
		return -EFAULT;
	if (rt->off.minor >= 12) {
		if ((size & 3) == 2)
			return -ERANGE; /* negative */
		size = (int64_t)((uint64_t)size >> 3);
	}
	if (size < 0 || size > 3)
		return -ERANGE;
	if (size && python_read(rt, obj + 24, digits, 4 * (size_t)size))
		return -EFAULT;
	for (int64_t i = size - 1; i >= 0; i--)
		v = (v << 30) | (digits[i] & 0x3fffffff);
	*out = v;
	return 0;
}

/* threading._active: {ident: Thread}. */
static int python_active_threads(struct python_runtime *rt, uint64_t *active)
{
	uint64_t modules, threading, md_dict;

	if (rt->off.interp_modules == PY_NO_OFFSET ||
	    python_read_u64(rt, rt->interp + rt->off.interp_modules, &modules))
		return -EFAULT;
	if (python_dict_get(rt, modules, "threading", &threading))
		return -ENOENT;
	/* PyModuleObject: md_dict at 16 */
	if (python_read_u64(rt, threading + 16, &md_dict))
		return -EFAULT;
	return python_dict_get(rt, md_dict, "_active", active);
}

int python_runtime_thread_name(struct python_runtime *rt, uint64_t pthread_id, char *buf,
			       size_t len)
{
	struct python_keys k;
	uint64_t active, kv[2];
	int rc;

	rc = python_active_threads(rt, &active);
	if (rc)
		return rc;
	if (python_read(rt, active + 32, kv, sizeof(kv)) || python_keys_read(rt, kv[0], &k))
		return -EFAULT;
	for (uint64_t i = 0; i < k.n; i++) {
		uint64_t key, thread, ident, name;
		char *s;

		if (python_keys_entry(rt, &k, i, python_dict_values(rt, kv[1]), &key, &thread))
			return -EFAULT;
		if (!thread || python_long(rt, key, &ident) || ident != pthread_id)
			continue;
		if (python_attr(rt, thread, "_name", &name) || python_read_str(rt, name, &s))
			return -EFAULT;
		snprintf(buf, len, "%s", s);
		free(s);
		return 0;
	}
	return -ENOENT;
}
