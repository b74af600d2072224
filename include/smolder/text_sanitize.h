/* text_sanitize.h: the one convention for writing names that come from a target (symbols, thread
 * and command names, file paths, folded frames read back) into human-readable and line-based
 * outputs: dump, the leaks text summary, folded stacks, diagnostics on stderr.
 *
 * Kept: printable ASCII and well-formed UTF-8. Replaced by one '?' each: C0 control bytes (newline,
 * tab, ESC, ...), DEL, C1 controls (U+0080..U+009F, which some terminals obey as ESC sequences),
 * Unicode bidirectional overrides (U+202A..U+202E, U+2066..U+2069: they reorder what the operator
 * sees), and every byte that is not part of well-formed UTF-8. In folded stacks, ';' (the frame
 * separator) also becomes ':'. So no escape sequence reaches a terminal and no name breaks a line
 * format. Machine formats (JSON) escape instead of replacing (json_writer). */
#ifndef SMOLDER_TEXT_SANITIZE_H
#define SMOLDER_TEXT_SANITIZE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define TEXT_SANITIZE_FOLDED 1u /* also ';' -> ':' */

/* Appends src, sanitised, to buf at offset n (buf holds len bytes, NUL-terminated after the call;
 * a UTF-8 sequence that does not fit is left out whole). buf may equal src with n == 0: sanitising
 * in place never lengthens. Returns the new length. */
size_t text_sanitize_append(char *buf, size_t len, size_t n, const char *src, unsigned flags);
/* Sanitises the NUL-terminated s in place. Returns s. */
char *text_sanitize_inplace(char *s, unsigned flags);
/* Writes s sanitised to fp (no length limit). Returns 0 or -EIO. */
int text_sanitize_fputs(const char *s, FILE *fp, unsigned flags);
/* Formats a one-line error message into buf (len bytes) and sanitises it, so a name read from an
 * input file (a JSON key with "\n" in it, say) can never split the line or reach a terminal raw. */
void text_sanitize_vformat(char *buf, size_t len, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
