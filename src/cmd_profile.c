/* cmd_profile.c: `smolder profile`: one session with the CPU and allocation collectors, a resource
 * timeline read from /proc every interval, and an optional load command (--during, run with
 * sh -c once attached; the run ends when it exits). Writes the profile JSON report of DESIGN.md
 * (on-CPU functions, memory sites, timeline, load, per-operation figures, findings, drops) and
 * the on-CPU flame graph (.folded/.svg).
 *
 * Not done yet (see README): off-CPU time, the HTML report, $PORT in launch mode, --ops-probe. */
#include "smolder/commands.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smolder/cpu_collector.h"
#include "smolder/cpu_profile.h"
#include "smolder/json_writer.h"
#include "smolder/leak_collector.h"
#include "smolder/log.h"
#include "smolder/output_file.h"
#include "smolder/profile_output.h"
#include "smolder/session.h"
#include "smolder/target.h"
#include "smolder/u64_map.h"

#define TIMELINE_MAX_POINTS 3600 /* then pairs merge: bounded for any run length */
#define LOAD_TAIL_BYTES	    2048
#define PROFILE_TOP_FUNCS   50

/* One timeline point: /proc figures at t (counters as deltas over the interval). */
struct timeline_point {
	double t;
	double cpu_user_pct, cpu_sys_pct, host_cpu_pct;
	uint64_t rss_bytes, anon_bytes, file_bytes, heap_bytes, threads, fds;
	uint64_t read_bytes, write_bytes, net_rx_bytes, net_tx_bytes;
	uint64_t ctx_voluntary, ctx_involuntary, minor_faults, major_faults, mem_available;
};

struct proc_counters {
	double utime_s, stime_s, host_busy, host_total;
	uint64_t read_bytes, write_bytes, rx, tx, vol, invol, minflt, majflt;
	bool valid;
};

struct profile_run {
	const struct cli_options *opts;
	struct leak_collector *leaks; /* NULL with --no-memory */
	struct timeline_point *points;
	size_t n_points;
	struct proc_counters last;
	double last_t;
	uint64_t first_rss, peak_rss;
	/* the load command */
	pid_t load_pid;
	int load_out_fd;
	int load_pidfd; /* readable when the load command exits */
	bool load_done;
	int load_status;
	double load_start_s, load_end_s;
	char load_tail[LOAD_TAIL_BYTES + 1];
};

static int read_file(const char *path, char *buf, size_t len)
{
	return target_read_file(path, buf, len);
}

static uint64_t status_kb(const char *status, const char *key)
{
	const char *p = strstr(status, key);

	return p ? strtoull(p + strlen(key), NULL, 10) * 1024 : 0;
}

static uint64_t status_num(const char *status, const char *key)
{
	const char *p = strstr(status, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void read_counters(pid_t pid, struct proc_counters *c, struct timeline_point *p)
{
	char path[64], buf[8192], *q;
	long hz = sysconf(_SC_CLK_TCK);
	unsigned long long v[10] = {0};

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, buf, sizeof(buf)) > 0 && (q = strrchr(buf, ')'))) {
		unsigned long long minflt, majflt, ut, st, threads;

		/* after "comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
		 * cmajflt utime stime cutime cstime priority nice num_threads */
		if (sscanf(q + 2,
			   "%*c %*d %*d %*d %*d %*d %*u %llu %*u %llu %*u %llu %llu %*d %*d "
			   "%*d %*d %llu",
			   &minflt, &majflt, &ut, &st, &threads) == 5) {
			c->minflt = minflt;
			c->majflt = majflt;
			c->utime_s = (double)ut / (double)hz;
			c->stime_s = (double)st / (double)hz;
			p->threads = threads;
			c->valid = true;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file(path, buf, sizeof(buf)) > 0) {
		p->rss_bytes = status_kb(buf, "VmRSS:");
		p->anon_bytes = status_kb(buf, "RssAnon:");
		p->file_bytes = status_kb(buf, "RssFile:");
		c->vol = status_num(buf, "\nvoluntary_ctxt_switches:");
		c->invol = status_num(buf, "nonvoluntary_ctxt_switches:");
	}
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	if (read_file(path, buf, sizeof(buf)) > 0) {
		c->read_bytes = status_num(buf, "\nread_bytes:");
		c->write_bytes = status_num(buf, "\nwrite_bytes:");
	}
	/* The target's network namespace: every interface but lo. */
	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	if (read_file(path, buf, sizeof(buf)) > 0) {
		for (char *line = strchr(buf, '\n'); line && (line = strchr(line + 1, '\n'));) {
			char name[32];
			unsigned long long rx, tx;

			if (sscanf(line + 1, " %31[^:]: %llu %*u %*u %*u %*u %*u %*u %*u %llu",
				   name, &rx, &tx) == 3 &&
			    strcmp(name, "lo") != 0) {
				c->rx += rx;
				c->tx += tx;
			}
		}
	}
	if (read_file("/proc/stat", buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		c->host_total = (double)(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]);
		c->host_busy = c->host_total - (double)(v[3] + v[4]);
	}
	if (read_file("/proc/meminfo", buf, sizeof(buf)) > 0)
		p->mem_available = status_kb(buf, "MemAvailable:");
}

static uint64_t count_fds(pid_t pid)
{
	char path[64];
	uint64_t n = 0;
	DIR *dir;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Halves the series when full (adjacent points merge: counters add, levels average), so a run of
 * any length keeps TIMELINE_MAX_POINTS points. */
static void timeline_downsample(struct profile_run *run)
{
	size_t n = 0;

	for (size_t i = 0; i + 1 < run->n_points; i += 2) {
		struct timeline_point *a = &run->points[i], *b = &run->points[i + 1], m = *b;

		m.cpu_user_pct = (a->cpu_user_pct + b->cpu_user_pct) / 2;
		m.cpu_sys_pct = (a->cpu_sys_pct + b->cpu_sys_pct) / 2;
		m.host_cpu_pct = (a->host_cpu_pct + b->host_cpu_pct) / 2;
		m.read_bytes += a->read_bytes;
		m.write_bytes += a->write_bytes;
		m.net_rx_bytes += a->net_rx_bytes;
		m.net_tx_bytes += a->net_tx_bytes;
		m.ctx_voluntary += a->ctx_voluntary;
		m.ctx_involuntary += a->ctx_involuntary;
		m.minor_faults += a->minor_faults;
		m.major_faults += a->major_faults;
		run->points[n++] = m;
	}
	run->n_points = n;
}

static uint64_t delta(uint64_t now, uint64_t before)
{
	return now > before ? now - before : 0;
}

/* Every interval: one timeline point from /proc (the first call only sets the baseline). */
static int timeline_tick(void *ctx, struct session *s, double t)
{
	struct profile_run *run = ctx;
	struct timeline_point p = {.t = t};
	struct proc_counters c;
	double dt = t - run->last_t;

	read_counters(s->pid, &c, &p);
	p.fds = count_fds(s->pid);
	p.heap_bytes = run->leaks ? leak_collector_heap_bytes(run->leaks) : 0;
	if (!c.valid)
		return 0; /* the target is gone: nothing to read */
	if (run->last.valid && dt > 0) {
		p.cpu_user_pct = (c.utime_s - run->last.utime_s) / dt * 100;
		p.cpu_sys_pct = (c.stime_s - run->last.stime_s) / dt * 100;
		if (c.host_total > run->last.host_total)
			p.host_cpu_pct = (c.host_busy - run->last.host_busy) /
					 (c.host_total - run->last.host_total) * 100;
		p.read_bytes = delta(c.read_bytes, run->last.read_bytes);
		p.write_bytes = delta(c.write_bytes, run->last.write_bytes);
		p.net_rx_bytes = delta(c.rx, run->last.rx);
		p.net_tx_bytes = delta(c.tx, run->last.tx);
		p.ctx_voluntary = delta(c.vol, run->last.vol);
		p.ctx_involuntary = delta(c.invol, run->last.invol);
		p.minor_faults = delta(c.minflt, run->last.minflt);
		p.major_faults = delta(c.majflt, run->last.majflt);
		if (run->n_points == TIMELINE_MAX_POINTS)
			timeline_downsample(run);
		run->points[run->n_points++] = p;
	} else {
		run->first_rss = p.rss_bytes;
	}
	if (p.rss_bytes > run->peak_rss)
		run->peak_rss = p.rss_bytes;
	run->last = c;
	run->last_t = t;
	return 0;
}

static int timeline_start(void *ctx, struct session *s)
{
	return timeline_tick(ctx, s, 0);
}

/* The load command: sh -c CMD in its own process group, output to an unlinked temporary file
 * (its tail goes into the report). */
static int load_start(void *ctx, struct session *s)
{
	struct profile_run *run = ctx;
	char path[] = "/tmp/smolder-load-XXXXXX";
	sigset_t none;
	pid_t pid;

	if (!run->opts->during)
		return 0;
	run->load_out_fd = mkstemp(path);
	if (run->load_out_fd < 0)
		return -errno;
	unlink(path);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		dup2(run->load_out_fd, STDOUT_FILENO);
		dup2(run->load_out_fd, STDERR_FILENO);
		execl("/bin/sh", "sh", "-c", run->opts->during, (char *)NULL);
		_exit(127);
	}
	run->load_pid = pid;
	run->load_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	run->load_start_s = session_elapsed(s);
	log_info("load: started sh -c '%s' (PID %d)", run->opts->during, (int)pid);
	return 0;
}

static void load_reaped(struct profile_run *run, struct session *s, int status)
{
	run->load_done = true;
	run->load_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	run->load_end_s = session_elapsed(s);
}

static int load_fd(void *ctx)
{
	struct profile_run *run = ctx;

	return run->load_pidfd;
}

/* Polled with the loop: the run ends when the load command exits. */
static int load_poll(void *ctx, struct session *s, int timeout_ms)
{
	struct profile_run *run = ctx;
	int status;

	(void)timeout_ms;
	if (run->load_pid > 0 && !run->load_done &&
	    waitpid(run->load_pid, &status, WNOHANG) == run->load_pid) {
		load_reaped(run, s, status);
		log_info("load: finished with status %d after %.1f s", run->load_status,
			 run->load_end_s - run->load_start_s);
		session_request_stop(s, "load command finished");
	}
	return 0;
}

/* The run ended first (-d, Ctrl-C, target exit): the load command is ended too. */
static int load_stop(void *ctx, struct session *s, double t)
{
	struct profile_run *run = ctx;
	int status;

	(void)t;
	if (run->load_pid <= 0 || run->load_done)
		return 0;
	kill(-run->load_pid, SIGTERM);
	if (waitpid(run->load_pid, &status, 0) == run->load_pid)
		load_reaped(run, s, status);
	return 0;
}

static void load_read_tail(struct profile_run *run)
{
	off_t end;
	ssize_t n;

	if (run->load_out_fd < 0)
		return;
	end = lseek(run->load_out_fd, 0, SEEK_END);
	if (end < 0)
		return;
	n = pread(run->load_out_fd, run->load_tail, LOAD_TAIL_BYTES,
		  end > LOAD_TAIL_BYTES ? end - LOAD_TAIL_BYTES : 0);
	run->load_tail[n > 0 ? n : 0] = '\0';
}

/* Operations done, from the load tool's summary anywhere in its output (redis-benchmark prints
 * one per test, far above its tail): wrk and demo_load "N requests in", ab "Complete requests: N",
 * redis-benchmark "N requests completed in" (summed). NAN when none matches or unreadable. */
static double ops_from_output(int fd)
{
	double total = 0;
	bool found = false;
	char line[512];
	int copy = fd >= 0 ? dup(fd) : -1;
	FILE *fp = copy >= 0 ? fdopen(copy, "r") : NULL;

	if (!fp) {
		if (copy >= 0)
			close(copy);
		return NAN;
	}
	rewind(fp);
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long n;
		char *at = strstr(line, " requests in ");

		if (!at)
			at = strstr(line, " requests completed in ");
		if (at) {
			/* The count right before the phrase ("demo_load: 123 requests in"). */
			char *start = at;

			while (start > line && start[-1] >= '0' && start[-1] <= '9')
				start--;
			if (start < at && sscanf(start, "%llu", &n) == 1) {
				total += (double)n;
				found = true;
			}
		} else if (sscanf(line, "Complete requests: %llu", &n) == 1) {
			total += (double)n;
			found = true;
		}
	}
	fclose(fp);
	return found ? total : NAN;
}

struct func_share {
	char *name;
	uint64_t self, total, last_line;
};

struct func_table {
	struct func_share *items;
	size_t n, cap;
	struct u64_map index; /* name hash -> index (collisions fall back to a scan) */
};

static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

static struct func_share *func_get(struct func_table *t, const char *name, size_t len)
{
	uint64_t h = name_hash(name, len), idx;

	if (u64_map_get(&t->index, h, &idx) && strlen(t->items[idx].name) == len &&
	    memcmp(t->items[idx].name, name, len) == 0)
		return &t->items[idx];
	for (size_t i = 0; i < t->n; i++) /* hash collision: rare */
		if (strlen(t->items[i].name) == len && memcmp(t->items[i].name, name, len) == 0)
			return &t->items[i];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct func_share *grown = realloc(t->items, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		t->items = grown;
		t->cap = cap;
	}
	t->items[t->n] = (struct func_share){.name = strndup(name, len), .last_line = UINT64_MAX};
	if (!t->items[t->n].name || u64_map_put(&t->index, h, t->n))
		return NULL;
	return &t->items[t->n++];
}

static int func_cmp(const void *a, const void *b)
{
	const struct func_share *x = a, *y = b;

	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return x->self < y->self ? 1 : x->self > y->self ? -1 : 0;
}

/* Self and total weight per function over the folded lines: total once per stack holding it,
 * self as the leaf. 0 or -ENOMEM. */
static int func_table_fill(struct func_table *t, const struct profile_folded *folded, uint64_t *sum)
{
	const char *line;
	uint64_t w;

	*sum = 0;
	for (size_t i = 0; (line = profile_folded_line(folded, i, &w)); i++) {
		const char *p = line;

		*sum += w;
		while (*p) {
			const char *end = strchr(p, ';');
			size_t len = end ? (size_t)(end - p) : strlen(p);
			struct func_share *f = func_get(t, p, len);

			if (!f)
				return -ENOMEM;
			if (f->last_line != i) {
				f->total += w;
				f->last_line = i;
			}
			if (!end)
				f->self += w;
			p = end ? end + 1 : p + len;
		}
	}
	qsort(t->items, t->n, sizeof(*t->items), func_cmp);
	return 0;
}

static void func_table_release(struct func_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->items[i].name);
	free(t->items);
	u64_map_release(&t->index);
}

static bool is_marker(const char *name)
{
	return name[0] == '[' || strcmp(name, "_start") == 0 || strcmp(name, "main") == 0 ||
	       strcmp(name, "__libc_start_main") == 0 ||
	       strcmp(name, "__libc_start_call_main") == 0 || strcmp(name, "start_thread") == 0 ||
	       strcmp(name, "clone3") == 0 || strstr(name, "_[k]") != NULL;
}

struct profile_figures {
	double ops, cpu_s;
	uint64_t samples, lost;
	struct leak_report *mem;
};

static void write_findings(struct json_writer *w, const struct func_table *ft, uint64_t sum,
			   const struct profile_run *run, const struct profile_figures *fig,
			   double duration)
{
	char text[512], a[64], b[64];

	json_key(w, "findings");
	json_array_begin(w);
	/* The function with the most self time that is not a root or marker frame. */
	const struct func_share *hot = NULL;

	for (size_t i = 0; sum && i < ft->n; i++)
		if (!is_marker(ft->items[i].name) && (!hot || ft->items[i].self > hot->self))
			hot = &ft->items[i];
	for (size_t shown = 0; hot && shown < 1 && (double)hot->total / (double)sum >= 0.05;
	     shown++) {
		const struct func_share *f = hot;

		snprintf(text, sizeof(text), "%.0f%% of CPU in %s (%.0f%% in itself)",
			 100.0 * (double)f->total / (double)sum, f->name,
			 100.0 * (double)f->self / (double)sum);
		json_object_begin(w);
		json_key(w, "kind");
		json_string(w, "cpu");
		json_key(w, "text");
		json_string(w, text);
		json_object_end(w);
	}
	for (size_t i = 0; fig->mem && i < fig->mem->n_sites && i < 3; i++) {
		const struct leak_site *site = &fig->mem->sites[i];
		const char *fn = site->n_frames ? site->frames[site->n_frames - 1] : "?";

		if (site->growth.verdict != GROWTH_LEAK)
			continue;
		/* The caller of the allocator names the site. */
		if (site->n_frames >= 2)
			fn = site->frames[site->n_frames - 2];
		growth_format_rate(site->growth.rate, a, sizeof(a));
		if (!isnan(fig->ops) && fig->ops > 0)
			snprintf(text, sizeof(text), "%s leaks %s per operation (%s)", fn,
				 growth_format_bytes(
					 (double)(site->outstanding_bytes - site->first_bytes) /
						 fig->ops,
					 b, sizeof(b)),
				 a);
		else
			snprintf(text, sizeof(text), "%s leaks %s", fn, a);
		json_object_begin(w);
		json_key(w, "kind");
		json_string(w, "memory");
		json_key(w, "text");
		json_string(w, text);
		json_object_end(w);
	}
	if (run->n_points >= 2 && duration > 0) {
		double grew =
			(double)run->points[run->n_points - 1].rss_bytes - (double)run->first_rss;

		if (grew > 1024 * 1024) {
			snprintf(text, sizeof(text), "RSS grew %s in %.0f s (%s/min)",
				 growth_format_bytes(grew, a, sizeof(a)), duration,
				 growth_format_bytes(grew / duration * 60, b, sizeof(b)));
			json_object_begin(w);
			json_key(w, "kind");
			json_string(w, "rss");
			json_key(w, "text");
			json_string(w, text);
			json_object_end(w);
		}
	}
	json_array_end(w);
}

static void write_timeline(struct json_writer *w, const struct profile_run *run)
{
	json_key(w, "timeline");
	json_array_begin(w);
	for (size_t i = 0; i < run->n_points; i++) {
		const struct timeline_point *p = &run->points[i];

		json_object_begin(w);
		json_key(w, "t");
		json_double(w, p->t);
		json_key(w, "cpu_user_pct");
		json_double(w, p->cpu_user_pct);
		json_key(w, "cpu_sys_pct");
		json_double(w, p->cpu_sys_pct);
		json_key(w, "rss_bytes");
		json_uint(w, p->rss_bytes);
		json_key(w, "rss_anon_bytes");
		json_uint(w, p->anon_bytes);
		json_key(w, "rss_file_bytes");
		json_uint(w, p->file_bytes);
		json_key(w, "heap_bytes");
		json_uint(w, p->heap_bytes);
		json_key(w, "threads");
		json_uint(w, p->threads);
		json_key(w, "fds");
		json_uint(w, p->fds);
		json_key(w, "read_bytes");
		json_uint(w, p->read_bytes);
		json_key(w, "write_bytes");
		json_uint(w, p->write_bytes);
		json_key(w, "net_rx_bytes");
		json_uint(w, p->net_rx_bytes);
		json_key(w, "net_tx_bytes");
		json_uint(w, p->net_tx_bytes);
		json_key(w, "ctx_voluntary");
		json_uint(w, p->ctx_voluntary);
		json_key(w, "ctx_involuntary");
		json_uint(w, p->ctx_involuntary);
		json_key(w, "minor_faults");
		json_uint(w, p->minor_faults);
		json_key(w, "major_faults");
		json_uint(w, p->major_faults);
		json_key(w, "host_cpu_pct");
		json_double(w, p->host_cpu_pct);
		json_key(w, "mem_available_bytes");
		json_uint(w, p->mem_available);
		json_object_end(w);
	}
	json_array_end(w);
}

static int write_json(FILE *fp, struct session *s, const struct profile_run *run,
		      const struct profile_figures *fig, const struct profile_folded *folded)
{
	struct func_table ft = {0};
	struct json_writer w;
	uint64_t sum = 0, leaked = 0, allocs = 0, outstanding = 0;
	double rss_growth = 0;
	struct rusage self;
	int err = func_table_fill(&ft, folded, &sum);

	if (err) {
		func_table_release(&ft);
		return err;
	}
	if (fig->mem) {
		for (size_t i = 0; i < fig->mem->n_sites; i++) {
			const struct leak_site *site = &fig->mem->sites[i];

			outstanding += site->outstanding_bytes;
			allocs += site->alloc_count_last;
			if (site->growth.verdict == GROWTH_LEAK &&
			    site->outstanding_bytes > site->first_bytes)
				leaked += site->outstanding_bytes - site->first_bytes;
		}
	}
	if (run->n_points)
		rss_growth =
			(double)run->points[run->n_points - 1].rss_bytes - (double)run->first_rss;
	json_writer_init(&w, fp, true);
	json_object_begin(&w);
	json_key(&w, "pid");
	json_int(&w, s->pid);
	json_key(&w, "command");
	json_string(&w, s->comm);
	json_key(&w, "duration_s");
	json_double(&w, s->duration_s);
	json_key(&w, "interval_s");
	json_double(&w, (double)s->opts.interval_ns / 1e9);
	json_key(&w, "stop_reason");
	json_string(&w, s->stop_requested ? s->stop_requested : run_control_reason_name(s->stop));
	if (run->opts->during) {
		json_key(&w, "load");
		json_object_begin(&w);
		json_key(&w, "command");
		json_string(&w, run->opts->during);
		json_key(&w, "exit_status");
		if (run->load_done)
			json_int(&w, run->load_status);
		else
			json_null(&w);
		json_key(&w, "start_s");
		json_double(&w, run->load_start_s);
		json_key(&w, "end_s");
		json_double(&w, run->load_done ? run->load_end_s : s->duration_s);
		json_key(&w, "output_tail");
		json_string(&w, run->load_tail);
		json_object_end(&w);
	}
	json_key(&w, "ops");
	if (isnan(fig->ops))
		json_null(&w);
	else
		json_double(&w, fig->ops);
	if (!isnan(fig->ops) && fig->ops > 0) {
		json_key(&w, "per_op");
		json_object_begin(&w);
		json_key(&w, "cpu_s");
		json_double(&w, fig->cpu_s / fig->ops);
		if (fig->mem) {
			json_key(&w, "allocations");
			json_double(&w, (double)allocs / fig->ops);
			json_key(&w, "leaked_bytes");
			json_double(&w, (double)leaked / fig->ops);
			json_key(&w, "leaked_bytes_per_100_ops");
			json_double(&w, (double)leaked / fig->ops * 100);
		}
		json_key(&w, "rss_growth_bytes");
		json_double(&w, rss_growth / fig->ops);
		json_object_end(&w);
	}
	json_key(&w, "cpu");
	json_object_begin(&w);
	json_key(&w, "samples");
	json_uint(&w, fig->samples);
	json_key(&w, "cpu_s");
	json_double(&w, fig->cpu_s);
	json_key(&w, "functions");
	json_array_begin(&w);
	for (size_t i = 0; sum && i < ft.n && i < PROFILE_TOP_FUNCS; i++) {
		json_object_begin(&w);
		json_key(&w, "name");
		json_string(&w, ft.items[i].name);
		json_key(&w, "self");
		json_double(&w, (double)ft.items[i].self / (double)sum);
		json_key(&w, "total");
		json_double(&w, (double)ft.items[i].total / (double)sum);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_end(&w);
	if (fig->mem) {
		json_key(&w, "memory");
		json_object_begin(&w);
		json_key(&w, "totals");
		json_object_begin(&w);
		json_key(&w, "outstanding_bytes");
		json_uint(&w, outstanding);
		json_key(&w, "tracked_allocs");
		json_uint(&w, fig->mem->stats[SMOLDER_STAT_ALLOCS]);
		json_key(&w, "leaked_bytes");
		json_uint(&w, leaked);
		json_object_end(&w);
		json_key(&w, "sites");
		json_array_begin(&w);
		for (size_t i = 0; i < fig->mem->n_sites && i < 100; i++) {
			const struct leak_site *site = &fig->mem->sites[i];

			json_object_begin(&w);
			json_key(&w, "stack");
			json_array_begin(&w);
			for (size_t k = 0; k < site->n_frames; k++)
				json_string(&w, site->frames[k]);
			json_array_end(&w);
			json_key(&w, "outstanding_bytes");
			json_uint(&w, site->outstanding_bytes);
			json_key(&w, "growth_bytes_per_s");
			json_double(&w, site->growth.rate);
			json_key(&w, "verdict");
			json_string(&w, growth_verdict_name(site->growth.verdict));
			json_key(&w, "confidence");
			json_double(&w, site->growth.confidence);
			json_object_end(&w);
		}
		json_array_end(&w);
		json_object_end(&w);
	}
	write_timeline(&w, run);
	write_findings(&w, &ft, sum, run, fig, s->duration_s);
	json_key(&w, "dropped");
	json_object_begin(&w);
	json_key(&w, "cpu_samples");
	json_uint(&w, fig->lost);
	if (fig->mem) {
		json_key(&w, "allocations");
		json_uint(&w, fig->mem->stats[SMOLDER_STAT_ALLOC_TABLE_FULL] +
				      fig->mem->stats[SMOLDER_STAT_THREAD_TABLE_FULL]);
		json_key(&w, "stacks");
		json_uint(&w, fig->mem->stats[SMOLDER_STAT_RINGBUF_FULL] +
				      fig->mem->stats[SMOLDER_STAT_STACK_TABLE_FULL] +
				      fig->mem->stats[SMOLDER_STAT_SNAPSHOT_THROTTLED]);
	}
	json_object_end(&w);
	/* How it was measured: smolder's own cost. */
	getrusage(RUSAGE_SELF, &self);
	json_key(&w, "smolder");
	json_object_begin(&w);
	json_key(&w, "cpu_s");
	json_double(&w, (double)self.ru_utime.tv_sec + (double)self.ru_utime.tv_usec / 1e6 +
				(double)self.ru_stime.tv_sec + (double)self.ru_stime.tv_usec / 1e6);
	json_key(&w, "max_rss_bytes");
	json_uint(&w, (uint64_t)self.ru_maxrss * 1024);
	json_object_end(&w);
	json_object_end(&w);
	func_table_release(&ft);
	return json_writer_finish(&w);
}

/* Writes the JSON report(s) and the on-CPU flame graph(s). Returns a smolder exit code. */
static int profile_write(struct session *s, struct profile_run *run,
			 const struct profile_figures *fig, struct profile_folded *folded,
			 const struct cli_output *outs, size_t n_outs,
			 const struct profile_output_options *oo,
			 const struct profile_output_meta *meta)
{
	int status = SMOLDER_EXIT_OK;

	for (size_t i = 0; i < n_outs; i++) {
		struct output_file f = {0};
		int err;

		if (outs[i].format != OUTPUT_FORMAT_JSON) {
			if (profile_output_write(folded, &outs[i], 1, oo, meta))
				status = SMOLDER_EXIT_INTERNAL;
			continue;
		}
		err = output_file_open(&f, outs[i].path);
		if (!err)
			err = write_json(f.fp, s, run, fig, folded);
		if (!err)
			err = output_file_commit(&f);
		else if (f.fp)
			output_file_abort(&f);
		if (err) {
			log_error("cannot write %s: %s", outs[i].path,
				  strerror(err < 0 ? -err : EIO));
			status = SMOLDER_EXIT_INTERNAL;
		} else {
			log_info("wrote %s", outs[i].path);
		}
	}
	return status;
}

int cmd_profile(const struct cli_options *opts)
{
	struct session_options so = {
		.pid = opts->pid,
		.pids = opts->pids,
		.n_pids = opts->n_pids,
		.launch_argv = opts->launch_argv,
		.duration_ns = opts->duration_ns,
		.interval_ns = opts->interval_ns,
		.launch_end = SESSION_LAUNCH_STOP,
	};
	struct cpu_collector_options co = {
		.frequency_hz = opts->frequency_hz,
		.backend = SAMPLE_BACKEND_BPF,
		.children = CLI_CHILDREN_NONE,
		.native = opts->native,
		.python_by_function = opts->python_by_function,
	};
	struct leak_collector_options lo = {.native = opts->native,
					    .python_by_function = opts->python_by_function};
	struct profile_output_options oo = {
		.title = "CPU",
		.countname = "samples",
		.colors = "hot",
	};
	struct profile_run *run = calloc(1, sizeof(*run));
	struct session_collector plug;
	struct cpu_collector *cc = NULL;
	struct profile_folded *folded = NULL;
	struct profile_output_meta meta;
	struct profile_figures fig = {.ops = NAN};
	struct cli_output def;
	const struct cli_output *outs = opts->outputs;
	size_t n_outs = opts->n_outputs;
	char default_path[96], err[512];
	struct session s;
	int status, run_status;

	memset(&s, 0, sizeof(s));
	if (!run || !(run->points = calloc(TIMELINE_MAX_POINTS, sizeof(*run->points)))) {
		log_error("out of memory");
		free(run);
		return SMOLDER_EXIT_INTERNAL;
	}
	run->opts = opts;
	run->load_out_fd = -1;
	run->load_pidfd = -1;
	status = session_open(&s, &so);
	if (status)
		goto out;
	if (n_outs == 0) {
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		snprintf(default_path, sizeof(default_path),
			 "smolder-%d-%04d%02d%02d-%02d%02d%02d.json", (int)s.pid, tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		if (output_file_check(default_path, err, sizeof(err)) != 0) {
			log_error("%s", err);
			status = SMOLDER_EXIT_USAGE;
			goto out;
		}
		def.path = default_path;
		def.format = OUTPUT_FORMAT_JSON;
		outs = &def;
		n_outs = 1;
	}
	if (!opts->no_off_cpu)
		log_info("off-CPU time is not collected yet (profile collects on-CPU samples, "
			 "allocations and the /proc timeline)");
	cc = cpu_collector_new(&co);
	if (!opts->no_memory)
		run->leaks = leak_collector_new(&lo);
	if (!cc || (!opts->no_memory && !run->leaks)) {
		log_error("out of memory");
		status = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	cpu_collector_plug(cc, &plug);
	session_add(&s, &plug);
	if (run->leaks) {
		leak_collector_plug(run->leaks, &plug);
		session_add(&s, &plug);
	}
	plug = (struct session_collector){
		.name = "timeline", .ctx = run, .start = timeline_start, .tick = timeline_tick};
	session_add(&s, &plug);
	if (opts->during) {
		/* Its pidfd wakes the loop when the load command exits. */
		plug = (struct session_collector){.name = "load command",
						  .ctx = run,
						  .start = load_start,
						  .fd = load_fd,
						  .poll = load_poll,
						  .stop = load_stop};
		session_add(&s, &plug);
	}
	status = session_start(&s);
	if (status)
		goto out;
	log_info("profiling PID %d (%s) at %d Hz%s", s.pid, s.comm, opts->frequency_hz,
		 opts->during ? " during the load command" : "");
	run_status = session_run(&s);

	folded = cpu_collector_finish(cc, &s, &oo, &meta);
	if (!folded) {
		log_error("folding the profile: %s", strerror(errno));
		status = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	fig.samples = meta.samples;
	fig.lost = meta.lost;
	fig.cpu_s = !isnan(meta.cpu_time_s) ? meta.cpu_time_s
					    : (double)meta.samples / (double)opts->frequency_hz;
	if (run->leaks)
		fig.mem = leak_collector_finish(run->leaks, &s);
	load_read_tail(run);
	fig.ops = !isnan(opts->ops) ? opts->ops : ops_from_output(run->load_out_fd);
	if (!isnan(fig.ops))
		log_info("operations: %.0f%s", fig.ops,
			 isnan(opts->ops) ? " (from the load output)" : "");
	status = profile_write(&s, run, &fig, folded, outs, n_outs, &oo, &meta);
	if (status == SMOLDER_EXIT_OK)
		status = run_status;
	status = session_finish(&s, status);
out:
	profile_folded_free(folded);
	cpu_collector_free(cc);
	leak_collector_free(run->leaks);
	session_release(&s);
	if (run->load_pid > 0 && !run->load_done) {
		kill(-run->load_pid, SIGTERM);
		waitpid(run->load_pid, NULL, 0);
	}
	if (run->load_out_fd >= 0)
		close(run->load_out_fd);
	if (run->load_pidfd >= 0)
		close(run->load_pidfd);
	free(run->points);
	free(run);
	return status;
}
