/* sampler.c: loads the CPU sampling BPF program (bpf/profile.bpf.c), opens one cpu-clock perf event
 * per online CPU (per-task events do not fire on every machine; they are an option), and moves
 * samples from the ring buffer to the caller's callback. Errors are turned into one line naming
 * what is missing (capability, sysctl, kernel feature). */
#include "smolder/sampler.h"

#include <errno.h>
#include <dirent.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "profile.skel.h"
#include "smolder/cli.h"
#include "smolder/log.h"
#include "smolder/mixed_stack.h"

struct sampler {
	struct profile_bpf *skel;
	struct ring_buffer *ringbuf;
	int *event_fds;
	struct bpf_link **links;
	struct bpf_link *tree_links[3]; /* fork, exec, exit tracepoints (target_set.bpf.h) */
	size_t n_events;
	sampler_sample_fn fn;
	sampler_process_fn process_fn;
	void (*on_code_mapped)(void *ctx, pid_t tgid);
	void *ctx;
	struct bpf_link *code_links[2];	  /* mmap entry and exit tracepoints */
	struct bpf_link *offcpu_links[2]; /* sched_switch, sys_exit (offcpu.bpf.h) */
	uint64_t received;
	uint64_t malformed;
	uint64_t process_events;
	uint32_t ringbuf_bytes;
	bool stopped;
};

static int sampler_online_cpus(bool **online, int *n_possible)
{
	char buf[512];
	FILE *fp;
	char *p;
	int n;

	n = libbpf_num_possible_cpus();
	if (n <= 0)
		return n < 0 ? n : -ENODEV;
	*online = calloc(n, sizeof(**online));
	if (!*online)
		return -ENOMEM;
	*n_possible = n;
	fp = fopen("/sys/devices/system/cpu/online", "re");
	if (!fp || !fgets(buf, sizeof(buf), fp)) {
		/* No online mask: try every possible CPU; an offline one fails with ENODEV and
		 * is skipped. */
		if (fp)
			fclose(fp);
		for (int i = 0; i < n; i++)
			(*online)[i] = true;
		return 0;
	}
	fclose(fp);
	/* Format: "0-3,5,7-8". */
	p = buf;
	while (*p && *p != '\n') {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p)
			break;
		if (*end == '-') {
			p = end + 1;
			hi = strtol(p, &end, 10);
		}
		for (long c = lo < 0 ? 0 : lo; c <= hi && c < n; c++)
			(*online)[c] = true;
		p = end;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int sampler_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu)
{
	long fd = syscall(__NR_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

static int sampler_handle_record(void *ctx, void *data, size_t size)
{
	struct sampler *sampler = ctx;
	const struct smolder_cpu_sample *sample = data;
	const struct smolder_process_event *ev = data;

	if (size >= sizeof(*ev) &&
	    (ev->kind == SMOLDER_EVENT_FORK || ev->kind == SMOLDER_EVENT_EXEC ||
	     ev->kind == SMOLDER_EVENT_EXIT)) {
		sampler->process_events++;
		return sampler->process_fn ? sampler->process_fn(sampler->ctx, ev) : 0;
	}
	if (size >= sizeof(struct smolder_code_mapped) &&
	    sample->kind == SMOLDER_EVENT_CODE_MAPPED) {
		const struct smolder_code_mapped *cm = data;

		if (sampler->on_code_mapped)
			sampler->on_code_mapped(sampler->ctx, (pid_t)cm->tgid);
		return 0;
	}
	if (size < sizeof(*sample) ||
	    (sample->kind != SMOLDER_EVENT_CPU_SAMPLE &&
	     sample->kind != SMOLDER_EVENT_OFFCPU_SAMPLE) ||
	    size < sizeof(*sample) + sample->user_stack_len ||
	    sample->kernel_frames > SMOLDER_MAX_KERNEL_FRAMES ||
	    sample->python_frames > SMOLDER_PYTHON_MAX_FRAMES ||
	    (sample->python_frames &&
	     size < sizeof(*sample) + smolder_python_offset(sample->user_stack_len) +
			     sample->python_frames * sizeof(struct smolder_python_frame))) {
		sampler->malformed++;
		return 0;
	}
	sampler->received++;
	return sampler->fn(sampler->ctx, sample, size);
}

static uint32_t sampler_ringbuf_size(const struct sampler_options *opts, int cpus)
{
	/* Two poll periods (2 x 100 ms) of records of 16 KiB (measured copies: 4-20 KiB; a copy
	 * stops at the stack's end); the program also wakes the consumer at a quarter full, and a
	 * full buffer is counted, never silent. Capped at 8 MiB: the consumer's mapping of it
	 * counts in smolder's RSS. */
	uint64_t record = sizeof(struct smolder_cpu_sample) + 16 * 1024;
	uint64_t want = record * (uint64_t)opts->frequency_hz * (uint64_t)cpus / 5;

	uint64_t per_ms = opts->off_cpu_min_block_ns && opts->off_cpu_min_block_ns < 1000000
				  ? 1000000 / opts->off_cpu_min_block_ns
				  : 1;
	uint32_t size = 512 * 1024;

	/* Off-CPU records: at most blocked time / threshold per thread (1000/s per blocked thread
	 * at 1 ms); room for two busy threads' worth per poll period (stacks of ~8 KiB). */
	if (opts->off_cpu)
		want += 2 * 1000 * 8192 / 5 * per_ms;

	while (size < want && size < 8u * 1024 * 1024)
		size *= 2;
	return size;
}

static void sampler_describe_errno(int err, const char *what, char *msg, size_t len)
{
	if (err == EPERM || err == EACCES)
		snprintf(msg, len,
			 "%s: permission denied: needs root, or CAP_BPF and CAP_PERFMON "
			 "(perf events: kernel.perf_event_paranoid)",
			 what);
	else if (err == ENOSYS || err == EOPNOTSUPP)
		snprintf(msg, len,
			 "%s: not supported by this kernel (%s): needs eBPF (CONFIG_BPF_SYSCALL) "
			 "and perf events",
			 what, strerror(err));
	else
		snprintf(msg, len, "%s: %s", what, strerror(err));
}

static int sampler_add_event_fd(struct sampler *sampler, size_t *cap, int fd)
{
	if (sampler->n_events == *cap) {
		size_t grown_cap = *cap ? 2 * *cap : 16;
		int *grown = realloc(sampler->event_fds, grown_cap * sizeof(int));

		if (!grown) {
			close(fd);
			return -ENOMEM;
		}
		sampler->event_fds = grown;
		*cap = grown_cap;
	}
	sampler->event_fds[sampler->n_events++] = fd;
	return 0;
}

static int sampler_open_task_events(struct sampler *sampler, struct perf_event_attr *attr,
				    pid_t pid, char *err, size_t errlen)
{
	char path[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *dir;
	int ret = 0;

	/* inherit: threads created later get their own copy of the event and program. */
	attr->inherit = 1;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	while ((de = readdir(dir))) {
		pid_t tid = atoi(de->d_name);

		if (tid <= 0)
			continue;
		ret = sampler_perf_event_open(attr, tid, -1);
		if (ret == -ESRCH) {
			ret = 0; /* thread exited meanwhile */
			continue;
		}
		if (ret < 0) {
			sampler_describe_errno(-ret, "perf_event_open (per task)", err, errlen);
			break;
		}
		ret = sampler_add_event_fd(sampler, &cap, ret);
		if (ret < 0)
			break;
	}
	closedir(dir);
	if (!ret && !sampler->n_events) {
		snprintf(err, errlen, "process %d has no threads left", pid);
		ret = -ESRCH;
	}
	return ret;
}

static int sampler_open_cpu_events(struct sampler *sampler, struct perf_event_attr *attr, char *err,
				   size_t errlen)
{
	bool *online = NULL;
	int n_possible = 0, ret;
	size_t cap = 0;

	ret = sampler_online_cpus(&online, &n_possible);
	if (ret < 0) {
		snprintf(err, errlen, "cannot read the online CPUs: %s", strerror(-ret));
		return ret;
	}
	for (int cpu = 0; cpu < n_possible; cpu++) {
		if (!online[cpu])
			continue;
		ret = sampler_perf_event_open(attr, -1, cpu);
		if (ret == -ENODEV) {
			ret = 0; /* went offline */
			continue;
		}
		if (ret < 0) {
			sampler_describe_errno(-ret, "perf_event_open (cpu-clock)", err, errlen);
			break;
		}
		ret = sampler_add_event_fd(sampler, &cap, ret);
		if (ret < 0)
			break;
	}
	free(online);
	if (!ret && !sampler->n_events) {
		snprintf(err, errlen, "no online CPU accepted a cpu-clock perf event");
		ret = -ENODEV;
	}
	return ret;
}

int sampler_add_target(struct sampler *sampler, pid_t pid)
{
	uint32_t tgid = (uint32_t)pid, parent = 0;

	if (bpf_map_update_elem(bpf_map__fd(sampler->skel->maps.targets), &tgid, &parent,
				BPF_ANY) != 0)
		return -errno;
	return 0;
}

/* Attaches the target set's fork, exec and exit tracepoints. exec and exit are needed even for
 * one process: an exec replaces the mappings samples are unwound with. */
static int sampler_attach_tree(struct sampler *sampler, char *err, size_t errlen)
{
	struct bpf_program *progs[3] = {
		sampler->skel->progs.target_set_fork,
		sampler->skel->progs.target_set_exec,
		sampler->skel->progs.target_set_exit,
	};

	for (size_t i = 0; i < 3; i++) {
		sampler->tree_links[i] = bpf_program__attach(progs[i]);
		if (!sampler->tree_links[i]) {
			int ret = -errno;

			sampler_describe_errno(-ret, "attaching the process tracepoints", err,
					       errlen);
			return ret;
		}
	}
	return 0;
}

struct sampler *sampler_new(const struct sampler_options *opts, sampler_sample_fn fn, void *ctx,
			    char *err, size_t errlen)
{
	struct sampler_options o = *opts;
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.disabled = 1,
	};
	struct sampler *sampler;
	int n_possible, ret;

	snprintf(err, errlen, "internal error");
	if (o.frequency_hz <= 0 || o.frequency_hz > 100000 || o.pid <= 0 || !fn) {
		snprintf(err, errlen, "invalid sampler options");
		errno = EINVAL;
		return NULL;
	}
	if (!o.stack_copy_size)
		o.stack_copy_size = SMOLDER_STACK_COPY_DEFAULT;
	if (o.stack_copy_size > SMOLDER_STACK_COPY_MAX)
		o.stack_copy_size = SMOLDER_STACK_COPY_MAX;
	/* cpu-clock counts nanoseconds: a fixed period gives exactly -F samples per second of CPU
	 * time, without frequency mode's adjustment and its sysctl cap. */
	attr.sample_period = 1000000000ull / (uint64_t)o.frequency_hz;

	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(err, errlen,
			 "kernel BTF missing (/sys/kernel/btf/vmlinux): eBPF CO-RE needs a kernel "
			 "built with CONFIG_DEBUG_INFO_BTF");
		errno = ENOTSUP;
		return NULL;
	}

	sampler = calloc(1, sizeof(*sampler));
	if (!sampler)
		return NULL;
	sampler->fn = fn;
	sampler->process_fn = o.process_fn;
	sampler->ctx = ctx;
	sampler->on_code_mapped = o.on_code_mapped;

	sampler->skel = profile_bpf__open();
	if (!sampler->skel) {
		ret = -errno;
		sampler_describe_errno(-ret, "opening the BPF program", err, errlen);
		goto fail;
	}
	sampler->skel->rodata->follow_children = o.follow_children;
	sampler->skel->rodata->stack_copy_size = o.stack_copy_size;
	sampler->skel->rodata->collect_kernel = o.kernel_stacks;
	/* The off-CPU programs are verified and loaded only when asked for. */
	bpf_program__set_autoload(sampler->skel->progs.offcpu_switch, o.off_cpu);
	bpf_program__set_autoload(sampler->skel->progs.offcpu_sys_exit, o.off_cpu);
	if (o.off_cpu_min_block_ns)
		sampler->skel->rodata->offcpu_min_block_ns = o.off_cpu_min_block_ns;

	n_possible = libbpf_num_possible_cpus();
	if (n_possible <= 0) {
		ret = n_possible < 0 ? n_possible : -ENODEV;
		snprintf(err, errlen, "cannot count CPUs: %s", strerror(-ret));
		goto fail;
	}
	sampler->ringbuf_bytes =
		o.ringbuf_bytes ? o.ringbuf_bytes : sampler_ringbuf_size(&o, n_possible);
	sampler->skel->rodata->wakeup_bytes = sampler->ringbuf_bytes / 4;
	sampler->skel->rodata->offcpu_slot_base = (uint32_t)n_possible;
	ret = bpf_map__set_max_entries(sampler->skel->maps.events, sampler->ringbuf_bytes);
	/* One slot per CPU for CPU samples and, with off-CPU time, one more for its records. */
	if (!ret)
		ret = bpf_map__set_max_entries(sampler->skel->maps.scratch,
					       o.off_cpu ? 2 * n_possible : n_possible);
	if (!ret && !o.off_cpu) {
		/* Unused: keep their kernel memory small. */
		ret = bpf_map__set_max_entries(sampler->skel->maps.offcpu_kstacks, 1);
		if (!ret)
			ret = bpf_map__set_max_entries(sampler->skel->maps.offcpu_threads, 1);
	}
	/* One Python config per process of the set: the given ones, or a whole tree. */
	if (!ret)
		ret = bpf_map__set_max_entries(sampler->skel->maps.python_configs,
					       o.follow_children ? SMOLDER_MAX_PYTHON_PROCESSES
								 : (uint32_t)o.n_pids + 1);
	if (ret) {
		snprintf(err, errlen, "sizing BPF maps: %s", strerror(-ret));
		goto fail;
	}

	ret = profile_bpf__load(sampler->skel);
	if (ret == -EACCES || ret == -EINVAL) {
		/* The verifier's rejection (EACCES) is not a privilege problem: without the
		 * capability bpf() fails with EPERM. */
		snprintf(
			err, errlen,
			"the kernel rejected the BPF program (%s); rerun with -vv for the verifier "
			"log",
			strerror(-ret));
		ret = -ENOTSUP;
		goto fail;
	} else if (ret) {
		sampler_describe_errno(-ret, "loading the BPF program", err, errlen);
		goto fail;
	}
	/* The targets first, then the fork tracepoint: a child forked from here on is followed;
	 * the caller adds descendants that existed before (sampler_add_target). */
	ret = sampler_add_target(sampler, o.pid);
	for (size_t i = 0; !ret && i < o.n_pids; i++)
		ret = sampler_add_target(sampler, o.pids[i]);
	if (ret) {
		snprintf(err, errlen, "adding the target to the BPF map: %s", strerror(-ret));
		goto fail;
	}
	ret = sampler_attach_tree(sampler, err, errlen);
	if (ret)
		goto fail;
	sampler->ringbuf = ring_buffer__new(bpf_map__fd(sampler->skel->maps.events),
					    sampler_handle_record, sampler, NULL);
	if (!sampler->ringbuf) {
		ret = -errno;
		snprintf(err, errlen, "ring buffer: %s", strerror(-ret));
		goto fail;
	}

	if (o.before_sampling) {
		ret = o.before_sampling(ctx, sampler);
		if (ret) {
			snprintf(err, errlen, "preparing the targets: %s", strerror(-ret));
			goto fail;
		}
	}
	if (o.per_task_events)
		ret = sampler_open_task_events(sampler, &attr, o.pid, err, errlen);
	else
		ret = sampler_open_cpu_events(sampler, &attr, err, errlen);
	if (ret)
		goto fail;
	sampler->links = calloc(sampler->n_events, sizeof(*sampler->links));
	if (!sampler->links) {
		ret = -ENOMEM;
		goto fail;
	}
	/* Attaching sets the program and enables the event. */
	for (size_t i = 0; i < sampler->n_events; i++) {
		sampler->links[i] = bpf_program__attach_perf_event(
			sampler->skel->progs.profile_sample, sampler->event_fds[i]);
		if (!sampler->links[i]) {
			ret = -errno;
			sampler_describe_errno(-ret, "attaching to the perf event", err, errlen);
			goto fail;
		}
	}
	/* Code mapped during the run (dlopen): its notice orders the unwinder's maps generations.
	 * Without the tracepoints the unwinder still re-reads the maps on demand, only later. */
	if (o.on_code_mapped) {
		sampler->code_links[0] = bpf_program__attach(sampler->skel->progs.code_mmap_enter);
		sampler->code_links[1] = bpf_program__attach(sampler->skel->progs.code_mmap_exit);
		if (!sampler->code_links[0] || !sampler->code_links[1])
			log_warn(
				"mmap tracepoints unavailable (%s): code loaded during the run may "
				"be named as what replaced it",
				strerror(errno));
	}
	if (o.off_cpu) {
		sampler->offcpu_links[0] = bpf_program__attach(sampler->skel->progs.offcpu_switch);
		sampler->offcpu_links[1] =
			bpf_program__attach(sampler->skel->progs.offcpu_sys_exit);
		if (!sampler->offcpu_links[0] || !sampler->offcpu_links[1]) {
			ret = -errno;
			sampler_describe_errno(-ret, "attaching the off-CPU tracepoints", err,
					       errlen);
			goto fail;
		}
	}
	log_debug("sampler: %zu perf events at %d Hz, stack copy %u bytes, ring buffer %u bytes",
		  sampler->n_events, o.frequency_hz, o.stack_copy_size, sampler->ringbuf_bytes);
	return sampler;

fail:
	sampler_free(sampler);
	errno = -ret;
	return NULL;
}

void sampler_stop(struct sampler *sampler)
{
	if (!sampler || sampler->stopped)
		return;
	/* Destroying a link disables its event and detaches the program; the fds go too. */
	for (size_t i = 0; i < sampler->n_events; i++) {
		if (sampler->links && sampler->links[i])
			bpf_link__destroy(sampler->links[i]);
		if (sampler->links)
			sampler->links[i] = NULL;
		close(sampler->event_fds[i]);
	}
	for (size_t i = 0; i < 2; i++) {
		bpf_link__destroy(sampler->code_links[i]);
		sampler->code_links[i] = NULL;
		bpf_link__destroy(sampler->offcpu_links[i]);
		sampler->offcpu_links[i] = NULL;
	}
	sampler->n_events = 0;
	for (size_t i = 0; i < 3; i++) {
		bpf_link__destroy(sampler->tree_links[i]);
		sampler->tree_links[i] = NULL;
	}
	sampler->stopped = true;
}

void sampler_free(struct sampler *sampler)
{
	if (!sampler)
		return;
	sampler_stop(sampler);
	ring_buffer__free(sampler->ringbuf);
	profile_bpf__destroy(sampler->skel);
	free(sampler->links);
	free(sampler->event_fds);
	free(sampler);
}

int sampler_poll(struct sampler *sampler, int timeout_ms)
{
	int ret = ring_buffer__poll(sampler->ringbuf, timeout_ms);

	if (ret == -EINTR)
		ret = 0;
	if (ret < 0)
		return ret;
	/* The program wakes us only when the buffer fills up (see wakeup_bytes): whatever arrived
	 * during the timeout is consumed here. */
	return ring_buffer__consume(sampler->ringbuf);
}

int sampler_fd(const struct sampler *sampler)
{
	return ring_buffer__epoll_fd(sampler->ringbuf);
}

int sampler_drain(struct sampler *sampler)
{
	int ret = ring_buffer__consume(sampler->ringbuf);

	return ret == -EINTR ? 0 : ret;
}

int sampler_get_stats(const struct sampler *sampler, struct sampler_stats *stats)
{
	int n_possible = libbpf_num_possible_cpus();
	uint64_t *values;
	int fd;

	memset(stats, 0, sizeof(*stats));
	stats->received = sampler->received;
	stats->malformed = sampler->malformed;
	stats->process_events = sampler->process_events;
	stats->ringbuf_bytes = sampler->ringbuf_bytes;
	if (n_possible <= 0)
		return -ENODEV;
	values = calloc(n_possible, sizeof(*values));
	if (!values)
		return -ENOMEM;
	fd = bpf_map__fd(sampler->skel->maps.stats);
	for (uint32_t key = 0; key < SMOLDER_SAMPLER_STAT_COUNT; key++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(fd, &key, values) != 0) {
			int ret = -errno;

			free(values);
			return ret;
		}
		for (int cpu = 0; cpu < n_possible; cpu++)
			sum += values[cpu];
		switch (key) {
		case SMOLDER_SAMPLER_STAT_SAMPLES:
			stats->samples = sum;
			break;
		case SMOLDER_SAMPLER_STAT_SENT:
			stats->sent = sum;
			break;
		case SMOLDER_SAMPLER_STAT_RINGBUF_FULL:
			stats->ringbuf_full = sum;
			break;
		case SMOLDER_SAMPLER_STAT_STACK_COPY_FAILED:
			stats->stack_copy_failed = sum;
			break;
		case SMOLDER_SAMPLER_STAT_STACK_CLIPPED:
			stats->stack_clipped = sum;
			break;
		case SMOLDER_SAMPLER_STAT_STACK_PARTIAL:
			stats->stack_partial = sum;
			break;
		case SMOLDER_SAMPLER_STAT_NO_VMA:
			stats->no_vma = sum;
			break;
		case SMOLDER_SAMPLER_STAT_KERNEL_STACK_FAILED:
			stats->kernel_stack_failed = sum;
			break;
		case SMOLDER_SAMPLER_STAT_NO_USER_REGS:
			stats->no_user_regs = sum;
			break;
		case SMOLDER_SAMPLER_STAT_TARGETS_FULL:
			stats->targets_full = sum;
			break;
		case SMOLDER_SAMPLER_STAT_PROCESS_EVENT_LOST:
			stats->process_events_lost = sum;
			break;
		case SMOLDER_SAMPLER_STAT_FORKS_FOLLOWED:
			stats->forks_followed = sum;
			break;
		case SMOLDER_SAMPLER_STAT_PY_WALKS:
			stats->python_walks = sum;
			break;
		case SMOLDER_SAMPLER_STAT_PY_NO_TSTATE:
			stats->python_no_tstate = sum;
			break;
		case SMOLDER_SAMPLER_STAT_PY_TRUNCATED:
			stats->python_truncated = sum;
			break;
		case SMOLDER_SAMPLER_STAT_PY_READ_FAILED:
			stats->python_read_failed = sum;
			break;
		case SMOLDER_SAMPLER_STAT_PY_FRAMES:
			stats->python_frames = sum;
			break;
		case SMOLDER_SAMPLER_STAT_PY_NO_CONFIG:
			stats->python_no_config = sum;
			break;
		case SMOLDER_SAMPLER_STAT_CODE_MAPPED:
			stats->code_mapped = sum;
			break;
		case SMOLDER_SAMPLER_STAT_CODE_MAPPED_LOST:
			stats->code_mapped_lost = sum;
			break;
		case SMOLDER_SAMPLER_STAT_OFFCPU_BLOCKS:
			stats->offcpu_blocks = sum;
			break;
		case SMOLDER_SAMPLER_STAT_OFFCPU_NO_SWITCH_OUT:
			stats->offcpu_no_switch_out = sum;
			break;
		case SMOLDER_SAMPLER_STAT_OFFCPU_THREADS_FULL:
			stats->offcpu_threads_full = sum;
			break;
		case SMOLDER_SAMPLER_STAT_OFFCPU_SAMPLED_OUT:
			stats->offcpu_sampled_out = sum;
			break;
		case SMOLDER_SAMPLER_STAT_OFFCPU_SENT:
			stats->offcpu_sent = sum;
			break;
		case SMOLDER_SAMPLER_STAT_OFFCPU_RINGBUF_FULL:
			stats->offcpu_ringbuf_full = sum;
			break;
		case SMOLDER_SAMPLER_STAT_OFFCPU_NO_USER_STACK:
			stats->offcpu_no_user_stack = sum;
			break;
		case SMOLDER_SAMPLER_STAT_OFFCPU_KSTACK_FAILED:
			stats->offcpu_kstack_failed = sum;
			break;
		default:
			break;
		}
	}
	free(values);
	return 0;
}

int sampler_offcpu_totals(const struct sampler *sampler,
			  struct smolder_offcpu_total totals[SMOLDER_OFFCPU_STATE_COUNT])
{
	int n_possible = libbpf_num_possible_cpus(), fd, ret = 0;
	struct smolder_offcpu_total *values;

	memset(totals, 0, sizeof(*totals) * SMOLDER_OFFCPU_STATE_COUNT);
	if (n_possible <= 0)
		return -ENODEV;
	values = calloc(n_possible, sizeof(*values));
	if (!values)
		return -ENOMEM;
	fd = bpf_map__fd(sampler->skel->maps.offcpu_totals);
	for (uint32_t state = 0; state < SMOLDER_OFFCPU_STATE_COUNT; state++) {
		if (bpf_map_lookup_elem(fd, &state, values) != 0) {
			ret = -errno;
			break;
		}
		for (int cpu = 0; cpu < n_possible; cpu++) {
			totals[state].ns += values[cpu].ns;
			totals[state].blocks += values[cpu].blocks;
		}
	}
	free(values);
	return ret;
}

int sampler_offcpu_threads(const struct sampler *sampler, sampler_offcpu_thread_fn fn, void *ctx)
{
	int fd = bpf_map__fd(sampler->skel->maps.offcpu_threads);
	uint32_t key, next;
	struct smolder_offcpu_thread t;
	bool first = true;

	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &t) != 0)
			continue; /* evicted meanwhile */
		fn(ctx, (int32_t)key, &t);
	}
	return 0; /* get_next_key fails with ENOENT past the last key */
}

int sampler_offcpu_run_ns(const struct sampler *sampler, uint64_t *ns, uint64_t *runs)
{
	const struct bpf_program *progs[2] = {sampler->skel->progs.offcpu_switch,
					      sampler->skel->progs.offcpu_sys_exit};

	*ns = *runs = 0;
	for (size_t i = 0; i < 2; i++) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_program__fd(progs[i]) < 0 ||
		    bpf_obj_get_info_by_fd(bpf_program__fd(progs[i]), &info, &len) != 0)
			return -errno;
		*ns += info.run_time_ns;
		*runs += info.run_cnt;
	}
	return 0;
}

int sampler_kernel_stack(const struct sampler *sampler, int32_t id, uint64_t *ips, uint32_t max)
{
	uint64_t frames[SMOLDER_MAX_KERNEL_FRAMES];
	uint32_t n = 0;

	if (id < 0)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(sampler->skel->maps.offcpu_kstacks), &id, frames) != 0)
		return -errno;
	while (n < SMOLDER_MAX_KERNEL_FRAMES && n < max && frames[n]) {
		ips[n] = frames[n];
		n++;
	}
	return (int)n;
}

int sampler_set_python(struct sampler *sampler, pid_t pid, const struct smolder_python_config *cfg)
{
	struct smolder_python_config walk = {0};
	uint32_t key = (uint32_t)pid;
	int ret;

	if (cfg) {
		walk = *cfg;
		ret = mixed_stack_walk_window(&walk);
		if (ret < 0)
			return ret;
	}
	/* One update replaces the whole entry: a walk on another CPU copies either the old or the
	 * new one. */
	ret = bpf_map__update_elem(sampler->skel->maps.python_configs, &key, sizeof(key), &walk,
				   sizeof(walk), BPF_ANY);
	return ret < 0 ? ret : 0;
}

int sampler_exit_code(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return SMOLDER_EXIT_PRIVILEGE;
	case ENOSYS:
	case EOPNOTSUPP:
	case ENODEV:
	case ENOENT:
		return SMOLDER_EXIT_KERNEL;
	case ESRCH:
		return SMOLDER_EXIT_TARGET;
	default:
		return SMOLDER_EXIT_INTERNAL;
	}
}
