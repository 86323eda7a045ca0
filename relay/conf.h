/*
 * conf — the relay's configuration file (libconfig syntax), parsed and validated in one place.
 *
 * Every accepted key lives in one table in config.c (name, type, bounds, default, help), which
 * drives parsing, validation and `--help-config`. Unknown keys are errors. Every error names the
 * file and line. Keys of the `kafka` group other than `brokers` are librdkafka properties with
 * "_" read as "." (libconfig names cannot contain dots); they are checked by produce.c.
 *
 * String values of `dsn` and of kafka properties may refer to secrets kept outside the file:
 * "${NAME}" is replaced by the environment variable NAME, "${credential:NAME}" by the contents of
 * $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=). The expanded values are never logged.
 */
#ifndef OUTBOX_RELAY_CONF_H
#define OUTBOX_RELAY_CONF_H

#include <stdio.h>

#include "log.h"

enum source_mode { SOURCE_MODE_POLL = 0, SOURCE_MODE_LOGICAL };
enum on_error { ON_ERROR_STOP = 0, ON_ERROR_DEAD_LETTER };
enum on_publish { ON_PUBLISH_MARK = 0, ON_PUBLISH_DELETE };
enum source_format { FORMAT_JSON = 0, FORMAT_AVRO };
enum avro_framing { FRAMING_CONFLUENT = 0, FRAMING_SINGLE_OBJECT };
enum subject_strategy { SUBJECT_TOPIC = 0, SUBJECT_RECORD, SUBJECT_TOPIC_RECORD };

/* Logical outbox columns; config maps each to a column of the app's table. */
enum outbox_column {
	COL_ID = 0,
	COL_EVENT_ID,
	COL_AGGREGATE_TYPE,
	COL_AGGREGATE_ID,
	COL_EVENT_TYPE,
	COL_SCHEMA_VERSION,
	COL_PAYLOAD,
	COL_HEADERS,
	COL_CREATED_AT,
	COL_PUBLISHED_AT,
	COL_TXID,
	COL__COUNT
};

struct conf_source {
	char *name;
	char *dsn;			/* secret: never logged */
	int mode;			/* enum source_mode */
	char *table;			/* as written, "schema.table" or "table" */
	char *schema_name;		/* split from table; "public" when not given */
	char *table_name;
	char *topic;			/* template with {aggregate_type} {event_type} {source} */
	char *dead_letter_topic;	/* template */
	long long batch_size;
	long long poll_interval_ms;
	long long max_in_flight;
	long long max_in_flight_bytes;
	long long standby_retry_ms;
	long long retry_backoff_max_ms;
	/* poll mode: published rows older than retention_ms are deleted (0 = kept forever), at
	 * most retention_batch per DELETE, a pass every retention_interval_ms */
	long long retention_ms;
	long long retention_batch;
	long long retention_interval_ms;
	/* logical mode */
	char *slot;			/* replication slot; default outbox_relay_<name> */
	char *publication;		/* default: the slot's name */
	char *message_prefix;		/* pg_logical_emit_message prefix of events */
	int create_slot;		/* create slot and publication when missing */
	long long status_interval_ms;	/* standby status updates at least this often */
	int on_error;			/* enum on_error */
	int format;			/* enum source_format */
	int framing;			/* enum avro_framing */
	int subject_strategy;		/* enum subject_strategy */
	int compatibility;		/* enum compat_level (compat.h) */
	char **required_headers;	/* headers every event must carry */
	size_t n_required_headers;
	int on_publish;			/* enum on_publish */
	char *columns[COL__COUNT];	/* column names; "" = the table has no such column */
	int line;			/* where the source starts in the file */
};

struct conf_kafka_property {
	char *name;	/* librdkafka spelling, with dots */
	char *value;	/* may be a secret: never logged */
	int line;
};

/* The Confluent-compatible Schema Registry (sources with format "avro", framing "confluent"). */
struct conf_registry {
	char *url;			/* NULL = none configured */
	char *username;
	char *password;			/* secret: never logged */
	char *ca_location;
	char *cert_location;
	char *key_location;
	char *key_password;		/* secret: never logged */
	int verify_peer;
	long long timeout_ms;
};

/* The HTTP endpoint of metrics and health (metrics.c). Read at start only: a reload keeps it. */
struct conf_metrics {
	char *listen;			/* as written, "host:port"; NULL = no metrics group: disabled */
	char host[64];			/* the IPv4 or IPv6 address, without brackets */
	int ipv6;
	int port;			/* 0..65535; 0 = any free port */
	int line;
};

struct conf {
	char *path;
	struct conf_metrics metrics;
	struct conf_registry registry;
	char *brokers;
	struct conf_kafka_property *kafka_props;
	size_t n_kafka_props;
	int log_level;			/* enum log_level */
	int log_json;			/* log.format = "json" */
	long long drain_timeout_ms;	/* bound on waiting for acks at shutdown */
	struct conf_source *sources;
	size_t n_sources;
};

/*
 * Reads and validates FILE. On success returns a config owned by the caller (conf_destroy).
 * On failure returns NULL and writes "FILE:LINE: what is wrong" into errstr.
 */
struct conf *conf_load(const char *path, char *errstr, size_t errstr_size);

/*
 * The same for the configuration text itself (NUL-terminated), as if read from a file called
 * name: cfg->path and messages ("NAME:LINE: what is wrong") use name. An "@include" is still
 * read from the file it names (relative to the working directory). For tests and fuzzing.
 */
struct conf *conf_load_string(const char *name, const char *text, char *errstr,
			      size_t errstr_size);

void conf_destroy(struct conf *cfg);

/* Name of a logical column ("aggregate_id", ...) as used in the `columns` group. */
const char *conf_column_key(enum outbox_column col);

/* Whether two sources are configured alike in every key (so a reload leaves the source alone). */
int conf_source_equal(const struct conf_source *a, const struct conf_source *b);

/*
 * Whether what every source shares is alike: brokers and kafka properties, the schema
 * registry, drain_timeout_ms (log.level is not: a reload applies it in place).
 */
int conf_shared_equal(const struct conf *a, const struct conf *b);

/* Writes the reference of every key (from the same table that parses them) to out. */
void conf_print_help(FILE *out);

/*
 * Expands "${NAME}" and "${credential:NAME}" in value. Returns a malloc'd string owned by the
 * caller, or NULL with errstr naming the missing variable or file (never the value).
 */
char *conf_expand_secrets(const char *value, char *errstr, size_t errstr_size);

/*
 * Checks that libpq can parse dsn (key=value pairs or a postgres:// URI; a string with neither
 * is a plain database name, as for PQconnectdbParams' expand_dbname). Returns 0, or -1 with
 * errstr saying it is invalid but never quoting libpq's message, which may quote a password.
 */
int conf_check_dsn(const char *dsn, char *errstr, size_t errstr_size);

#endif
