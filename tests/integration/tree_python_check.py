#!/usr/bin/env python3
"""tree_python_check.py: checks that the Python frames of a process tree's workers are named.

Usage: tree_python_check.py FOLDED COMMAND FUNCTION FILE [--exclude PID] [--only "PID ..."]
                            [--before "PID ..."] [--min-share PERCENT]

The workers are the stacks rooted at "COMMAND [PID]" (the master --exclude'd; with --only, just
those pids). At least 75% of the workers with at least 20 samples, and every --only worker, must
hold frames of "FUNCTION (FILE:LINE)" (not all: a worker replaced by --max-requests can be caught
only in its start-up or its interpreter's finalization, which run no application code; the
--before workers, which may be caught only exiting, are not counted there); there must be two
such workers; FUNCTION must be in at least PERCENT% of the workers' samples; with
--before (the workers living at attach), one worker forked during the run must hold FUNCTION.
Prints one summary line; exits 1 with the reason when a check fails."""
import argparse
import re
import sys

ap = argparse.ArgumentParser()
ap.add_argument("folded")
ap.add_argument("command")
ap.add_argument("function")
ap.add_argument("file")
ap.add_argument("--exclude", default="")
ap.add_argument("--only", default="")
ap.add_argument("--before", default=None)
ap.add_argument("--min-share", type=float, default=0)
a = ap.parse_args()

only = set(a.only.split())
root_re = re.compile(re.escape(a.command) + r" \[(\d+)\]$")
prefix = "%s (%s:" % (a.function, a.file)
total, hit = {}, {}
for line in open(a.folded):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    frames = stack.split(";")
    m = root_re.match(frames[0])
    if not m or m.group(1) == a.exclude or (only and m.group(1) not in only):
        continue
    pid = m.group(1)
    total[pid] = total.get(pid, 0) + int(n)
    if any(f.startswith(prefix) for f in frames[1:]):
        hit[pid] = hit.get(pid, 0) + int(n)

busy = sorted(p for p in total if total[p] >= 20 or p in only)
named = [p for p in busy if hit.get(p, 0) > 0]
share = 100.0 * sum(hit.values()) / max(1, sum(total.values()))
print("%d workers sampled, %d with >= 20 samples, %d of them with %s frames; %s in %.0f%% of the "
      "workers' samples" % (len(total), len(busy), len(named), prefix + "N)", a.function, share))
fails = []
if len(named) < 2:
    fails.append("fewer than 2 workers with %s frames" % a.function)
if only and set(named) != only:
    fails.append("workers without %s frames: %s" % (a.function, sorted(only - set(named))))
counted = [p for p in busy if a.before is None or p not in set(a.before.split())]
missing = [p for p in counted if p not in named]
if len(missing) * 4 > len(counted):
    fails.append("workers with >= 20 samples but no %s frames: %s" % (
        a.function, ["%s (%d samples)" % (p, total[p]) for p in missing]))
if share < a.min_share:
    fails.append("%s in %.0f%% of the samples, want >= %.0f%%" % (a.function, share, a.min_share))
if a.before is not None:
    new = [p for p in named if p not in set(a.before.split())]
    print("forked during the run, with %s frames: %d" % (a.function, len(new)))
    if not new:
        fails.append("no worker forked during the run has %s frames" % a.function)
if fails:
    print("; ".join(fails))
    sys.exit(1)
