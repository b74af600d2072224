/* python_lines.h: CPython's bytecode-offset-to-line tables, decoded without the interpreter:
 * co_lnotab (3.8-3.9), co_linetable (3.10) and the location table (co_linetable, 3.11+). The
 * formats are described in CPython's Objects/lnotab_notes.txt (3.8-3.10) and
 * InternalDocs/locations.md (3.11+). */
#ifndef SMOLDER_PYTHON_LINES_H
#define SMOLDER_PYTHON_LINES_H

#include <stddef.h>
#include <stdint.h>

enum python_line_format {
	PYTHON_LINES_LNOTAB = 0,    /* 3.8-3.9: (byte delta, signed line delta) pairs */
	PYTHON_LINES_LINETABLE = 1, /* 3.10: (byte delta, signed line delta; -128 no line) */
	PYTHON_LINES_LOCATIONS = 2, /* 3.11+: variable-length entries per code-unit range */
};

/* The table format of Python 3.minor. */
enum python_line_format python_lines_format(int minor);

/* The line executing at byte offset offset of the bytecode (instruction index * 2), given the
 * code object's co_firstlineno and its table. Returns the line, or -1 when the table gives the
 * offset no line (or the offset is past its end). An offset below 0 (a frame that has not
 * started) gives firstlineno. Never reads past len. */
int python_lines_lookup(enum python_line_format format, const uint8_t *table, size_t len,
			int firstlineno, int64_t offset);

#endif
