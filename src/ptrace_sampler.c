/* ptrace_sampler.c: the ptrace CPU sampling backend. Each tick: stop the running threads
 * (ptrace_attach, PTRACE_STOP_RUNNING), copy registers and stack into sample records, detach, then
 * deliver the records. Detaching every tick (rather than staying attached) means the target is
 * traced only for the instant of a sample: its signals are never delayed between samples and a
 * smolder that dies leaves nothing behind. Sleeping threads are never touched, which is both what
 * a CPU profile wants (on-CPU samples only) and what keeps the cost down. */
#include "smolder/ptrace_sampler.h"

#include "smolder/cli.h"
#include "smolder/events.h"
#include "smolder/log.h"
#include "smolder/ptrace_attach.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PTRACE_SAMPLER_STOP_TIMEOUT_MS 100

struct ptrace_sampler {
	struct ptrace_session session;
	sampler_sample_fn fn;
	void *ctx;
	uint64_t period_ns;
	uint64_t next_tick_ns;
	uint32_t stack_copy_size;
	uint8_t *records;   /* cap_records slots of record_size bytes */
	size_t record_size; /* header + stack_copy_size */
	size_t cap_records;
	struct sampler_stats stats;
	struct ptrace_sampler_extra extra;
};

static uint64_t ptrace_sampler_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ptrace_sampler_exit_code(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return SMOLDER_EXIT_PRIVILEGE;
	case ESRCH:
		return SMOLDER_EXIT_TARGET;
	default:
		return SMOLDER_EXIT_INTERNAL;
	}
}

struct ptrace_sampler *ptrace_sampler_new(const struct sampler_options *opts, sampler_sample_fn fn,
					  void *ctx, char *err, size_t errlen)
{
	struct ptrace_sampler *ps;
	int code, saved;

	if (opts->frequency_hz <= 0) {
		snprintf(err, errlen, "sampling frequency must be positive");
		errno = EINVAL;
		return NULL;
	}
	code = ptrace_attach_check(opts->pid, err, errlen);
	if (code) {
		errno = code == SMOLDER_EXIT_TARGET ? ESRCH : EPERM;
		return NULL;
	}
	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	ps->fn = fn;
	ps->ctx = ctx;
	ps->period_ns = 1000000000ull / (uint64_t)opts->frequency_hz;
	ps->stack_copy_size =
		opts->stack_copy_size ? opts->stack_copy_size : SMOLDER_STACK_COPY_DEFAULT;
	if (ps->stack_copy_size > SMOLDER_STACK_COPY_MAX)
		ps->stack_copy_size = SMOLDER_STACK_COPY_MAX;
	ps->record_size = sizeof(struct smolder_cpu_sample) + ps->stack_copy_size;
	ptrace_guard_install();
	ptrace_session_init(&ps->session, opts->pid);
	/* One trial stop of every thread: a refusal (Yama, another tracer, another user) surfaces
	 * now with its reason, not as an empty profile. It costs one ~1 ms hold. */
	code = ptrace_session_stop(&ps->session, PTRACE_STOP_ALL, PTRACE_SAMPLER_STOP_TIMEOUT_MS,
				   err, errlen);
	if (code) {
		saved = code == SMOLDER_EXIT_PRIVILEGE ? EPERM
			: code == SMOLDER_EXIT_TARGET  ? ESRCH
						       : EIO;
		goto err_free;
	}
	ptrace_session_detach(&ps->session);
	ps->next_tick_ns = ptrace_sampler_now_ns() + ps->period_ns;
	return ps;

err_free:
	ptrace_session_release(&ps->session);
	free(ps);
	errno = saved;
	return NULL;
}

void ptrace_sampler_free(struct ptrace_sampler *ps)
{
	if (!ps)
		return;
	ptrace_session_release(&ps->session);
	free(ps->records);
	free(ps);
}

static struct smolder_cpu_sample *ptrace_sampler_slot(struct ptrace_sampler *ps, size_t i)
{
	return (struct smolder_cpu_sample *)(ps->records + i * ps->record_size);
}

static int ptrace_sampler_reserve(struct ptrace_sampler *ps, size_t n)
{
	uint8_t *nr;

	if (n <= ps->cap_records)
		return 0;
	nr = realloc(ps->records, n * ps->record_size);
	if (!nr)
		return -ENOMEM;
	ps->records = nr;
	ps->cap_records = n;
	return 0;
}

/* One tick: hold the running threads, copy, release, deliver. Returns records delivered. */
static int ptrace_sampler_round(struct ptrace_sampler *ps)
{
	struct ptrace_session *s = &ps->session;
	uint64_t t0 = ptrace_sampler_now_ns(), held;
	size_t n = 0, delivered = 0;
	char err[256];
	int code, ret = 0;

	code = ptrace_session_stop(s, PTRACE_STOP_RUNNING, PTRACE_SAMPLER_STOP_TIMEOUT_MS, err,
				   sizeof(err));
	if (code == SMOLDER_EXIT_TARGET)
		return 0; /* the run control sees the exit and ends the run */
	if (code) {
		log_error("%s", err);
		return -EPERM;
	}
	ps->extra.rounds++;
	ps->extra.vanished += s->n_vanished;
	if (ptrace_sampler_reserve(ps, s->n) < 0) {
		ptrace_session_detach(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct ptrace_thread *t = &s->threads[i];
		struct smolder_cpu_sample *rec;
		bool clipped = false;
		ssize_t got;

		if (!t->stopped)
			continue;
		ps->stats.samples++;
		rec = ptrace_sampler_slot(ps, n++);
		memset(rec, 0, sizeof(*rec));
		rec->kind = SMOLDER_EVENT_CPU_SAMPLE;
		rec->tgid = (uint32_t)s->pid;
		rec->tid = (uint32_t)t->tid;
		rec->cpu = UINT32_MAX; /* unknown to ptrace */
		rec->time_ns = t0;
		if (!t->regs_valid) {
			rec->flags |= SMOLDER_SAMPLE_NO_USER_REGS;
			ps->stats.no_user_regs++;
			continue;
		}
		rec->ip = t->regs.rip;
		rec->sp = t->regs.rsp;
		rec->bp = t->regs.rbp;
		got = ptrace_session_read_stack(s, t, rec->user_stack, ps->stack_copy_size,
						&clipped);
		if (got > 0)
			rec->user_stack_len = (uint32_t)got;
		else if (got == 0) {
			rec->flags |= SMOLDER_SAMPLE_NO_VMA;
			ps->stats.no_vma++;
		} else {
			ps->stats.stack_copy_failed++;
		}
		if (clipped) {
			rec->flags |= SMOLDER_SAMPLE_STACK_CLIPPED;
			ps->stats.stack_clipped++;
		}
	}
	ptrace_session_detach(s);
	held = s->stop_begin_ns ? s->stop_end_ns - s->stop_begin_ns : 0;
	ps->extra.stop_ns_total += held;
	if (held > ps->extra.stop_ns_max)
		ps->extra.stop_ns_max = held;
	ps->extra.round_ns_total += ptrace_sampler_now_ns() - t0;
	if (!n)
		ps->extra.idle_rounds++;
	ps->stats.sent += n;
	/* Delivered after the detach: unwinding runs while the target runs. */
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct smolder_cpu_sample *rec = ptrace_sampler_slot(ps, i);

		ret = ps->fn(ps->ctx, rec, sizeof(*rec) + rec->user_stack_len);
		ps->stats.received++;
		delivered++;
	}
	return ret < 0 ? ret : (int)delivered;
}

int ptrace_sampler_poll(struct ptrace_sampler *ps, int timeout_ms)
{
	uint64_t end =
		ptrace_sampler_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	int total = 0;

	for (;;) {
		uint64_t now = ptrace_sampler_now_ns();
		struct timespec ts;
		int ret;

		if (ps->next_tick_ns > end) {
			/* No tick in this window: sleep to its end. */
			if (end > now) {
				ts.tv_sec = (time_t)(end / 1000000000ull);
				ts.tv_nsec = (long)(end % 1000000000ull);
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
			return total;
		}
		if (ps->next_tick_ns > now) {
			ts.tv_sec = (time_t)(ps->next_tick_ns / 1000000000ull);
			ts.tv_nsec = (long)(ps->next_tick_ns % 1000000000ull);
			if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				return total;
		}
		ret = ptrace_sampler_round(ps);
		if (ret < 0)
			return ret;
		total += ret;
		ps->next_tick_ns += ps->period_ns;
		now = ptrace_sampler_now_ns();
		if (ps->next_tick_ns <= now) {
			/* Overran: skip the ticks already past instead of bursting to catch up. */
			uint64_t behind = (now - ps->next_tick_ns) / ps->period_ns + 1;

			ps->extra.missed_ticks += behind;
			ps->next_tick_ns += behind * ps->period_ns;
		}
	}
}

void ptrace_sampler_get_stats(const struct ptrace_sampler *ps, struct sampler_stats *stats,
			      struct ptrace_sampler_extra *extra)
{
	if (stats)
		*stats = ps->stats;
	if (extra)
		*extra = ps->extra;
}
