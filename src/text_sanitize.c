/* text_sanitize.c: makes target-supplied names safe for text outputs (see text_sanitize.h for the
 * convention). */
#include "smolder/text_sanitize.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (1..4) with its code point, or 0 when the bytes
 * are not one (invalid lead, truncated, overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	/* The NUL terminator is not a continuation byte, so this never reads past the string. */
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[k] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static bool unsafe_code_point(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* The next unit of s: out and out_len get what to write for it; returns how many input bytes it
 * used. */
static size_t next_unit(const unsigned char *s, unsigned flags, const char **out, size_t *out_len)
{
	uint32_t cp;
	size_t n = utf8_sequence(s, &cp);

	if (n == 0) {
		*out = "?";
		*out_len = 1;
		return 1;
	}
	if (unsafe_code_point(cp)) {
		*out = "?";
		*out_len = 1;
	} else if (cp == ';' && (flags & TEXT_SANITIZE_FOLDED)) {
		*out = ":";
		*out_len = 1;
	} else {
		*out = (const char *)s;
		*out_len = n;
	}
	return n;
}

size_t text_sanitize_append(char *buf, size_t len, size_t n, const char *src, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)src;

	if (!buf || !len)
		return 0;
	if (n >= len)
		n = len - 1;
	while (s && *s) {
		const char *out;
		size_t out_len, used = next_unit(s, flags, &out, &out_len);

		if (n + out_len >= len)
			break;
		/* memmove: in place, out may be the bytes being read (never behind the writer). */
		memmove(buf + n, out, out_len);
		n += out_len;
		s += used;
	}
	buf[n] = '\0';
	return n;
}

char *text_sanitize_inplace(char *s, unsigned flags)
{
	if (s)
		text_sanitize_append(s, strlen(s) + 1, 0, s, flags);
	return s;
}

int text_sanitize_fputs(const char *s, FILE *fp, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;

	while (p && *p) {
		const char *out;
		size_t out_len, used = next_unit(p, flags, &out, &out_len);

		if (fwrite(out, 1, out_len, fp) != out_len)
			return -EIO;
		p += used;
	}
	return 0;
}

void text_sanitize_vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	if (!buf || !len)
		return;
	vsnprintf(buf, len, fmt, ap);
	text_sanitize_inplace(buf, 0);
}
