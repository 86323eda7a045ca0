/*
 * log — see log.h. Lines are formatted into one buffer and written with a single write(2) so
 * that lines from concurrent pipeline threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = LOG_LEVEL_INFO;
static atomic_int json_lines;
static int journal_format;

static const struct {
	const char *name;	/* config / command-line spelling */
	const char *tag;	/* PostgreSQL-style tag on each line */
	int syslog_priority;
} levels[] = {
	[LOG_LEVEL_DEBUG] = { "debug", "DEBUG", 7 },
	[LOG_LEVEL_INFO] = { "info", "LOG", 6 },
	[LOG_LEVEL_WARNING] = { "warning", "WARNING", 4 },
	[LOG_LEVEL_ERROR] = { "error", "ERROR", 3 },
	[LOG_LEVEL_FATAL] = { "fatal", "FATAL", 2 },
};

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&min_level, (int)level, memory_order_relaxed);
}

int
log_level_parse(const char *name, enum log_level *level)
{
	/* "fatal" is a level messages have, not one a user can choose */
	for (size_t i = 0; i <= LOG_LEVEL_ERROR; i++) {
		if (strcmp(name, levels[i].name) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_init(void)
{
	/* JOURNAL_STREAM is "dev:inode" of the stream systemd connected; only trust it when it is
	 * still our stderr (a child of the service may have been redirected elsewhere). */
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long dev, ino;

	if (js && sscanf(js, "%lu:%lu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long)st.st_dev == dev && (unsigned long)st.st_ino == ino)
		journal_format = 1;
}

void
log_set_json(int on)
{
	atomic_store_explicit(&json_lines, on, memory_order_relaxed);
}

/* Appends s to line as the inside of a JSON string (quotes, backslashes, controls escaped). */
static size_t
json_escape(char *line, size_t len, size_t cap, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c && len + 7 < cap; c++) {
		if (*c == '"' || *c == '\\') {
			line[len++] = '\\';
			line[len++] = (char)*c;
		} else if (*c < 0x20) {
			len += (size_t)snprintf(line + len, cap - len, "\\u%04x", *c);
		} else {
			line[len++] = (char)*c;
		}
	}
	return len;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[4096], msg[4096];
	size_t len = 0;
	va_list ap;
	int n;

	if ((int)level < atomic_load_explicit(&min_level, memory_order_relaxed))
		return;

	if (atomic_load_explicit(&json_lines, memory_order_relaxed)) {
		struct timeval tv;
		struct tm tm;
		char ts[32], prio[8] = "";

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		if (journal_format)
			snprintf(prio, sizeof(prio), "<%d>", levels[level].syslog_priority);
		n = snprintf(line, sizeof(line), "%s{\"time\":\"%s.%03dZ\",\"pid\":%d,"
			     "\"level\":\"%s\",\"message\":\"", prio, ts, (int)(tv.tv_usec / 1000),
			     (int)getpid(), levels[level].name);
		len = n > 0 ? (size_t)n : 0;
		va_start(ap, fmt);
		n = vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (n > 0)
			len = json_escape(line, len, sizeof(line) - 3, msg);
		line[len++] = '"';
		line[len++] = '}';
		line[len++] = '\n';
		goto write;
	}
	if (journal_format) {
		n = snprintf(line, sizeof(line), "<%d>%s:  ", levels[level].syslog_priority,
			     levels[level].tag);
	} else {
		struct timeval tv;
		struct tm tm;
		char ts[32];

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03d UTC [%d] %s:  ", ts,
			     (int)(tv.tv_usec / 1000), (int)getpid(), levels[level].tag);
	}
	len = n > 0 ? (size_t)n : 0;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0) {
		log_flatten(msg);
		for (const char *m = msg; *m && len < sizeof(line) - 2; m++)
			line[len++] = *m;
	}
	line[len++] = '\n';
write:;
	ssize_t off = 0;
	while ((size_t)off < len) {
		ssize_t w = write(STDERR_FILENO, line + off, len - (size_t)off);
		if (w <= 0)
			break;
		off += w;
	}
}

void
log_flatten(char *s)
{
	char *w = s;

	log_trim(s);
	for (const char *r = s; *r; r++) {
		if (*r == '\n') {
			int indented = r[1] == '\n' || r[1] == '\t' || r[1] == ' ';

			while (r[1] == '\n' || r[1] == '\t' || r[1] == ' ')
				r++;
			/* in place: "; " only where the newline and what follows it take two bytes
			 * or more; a lone newline becomes one space */
			if (indented)
				*w++ = ';';
			*w++ = ' ';
		} else {
			*w++ = *r == '\t' ? ' ' : *r;
		}
	}
	*w = '\0';
}

char *
log_trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}
