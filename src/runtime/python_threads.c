/* python_threads.c: every thread state of a target's interpreter and its frame chain, read from
 * user space with process_vm_readv (dump), and the Python names of threads. */
#include "python_internal.h"

#include <errno.h>
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

int python_runtime_thread_name(struct python_runtime *rt, uint64_t pthread_id, char *buf,
			       size_t len)
{
	(void)rt;
	(void)pthread_id;
	(void)buf;
	(void)len;
	return -ENOENT;
}
