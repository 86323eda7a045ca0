/*
 * conf — see config.h. The tables below are the single description of every key: parsing,
 * defaults, bounds and `--help-config` are all derived from them.
 */
#include "conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <libconfig.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

enum key_type { KEY_STRING, KEY_INT, KEY_ENUM };

struct key {
	const char *name;
	enum key_type type;
	size_t offset;			/* into struct conf_source */
	long long min, max;		/* KEY_INT */
	const char *def;		/* NULL = required */
	const char *const *choices;	/* KEY_ENUM, index = stored value */
	const char *help;
};

static const char *const mode_choices[] = { "poll", "logical", NULL };
static const char *const on_error_choices[] = { "stop", "dead-letter", NULL };
static const char *const on_publish_choices[] = { "mark", "delete", NULL };
static const char *const bool_choices[] = { "false", "true", NULL };
static const char *const format_choices[] = { "json", "avro", NULL };
static const char *const framing_choices[] = { "confluent", "single-object", NULL };
static const char *const subject_choices[] = { "topic", "record", "topic-record", NULL };
/* the order of enum compat_level */
static const char *const compat_choices[] = { "none", "backward", "backward_transitive", "forward",
					      "forward_transitive", "full", "full_transitive", NULL };

#define SRC(field) offsetof(struct conf_source, field)

/* The longest retention accepted (ten years); keeping rows longer is what 0 is for. */
#define RETENTION_MAX_MS (10LL * 365 * 24 * 3600 * 1000)

/* Flipped on once the logical pipeline lands; until then such sources are refused. */
static const int logical_mode_available = 1;

static const struct key source_keys[] = {
	{ "name", KEY_STRING, SRC(name), 0, 0, NULL, NULL,
	  "unique name of the source, used in logs, topics and metrics ([a-z0-9_-], 1-63 chars)" },
	{ "dsn", KEY_STRING, SRC(dsn), 0, 0, NULL, NULL,
	  "libpq connection string of the service database; ${VAR} and ${credential:NAME} expand" },
	{ "mode", KEY_ENUM, SRC(mode), 0, 0, "poll", mode_choices,
	  "capture mode: poll the outbox table, or logical decoding through a replication slot" },
	{ "table", KEY_STRING, SRC(table), 0, 0, "public.outbox", NULL,
	  "outbox table, optionally schema-qualified; a part with a \".\" or '\"' in it is written "
	  "double-quoted as in SQL (\"\\\"Sales Dept\\\".\\\"Out\\\"\\\"box\\\"\"); names are "
	  "case-sensitive, at most 63 bytes each" },
	{ "topic", KEY_STRING, SRC(topic), 0, 0, "outbox.event.{aggregate_type}", NULL,
	  "topic template; {aggregate_type}, {event_type} and {source} are replaced per event" },
	{ "dead_letter_topic", KEY_STRING, SRC(dead_letter_topic), 0, 0, "outbox.dlq.{source}", NULL,
	  "topic template for events that cannot be published (on_error = \"dead-letter\")" },
	{ "on_error", KEY_ENUM, SRC(on_error), 0, 0, "stop", on_error_choices,
	  "what to do with an event that cannot be published: stop the source with an error naming "
	  "the row (it retries later), or send it to the dead-letter topic, record it and go on" },
	{ "format", KEY_ENUM, SRC(format), 0, 0, "json", format_choices,
	  "record value: the payload's JSON as is, or Avro against the event's schema version" },
	{ "framing", KEY_ENUM, SRC(framing), 0, 0, "confluent", framing_choices,
	  "avro: Confluent wire format (schema id from schema_registry) or Avro single-object "
	  "encoding (schema fingerprint, no registry)" },
	{ "subject_strategy", KEY_ENUM, SRC(subject_strategy), 0, 0, "topic", subject_choices,
	  "avro + confluent: registry subject <topic>-value, <record name>, or <topic>-<record name>" },
	{ "compatibility", KEY_ENUM, SRC(compatibility), 0, 0, "backward", compat_choices,
	  "rule `outbox-relay schema add` enforces between versions of an event type" },
	{ "on_publish", KEY_ENUM, SRC(on_publish), 0, 0, "mark", on_publish_choices,
	  "after the broker acked a row: set its published_at, or delete it" },
	{ "batch_size", KEY_INT, SRC(batch_size), 1, 100000, "1000", NULL,
	  "rows read per query" },
	{ "poll_interval_ms", KEY_INT, SRC(poll_interval_ms), 1, 3600000, "100", NULL,
	  "how long to wait before polling again when the outbox had no new rows" },
	{ "max_in_flight", KEY_INT, SRC(max_in_flight), 1, 10000000, "20000", NULL,
	  "events sent but not yet acked, at most (bounds memory)" },
	{ "max_in_flight_bytes", KEY_INT, SRC(max_in_flight_bytes), 1024, 1LL << 40, "67108864", NULL,
	  "bytes of events sent but not yet acked, at most (bounds memory)" },
	{ "standby_retry_ms", KEY_INT, SRC(standby_retry_ms), 10, 600000, "1000", NULL,
	  "how often a standby instance tries to take over the outbox lock" },
	{ "retry_backoff_max_ms", KEY_INT, SRC(retry_backoff_max_ms), 100, 3600000, "30000", NULL,
	  "cap of the exponential backoff between reconnection attempts" },
	{ "retention_ms", KEY_INT, SRC(retention_ms), 0, RETENTION_MAX_MS, "0", NULL,
	  "poll mode: delete published rows whose published_at is older than this (0 = keep them "
	  "forever); what is kept is what `replay` can send again" },
	{ "retention_batch", KEY_INT, SRC(retention_batch), 1, 100000, "1000", NULL,
	  "poll mode: rows deleted per statement by retention (bounds each DELETE's lock time)" },
	{ "retention_interval_ms", KEY_INT, SRC(retention_interval_ms), 1000, 86400000, "60000", NULL,
	  "poll mode: how often the active instance looks for published rows past retention_ms" },
	{ "slot", KEY_STRING, SRC(slot), 0, 0, "", NULL,
	  "logical mode: replication slot (default outbox_relay_<name>, \"-\" as \"_\")" },
	{ "publication", KEY_STRING, SRC(publication), 0, 0, "", NULL,
	  "logical mode: publication of the outbox table (default: the slot's name)" },
	{ "message_prefix", KEY_STRING, SRC(message_prefix), 0, 0, "outbox", NULL,
	  "logical mode: prefix of pg_logical_emit_message() events (\"\" = none)" },
	{ "create_slot", KEY_ENUM, SRC(create_slot), 0, 0, "true", bool_choices,
	  "logical mode: create the slot and publication when missing (never drops either)" },
	{ "status_interval_ms", KEY_INT, SRC(status_interval_ms), 100, 60000, "1000", NULL,
	  "logical mode: send the server a status update at least this often" },
};

#define N_SOURCE_KEYS (sizeof(source_keys) / sizeof(source_keys[0]))

/* Default column names, and whether a table may lack the column ("" in `columns`). */
static const struct {
	const char *key;
	int optional;
	const char *help;
} column_keys[COL__COUNT] = {
	[COL_ID] = { "id", 0, "bigint, unique, capture order" },
	[COL_EVENT_ID] = { "event_id", 1, "event id, sent as header event_id" },
	[COL_AGGREGATE_TYPE] = { "aggregate_type", 0, "routes the topic" },
	[COL_AGGREGATE_ID] = { "aggregate_id", 0, "the Kafka key" },
	[COL_EVENT_TYPE] = { "event_type", 1, "sent as header event_type" },
	[COL_SCHEMA_VERSION] = { "schema_version", 1, "sent as header schema_version" },
	[COL_PAYLOAD] = { "payload", 0, "the record value (json, jsonb or text)" },
	[COL_HEADERS] = { "headers", 1, "jsonb object of extra Kafka headers" },
	[COL_CREATED_AT] = { "created_at", 1, "timestamptz, the record timestamp" },
	[COL_PUBLISHED_AT] = { "published_at", 0, "timestamptz set after the broker acked the row" },
	[COL_TXID] = { "txid", 1,
		       "xid8 of the inserting transaction; lets the relay read in commit order" },
};

const char *
conf_column_key(enum outbox_column col)
{
	return column_keys[col].key;
}

static void
seterr(char *errstr, size_t size, const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
seterr(char *errstr, size_t size, const char *path, int line, const char *fmt, ...)
{
	va_list ap;
	int n = line > 0 ? snprintf(errstr, size, "%s:%d: ", path, line)
			 : snprintf(errstr, size, "%s: ", path);

	if (n < 0 || (size_t)n >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(errstr + n, size - (size_t)n, fmt, ap);
	va_end(ap);
}

static int
line_of(const config_setting_t *s)
{
	return (int)config_setting_source_line(s);
}

int
conf_check_dsn(const char *dsn, char *errstr, size_t errstr_size)
{
	char *parse_error = NULL;
	PQconninfoOption *opts;

	/* libpq's parse errors quote the offending part of the string (for a URI, all of it,
	 * password included): say only that it is invalid */
	if (!strchr(dsn, '=') && strncmp(dsn, "postgresql://", 13) != 0 &&
	    strncmp(dsn, "postgres://", 11) != 0)
		return 0;
	if (!(opts = PQconninfoParse(dsn, &parse_error))) {
		snprintf(errstr, errstr_size, "not a valid libpq connection string%s",
			 parse_error ? " (libpq's message is not shown: it may quote a password)"
				     : ": out of memory");
		PQfreemem(parse_error);
		return -1;
	}
	PQconninfoFree(opts);
	return 0;
}

char *
conf_expand_secrets(const char *value, char *errstr, size_t errstr_size)
{
	size_t cap = strlen(value) + 1, len = 0;
	char *out = malloc(cap);
	const char *p = value;

	if (!out) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	while (*p) {
		const char *repl = NULL;
		char *file_buf = NULL;
		size_t repl_len = 0;

		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p + 2, '}');
			char name[256];
			size_t nlen;

			if (!end || (nlen = (size_t)(end - p - 2)) == 0 || nlen >= sizeof(name)) {
				snprintf(errstr, errstr_size, "unterminated or empty \"${...}\" reference");
				free(out);
				return NULL;
			}
			memcpy(name, p + 2, nlen);
			name[nlen] = '\0';
			if (strncmp(name, "credential:", 11) == 0) {
				const char *dir = getenv("CREDENTIALS_DIRECTORY");
				char fpath[4096];
				struct stat st;
				int fd;
				FILE *f;
				long sz;

				if (!dir) {
					snprintf(errstr, errstr_size,
						 "credential \"%s\" requested but CREDENTIALS_DIRECTORY is not set",
						 name + 11);
					free(out);
					return NULL;
				}
				snprintf(fpath, sizeof(fpath), "%s/%s", dir, name + 11);
				/* a directory ("${credential:}") or a device is no credential, and
				 * its "size" may be anything up to 2^63; opened without blocking, so
				 * that a fifo cannot hang a reload */
				fd = open(fpath, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
				f = fd >= 0 ? fdopen(fd, "rb") : NULL;
				if (fd >= 0 && !f)
					close(fd);
				if (f && fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
					int why = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;

					fclose(f);
					f = NULL;
					errno = why;
				}
				if (!f || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
				    fseek(f, 0, SEEK_SET) != 0 || !(file_buf = malloc((size_t)sz + 1)) ||
				    fread(file_buf, 1, (size_t)sz, f) != (size_t)sz) {
					snprintf(errstr, errstr_size, "could not read credential \"%s\": %s",
						 name + 11, strerror(errno ? errno : EIO));
					if (f)
						fclose(f);
					free(file_buf);
					free(out);
					return NULL;
				}
				fclose(f);
				file_buf[sz] = '\0';
				/* credential files usually end with a newline that is not part of it */
				log_trim(file_buf);
				repl = file_buf;
			} else {
				repl = getenv(name);
				if (!repl) {
					snprintf(errstr, errstr_size, "environment variable \"%s\" is not set",
						 name);
					free(out);
					return NULL;
				}
			}
			repl_len = strlen(repl);
			p = end + 1;
		} else {
			repl = p;
			repl_len = 1;
			p++;
		}
		if (len + repl_len + 1 > cap) {
			char *n;

			cap = (len + repl_len + 1) * 2;
			n = realloc(out, cap);
			if (!n) {
				free(file_buf);
				free(out);
				snprintf(errstr, errstr_size, "out of memory");
				return NULL;
			}
			out = n;
		}
		memcpy(out + len, repl, repl_len);
		len += repl_len;
		free(file_buf);
	}
	out[len] = '\0';
	return out;
}

/* A setting's value as text, for kafka properties (string, integer, float or boolean). */
static int
scalar_text(const config_setting_t *s, char *buf, size_t size)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		snprintf(buf, size, "%s", config_setting_get_string(s));
		return 0;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, size, "%lld", (long long)config_setting_get_int64(s));
		return 0;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, size, "%.17g", config_setting_get_float(s));
		return 0;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, size, "%s", config_setting_get_bool(s) ? "true" : "false");
		return 0;
	default:
		return -1;
	}
}

static int
valid_source_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' ||
		      *s == '-'))
			return 0;
	return 1;
}

/* PostgreSQL's rule for replication slot names, used for publications too */
static int
valid_slot_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

/*
 * A table, schema, column or publication name: any name PostgreSQL takes as a quoted identifier
 * (the relay always quotes), 1-63 bytes (NAMEDATALEN - 1: the server would cut a longer one
 * short), without control characters (they would break the log's one-line messages). Returns
 * 0, or -1 with why ("is 70 bytes; ...").
 */
static int
identifier_problem(const char *s, char *why, size_t why_size)
{
	size_t n = strlen(s);

	if (n == 0) {
		snprintf(why, why_size, "is empty");
		return -1;
	}
	if (n > 63) {
		snprintf(why, why_size, "is %zu bytes; PostgreSQL's limit for names is 63 "
			 "(NAMEDATALEN - 1)", n);
		return -1;
	}
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			snprintf(why, why_size, "contains a control character");
			return -1;
		}
	return 0;
}

/* name for a message: at most 80 bytes ("..." after), control characters as "?" */
static const char *
shown_name(const char *name, char *buf, size_t size)
{
	size_t n = 0;

	for (; *name && n + 4 < size && n < 80; name++)
		buf[n++] = (unsigned char)*name < 0x20 || *name == 0x7f ? '?' : *name;
	if (*name && n + 4 <= size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * table = [schema.]table: each part either as written (no case folding; no "." or '"' in it) or
 * double-quoted as in SQL, with "" for a quote in the name: "\"Sales Dept\".\"Out\"\"box\"".
 * Sets *schema ("public" when not given) and *table (malloc'ed). Returns 0, or -1 with why.
 */
static int
split_table(const char *text, char **schema, char **table, char *why, size_t why_size)
{
	char part[2][256];
	int nparts = 0;
	const char *p = text;

	for (;;) {
		size_t n = 0;

		if (nparts == 2) {
			snprintf(why, why_size, "has more than one \".\" outside double quotes "
				 "(quote a name that holds a dot)");
			return -1;
		}
		if (*p == '"') {
			for (p++;; p++) {
				if (!*p) {
					snprintf(why, why_size, "has an unterminated quoted name");
					return -1;
				}
				if (*p == '"' && p[1] != '"')
					break;
				if (*p == '"')
					p++;
				if (n < sizeof(part[0]) - 1)
					part[nparts][n++] = *p;
			}
			p++;
		} else {
			for (; *p && *p != '.' && *p != '"'; p++)
				if (n < sizeof(part[0]) - 1)
					part[nparts][n++] = *p;
			if (*p == '"') {
				snprintf(why, why_size, "has a double quote inside an unquoted name (write "
					 "the whole name quoted, with \"\" for the quote)");
				return -1;
			}
		}
		part[nparts++][n] = '\0';
		if (!*p)
			break;
		if (*p != '.') {
			snprintf(why, why_size, "has \"%c\" after a quoted name where \".\" or the end "
				 "should be", *p);
			return -1;
		}
		p++;
	}
	for (int i = 0; i < nparts; i++) {
		char problem[128], shown[96];

		if (identifier_problem(part[i], problem, sizeof(problem)) != 0) {
			snprintf(why, why_size, "%s name \"%s\" %s",
				 i + 1 < nparts ? "schema" : "table",
				 shown_name(part[i], shown, sizeof(shown)), problem);
			return -1;
		}
	}
	*schema = strdup(nparts == 2 ? part[0] : "public");
	*table = strdup(part[nparts - 1]);
	if (!*schema || !*table) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	return 0;
}

static int
set_key(struct conf_source *src, const struct key *k, const char *text, long long ival,
	int from_file, const char *path, int line, char *errstr, size_t errstr_size)
{
	void *field = (char *)src + k->offset;

	switch (k->type) {
	case KEY_STRING: {
		char *dup = strdup(text);

		if (!dup) {
			seterr(errstr, errstr_size, path, line, "out of memory");
			return -1;
		}
		free(*(char **)field);
		*(char **)field = dup;
		return 0;
	}
	case KEY_INT:
		if (!from_file)
			ival = strtoll(text, NULL, 10);
		if (ival < k->min || ival > k->max) {
			seterr(errstr, errstr_size, path, line,
			       "\"%s\" must be between %lld and %lld, not %lld", k->name, k->min,
			       k->max, ival);
			return -1;
		}
		*(long long *)field = ival;
		return 0;
	case KEY_ENUM:
		for (int i = 0; k->choices[i]; i++) {
			if (strcasecmp(k->choices[i], text) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		{
			char list[256] = "";

			for (int i = 0; k->choices[i]; i++) {
				strncat(list, i ? ", \"" : "\"", sizeof(list) - strlen(list) - 1);
				strncat(list, k->choices[i], sizeof(list) - strlen(list) - 1);
				strncat(list, "\"", sizeof(list) - strlen(list) - 1);
			}
			seterr(errstr, errstr_size, path, line, "\"%s\" must be one of %s, not \"%s\"",
			       k->name, list, text);
		}
		return -1;
	}
	return -1;
}

static int
parse_columns(struct conf_source *src, const config_setting_t *grp, const char *path,
	      char *errstr, size_t errstr_size)
{
	if (!config_setting_is_group(grp)) {
		seterr(errstr, errstr_size, path, line_of(grp), "\"columns\" must be a group { ... }");
		return -1;
	}
	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		int col = -1;

		for (int c = 0; c < COL__COUNT; c++)
			if (strcmp(column_keys[c].key, name) == 0)
				col = c;
		if (col < 0) {
			seterr(errstr, errstr_size, path, line_of(s), "unknown column \"%s\" in \"columns\"",
			       name);
			return -1;
		}
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			seterr(errstr, errstr_size, path, line_of(s), "column \"%s\" must be a string",
			       name);
			return -1;
		}
		const char *v = config_setting_get_string(s);

		if (*v == '\0' && !column_keys[col].optional) {
			seterr(errstr, errstr_size, path, line_of(s),
			       "column \"%s\" is required and cannot be empty", name);
			return -1;
		}
		char why[128], shown[96];

		if (*v != '\0' && identifier_problem(v, why, sizeof(why)) != 0) {
			seterr(errstr, errstr_size, path, line_of(s), "column \"%s\": \"%s\" %s", name,
			       shown_name(v, shown, sizeof(shown)), why);
			return -1;
		}
		free(src->columns[col]);
		src->columns[col] = strdup(v);
		if (!src->columns[col]) {
			seterr(errstr, errstr_size, path, line_of(s), "out of memory");
			return -1;
		}
	}
	return 0;
}

/* required_headers = [ "tenant_id", "user_id" ] (a single string is taken as a list of one) */
static int
parse_required_headers(struct conf_source *src, const config_setting_t *s, const char *path,
		       char *errstr, size_t errstr_size)
{
	int single = config_setting_type(s) == CONFIG_TYPE_STRING;
	int n = single ? 1 : config_setting_length(s);

	if (!single && !config_setting_is_array(s) && !config_setting_is_list(s)) {
		seterr(errstr, errstr_size, path, line_of(s),
		       "\"required_headers\" must be a list of header names [ \"a\", \"b\" ]");
		return -1;
	}
	src->required_headers = calloc((size_t)n + 1, sizeof(char *));
	if (!src->required_headers) {
		seterr(errstr, errstr_size, path, line_of(s), "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = single ? s : config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_type(e) == CONFIG_TYPE_STRING
			? config_setting_get_string(e) : NULL;

		if (!v || !*v) {
			seterr(errstr, errstr_size, path, line_of(s),
			       "\"required_headers\": element %d must be a non-empty string", i + 1);
			return -1;
		}
		if (!(src->required_headers[src->n_required_headers++] = strdup(v))) {
			seterr(errstr, errstr_size, path, line_of(s), "out of memory");
			return -1;
		}
	}
	return 0;
}

static int
parse_source(struct conf_source *src, const config_setting_t *grp, const char *path,
	     char *errstr, size_t errstr_size)
{
	int line = line_of(grp);

	src->line = line;
	if (!config_setting_is_group(grp)) {
		seterr(errstr, errstr_size, path, line, "each source must be a group { ... }");
		return -1;
	}
	/* defaults first, so that every field is set even if the file leaves it out */
	for (size_t k = 0; k < N_SOURCE_KEYS; k++)
		if (source_keys[k].def &&
		    set_key(src, &source_keys[k], source_keys[k].def, 0, 0, path, line, errstr,
			    errstr_size) != 0)
			return -1;
	for (int c = 0; c < COL__COUNT; c++)
		if (!(src->columns[c] = strdup(column_keys[c].key))) {
			seterr(errstr, errstr_size, path, line, "out of memory");
			return -1;
		}

	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct key *k = NULL;

		if (strcmp(name, "columns") == 0) {
			if (parse_columns(src, s, path, errstr, errstr_size) != 0)
				return -1;
			continue;
		}
		if (strcmp(name, "required_headers") == 0) {
			if (src->required_headers) {
				seterr(errstr, errstr_size, path, line_of(s),
				       "\"required_headers\" given twice");
				return -1;
			}
			if (parse_required_headers(src, s, path, errstr, errstr_size) != 0)
				return -1;
			continue;
		}
		for (size_t j = 0; j < N_SOURCE_KEYS; j++)
			if (strcmp(source_keys[j].name, name) == 0)
				k = &source_keys[j];
		if (!k) {
			seterr(errstr, errstr_size, path, line_of(s), "unknown key \"%s\" in source",
			       name);
			return -1;
		}
		if (k->type == KEY_INT) {
			if (config_setting_type(s) != CONFIG_TYPE_INT &&
			    config_setting_type(s) != CONFIG_TYPE_INT64) {
				seterr(errstr, errstr_size, path, line_of(s), "\"%s\" must be an integer",
				       name);
				return -1;
			}
			if (set_key(src, k, NULL, (long long)config_setting_get_int64(s), 1, path,
				    line_of(s), errstr, errstr_size) != 0)
				return -1;
		} else if (k->choices == bool_choices && config_setting_type(s) == CONFIG_TYPE_BOOL) {
			if (set_key(src, k, config_setting_get_bool(s) ? "true" : "false", 0, 1, path,
				    line_of(s), errstr, errstr_size) != 0)
				return -1;
		} else {
			if (config_setting_type(s) != CONFIG_TYPE_STRING) {
				seterr(errstr, errstr_size, path, line_of(s), "\"%s\" must be a string",
				       name);
				return -1;
			}
			if (set_key(src, k, config_setting_get_string(s), 0, 1, path, line_of(s),
				    errstr, errstr_size) != 0)
				return -1;
		}
	}

	for (size_t k = 0; k < N_SOURCE_KEYS; k++) {
		if (!source_keys[k].def &&
		    !*(char **)((char *)src + source_keys[k].offset)) {
			seterr(errstr, errstr_size, path, line, "source is missing required key \"%s\"",
			       source_keys[k].name);
			return -1;
		}
	}
	if (!valid_source_name(src->name)) {
		seterr(errstr, errstr_size, path, line,
		       "source name \"%s\" must be 1-63 characters of a-z, 0-9, \"_\" or \"-\"",
		       src->name);
		return -1;
	}
	if (src->mode == SOURCE_MODE_LOGICAL && !logical_mode_available) {
		seterr(errstr, errstr_size, path, line,
		       "source \"%s\": mode \"logical\" is not available in this version", src->name);
		return -1;
	}
	/* logical decoding never sets published_at: retention would find nothing, forever */
	if (src->mode == SOURCE_MODE_LOGICAL && src->retention_ms > 0) {
		seterr(errstr, errstr_size, path, line,
		       "source \"%s\": retention_ms works in mode \"poll\" only: in mode \"logical\" "
		       "the relay never sets published_at, so no row would ever count as published; "
		       "remove retention_ms or set it to 0", src->name);
		return -1;
	}
	if (!*src->slot) {
		char def[128];

		snprintf(def, sizeof(def), "outbox_relay_%s", src->name);
		/* a poll source never uses its slot or publication: their names are only shown */
		if (strlen(def) > 63 && src->mode != SOURCE_MODE_LOGICAL)
			def[63] = '\0';
		/* the server would refuse it (slot names are never cut short): say what to do */
		if (strlen(def) > 63) {
			seterr(errstr, errstr_size, path, line,
			       "source \"%s\": the default slot name \"%s\" is %zu bytes; PostgreSQL's "
			       "limit for names is 63 (NAMEDATALEN - 1): set \"slot\" (and \"publication\") "
			       "or use a shorter source name", src->name, def, strlen(def));
			return -1;
		}
		for (char *c = def; *c; c++)
			if (*c == '-')
				*c = '_';
		free(src->slot);
		if (!(src->slot = strdup(def))) {
			seterr(errstr, errstr_size, path, line, "out of memory");
			return -1;
		}
	}
	if (!*src->publication) {
		free(src->publication);
		if (!(src->publication = strdup(src->slot))) {
			seterr(errstr, errstr_size, path, line, "out of memory");
			return -1;
		}
	}
	if (!valid_slot_name(src->slot)) {
		seterr(errstr, errstr_size, path, line,
		       "source \"%s\": slot name \"%.80s\" must be 1-63 characters (NAMEDATALEN - 1) "
		       "of a-z, 0-9 and \"_\"", src->name, src->slot);
		return -1;
	}
	{
		char why[128], shown[96];

		if (identifier_problem(src->publication, why, sizeof(why)) != 0) {
			seterr(errstr, errstr_size, path, line,
			       "source \"%s\": publication \"%s\" %s", src->name,
			       shown_name(src->publication, shown, sizeof(shown)), why);
			return -1;
		}
	}

	/* the dsn may hold ${...} references: expand now so a missing secret fails at load */
	{
		char experr[256];
		char *dsn = conf_expand_secrets(src->dsn, experr, sizeof(experr));

		if (!dsn) {
			seterr(errstr, errstr_size, path, line, "source \"%s\": dsn: %s", src->name,
			       experr);
			return -1;
		}
		free(src->dsn);
		src->dsn = dsn;
	}
	/* a string libpq cannot parse fails here, at load */
	{
		char dsnerr[256];

		if (conf_check_dsn(src->dsn, dsnerr, sizeof(dsnerr)) != 0) {
			seterr(errstr, errstr_size, path, line, "source \"%s\": dsn: %s", src->name,
			       dsnerr);
			return -1;
		}
	}

	/* split "schema.table" */
	{
		char why[256];
		/* side tables the running relay writes to or reads: too long a name is refused
		 * here, not cut short by the server at the first poison event */
		const char *suffix = src->on_error == ON_ERROR_DEAD_LETTER ? "_dead_letters"
				     : src->format == FORMAT_AVRO ? "_schemas" : NULL;

		if (split_table(src->table, &src->schema_name, &src->table_name, why,
				sizeof(why)) != 0) {
			char shown[96];

			seterr(errstr, errstr_size, path, line, "source \"%s\": table \"%s\": %s",
			       src->name, shown_name(src->table, shown, sizeof(shown)), why);
			return -1;
		}
		if (suffix && strlen(src->table_name) + strlen(suffix) > 63) {
			seterr(errstr, errstr_size, path, line,
			       "source \"%s\": table \"%.160s\": %s needs the table \"%s%s\", which "
			       "would be %zu bytes; PostgreSQL's limit for names is 63 (NAMEDATALEN - 1)",
			       src->name, src->table,
			       *suffix == '_' && suffix[1] == 'd' ? "on_error = \"dead-letter\""
								  : "format = \"avro\"",
			       src->table_name, suffix, strlen(src->table_name) + strlen(suffix));
			return -1;
		}
	}
	return 0;
}

static int
parse_kafka(struct conf *cfg, const config_setting_t *grp, char *errstr, size_t errstr_size)
{
	int n = config_setting_length(grp);

	if (!config_setting_is_group(grp)) {
		seterr(errstr, errstr_size, cfg->path, line_of(grp), "\"kafka\" must be a group { ... }");
		return -1;
	}
	cfg->kafka_props = calloc((size_t)n + 1, sizeof(*cfg->kafka_props));
	if (!cfg->kafka_props) {
		seterr(errstr, errstr_size, cfg->path, line_of(grp), "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		char text[64], experr[256];
		const char *raw = text;

		if (config_setting_type(s) == CONFIG_TYPE_STRING)
			raw = config_setting_get_string(s);	/* any length */
		else if (scalar_text(s, text, sizeof(text)) != 0) {
			seterr(errstr, errstr_size, cfg->path, line_of(s),
			       "kafka property \"%s\" must be a string, number or boolean", name);
			return -1;
		}
		char *value = conf_expand_secrets(raw, experr, sizeof(experr));

		if (!value) {
			seterr(errstr, errstr_size, cfg->path, line_of(s), "kafka property \"%s\": %s",
			       name, experr);
			return -1;
		}
		if (strcmp(name, "brokers") == 0) {
			free(cfg->brokers);
			cfg->brokers = value;
			continue;
		}
		struct conf_kafka_property *p = &cfg->kafka_props[cfg->n_kafka_props++];

		p->value = value;
		p->line = line_of(s);
		p->name = strdup(name);
		if (!p->name) {
			seterr(errstr, errstr_size, cfg->path, line_of(s), "out of memory");
			return -1;
		}
		for (char *c = p->name; *c; c++)
			if (*c == '_')
				*c = '.';
	}
	if (!cfg->brokers || !*cfg->brokers) {
		seterr(errstr, errstr_size, cfg->path, line_of(grp),
		       "\"kafka\" is missing required key \"brokers\"");
		return -1;
	}
	return 0;
}

/* Reads one string setting of schema_registry, expanding ${...} references. */
static int
registry_string(struct conf *cfg, const config_setting_t *s, char **out, char *errstr,
		size_t errstr_size)
{
	char experr[256];

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		seterr(errstr, errstr_size, cfg->path, line_of(s),
		       "schema_registry: \"%s\" must be a string", config_setting_name(s));
		return -1;
	}
	free(*out);
	if (!(*out = conf_expand_secrets(config_setting_get_string(s), experr, sizeof(experr)))) {
		seterr(errstr, errstr_size, cfg->path, line_of(s), "schema_registry: \"%s\": %s",
		       config_setting_name(s), experr);
		return -1;
	}
	return 0;
}

static int
parse_registry(struct conf *cfg, const config_setting_t *grp, char *errstr, size_t errstr_size)
{
	struct conf_registry *r = &cfg->registry;

	if (!config_setting_is_group(grp)) {
		seterr(errstr, errstr_size, cfg->path, line_of(grp),
		       "\"schema_registry\" must be a group { ... }");
		return -1;
	}
	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		char **str = strcmp(name, "url") == 0 ? &r->url
			: strcmp(name, "username") == 0 ? &r->username
			: strcmp(name, "password") == 0 ? &r->password
			: strcmp(name, "ssl_ca_location") == 0 ? &r->ca_location
			: strcmp(name, "ssl_certificate_location") == 0 ? &r->cert_location
			: strcmp(name, "ssl_key_location") == 0 ? &r->key_location
			: strcmp(name, "ssl_key_password") == 0 ? &r->key_password : NULL;

		if (str) {
			if (registry_string(cfg, s, str, errstr, errstr_size) != 0)
				return -1;
		} else if (strcmp(name, "ssl_verify") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
				seterr(errstr, errstr_size, cfg->path, line_of(s),
				       "schema_registry: \"ssl_verify\" must be true or false");
				return -1;
			}
			r->verify_peer = config_setting_get_bool(s);
		} else if (strcmp(name, "timeout_ms") == 0) {
			if ((config_setting_type(s) != CONFIG_TYPE_INT &&
			     config_setting_type(s) != CONFIG_TYPE_INT64) ||
			    config_setting_get_int64(s) < 100 || config_setting_get_int64(s) > 600000) {
				seterr(errstr, errstr_size, cfg->path, line_of(s),
				       "schema_registry: \"timeout_ms\" must be an integer between 100 "
				       "and 600000");
				return -1;
			}
			r->timeout_ms = config_setting_get_int64(s);
		} else {
			seterr(errstr, errstr_size, cfg->path, line_of(s),
			       "unknown key \"%s\" in \"schema_registry\"", name);
			return -1;
		}
	}
	if (!r->url || (strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0)) {
		seterr(errstr, errstr_size, cfg->path, line_of(grp),
		       "schema_registry: \"url\" is required and must start with http:// or https://");
		return -1;
	}
	if (!r->username != !r->password) {
		seterr(errstr, errstr_size, cfg->path, line_of(grp),
		       "schema_registry: \"username\" and \"password\" go together");
		return -1;
	}
	return 0;
}

/*
 * Splits "a.b.c.d:port" or "[v6addr]:port" into cfg->metrics. Returns 0, or -1 with errstr.
 */
static int
parse_listen(struct conf *cfg, const config_setting_t *s, char *errstr, size_t errstr_size)
{
	struct conf_metrics *m = &cfg->metrics;
	const char *v = config_setting_get_string(s), *colon, *host = v;
	size_t host_len;
	unsigned char addr[16];
	char *end;
	long port;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		host = v + 1;
		colon = close && close[1] == ':' ? close + 1 : NULL;
		host_len = close ? (size_t)(close - host) : 0;
		m->ipv6 = 1;
	} else {
		colon = strrchr(v, ':');
		host_len = colon ? (size_t)(colon - v) : 0;
		m->ipv6 = 0;
	}
	if (!colon || host_len == 0 || host_len >= sizeof(m->host))
		goto bad;
	memcpy(m->host, host, host_len);
	m->host[host_len] = '\0';
	if (inet_pton(m->ipv6 ? AF_INET6 : AF_INET, m->host, addr) != 1)
		goto bad;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || port < 0 || port > 65535)
		goto bad;
	m->port = (int)port;
	if (!(m->listen = strdup(v))) {
		seterr(errstr, errstr_size, cfg->path, line_of(s), "out of memory");
		return -1;
	}
	return 0;
bad:
	seterr(errstr, errstr_size, cfg->path, line_of(s),
	       "metrics: \"listen\" must be \"IPv4:port\" or \"[IPv6]:port\" with a port from 0 "
	       "to 65535, not \"%s\"", v);
	return -1;
}

static int
parse_metrics(struct conf *cfg, const config_setting_t *grp, char *errstr, size_t errstr_size)
{
	if (!config_setting_is_group(grp)) {
		seterr(errstr, errstr_size, cfg->path, line_of(grp),
		       "\"metrics\" must be a group { ... }");
		return -1;
	}
	cfg->metrics.line = line_of(grp);
	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);

		if (strcmp(config_setting_name(s), "listen") != 0) {
			seterr(errstr, errstr_size, cfg->path, line_of(s),
			       "unknown key \"%s\" in \"metrics\"", config_setting_name(s));
			return -1;
		}
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			seterr(errstr, errstr_size, cfg->path, line_of(s),
			       "metrics: \"listen\" must be a string \"host:port\"");
			return -1;
		}
		if (parse_listen(cfg, s, errstr, errstr_size) != 0)
			return -1;
	}
	if (!cfg->metrics.listen) {
		seterr(errstr, errstr_size, cfg->path, line_of(grp),
		       "metrics: \"listen\" is required (e.g. listen = \"127.0.0.1:9187\";)");
		return -1;
	}
	return 0;
}

static int
parse_log(struct conf *cfg, const config_setting_t *grp, char *errstr, size_t errstr_size)
{
	if (!config_setting_is_group(grp)) {
		seterr(errstr, errstr_size, cfg->path, line_of(grp), "\"log\" must be a group { ... }");
		return -1;
	}
	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		enum log_level lvl;

		if (strcmp(config_setting_name(s), "format") == 0) {
			const char *v = config_setting_type(s) == CONFIG_TYPE_STRING
				? config_setting_get_string(s) : "";

			if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0) {
				seterr(errstr, errstr_size, cfg->path, line_of(s),
				       "\"format\" must be \"text\" or \"json\"");
				return -1;
			}
			cfg->log_json = strcmp(v, "json") == 0;
			continue;
		}
		if (strcmp(config_setting_name(s), "level") != 0) {
			seterr(errstr, errstr_size, cfg->path, line_of(s), "unknown key \"%s\" in \"log\"",
			       config_setting_name(s));
			return -1;
		}
		if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    log_level_parse(config_setting_get_string(s), &lvl) != 0) {
			seterr(errstr, errstr_size, cfg->path, line_of(s),
			       "\"level\" must be one of \"debug\", \"info\", \"warning\", \"error\"");
			return -1;
		}
		cfg->log_level = (int)lvl;
	}
	return 0;
}

/* conf_load and conf_load_string: text NULL reads the file path, else text named path. */
static struct conf *
load(const char *path, const char *text, char *errstr, size_t errstr_size)
{
	config_t cf;
	struct conf *cfg = calloc(1, sizeof(*cfg));
	const config_setting_t *root, *s;

	if (!cfg || !(cfg->path = strdup(path))) {
		snprintf(errstr, errstr_size, "%s: out of memory", path);
		free(cfg);
		return NULL;
	}
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->drain_timeout_ms = 30000;
	cfg->registry.verify_peer = 1;
	cfg->registry.timeout_ms = 10000;

	config_init(&cf);
	if ((text ? config_read_string(&cf, text) : config_read_file(&cf, path)) != CONFIG_TRUE) {
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			snprintf(errstr, errstr_size, "%s: could not read configuration file: %s", path,
				 strerror(errno ? errno : ENOENT));
		else
			seterr(errstr, errstr_size,
			       config_error_file(&cf) ? config_error_file(&cf) : path,
			       config_error_line(&cf), "%s", config_error_text(&cf));
		goto fail;
	}

	root = config_root_setting(&cf);
	for (int i = 0; i < config_setting_length(root); i++) {
		s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);

		if (strcmp(name, "kafka") == 0) {
			if (parse_kafka(cfg, s, errstr, errstr_size) != 0)
				goto fail;
		} else if (strcmp(name, "schema_registry") == 0) {
			if (parse_registry(cfg, s, errstr, errstr_size) != 0)
				goto fail;
		} else if (strcmp(name, "log") == 0) {
			if (parse_log(cfg, s, errstr, errstr_size) != 0)
				goto fail;
		} else if (strcmp(name, "metrics") == 0) {
			if (parse_metrics(cfg, s, errstr, errstr_size) != 0)
				goto fail;
		} else if (strcmp(name, "drain_timeout_ms") == 0) {
			if ((config_setting_type(s) != CONFIG_TYPE_INT &&
			     config_setting_type(s) != CONFIG_TYPE_INT64) ||
			    config_setting_get_int64(s) < 0 || config_setting_get_int64(s) > 3600000) {
				seterr(errstr, errstr_size, path, line_of(s),
				       "\"drain_timeout_ms\" must be an integer between 0 and 3600000");
				goto fail;
			}
			cfg->drain_timeout_ms = config_setting_get_int64(s);
		} else if (strcmp(name, "sources") == 0) {
			int n = config_setting_length(s);

			if (!config_setting_is_list(s) || n == 0) {
				seterr(errstr, errstr_size, path, line_of(s),
				       "\"sources\" must be a non-empty list ( { ... }, ... )");
				goto fail;
			}
			cfg->sources = calloc((size_t)n, sizeof(*cfg->sources));
			if (!cfg->sources) {
				seterr(errstr, errstr_size, path, line_of(s), "out of memory");
				goto fail;
			}
			for (int j = 0; j < n; j++) {
				cfg->n_sources++;
				if (parse_source(&cfg->sources[j],
						 config_setting_get_elem(s, (unsigned)j), path, errstr,
						 errstr_size) != 0)
					goto fail;
				for (int k = 0; k < j; k++) {
					if (strcmp(cfg->sources[k].name, cfg->sources[j].name) == 0) {
						seterr(errstr, errstr_size, path, cfg->sources[j].line,
						       "duplicate source name \"%s\" (first at line %d)",
						       cfg->sources[j].name, cfg->sources[k].line);
						goto fail;
					}
				}
			}
		} else {
			seterr(errstr, errstr_size, path, line_of(s), "unknown key \"%s\"", name);
			goto fail;
		}
	}
	if (!cfg->brokers) {
		seterr(errstr, errstr_size, path, 0, "missing required group \"kafka\" with \"brokers\"");
		goto fail;
	}
	if (cfg->n_sources == 0) {
		seterr(errstr, errstr_size, path, 0, "missing required list \"sources\"");
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct conf_source *src = &cfg->sources[i];

		if (src->format == FORMAT_AVRO && src->framing == FRAMING_CONFLUENT &&
		    !cfg->registry.url) {
			seterr(errstr, errstr_size, path, src->line,
			       "source \"%s\": format \"avro\" with framing \"confluent\" needs a "
			       "schema_registry { url = ...; } group (or framing = \"single-object\", "
			       "which needs no registry)", src->name);
			goto fail;
		}
	}
	config_destroy(&cf);
	return cfg;
fail:
	config_destroy(&cf);
	conf_destroy(cfg);
	return NULL;
}

struct conf *
conf_load(const char *path, char *errstr, size_t errstr_size)
{
	return load(path, NULL, errstr, errstr_size);
}

struct conf *
conf_load_string(const char *name, const char *text, char *errstr, size_t errstr_size)
{
	return load(name, text, errstr, errstr_size);
}

void
conf_destroy(struct conf *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_sources; i++) {
		struct conf_source *src = &cfg->sources[i];

		for (size_t k = 0; k < N_SOURCE_KEYS; k++)
			if (source_keys[k].type == KEY_STRING)
				free(*(char **)((char *)src + source_keys[k].offset));
		free(src->schema_name);
		free(src->table_name);
		for (int c = 0; c < COL__COUNT; c++)
			free(src->columns[c]);
		for (size_t h = 0; h < src->n_required_headers; h++)
			free(src->required_headers[h]);
		free(src->required_headers);
	}
	free(cfg->registry.url);
	free(cfg->registry.username);
	free(cfg->registry.password);
	free(cfg->registry.ca_location);
	free(cfg->registry.cert_location);
	free(cfg->registry.key_location);
	free(cfg->registry.key_password);
	free(cfg->metrics.listen);
	free(cfg->sources);
	for (size_t i = 0; i < cfg->n_kafka_props; i++) {
		free(cfg->kafka_props[i].name);
		free(cfg->kafka_props[i].value);
	}
	free(cfg->kafka_props);
	free(cfg->brokers);
	free(cfg->path);
	free(cfg);
}

static int
str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

int
conf_source_equal(const struct conf_source *a, const struct conf_source *b)
{
	for (size_t k = 0; k < N_SOURCE_KEYS; k++) {
		const struct key *key = &source_keys[k];
		const char *fa = (const char *)a + key->offset, *fb = (const char *)b + key->offset;

		if ((key->type == KEY_STRING && !str_eq(*(char *const *)fa, *(char *const *)fb)) ||
		    (key->type == KEY_INT && *(const long long *)fa != *(const long long *)fb) ||
		    (key->type == KEY_ENUM && *(const int *)fa != *(const int *)fb))
			return 0;
	}
	for (int c = 0; c < COL__COUNT; c++)
		if (!str_eq(a->columns[c], b->columns[c]))
			return 0;
	if (a->n_required_headers != b->n_required_headers)
		return 0;
	for (size_t h = 0; h < a->n_required_headers; h++)
		if (!str_eq(a->required_headers[h], b->required_headers[h]))
			return 0;
	return 1;
}

int
conf_shared_equal(const struct conf *a, const struct conf *b)
{
	const struct conf_registry *ra = &a->registry, *rb = &b->registry;

	if (!str_eq(a->brokers, b->brokers) || a->n_kafka_props != b->n_kafka_props ||
	    a->drain_timeout_ms != b->drain_timeout_ms || !str_eq(ra->url, rb->url) ||
	    !str_eq(ra->username, rb->username) || !str_eq(ra->password, rb->password) ||
	    !str_eq(ra->ca_location, rb->ca_location) ||
	    !str_eq(ra->cert_location, rb->cert_location) ||
	    !str_eq(ra->key_location, rb->key_location) ||
	    !str_eq(ra->key_password, rb->key_password) || ra->verify_peer != rb->verify_peer ||
	    ra->timeout_ms != rb->timeout_ms)
		return 0;
	for (size_t i = 0; i < a->n_kafka_props; i++)
		if (!str_eq(a->kafka_props[i].name, b->kafka_props[i].name) ||
		    !str_eq(a->kafka_props[i].value, b->kafka_props[i].value))
			return 0;
	return 1;
}

void
conf_print_help(FILE *out)
{
	fprintf(out, "Configuration file reference (libconfig syntax)\n\n");
	fprintf(out, "kafka = { ... }            required\n");
	fprintf(out, "  brokers                  string, required: bootstrap servers \"host:port,...\"\n");
	fprintf(out, "  <property>               any librdkafka producer property, \"_\" read as \".\"\n");
	fprintf(out, "                           (e.g. linger_ms = 5; security_protocol = \"SASL_SSL\";)\n");
	fprintf(out, "                           enable.idempotence and acks are fixed (true, all)\n");
	fprintf(out, "log = { level = \"info\"; }  debug | info | warning | error\n");
	fprintf(out, "log = { format = \"text\"; } text (PostgreSQL style) | json (one object a line)\n");
	fprintf(out, "drain_timeout_ms = 30000   bound on waiting for acks when stopping\n");
	fprintf(out, "metrics = { ... }          optional; without it no HTTP endpoint is served\n");
	fprintf(out, "  listen                   string, required: \"IPv4:port\" or \"[IPv6]:port\"\n");
	fprintf(out, "                           (e.g. \"127.0.0.1:9187\"): /metrics, /healthz, /readyz;\n");
	fprintf(out, "                           read at start only (restart to change it)\n");
	fprintf(out, "schema_registry = { ... }  Confluent-compatible registry, for format \"avro\" with\n");
	fprintf(out, "                           framing \"confluent\":\n");
	fprintf(out, "  url                      string, required: \"http(s)://host:port[/path]\"\n");
	fprintf(out, "  username, password      basic auth; ${VAR} and ${credential:NAME} expand\n");
	fprintf(out, "  ssl_ca_location          CA bundle to verify the registry (default: system's)\n");
	fprintf(out, "  ssl_certificate_location, ssl_key_location, ssl_key_password   client TLS\n");
	fprintf(out, "  ssl_verify = true        verify the registry's certificate and host name\n");
	fprintf(out, "  timeout_ms = 10000       per request\n\n");
	fprintf(out, "sources = ( { ... }, ... )  required, one pipeline each:\n");
	for (size_t k = 0; k < N_SOURCE_KEYS; k++) {
		const struct key *key = &source_keys[k];
		char def[96];

		if (!key->def)
			snprintf(def, sizeof(def), "required");
		else if (key->type == KEY_INT)
			snprintf(def, sizeof(def), "default %s, %lld..%lld", key->def, key->min, key->max);
		else
			snprintf(def, sizeof(def), "default \"%s\"", key->def);
		fprintf(out, "  %-22s %s; %s\n", key->name, def, key->help);
	}
	fprintf(out, "  required_headers       default []; header names every event must carry (in its\n");
	fprintf(out, "                         headers column), else it is handled by on_error\n");
	fprintf(out, "  columns = { ... }      map the outbox's columns to the table's own names:\n");
	for (int c = 0; c < COL__COUNT; c++)
		fprintf(out, "    %-20s default \"%s\"%s; %s\n", column_keys[c].key, column_keys[c].key,
			column_keys[c].optional ? " (\"\" = absent)" : "", column_keys[c].help);
}
