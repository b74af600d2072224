/* log.c: leveled diagnostics on stderr, and the bridge that sends libbpf's messages through them.
 */
#include "smolder/log.h"
#include "smolder/text_sanitize.h"

#include <bpf/libbpf.h>
#include <string.h>

static enum log_level log_level = LOG_LEVEL_INFO;
static FILE *log_stream;

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_set_stream(FILE *stream)
{
	log_stream = stream;
}

static const char *log_prefix(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_QUIET:
	case LOG_LEVEL_ERROR:
		return "error: ";
	case LOG_LEVEL_WARN:
		return "warning: ";
	case LOG_LEVEL_DEBUG:
		return "debug: ";
	case LOG_LEVEL_INFO:
		break;
	}
	return "";
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	FILE *out = log_stream ? log_stream : stderr;
	char buf[2048];
	size_t len;

	if (level > log_level && !(level == LOG_LEVEL_ERROR))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	/* Messages carry command and thread names, symbols and paths a target chose: one place
	 * keeps escape sequences off the terminal and every message on one line. */
	text_sanitize_inplace(buf, 0);
	/* One write per message so lines from different threads do not interleave. */
	fprintf(out, "smolder: %s%s\n", log_prefix(level), buf);
	fflush(out);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static int log_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf is chatty: its warnings are shown with -v, info with -vv, debug with -vvv. */
	int mapped = LOG_LEVEL_DEBUG + 2;

	if (level == LIBBPF_WARN)
		mapped = LOG_LEVEL_DEBUG;
	else if (level == LIBBPF_INFO)
		mapped = LOG_LEVEL_DEBUG + 1;
	if (mapped > (int)log_level)
		return 0;
	{
		FILE *out = log_stream ? log_stream : stderr;

		fprintf(out, "smolder: libbpf: ");
		vfprintf(out, fmt, ap);
		fflush(out);
	}
	return 0;
}

void log_install_libbpf(void)
{
	libbpf_set_print(log_libbpf_print);
}
