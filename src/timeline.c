/* timeline.c: the /proc resource timeline collector of `smolder profile` (see timeline.h): reads
 * /proc/PID/{stat,status,io,net/dev,fd} and /proc/{stat,meminfo} every interval. */
#include "smolder/timeline.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smolder/leak_collector.h"
#include "smolder/session.h"
#include "smolder/target.h"

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

/* Context switches of the whole process: /proc/PID/status counts the main thread only, so the
 * threads' counts are summed (a thread that exited between two reads takes its count with it;
 * the delta of a falling sum is clamped to 0 by the caller). */
static void read_ctx_switches(pid_t pid, struct timeline_counters *c)
{
	char path[96], buf[4096];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status", (int)pid, de->d_name);
		if (target_read_file(path, buf, sizeof(buf)) <= 0)
			continue;
		c->vol += status_num(buf, "\nvoluntary_ctxt_switches:");
		c->invol += status_num(buf, "nonvoluntary_ctxt_switches:");
	}
	closedir(dir);
}

static void read_counters(pid_t pid, struct timeline_counters *c, struct timeline_point *p)
{
	char path[64], buf[8192], *q;
	long hz = sysconf(_SC_CLK_TCK);
	unsigned long long v[10] = {0};

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (target_read_file(path, buf, sizeof(buf)) > 0 && (q = strrchr(buf, ')'))) {
		unsigned long long minflt, majflt, ut, st, threads;
		char state = '?';

		/* after "comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
		 * cmajflt utime stime cutime cstime priority nice num_threads. A zombie (exited,
		 * not yet reaped) still has a stat line but no memory: its VmRSS line is gone,
		 * and a point read now would say RSS 0. */
		if (sscanf(q + 2,
			   "%c %*d %*d %*d %*d %*d %*u %llu %*u %llu %*u %llu %llu %*d %*d "
			   "%*d %*d %llu",
			   &state, &minflt, &majflt, &ut, &st, &threads) == 6 &&
		    state != 'Z' && state != 'X') {
			c->minflt = minflt;
			c->majflt = majflt;
			c->utime_s = (double)ut / (double)hz;
			c->stime_s = (double)st / (double)hz;
			p->threads = threads;
			c->valid = true;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (target_read_file(path, buf, sizeof(buf)) > 0) {
		p->rss_bytes = status_kb(buf, "VmRSS:");
		p->anon_bytes = status_kb(buf, "RssAnon:");
		p->file_bytes = status_kb(buf, "RssFile:");
	}
	read_ctx_switches(pid, c);
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	if (target_read_file(path, buf, sizeof(buf)) > 0) {
		c->read_bytes = status_num(buf, "\nread_bytes:");
		c->write_bytes = status_num(buf, "\nwrite_bytes:");
	}
	/* The target's network namespace, every interface: a load test on the same machine talks
	 * over lo, and leaving lo out would draw its traffic as zero. The counters are the
	 * namespace's, not the process's (Linux keeps no per-process byte counts). */
	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	if (target_read_file(path, buf, sizeof(buf)) > 0) {
		for (char *line = strchr(buf, '\n'); line && (line = strchr(line + 1, '\n'));) {
			char name[32];
			unsigned long long rx, tx;

			if (sscanf(line + 1, " %31[^:]: %llu %*u %*u %*u %*u %*u %*u %*u %llu",
				   name, &rx, &tx) == 3) {
				c->rx += rx;
				c->tx += tx;
			}
		}
	}
	if (target_read_file("/proc/stat", buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		c->host_total = (double)(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]);
		c->host_busy = c->host_total - (double)(v[3] + v[4]);
	}
	if (target_read_file("/proc/meminfo", buf, sizeof(buf)) > 0)
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

struct timeline *timeline_new(size_t max_points, struct leak_collector *leaks)
{
	struct timeline *tl = calloc(1, sizeof(*tl));

	if (!tl)
		return NULL;
	/* Halving needs at least a pair to merge. */
	tl->max_points = max_points ? (max_points < 2 ? 2 : max_points) : TIMELINE_MAX_POINTS;
	tl->points = calloc(tl->max_points, sizeof(*tl->points));
	if (!tl->points) {
		free(tl);
		errno = ENOMEM;
		return NULL;
	}
	tl->leaks = leaks;
	return tl;
}

void timeline_free(struct timeline *tl)
{
	if (!tl)
		return;
	free(tl->points);
	free(tl);
}

void timeline_downsample(struct timeline *tl)
{
	size_t n = 0;

	for (size_t i = 0; i + 1 < tl->n_points; i += 2) {
		struct timeline_point *a = &tl->points[i], *b = &tl->points[i + 1], m = *b;

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
		tl->points[n++] = m;
	}
	tl->n_points = n;
}

void timeline_append(struct timeline *tl, const struct timeline_point *p)
{
	if (tl->n_points == tl->max_points)
		timeline_downsample(tl);
	tl->points[tl->n_points++] = *p;
}

double timeline_rss_growth(const struct timeline *tl)
{
	if (!tl || !tl->n_points)
		return 0;
	return (double)tl->points[tl->n_points - 1].rss_bytes - (double)tl->first_rss;
}

static uint64_t delta(uint64_t now, uint64_t before)
{
	return now > before ? now - before : 0;
}

/* Every interval: one timeline point from /proc (the first call only sets the baseline). */
static int timeline_tick(void *ctx, struct session *s, double t)
{
	struct timeline *tl = ctx;
	struct timeline_point p = {.t = t};
	struct timeline_counters c;
	double dt = t - tl->last_t;

	read_counters(s->pid, &c, &p);
	p.fds = count_fds(s->pid);
	p.heap_bytes = tl->leaks ? leak_collector_heap_bytes(tl->leaks) : 0;
	if (!c.valid)
		return 0; /* the target is gone: nothing to read */
	if (tl->last.valid && dt > 0) {
		p.cpu_user_pct = (c.utime_s - tl->last.utime_s) / dt * 100;
		p.cpu_sys_pct = (c.stime_s - tl->last.stime_s) / dt * 100;
		if (c.host_total > tl->last.host_total)
			p.host_cpu_pct = (c.host_busy - tl->last.host_busy) /
					 (c.host_total - tl->last.host_total) * 100;
		p.read_bytes = delta(c.read_bytes, tl->last.read_bytes);
		p.write_bytes = delta(c.write_bytes, tl->last.write_bytes);
		p.net_rx_bytes = delta(c.rx, tl->last.rx);
		p.net_tx_bytes = delta(c.tx, tl->last.tx);
		p.ctx_voluntary = delta(c.vol, tl->last.vol);
		p.ctx_involuntary = delta(c.invol, tl->last.invol);
		p.minor_faults = delta(c.minflt, tl->last.minflt);
		p.major_faults = delta(c.majflt, tl->last.majflt);
		timeline_append(tl, &p);
	} else {
		tl->first_rss = p.rss_bytes;
	}
	if (p.rss_bytes > tl->peak_rss)
		tl->peak_rss = p.rss_bytes;
	tl->last = c;
	tl->last_t = t;
	return 0;
}

static int timeline_start(void *ctx, struct session *s)
{
	return timeline_tick(ctx, s, 0);
}

void timeline_plug(struct timeline *tl, struct session_collector *plug)
{
	*plug = (struct session_collector){
		.name = "timeline", .ctx = tl, .start = timeline_start, .tick = timeline_tick};
}
