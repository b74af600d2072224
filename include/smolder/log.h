/* log.h: leveled diagnostics to stderr. The one place library code may print; also libbpf's print
 * callback so libbpf's own messages follow -v/-q. */
#ifndef SMOLDER_LOG_H
#define SMOLDER_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_QUIET = -1, /* errors only */
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2, /* default */
	LOG_LEVEL_DEBUG = 3,
};

/* Sets the most verbose level printed. The level and stream are process-wide: logging is the one
 * piece of state every module shares, so it is the one deliberate global. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Redirects output (tests capture it); NULL restores stderr. */
void log_set_stream(FILE *stream);

/* Prints "smolder: [level: ]message\n" when level is enabled; a trailing newline is added if
 * absent. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Routes libbpf's messages through this module: libbpf warnings at -v, debug at -vv. */
void log_install_libbpf(void);

#endif
