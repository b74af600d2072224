#!/usr/bin/env python3
"""pprof_compare.py RAW FOLDED VALUE_INDEX [SCALE]: checks that `go tool pprof -raw` output (the real
pprof reader's view of a profile) holds the same stacks with the same weights as smolder's folded
output of the same run. Frames are compared without smolder's _[k]/_[i] suffixes; pprof's lines
of one location are innermost first, so they are reversed like its locations. Named frames
([truncated], interpreter functions) have no mapping, and pprof prints no "M=" for them. Exits 1
with the first difference. SCALE: pprof's values are the folded weights times SCALE (off-CPU time:
nanoseconds in pprof, microseconds in folded)."""
import collections
import re
import sys


def strip(frame):
    return re.sub(r"_\[[ki]\]$", "", frame)


def checkout_paths():
    """The checkout's directories (ctest's SOURCE_DIR, BUILD_DIR, FIXTURES; as given and
    resolved), longest first: a source path "FILE:LINE" is split at its last space, so a
    checkout path holding spaces is replaced before lines are parsed."""
    import os
    paths = set()
    for name in ("SOURCE_DIR", "BUILD_DIR", "FIXTURES"):
        v = os.environ.get(name)
        if v:
            paths.update((v, os.path.realpath(v)))
    return sorted(paths, key=len, reverse=True)


def read_raw(path, index):
    samples, locations, section, current = [], {}, None, None
    paths = checkout_paths()
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        for p in paths:
            line = line.replace(p, "<checkout>")
        if line.startswith("Samples:"):
            section = "samples"
            continue
        if line.startswith("Locations"):
            section = "locations"
            continue
        if line.startswith("Mappings"):
            section = None
            continue
        if section == "samples":
            m = re.match(r"^\s*([-\d\s]+):\s*([\d\s]*)$", line)
            if m:
                values = [int(v) for v in m.group(1).split()]
                ids = [int(v) for v in m.group(2).split()]
                samples.append((values[index], ids))
        elif section == "locations":
            m = re.match(r"^\s*(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(.*) (\S*):(-?\d+) s=\d+$", line)
            if m:
                current = int(m.group(1))
                locations[current] = [m.group(2)]
                continue
            m = re.match(r"^\s+(.*) (\S*):(-?\d+) s=\d+$", line)
            if m and current is not None:
                locations[current].append(m.group(1))
    return samples, locations


def main():
    raw, folded, index = sys.argv[1], sys.argv[2], int(sys.argv[3])
    scale = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    samples, locations = read_raw(raw, index)
    if not samples or not locations:
        print("no samples or locations in pprof -raw output")
        return 1
    got = collections.Counter()
    for value, ids in samples:
        frames = []
        for loc in reversed(ids):
            frames.extend(reversed(locations[loc]))
        if value > 0:
            got[";".join(frames)] += value
    want = collections.Counter()
    for line in open(folded, encoding="utf-8", errors="replace"):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack:
            want[";".join(strip(f) for f in stack.split(";"))] += int(count) * scale
    if got != want:
        for key in sorted(set(got) | set(want)):
            if got[key] != want[key]:
                print(f"differs: {key}: pprof {got[key]}, folded {want[key]}")
                break
        return 1
    print(f"{len(want)} stacks, total {sum(want.values())}: identical")
    return 0


sys.exit(main())
