/* python_lines.c: decoders of CPython's line tables (include/smolder/python_lines.h). Each one
 * follows the interpreter's own lookup (PyCode_Addr2Line of that version) so a frame gets the
 * line the interpreter would report for it. */
#include "smolder/python_lines.h"

#include <stdbool.h>

enum python_line_format python_lines_format(int minor)
{
	if (minor <= 9)
		return PYTHON_LINES_LNOTAB;
	if (minor == 10)
		return PYTHON_LINES_LINETABLE;
	return PYTHON_LINES_LOCATIONS;
}

/* 3.8-3.9 PyCode_Addr2Line: the last pair whose cumulative byte offset is <= offset. */
static int lines_lnotab(const uint8_t *table, size_t len, int line, int64_t offset)
{
	int64_t addr = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += table[i];
		if (addr > offset)
			break;
		line += (int8_t)table[i + 1];
	}
	return line;
}

/* 3.10 (Objects/codeobject.c, PyLineTable_NextAddressRange): ranges [start, end) advance until
 * end > offset; a line delta of -128 means the range has no line. */
static int lines_linetable(const uint8_t *table, size_t len, int line, int64_t offset)
{
	int64_t end = 0;
	int range_line = -1;
	size_t i = 0;

	while (end <= offset) {
		int8_t delta;

		if (i + 1 >= len)
			return -1;
		end += table[i];
		delta = (int8_t)table[i + 1];
		if (delta == -128) {
			range_line = -1;
		} else {
			line += delta;
			range_line = line;
		}
		i += 2;
	}
	return range_line;
}

/* Reads a location-table varint: 6-bit chunks, least significant first, 0x40 = more. */
static bool lines_varint(const uint8_t *table, size_t len, size_t *i, uint32_t *out)
{
	uint32_t value = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		if (*i >= len || shift > 30)
			return false;
		b = table[(*i)++];
		value |= (uint32_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = value;
	return true;
}

static bool lines_svarint(const uint8_t *table, size_t len, size_t *i, int *out)
{
	uint32_t u;

	if (!lines_varint(table, len, i, &u))
		return false;
	*out = (u & 1) ? -(int)(u >> 1) : (int)(u >> 1);
	return true;
}

/* 3.11+: each entry starts with 1CCCCLLL (code C, L+1 code units); the line delta depends on C:
 * 15 no location, 14 long form (svarint line delta, then end line, columns), 13 no columns
 * (svarint line delta), 10-12 one-line form (delta C-10, two column bytes), 0-9 short form
 * (delta 0, one column byte). */
static int lines_locations(const uint8_t *table, size_t len, int line, int64_t offset)
{
	int64_t unit = offset / 2, addr = 0;
	size_t i = 0;

	while (i < len) {
		uint8_t first = table[i++];
		unsigned code = (first >> 3) & 15, length = (first & 7) + 1;
		bool has_line = true;
		uint32_t skip;
		int delta = 0;

		if (!(first & 0x80))
			return -1; /* not at an entry start: a corrupt table */
		switch (code) {
		case 15:
			has_line = false;
			break;
		case 14:
			if (!lines_svarint(table, len, &i, &delta) ||
			    !lines_varint(table, len, &i, &skip) ||
			    !lines_varint(table, len, &i, &skip) ||
			    !lines_varint(table, len, &i, &skip))
				return -1;
			break;
		case 13:
			if (!lines_svarint(table, len, &i, &delta))
				return -1;
			break;
		case 10:
		case 11:
		case 12:
			delta = (int)code - 10;
			i += 2;
			break;
		default:
			i += 1;
			break;
		}
		line += delta;
		if (unit >= addr && unit < addr + length)
			return has_line ? line : -1;
		addr += length;
	}
	return -1;
}

int python_lines_lookup(enum python_line_format format, const uint8_t *table, size_t len,
			int firstlineno, int64_t offset)
{
	if (offset < 0)
		return firstlineno;
	switch (format) {
	case PYTHON_LINES_LNOTAB:
		return lines_lnotab(table, len, firstlineno, offset);
	case PYTHON_LINES_LINETABLE:
		return lines_linetable(table, len, firstlineno, offset);
	case PYTHON_LINES_LOCATIONS:
		return lines_locations(table, len, firstlineno, offset);
	}
	return -1;
}
