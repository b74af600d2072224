/* unwind_bench.c: microseconds per unwind on real snapshots of the unwind_target fixture (see
 * tests/unit/unwind_capture.h): warm (rule caches filled, the steady state of a profile) with the
 * compact-CFI fast path and with libunwind stepping every frame, cold (a new unwinder per stack:
 * rules computed from .eh_frame, pages faulted in), and unwinder creation. Built and run by
 * scripts/bench/unwind.sh. */
#include "../../tests/unit/unwind_capture.h"

#include <time.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	static const char *modes[] = {"deep", "thread", "qsort", "signal", "bigframe"};
	int iterations = argc > 1 ? atoi(argv[1]) : 20000;
	uint64_t ips[128];

	printf("%-10s %7s %9s %10s %14s %10s %10s\n", "stack", "frames", "complete", "warm_us",
	       "libunwind_us", "cold_us", "new_us");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct capture cap;
		struct unwind_snapshot snap;
		struct unwind_result res;
		double t0, warm, slow, cold = 0, created = 0;
		int err = capture_begin(&cap, modes[i], NULL, 0);

		if (err < 0) {
			fprintf(stderr, "capture %s: %s\n", modes[i], strerror(-err));
			capture_release(&cap);
			return 1;
		}
		/* Cold: a fresh unwinder for each of a few stacks, while the target lives. */
		for (int r = 0; r < 20; r++) {
			struct unwinder *uw;

			t0 = now_us();
			uw = unwinder_new(cap.pid > 0 ? cap.pid : -cap.pid);
			created += now_us() - t0;
			snap = capture_snapshot(&cap, 0);
			t0 = now_us();
			unwinder_unwind(uw, &snap, ips, 128, &res);
			cold += now_us() - t0;
			unwinder_free(uw);
		}
		capture_end(&cap);
		snap = capture_snapshot(&cap, 0);
		unwinder_unwind(cap.uw, &snap, ips, 128, &res);
		t0 = now_us();
		for (int r = 0; r < iterations; r++)
			unwinder_unwind(cap.uw, &snap, ips, 128, &res);
		warm = (now_us() - t0) / iterations;
		unwinder_set_fast_path(cap.uw, false);
		t0 = now_us();
		for (int r = 0; r < iterations / 10; r++)
			unwinder_unwind(cap.uw, &snap, ips, 128, &res);
		slow = (now_us() - t0) / (iterations / 10);
		unwinder_set_fast_path(cap.uw, true);
		unwinder_unwind(cap.uw, &snap, ips, 128, &res);
		printf("%-10s %7u %9s %10.2f %14.2f %10.1f %10.1f\n", modes[i], res.n,
		       res.flags & UNWIND_COMPLETE ? "yes" : "NO", warm, slow, cold / 20,
		       created / 20);
		capture_release(&cap);
	}
	return 0;
}
