# python_service.py: CPU-bound Python "services" for the Python benchmarks (scripts/bench/
# python_*.sh). Standard library only. Prints "ready", runs for SECONDS, then prints
# "units U wall W cpu C" (C: CPU seconds of the working thread).
#   --depth N      each unit of work runs at the bottom of an N-deep Python call chain (the BPF walk
#                  reads N + the thread's own frames)
#   --alloc        each unit also allocates and frees a 1 KiB bytearray (malloc: leaks' probes)
#   --phases       the unit is one round of four leaf functions burning 10/30/40/20% of the thread's
#                  CPU (phase_hash in libcrypto): the accuracy reference
import hashlib
import sys
import threading
import time

args = sys.argv[1:]
SECONDS = float(args[0])
DEPTH = int(args[args.index("--depth") + 1]) if "--depth" in args else 1
ALLOC = "--alloc" in args
PHASES = "--phases" in args
BLOCK = b"x" * 65536
units = 0


def work():
    x = 0
    for i in range(300):
        x = (x * 31 + i) % 1000003
    if ALLOC:
        b = bytearray(1024)
        b[0] = x & 0xFF
    return x


def level(n):
    if n <= 1:
        return work()
    return level(n - 1)


# Each phase spins in its own loop: perf's --call-graph dwarf cannot unwind past a -X perf
# trampoline (it has no unwind information), so perf sees only the innermost Python function; the
# comparison is by that function, and it must be the phase itself.
def phase_a():
    end = time.thread_time() + 0.010
    x = 0
    while time.thread_time() < end:
        for i in range(200):
            x = (x * 31 + i) % 1000003
    return x


def phase_b():
    end = time.thread_time() + 0.030
    x = 0
    while time.thread_time() < end:
        for i in range(200):
            x = (x * 31 + i) % 1000003
    return x


def phase_c():
    end = time.thread_time() + 0.040
    x = 0
    while time.thread_time() < end:
        for i in range(200):
            x = (x * 31 + i) % 1000003
    return x


def phase_hash():
    end = time.thread_time() + 0.020
    n = 0
    while time.thread_time() < end:
        n += len(hashlib.sha256(BLOCK).digest())
    return n


def serve(deadline):
    global units
    while time.monotonic() < deadline:
        if PHASES:
            phase_a()
            phase_b()
            phase_c()
            phase_hash()
            units += 1
        else:
            for _ in range(20):
                level(DEPTH)
            units += 20


def main():
    print("ready", flush=True)
    start = time.monotonic()
    cpu = [0.0]

    def run():
        serve(start + SECONDS)
        cpu[0] = time.thread_time()

    t = threading.Thread(target=run, name="py-serve")
    t.start()
    t.join()
    print(f"units {units} wall {time.monotonic() - start:.3f} cpu {cpu[0]:.3f}", flush=True)


if __name__ == "__main__":
    main()
