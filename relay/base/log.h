/* log.h — levelled, one-line-per-event logging to stderr.
 *
 * Owns: the process-wide log level and program name.
 * Must not: allocate, block on anything but stderr, or ever be handed a secret.
 * Thread-safe: each line is formatted into a local buffer and written with a single write(2),
 * so lines from different threads never interleave.
 */
#ifndef STAFFROOM_LOG_H
#define STAFFROOM_LOG_H

typedef enum { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level_t;

extern log_level_t log_level;

/* Sets the name printed on every line (borrowed: must outlive the program). */
void log_init(const char *program);
/* Parses "error", "warn", "info" or "debug"; returns 0, or -1 for anything else. */
int log_set_level_name(const char *name);
void log_write(log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...) do { if ((lvl) <= log_level) log_write((lvl), __VA_ARGS__); } while (0)
#define log_error(...) LOG_AT(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
