# python_lines_capture.py: prints, for code objects of a few standard-library modules and of the
# line-table edge cases below, the raw line table and the line CPython itself gives every
# instruction offset (co_positions() on 3.11+, co_lines() on 3.10, dis.findlinestarts before).
# tests/unit/test_python_lines.c checks smolder's decoders against this output, both the copy
# checked in under tests/unit/data/ and, where the interpreters are installed, a fresh run.
# Runs under Python 3.8 and later. Output: "code MINOR FIRSTLINENO HEX" then "expect OFF:LINE ...".
import dis
import sys
import types

MINOR = sys.version_info[1]


def edge_cases(a, b):
    # a jump of more than 127 lines and long bytecode exercise the multi-entry encodings

    x = [
        a,
        b,
    ]
    if a:
        return x





































































































































































    y = (a
         + b)
    return y * 2


def walk(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from walk(const)


def expected(code):
    if MINOR >= 11:
        out = []
        for i, pos in enumerate(code.co_positions()):
            out.append((2 * i, pos[0] if pos[0] is not None else -1))
        return out
    if MINOR == 10:
        out = []
        for start, end, line in code.co_lines():
            for off in range(start, end, 2):
                out.append((off, line if line is not None else -1))
        return out
    starts = dict(dis.findlinestarts(code))
    out, line = [], code.co_firstlineno
    for off in range(0, len(code.co_code), 2):
        line = starts.get(off, line)
        out.append((off, line))
    return out


def table(code):
    return code.co_linetable if MINOR >= 10 else code.co_lnotab


def main():
    import json.decoder
    import argparse
    codes = list(walk(edge_cases.__code__))
    for mod in (json.decoder, argparse):
        src = open(mod.__file__).read()
        codes.extend(walk(compile(src, mod.__file__, "exec")))
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else len(codes)
    for code in codes[:limit]:
        print("code %d %d %s" % (MINOR, code.co_firstlineno, table(code).hex()))
        print("expect " + " ".join("%d:%d" % p for p in expected(code)))


main()
