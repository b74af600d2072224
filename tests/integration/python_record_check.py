# python_record_check.py: checks a `smolder record` profile of tests/fixtures/python/cpu_phases.py
# (folded + JSON). Frames are compared one by one (split on ';'), never whole lines: the fixture
# runs from a temporary folder, so its frames read "func (cpu_phases.py:LINE)".
# usage: python_record_check.py FOLDED JSON MODE   (MODE: lines | native | function)
# Prints one "ok: ..." or "FAIL: ..." line per check; exits 1 when a check failed.
import json
import re
import sys

folded, report, mode = sys.argv[1], sys.argv[2], sys.argv[3]
PY = re.compile(r"^(?P<func>[^ ]+) \((?P<file>[^():]+\.py)(:(?P<line>\d+))?\)$")
stacks = []
for text in open(folded, encoding="utf-8", errors="replace"):
    text = text.rstrip("\n")
    frames, _, count = text.rpartition(" ")
    stacks.append((frames.split(";"), int(count)))
failed = 0


def check(ok, what):
    global failed
    print(("ok: " if ok else "FAIL: ") + what)
    failed += not ok


def func(frame):
    m = PY.match(frame)
    return m.group("func") if m and m.group("file") == "cpu_phases.py" else None


# The fixture's main loop thread: every stack holding cpu_loop.
loop = [(f, c) for f, c in stacks if any(func(x) == "cpu_loop" for x in f)]
total = sum(c for _, c in loop)
# The split needs samples (the lines runs check it); --native and --function runs check the frames.
want_samples = 300 if mode == "lines" else 100
check(total >= want_samples, f"{total} samples in cpu_loop (want >= {want_samples})")

# The Python chain in order, with only Python frames between the thread's run and the burn loop.
want = ["cpu_loop", "phase_c", "helper_c", "burn"]
chain = 0
for f, c in loop:
    names = [func(x) for x in f]
    if "burn" in names:
        i = names.index("cpu_loop")
        if names[i : i + 4] == want:
            chain += c
check(chain > 0, f"chain cpu_loop;phase_c;helper_c;burn in {chain} samples")

# The split: thread CPU shares 10/30/40/20 by construction. Allowed: 5 points, or 3.5 standard
# errors of a share measured from N samples when the shared test machine gave the loop thread
# too little CPU for 5 points to be a statistical bound (N >= 300 keeps that under 10 points).
SHARES = {"phase_a": 0.10, "phase_b": 0.30, "helper_c": 0.40, "phase_hash": 0.20}
for name, share in SHARES.items() if mode == "lines" else ():
    got = sum(c for f, c in loop if any(func(x) == name for x in f)) / max(total, 1)
    margin = max(0.05, 3.5 * (share * (1 - share) / max(total, 1)) ** 0.5)
    check(abs(got - share) <= margin,
          f"{name}: {100 * got:.1f}% (expected {100 * share:.0f}% +- {100 * margin:.1f})")

# C extension frames stay under the Python line that called them (sha256 in libcrypto).
under_hash = 0
for f, c in loop:
    names = [func(x) for x in f]
    if "phase_hash" in names:
        rest = f[names.index("phase_hash") + 1 :]
        if any(re.search(r"sha256|SHA256|EVP_|libcrypto", x) for x in rest):
            under_hash += c
check(under_hash > 0, f"libcrypto frames under phase_hash in {under_hash} samples")

# Deep recursion past the BPF walk's limit: marked truncated, never shown as complete.
deep = [(f, c) for f, c in stacks if any(func(x) == "deep_leaf" for x in f)]
marked = sum(c for f, c in deep if "[python truncated]" in f)
depth = max((sum(func(x) == "deep" for x in f) for f, _ in deep), default=0)
check(deep and marked == sum(c for _, c in deep),
      f"deep recursion: {marked}/{sum(c for _, c in deep)} samples marked [python truncated]")
check(depth >= 128, f"deep recursion: {depth} Python frames read (want >= 128)")

# A thread started after attach.
late = sum(c for f, c in stacks if any(func(x) == "late_worker" for x in f))
check(late > 0, f"thread started after attach: {late} samples in late_worker")

# Interpreter frames: dropped by default, kept with --native. A C extension's PLT stub named after
# the interpreter function it calls (_hashlib's "_PyObject_New@plt") is the extension's code and
# stays, as the extension's other frames do.
interp = sum(c for f, c in loop if any(re.match(r"_PyEval_EvalFrameDefault|_PyObject_|PyObject_Vectorcall|_PyFunction_Vectorcall|python3\.\d+\+0x", x) and not x.endswith("@plt") for x in f))
if mode == "native":
    check(interp > 0, f"--native: interpreter frames kept in {interp} samples")
else:
    check(interp == 0, f"interpreter frames dropped ({interp} samples hold one)")

lines = [m for f, _ in loop for x in f if (m := PY.match(x))]
if mode == "function":
    check(lines and all(m.group("line") is None for m in lines), "--function: no line numbers")
else:
    check(lines and all(m.group("line") for m in lines if m.group("file") == "cpu_phases.py"),
          "Python frames carry the executing line")

with open(report) as fp:
    rec = json.load(fp)
py = rec["totals"].get("python", {})
marked = [(st["stack"], st.get("python_frames", [])) for st in rec["stacks"]]
check(any(idx for _, idx in marked) and
      all(set(idx) == {i for i, f in enumerate(stack) if PY.match(f)} for stack, idx in marked),
      "JSON python_frames mark exactly the Python frames")
svg = open(report[: -len(".json")] + ".svg", encoding="utf-8").read()
check("(Python)" in svg, "SVG: Python frames drawn as their own kind")
check(py.get("stacks", 0) > 0 and py.get("frames", 0) > 0, f"JSON totals.python: {py}")
check(py.get("chains_truncated", 0) > 0, "JSON totals.python counts the truncated chains")
sys.exit(1 if failed else 0)
