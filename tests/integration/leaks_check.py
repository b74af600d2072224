#!/usr/bin/env python3
"""leaks_check.py: assertions on a `smolder leaks` JSON report, for the integration tests.

usage: leaks_check.py REPORT.json FUNCTION VERDICT [RATE_BYTES_PER_S]
Finds the heap site whose stack contains FUNCTION (the one with the most allocated bytes when
several do), checks its verdict and, with RATE, that the measured growth is within 25% of it.
FUNCTION may be "!FUNCTION" to assert that no site containing it is a leak, and may carry the
prefix "mmap:" (after any "!") to look at the anonymous mmap sites instead of the heap sites."""
import json
import sys


def main():
    path, func, verdict = sys.argv[1:4]
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else None
    with open(path) as f:
        report = json.load(f)
    if not report.get("complete", False):
        print(f"report {path} is marked incomplete")
        return 1
    negate = func.startswith("!")
    func = func[1:] if negate else func
    kind = "sites"
    if func.startswith("mmap:"):
        kind, func = "mmap_sites", func[5:]
    if negate:
        func = "!" + func
    if func.startswith("!"):
        bad = [s for s in report[kind] if func[1:] in s["stack"] and s["verdict"] == "leak"]
        if bad:
            print(f"{func[1:]}: unexpected leak verdict: {bad[0]['growth_bytes_per_s']:.0f} B/s")
            return 1
        print(f"ok: no leak verdict for sites through {func[1:]}")
        return 0
    sites = [s for s in report[kind] if func in s["stack"]]
    if not sites:
        names = [s["stack"][-1] for s in report[kind]]
        print(f"no site with {func} in its stack; leaf frames: {names}")
        return 1
    site = max(sites, key=lambda s: s["allocated_bytes"])
    got = site["verdict"]
    measured = site["growth_bytes_per_s"]
    if got != verdict:
        print(f"{func}: verdict {got} (rate {measured:.0f} B/s, confidence "
              f"{site['confidence']}), expected {verdict}; stack {site['stack']}")
        return 1
    if rate is not None:
        err = abs(measured - rate) / rate
        if err > 0.25:
            print(f"{func}: rate {measured:.0f} B/s is {err:.0%} off the true {rate:.0f} B/s")
            return 1
        print(f"ok: {func}: {verdict}, {measured:.0f} B/s vs true {rate:.0f} B/s "
              f"({err:.1%} off), confidence {site['confidence']}")
    else:
        print(f"ok: {func}: {verdict} (rate {measured:.0f} B/s)")
    # Stacks must be complete through frame-pointer-less code: main must be there.
    if "main" not in site["stack"] and not any("start_thread" in f for f in site["stack"]):
        print(f"{func}: stack does not reach main or start_thread: {site['stack']}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
