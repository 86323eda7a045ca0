/*
 * log — one line per message on stderr, in PostgreSQL's message style.
 *
 * Every thread logs through here. On a terminal or a plain file each line carries a timestamp,
 * the pid and the level; under systemd (JOURNAL_STREAM set and pointing at our stderr) lines
 * carry a "<N>" syslog priority prefix instead, which journald turns into the entry's priority.
 * With JSON lines on, each line is one object instead:
 *   {"time":"2026-11-21T09:00:00.123Z","pid":42,"level":"info","message":"..."}
 * (still after the "<N>" prefix under journald).
 */
#ifndef OUTBOX_RELAY_LOG_H
#define OUTBOX_RELAY_LOG_H

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_FATAL
};

/* Sets the lowest level that is written. Thread-safe (a relaxed atomic). */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warning", "error"; returns 0 and fills *level, or -1. */
int log_level_parse(const char *name, enum log_level *level);

/* JSON lines (log.format = "json") or PostgreSQL-style text. Thread-safe. */
void log_set_json(int on);

/* Decides between journald and plain format by looking at JOURNAL_STREAM. Call once at start. */
void log_init(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_fatal(...) log_msg(LOG_LEVEL_FATAL, __VA_ARGS__)

/*
 * Puts a multi-line message (libpq: "...failed: Connection refused\n\tIs the server running...")
 * on one line in place: trailing breaks removed, an inner break followed by indentation or more
 * breaks shown as "; ", a lone one as a space, tabs as spaces. Never longer than the input.
 */
void log_flatten(char *s);

/* Removes trailing newlines and spaces in place (libpq messages end in "\n"); returns s. */
char *log_trim(char *s);

#endif
