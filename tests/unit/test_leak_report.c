/* test_leak_report.c: the `smolder leaks` report without BPF: sites fed through the growth API as
 * cmd_leaks.c's take_sample does, then analysis (empty sites dropped, ranking by growth rate,
 * leak / plateau / churn verdicts, completeness from the table-full counters) and the writers:
 * JSON parsed for real by python3 (schema of DESIGN.md, hostile frame names escaped), the text
 * summary's ranking and human units, and the memory flame graphs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smolder/alloc_tracker.h"
#include "smolder/leak_report.h"

/* Stack ids of the scenario's sites. */
enum {
	ID_PLATEAU = 10,
	ID_SLOW = 20,
	ID_FAST = 30, /* also the mmap site: same stack, other kind */
	ID_CHURN = 40,
	ID_EMPTY = 50,
	ID_SHRINK = 60,
};

#define KIB 1024.0

/* Gives a site frames and locations (root first) the way leak_report_symbolize does: heap strings
 * owned by the site, freed by leak_report_release. */
static void set_frames(struct leak_site *s, const char *const *names, const char *const *locations,
		       size_t n)
{
	s->frames = calloc(n, sizeof(char *));
	s->locations = calloc(n, sizeof(char *));
	assert_non_null(s->frames);
	assert_non_null(s->locations);
	for (size_t k = 0; k < n; k++) {
		s->frames[k] = strdup(names[k]);
		assert_non_null(s->frames[k]);
		if (locations && locations[k]) {
			s->locations[k] = strdup(locations[k]);
			assert_non_null(s->locations[k]);
		}
	}
	s->n_frames = n;
}

/* One snapshot of one site, exactly as cmd_leaks.c's take_sample records it. */
static void sample(struct leak_site *s, double t, uint64_t outstanding, uint64_t outstanding_allocs,
		   uint64_t alloc_bytes, uint64_t alloc_count)
{
	if (s->series.samples == 0) {
		s->first_bytes = outstanding;
		s->alloc_bytes_first = alloc_bytes;
	}
	growth_series_add(&s->series, t, (double)outstanding);
	s->outstanding_bytes = outstanding;
	s->outstanding_allocs = outstanding_allocs;
	s->alloc_bytes_last = alloc_bytes;
	s->alloc_count_last = alloc_count;
}

static const char *const fast_frames[] = {"main", "serve_client", "store_put", "malloc"};
static const char *const fast_locations[] = {"server.c:10", NULL, "store.c:42", NULL};
static const char *const slow_frames[] = {"f0", "f1", "f2", "f3", "f4",
					  "f5", "f6", "f7", "f8", "slow_leaf"};
/* Frame names a symbolizer can hand back from hostile binaries. */
static const char *const hostile_frames[] = {
	"main",
	"q\"uote",
	"back\\slash",
	"ctl\x01\x1f\n\r\t\x7f",
	"bad\xff\xfeutf8",
	"trunc\xc3",
	"surrogate\xed\xa0\x80",
	"overlong\xc0\xaf",
	"na\xc3\xafve \xe2\x82\xac \xf0\x9f\x94\xa5",
	"semi;colon",
	"cache_fill",
};
static const char *const churn_frames[] = {"main", "churn_loop", "malloc"};
static const char *const shrink_frames[] = {"main", "drain", "free_list"};
static const char *const empty_frames[] = {"[stack unavailable]"};

/* A 60 s run at 1 s intervals. Sites are created out of rank order so the sort has work to do:
 *   plateau  grows 200 KiB/s for 20 s, then holds 4000 KiB    (rate 0, verdict plateau)
 *   slow     leaks 8 KiB/s                                    (leak)
 *   fast     leaks 100 KiB/s                                  (leak, ranked first)
 *   churn    holds 32 KiB while allocating 1 MiB/s            (rate 0, churn)
 *   empty    the "[stack unavailable]" site: nothing ever     (dropped)
 *   shrink   2 MiB allocated before the first sample, drained (negative rate, ranked last)
 *   mmap     same stack as fast, anonymous mmap, 64 KiB/s     (leak, in mmap_sites)
 * RSS grows 1 MiB/s from 100 MiB. */
static void build_report(struct leak_report *r)
{
	struct leak_site *plateau, *slow, *fast, *churn, *empty, *shrink, *mmap_site;

	memset(r, 0, sizeof(*r));
	r->pid = 4242;
	snprintf(r->command, sizeof(r->command), "srv\"q");
	r->duration_s = 60;
	r->interval_s = 1;
	r->stop_reason = "duration";
	r->stats[SMOLDER_STAT_ALLOCS] = 123456;
	r->stats[SMOLDER_STAT_FREES] = 100000;
	r->stats[SMOLDER_STAT_RINGBUF_FULL] = 7;
	r->probe_objects = 1;
	r->probe_points = 9;
	assert_int_equal(growth_series_init(&r->rss, 240), 0);
	assert_int_equal(growth_series_init(&r->anon, 240), 0);

	empty = leak_report_site(r, ID_EMPTY, ALLOC_SITE_UNAVAILABLE);
	assert_non_null(empty);
	set_frames(empty, empty_frames, NULL, 1);
	plateau = leak_report_site(r, ID_PLATEAU, 0);
	assert_non_null(plateau);
	set_frames(plateau, hostile_frames, NULL,
		   sizeof(hostile_frames) / sizeof(hostile_frames[0]));
	shrink = leak_report_site(r, ID_SHRINK, 0);
	assert_non_null(shrink);
	set_frames(shrink, shrink_frames, NULL, 3);
	slow = leak_report_site(r, ID_SLOW, ALLOC_SITE_TRUNCATED);
	assert_non_null(slow);
	set_frames(slow, slow_frames, NULL, 10);
	churn = leak_report_site(r, ID_CHURN, 0);
	assert_non_null(churn);
	set_frames(churn, churn_frames, NULL, 3);
	mmap_site = leak_report_site(r, ID_FAST, ALLOC_SITE_MMAP);
	assert_non_null(mmap_site);
	set_frames(mmap_site, fast_frames, NULL, 3);
	fast = leak_report_site(r, ID_FAST, 0);
	assert_non_null(fast);
	set_frames(fast, fast_frames, fast_locations, 4);
	assert_int_equal(r->n_sites, 7);

	for (int i = 0; i <= 60; i++) {
		double t = i;
		uint64_t p = (uint64_t)(fmin(t, 20) * 200 * KIB);

		/* Sites may move when the array grows: look them up each time, as take_sample. */
		sample(leak_report_site(r, ID_PLATEAU, 0), t, p, p / 1024, p, p / 1024);
		sample(leak_report_site(r, ID_SLOW, 0), t, (uint64_t)(t * 8 * KIB), (uint64_t)t * 8,
		       (uint64_t)(t * 8 * KIB), (uint64_t)t * 8);
		sample(leak_report_site(r, ID_FAST, 0), t, (uint64_t)(t * 100 * KIB),
		       (uint64_t)t * 100, (uint64_t)(t * 100 * KIB), (uint64_t)t * 100);
		sample(leak_report_site(r, ID_CHURN, 0), t, 32 * 1024, 32,
		       (uint64_t)(t * 1024 * KIB + 32 * KIB), (uint64_t)t * 1024 + 32);
		sample(leak_report_site(r, ID_EMPTY, 0), t, 0, 0, 0, 0);
		sample(leak_report_site(r, ID_SHRINK, 0), t, (uint64_t)(2048 * KIB - t * 10 * KIB),
		       2048 - (uint64_t)t * 10, 2048 * 1024, 2048);
		sample(leak_report_site(r, ID_FAST, ALLOC_SITE_MMAP), t, (uint64_t)(t * 64 * KIB),
		       (uint64_t)t, (uint64_t)(t * 64 * KIB), (uint64_t)t);
		growth_series_add(&r->rss, t, 100 * 1024 * KIB + t * 1024 * KIB);
		growth_series_add(&r->anon, t, 50 * 1024 * KIB + t * 1024 * KIB);
	}
	assert_int_equal(r->n_sites, 7); /* every lookup found its site */
}

static const struct leak_site *find_site(const struct leak_report *r, uint32_t id, uint32_t mmap)
{
	for (size_t i = 0; i < r->n_sites; i++) {
		if (r->sites[i].stack_id == id && (r->sites[i].flags & ALLOC_SITE_MMAP) == mmap)
			return &r->sites[i];
	}
	return NULL;
}

static void test_site_lookup(void **state)
{
	struct leak_report r = {0};
	struct leak_site *a, *b, *c;

	(void)state;
	a = leak_report_site(&r, 7, 0);
	assert_non_null(a);
	assert_int_equal(a->stack_id, 7);
	assert_non_null(a->series.points); /* ready for growth_series_add */
	/* Same stack, heap: the same site whatever the other flags say. */
	b = leak_report_site(&r, 7, ALLOC_SITE_TRUNCATED);
	assert_ptr_equal(a, b);
	/* Same stack, anonymous mmap: a site of its own. */
	c = leak_report_site(&r, 7, ALLOC_SITE_MMAP);
	assert_non_null(c);
	assert_int_equal(r.n_sites, 2);
	assert_int_equal(c->flags & ALLOC_SITE_MMAP, ALLOC_SITE_MMAP);
	/* Past the initial capacity the array grows; every site stays findable. */
	for (uint32_t id = 100; id < 300; id++)
		assert_non_null(leak_report_site(&r, id, 0));
	assert_int_equal(r.n_sites, 202);
	for (uint32_t id = 100; id < 300; id++)
		assert_int_equal(leak_report_site(&r, id, 0)->stack_id, id);
	assert_int_equal(leak_report_site(&r, 7, ALLOC_SITE_MMAP)->flags & ALLOC_SITE_MMAP,
			 ALLOC_SITE_MMAP);
	assert_int_equal(r.n_sites, 202);
	leak_report_release(&r);
	assert_null(r.sites);
	assert_int_equal(r.n_sites, 0);
}

static void test_analyse_drops_empty_sites(void **state)
{
	struct leak_report r;

	(void)state;
	build_report(&r);
	leak_report_analyse(&r);
	assert_int_equal(r.n_sites, 6);
	assert_null(find_site(&r, ID_EMPTY, 0));
	/* Allocated and freed everything: not empty, it churned. */
	assert_non_null(find_site(&r, ID_CHURN, 0));
	leak_report_release(&r);

	/* Nothing allocated during the run but memory outstanding at the first sample: kept (the
	 * blocks are real even if their allocation predates the counters). */
	memset(&r, 0, sizeof(r));
	r.duration_s = 10;
	r.interval_s = 1;
	struct leak_site *s = leak_report_site(&r, 1, 0), *e;

	assert_non_null(s);
	sample(s, 0, 4096, 1, 0, 0);
	e = leak_report_site(&r, 2, 0);
	assert_non_null(e);
	sample(e, 0, 0, 0, 0, 0);
	/* Not outstanding any more but allocated during the run: kept. */
	e = leak_report_site(&r, 3, 0);
	assert_non_null(e);
	sample(e, 0, 0, 0, 512, 1);
	leak_report_analyse(&r);
	assert_int_equal(r.n_sites, 2);
	assert_non_null(find_site(&r, 1, 0));
	assert_null(find_site(&r, 2, 0));
	assert_non_null(find_site(&r, 3, 0));
	leak_report_release(&r);
}

static void test_analyse_ranks_and_verdicts(void **state)
{
	struct leak_report r;
	static const uint32_t heap_order[] = {ID_FAST, ID_SLOW, ID_PLATEAU, ID_CHURN, ID_SHRINK};
	size_t heap = 0;

	(void)state;
	build_report(&r);
	leak_report_analyse(&r);
	assert_int_equal(r.n_sites, 6);
	/* Fastest first; the mmap site (64 KiB/s) between the two heap leaks. */
	for (size_t i = 0; i + 1 < r.n_sites; i++)
		assert_true(r.sites[i].growth.rate >= r.sites[i + 1].growth.rate);
	assert_int_equal(r.sites[1].stack_id, ID_FAST);
	assert_int_equal(r.sites[1].flags & ALLOC_SITE_MMAP, ALLOC_SITE_MMAP);
	for (size_t i = 0; i < r.n_sites; i++) {
		if (r.sites[i].flags & ALLOC_SITE_MMAP)
			continue;
		assert_true(heap < 5);
		assert_int_equal(r.sites[i].stack_id, heap_order[heap]);
		heap++;
	}
	assert_int_equal(heap, 5);

	const struct leak_site *fast = find_site(&r, ID_FAST, 0), *slow = find_site(&r, ID_SLOW, 0);
	const struct leak_site *plateau = find_site(&r, ID_PLATEAU, 0);
	const struct leak_site *churn = find_site(&r, ID_CHURN, 0);
	const struct leak_site *shrink = find_site(&r, ID_SHRINK, 0);
	const struct leak_site *mmap_site = find_site(&r, ID_FAST, ALLOC_SITE_MMAP);

	assert_int_equal(fast->growth.verdict, GROWTH_LEAK);
	assert_true(fabs(fast->growth.rate - 100 * KIB) < 1);
	assert_true(fast->growth.confidence > 0.8);
	assert_int_equal(slow->growth.verdict, GROWTH_LEAK);
	assert_true(fabs(slow->growth.rate - 8 * KIB) < 1);
	assert_int_equal(mmap_site->growth.verdict, GROWTH_LEAK);
	assert_true(fabs(mmap_site->growth.rate - 64 * KIB) < 1);
	/* Outstanding at the end but level for 40 s: a cache, not a leak. */
	assert_int_equal(plateau->growth.verdict, GROWTH_PLATEAU);
	assert_true(plateau->outstanding_bytes == 4000 * 1024);
	assert_true(fabs(plateau->growth.rate) < 1);
	assert_int_equal(churn->growth.verdict, GROWTH_CHURN);
	assert_true(shrink->growth.rate < 0);
	assert_true(shrink->growth.verdict != GROWTH_LEAK);
	/* The RSS trend is analysed too. */
	assert_true(fabs(r.rss_growth.rate - 1024 * KIB) < 1);
	assert_int_equal(r.rss_growth.verdict, GROWTH_LEAK);
	assert_true(r.complete);
	leak_report_release(&r);
}

/* Every counter that means "an allocation was not tracked because a table was full" makes the
 * report incomplete; the others (traffic, throughput) leave it complete. */
static void test_analyse_completeness(void **state)
{
	static const int table_full[] = {
		SMOLDER_STAT_ALLOC_TABLE_FULL, SMOLDER_STAT_SITE_TABLE_FULL,
		SMOLDER_STAT_STACK_TABLE_FULL, SMOLDER_STAT_THREAD_TABLE_FULL,
		SMOLDER_STAT_MMAP_TABLE_FULL,
	};
	static const int benign[] = {
		SMOLDER_STAT_ALLOCS,	      SMOLDER_STAT_FREES,	  SMOLDER_STAT_FREE_UNKNOWN,
		SMOLDER_STAT_SNAPSHOTS,	      SMOLDER_STAT_REALLOC_MOVED, SMOLDER_STAT_MMAP,
		SMOLDER_STAT_MUNMAP,	      SMOLDER_STAT_NESTED,	  SMOLDER_STAT_WALKS_CACHED,
		SMOLDER_STAT_STACK_TRUNCATED,
	};
	struct leak_report r = {0};

	(void)state;
	r.duration_s = 5;
	r.interval_s = 1;
	/* Zero stats, even after a previous verdict of incomplete. */
	r.complete = false;
	leak_report_analyse(&r);
	assert_true(r.complete);
	for (size_t i = 0; i < sizeof(benign) / sizeof(benign[0]); i++)
		r.stats[benign[i]] = 1000;
	leak_report_analyse(&r);
	assert_true(r.complete);
	for (size_t i = 0; i < sizeof(table_full) / sizeof(table_full[0]); i++) {
		r.stats[table_full[i]] = 1;
		r.complete = true;
		leak_report_analyse(&r);
		if (r.complete)
			fail_msg("stat %d (table full) left the report complete", table_full[i]);
		r.stats[table_full[i]] = 0;
		leak_report_analyse(&r);
		assert_true(r.complete);
	}
	assert_int_equal(r.n_sites, 0);
	leak_report_release(&r);
}

static void test_release_empty(void **state)
{
	struct leak_report r;

	(void)state;
	memset(&r, 0, sizeof(r));
	leak_report_release(&r);
	leak_report_release(&r); /* twice: everything was reset */
	leak_report_release(NULL);
	assert_null(r.sites);
	assert_int_equal(r.n_sites, 0);
	/* A built report released twice: the second is a no-op. */
	build_report(&r);
	leak_report_release(&r);
	assert_null(r.sites);
	assert_null(r.rss.points);
	leak_report_release(&r);
}

static char *write_text(const struct leak_report *r, size_t max_sites)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(leak_report_write_text(r, fp, max_sites), 0);
	assert_int_equal(fclose(fp), 0);
	assert_non_null(buf);
	return buf;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("missing \"%s\" in:\n%s", needle, haystack);
}

static void assert_lacks(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle))
		fail_msg("unexpected \"%s\" in:\n%s", needle, haystack);
}

/* A node Buffer's stack: 8 frames of V8 and node below the JS function that made it. The text
 * names that function (the application's, not node's own buffer module) below the 8 frames,
 * and still says how many frames there are and that the stack is truncated. */
static const char *const js_frames[] = {
	"[truncated]",
	"uv_run",
	"handle (layer.js:100)_[j]",
	"leakHandler (app.js:12)_[j]",
	"alloc (node:buffer:391)_[j]",
	"Builtins_CEntry",
	"n1",
	"n2",
	"n3",
	"n4",
	"n5",
	"n6",
	"n7",
	"malloc",
};

static void test_write_text_script_frame(void **state)
{
	struct leak_report r;
	struct leak_site *s;
	char *text;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.pid = 7;
	r.duration_s = 4;
	r.interval_s = 1;
	r.stop_reason = "duration";
	assert_int_equal(growth_series_init(&r.rss, 16), 0);
	assert_int_equal(growth_series_init(&r.anon, 16), 0);
	s = leak_report_site(&r, 1, ALLOC_SITE_TRUNCATED);
	assert_non_null(s);
	set_frames(s, js_frames, NULL, sizeof(js_frames) / sizeof(js_frames[0]));
	for (int t = 0; t <= 4; t++)
		sample(s, t, (uint64_t)t << 20, (uint64_t)t * 16, (uint64_t)t << 20,
		       (uint64_t)t * 16);
	leak_report_analyse(&r);
	text = write_text(&r, 10);
	assert_contains(text, "      n1\n      ... 2 more\n      leakHandler (app.js:12)_[j]\n"
			      "      ... 3 more, from [truncated]\n");
	free(text);
	leak_report_release(&r);
}

static void test_write_text(void **state)
{
	struct leak_report r;
	const char *a, *b;
	char *text;

	(void)state;
	build_report(&r);
	leak_report_analyse(&r);
	text = write_text(&r, 10);
	assert_contains(text, "pid 4242 (srv\"q), 60.0 s, interval 1 s, stopped by duration");
	assert_lacks(text, "INCOMPLETE");
	/* Ranked, with human rates per second and per hour. */
	assert_contains(text, "#1 leak    100 KiB/s (352 MiB/h)  confidence");
	assert_contains(text, "#2 leak    8.00 KiB/s (28.1 MiB/h)");
	assert_contains(text, "#3 plateau 0 B/s (0 B/h)");
	assert_contains(text, "outstanding 3.91 MiB in 4000 allocations");
	assert_contains(text, "#4 churn");
	assert_contains(text, "#5 steady");
	assert_lacks(text, "#6");
	/* Frames leaf first, with locations when known. */
	assert_contains(text, "      malloc\n      store_put (store.c:42)\n      serve_client\n"
			      "      main (server.c:10)\n");
	/* At most 8 frames per site. */
	assert_contains(text, "      slow_leaf\n      f8\n");
	/* ... and the hidden root of a truncated stack is still named. */
	assert_contains(text, "      f2\n      ... 2 more, from [truncated]\n");
	assert_lacks(text, "      f1\n");
	/* The mmap site in its own section, after the heap sites. */
	a = strstr(text, "Anonymous mmap sites:\n  #1 leak    64.0 KiB/s (225 MiB/h)");
	b = strstr(text, "#5 steady");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a > b);
	assert_contains(text, "RSS: 100 MiB -> 160 MiB, trend 1.00 MiB/s (3.52 GiB/h) (leak)");
	assert_contains(text, "Totals: 123456 allocations and 100000 frees tracked");
	assert_contains(text, "Dropped: 7 (");
	assert_contains(text, "ring buffer full 7");
	free(text);

	/* max_sites bounds the heap list. */
	text = write_text(&r, 2);
	assert_contains(text, "#2 leak");
	assert_lacks(text, "#3 ");
	free(text);

	/* A full table: the warning comes first, before any ranking. */
	r.stats[SMOLDER_STAT_ALLOC_TABLE_FULL] = 3;
	leak_report_analyse(&r);
	text = write_text(&r, 10);
	a = strstr(text, "WARNING: REPORT INCOMPLETE");
	assert_non_null(a);
	assert_true(a < strstr(text, "#1 "));
	assert_contains(text, "Dropped: 10 (alloc table full 3,");
	free(text);
	/* Every drop counter in the total is itemised: the parts add up to the total. */
	r.stats[SMOLDER_STAT_ALLOC_TABLE_FULL] = 0;
	r.stats[SMOLDER_STAT_THREAD_TABLE_FULL] = 2;
	r.stats[SMOLDER_STAT_MMAP_TABLE_FULL] = 4;
	leak_report_analyse(&r);
	text = write_text(&r, 10);
	assert_contains(text, "WARNING: REPORT INCOMPLETE");
	assert_contains(text, "Dropped: 13 (");
	assert_contains(text, "thread table full 2, mmap table full 4, ring buffer full 7");
	free(text);
	leak_report_release(&r);

	/* Nothing tracked: said so, not an empty list. */
	memset(&r, 0, sizeof(r));
	r.stop_reason = "signal";
	leak_report_analyse(&r);
	text = write_text(&r, 10);
	assert_contains(text, "(no heap allocations tracked)");
	assert_contains(text, "Heap outstanding: 0 B in 0 allocations");
	assert_lacks(text, "RSS:");
	free(text);
	leak_report_release(&r);
}

/* The checks a consumer of the JSON report relies on, in python so the file is parsed by a real,
 * strict JSON parser (UTF-8 decoding, no NaN/Infinity, no raw control characters). */
static const char json_check_py[] =
	"import json, sys\n"
	"def reject(c):\n"
	"    raise ValueError('non-standard constant ' + c)\n"
	"with open(sys.argv[1], encoding='utf-8', errors='strict') as f:\n"
	"    d = json.load(f, parse_constant=reject)\n"
	"def check(cond, what):\n"
	"    if not cond:\n"
	"        sys.exit('JSON check failed: ' + what)\n"
	"num = (int, float)\n"
	"check(d['pid'] == 4242, 'pid')\n"
	"check(d['command'] == 'srv\"q', 'command')\n"
	"check(d['duration_s'] == 60 and d['interval_s'] == 1, 'duration/interval')\n"
	"check(d['complete'] is (sys.argv[2] == 'complete'), 'complete')\n"
	"t = d['totals']\n"
	"check(t['outstanding_bytes'] == (100 + 8 + 0 + 0) * 60 * 1024 + 4000 * 1024 + 32 * 1024"
	" + (2048 - 600) * 1024, 'totals.outstanding_bytes')\n"
	"check(t['tracked_allocs'] == 123456, 'totals.tracked_allocs')\n"
	"check(t['lost_events'] == int(sys.argv[3]), 'totals.lost_events')\n"
	"check(t['mmap_outstanding_bytes'] == 64 * 60 * 1024, 'totals.mmap_outstanding_bytes')\n"
	"check(isinstance(d['rss'], list) and d['rss'][0] == {'t': 0, 'rss_bytes': 100 << 20},"
	" 'rss')\n"
	"sites = d['sites']\n"
	"check([s['verdict'] for s in sites] == ['leak', 'leak', 'plateau', 'churn', 'steady'],"
	" 'verdicts ' + repr([s['verdict'] for s in sites]))\n"
	"for s in sites + d['mmap_sites']:\n"
	"    check(isinstance(s['stack'], list) and s['stack'], 'stack')\n"
	"    check(all(isinstance(x, str) and x for x in s['stack']), 'frames are strings')\n"
	"    check(len(s['locations']) == len(s['stack']), 'locations')\n"
	"    check(isinstance(s['growth_bytes_per_s'], num), 'growth_bytes_per_s')\n"
	"    check(isinstance(s['outstanding_bytes'], int), 'outstanding_bytes')\n"
	"    check(isinstance(s['outstanding_allocs'], int), 'outstanding_allocs')\n"
	"    check(0 <= s['confidence'] <= 1, 'confidence')\n"
	"    check(s['verdict'] in ('leak', 'plateau', 'churn', 'steady'), 'verdict')\n"
	"    check(len(s['series']) == 61 and set(s['series'][0]) == {'t', 'bytes'}, 'series')\n"
	"rates = [s['growth_bytes_per_s'] for s in sites]\n"
	"check(rates == sorted(rates, reverse=True), 'sorted by growth rate')\n"
	"check(abs(rates[0] - 102400) < 1, 'fastest rate')\n"
	"check(sites[0]['stack'] == ['main', 'serve_client', 'store_put', 'malloc'], 'root "
	"first')\n"
	"check(sites[0]['locations'] == ['server.c:10', None, 'store.c:42', None], 'locations')\n"
	"check(sites[0]['outstanding_bytes'] == 6000 * 1024, 'fast outstanding')\n"
	"check(sites[0]['series'][-1] == {'t': 60, 'bytes': 6000 * 1024}, 'series end')\n"
	"check(sites[1]['stack_truncated'] is True and sites[0]['stack_truncated'] is False,"
	" 'stack_truncated')\n"
	"want = ['main', 'q\"uote', 'back\\\\slash', 'ctl\\x01\\x1f\\n\\r\\t\\x7f',"
	" 'bad\\ufffd\\ufffdutf8', 'trunc\\ufffd', 'surrogate' + '\\ufffd' * 3,"
	" 'overlong' + '\\ufffd' * 2, 'na\\u00efve \\u20ac \\U0001f525', 'semi;colon',"
	" 'cache_fill']\n"
	"check(sites[2]['stack'] == want, 'hostile names ' + repr(sites[2]['stack']))\n"
	"m = d['mmap_sites']\n"
	"check(len(m) == 1 and m[0]['verdict'] == 'leak' and m[0]['stack'] == ['main',"
	" 'serve_client', 'store_put'], 'mmap_sites')\n"
	"check(all(s['stack'] != ['[stack unavailable]'] for s in sites), 'empty site dropped')\n";

#include "tmp_dir.h"

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int run_check(const char *json_path, const char *complete, unsigned lost, bool quiet)
{
	char script[256], cmd[1024];
	int rc;

	snprintf(script, sizeof(script), "%s/check.py", tmp_dir);
	write_file(script, json_check_py);
	snprintf(cmd, sizeof(cmd), "python3 '%s' '%s' %s %u%s", script, json_path, complete, lost,
		 quiet ? " 2>/dev/null" : "");
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static char *read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long len;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	assert_true(len > 0);
	rewind(fp);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

static void test_write_json(void **state)
{
	struct leak_report r;
	char path[256];
	char *text;
	FILE *fp;

	(void)state;
	build_report(&r);
	leak_report_analyse(&r);
	snprintf(path, sizeof(path), "%s/leaks.json", tmp_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(leak_report_write_json(&r, fp), 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(run_check(path, "complete", 7, false), 0);

	/* The escapes themselves, as bytes: nothing raw that would break a parser. */
	text = read_file(path);
	assert_contains(text, "\"q\\\"uote\"");
	assert_contains(text, "\"back\\\\slash\"");
	assert_contains(text, "\"ctl\\u0001\\u001f\\n\\r\\t\\u007f\"");
	assert_contains(text, "\"bad\\ufffd\\ufffdutf8\"");
	for (const char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\n')
			fail_msg("raw control byte 0x%02x at offset %td", *p, p - text);
		if ((unsigned char)*p == 0xff || (unsigned char)*p == 0xfe)
			fail_msg("invalid UTF-8 byte copied at offset %td", p - text);
	}
	free(text);

	/* The checker is not vacuous: it rejects a report whose completeness it was told wrong. */
	assert_int_not_equal(run_check(path, "incomplete", 7, true), 0);

	/* Incomplete: "complete": false, lost events summed over the drop counters. */
	r.stats[SMOLDER_STAT_MMAP_TABLE_FULL] = 5;
	leak_report_analyse(&r);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(leak_report_write_json(&r, fp), 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(run_check(path, "incomplete", 12, false), 0);
	leak_report_release(&r);
}

/* An empty report is still a valid document with empty arrays. */
static void test_write_json_empty(void **state)
{
	struct leak_report r = {0};
	char path[256], cmd[512];
	char *text;
	FILE *fp;

	(void)state;
	r.stop_reason = NULL; /* not set when the run failed early: written as null */
	leak_report_analyse(&r);
	snprintf(path, sizeof(path), "%s/empty.json", tmp_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(leak_report_write_json(&r, fp), 0);
	assert_int_equal(fclose(fp), 0);
	snprintf(
		cmd, sizeof(cmd),
		"python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); "
		"sys.exit(not (d[\"sites\"] == [] and d[\"mmap_sites\"] == [] and d[\"rss\"] == [] "
		"and d[\"complete\"] is True and d[\"stop_reason\"] is None))' '%s'",
		path);
	assert_int_equal(system(cmd), 0);
	text = read_file(path);
	assert_contains(text, "\"sites\": []");
	free(text);
	leak_report_release(&r);
}

static char *write_flamegraph(const struct leak_report *r, bool growth, bool svg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(leak_report_write_flamegraph(r, fp, growth, svg), 0);
	assert_int_equal(fclose(fp), 0);
	assert_non_null(buf);
	return buf;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static void test_write_flamegraph(void **state)
{
	struct leak_report r;
	char *text;

	(void)state;
	build_report(&r);
	leak_report_analyse(&r);
	/* Outstanding bytes: every site still holding memory, heap and mmap apart. */
	text = write_flamegraph(&r, false, false);
	assert_contains(text, "[heap];main;serve_client;store_put;malloc 6144000\n");
	assert_contains(text, "[anon mmap];main;serve_client;store_put 3932160\n");
	assert_contains(text, "[heap];main;drain;free_list 1482752\n");
	assert_contains(text, "[heap];main;churn_loop;malloc 32768\n");
	/* One line per stack: a hostile name (newline, ';') does not split its stack. */
	assert_int_equal(count_lines(text), 6);
	free(text);
	/* Growth: bytes gained since the first sample; the draining and churning sites gained
	 * nothing. */
	text = write_flamegraph(&r, true, false);
	assert_contains(text, "[heap];main;serve_client;store_put;malloc 6144000\n");
	assert_lacks(text, "drain");
	assert_lacks(text, "churn_loop");
	assert_int_equal(count_lines(text), 4);
	free(text);
	text = write_flamegraph(&r, true, true);
	assert_contains(text, "<svg");
	assert_contains(text, "Memory growth during the run");
	free(text);
	leak_report_release(&r);

	assert_true(leak_report_path_is_growth("out/leaks.growth.svg"));
	assert_true(leak_report_path_is_growth("leaks.growth.folded"));
	assert_false(leak_report_path_is_growth("leaks.svg"));
	assert_false(leak_report_path_is_growth("growth.svg"));
	assert_false(leak_report_path_is_growth("a.growth"));
	assert_false(leak_report_path_is_growth("noext"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_site_lookup),
		cmocka_unit_test(test_analyse_drops_empty_sites),
		cmocka_unit_test(test_analyse_ranks_and_verdicts),
		cmocka_unit_test(test_analyse_completeness),
		cmocka_unit_test(test_release_empty),
		cmocka_unit_test(test_write_text),
		cmocka_unit_test(test_write_text_script_frame),
		cmocka_unit_test(test_write_json),
		cmocka_unit_test(test_write_json_empty),
		cmocka_unit_test(test_write_flamegraph),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
