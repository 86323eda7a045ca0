/*
 * fuzz_conf — fuzz target for the configuration file: relay/conf.c (conf_load_string, the same
 * code as conf_load), then what `outbox-relay check-config` checks after it (the kafka
 * properties against librdkafka, produce_check_conf; the topic templates, route_topic), and
 * conf_expand_secrets (see tests/fuzz/README.md).
 *
 * An input is configuration text, up to its first NUL byte; after the NUL, if there is one, a
 * string given to conf_expand_secrets. The environment has ORDERS_DB_PASSWORD, FUZZ_VAR and
 * FUZZ_EMPTY set, and CREDENTIALS_DIRECTORY names a directory made at start with the credentials
 * "db" ("s3cret" and a newline) and "empty" (removed at exit). An input with "@include" in it is
 * skipped: libconfig would read the file it names.
 *
 * Invariants checked (a broken one aborts): a load either gives a configuration whose strings
 * are all there, equal to itself and to a second load of the same text, or fails with a message
 * that begins "fuzz.conf:" (the place); conf_expand_secrets gives a string or a message; nothing
 * leaks once conf_destroy has run (LeakSanitizer).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "event.h"
#include "fuzz.h"
#include "produce.h"
#include "route.h"

#define NAME "fuzz.conf"

/* for driver.c: libconfig syntax and the relay's keys */
static const char *const tokens[] = {
	" = ", ";\n", " = {\n", "};\n", "( {\n", "} );\n", "[ \"a\", \"b\" ]", "\"\"", "\"${FUZZ_VAR}\"",
	"${credential:db}", "${credential:}", "${NO_SUCH}", "${", "0x7fffffffffffffffL", "-1",
	"1e3", "true", "false", "/* */", "# \n", "\\n", "kafka", "brokers",
	"sources", "name", "dsn", "mode", "\"logical\"", "\"poll\"", "table", "topic",
	"dead_letter_topic", "{aggregate_type}", "{event_type}", "{source}", "on_error",
	"\"dead-letter\"", "format", "\"avro\"", "framing", "\"single-object\"",
	"subject_strategy", "compatibility", "\"FULL_TRANSITIVE\"", "on_publish", "\"delete\"",
	"batch_size", "poll_interval_ms", "max_in_flight", "max_in_flight_bytes",
	"standby_retry_ms", "retry_backoff_max_ms", "retention_ms", "retention_batch",
	"retention_interval_ms", "slot", "publication", "message_prefix", "create_slot",
	"status_interval_ms", "columns", "required_headers", "schema_registry", "url",
	"username", "password", "ca_location", "verify_peer", "timeout_ms", "metrics", "listen",
	"\"[::1]:9187\"", "\"0.0.0.0:0\"", "log", "level", "\"debug\"", "\"json\"",
	"drain_timeout_ms", "acks", "compression_type", "\"zstd\"", "linger_ms",
	"enable_idempotence", NULL
};

const struct fuzz_hints fuzz_hints = {
	.name = "fuzz_conf",
	.max_len = 8192,
	.insert_bytes = "{}()[]\";=:,.\n ${}", .n_insert_bytes = 17,
	.tag_bytes = "{}()[]\";=:,\n\0", .n_tag_bytes = 13,
	.tokens = tokens,
};

static char cred_dir[] = "/tmp/fuzz_conf.XXXXXX";
static char cred_db[64], cred_empty[64];

static void
remove_credentials(void)
{
	unlink(cred_db);
	unlink(cred_empty);
	rmdir(cred_dir);
}

static void
setup(void)
{
	FILE *f;

	if (!mkdtemp(cred_dir)) {
		perror("fuzz_conf: mkdtemp");
		abort();
	}
	snprintf(cred_db, sizeof(cred_db), "%s/db", cred_dir);
	snprintf(cred_empty, sizeof(cred_empty), "%s/empty", cred_dir);
	if (!(f = fopen(cred_db, "w")) || fputs("s3cret\n", f) < 0 || fclose(f) != 0 ||
	    !(f = fopen(cred_empty, "w")) || fclose(f) != 0) {
		perror("fuzz_conf: credentials");
		abort();
	}
	atexit(remove_credentials);
	setenv("CREDENTIALS_DIRECTORY", cred_dir, 1);
	setenv("ORDERS_DB_PASSWORD", "pw", 1);
	setenv("FUZZ_VAR", "value with spaces and ${braces}", 1);
	setenv("FUZZ_EMPTY", "", 1);
}

static void
check_source(const struct conf_source *src)
{
	FUZZ_CHECK(src->name && src->name[0], "source without a name");
	FUZZ_CHECK(src->dsn && src->table && src->schema_name && src->table_name && src->topic &&
		   src->dead_letter_topic, "source string missing");
	FUZZ_CHECK(src->mode != SOURCE_MODE_LOGICAL || (src->slot && src->publication &&
							 src->message_prefix),
		   "logical source without slot, publication or message prefix");
	for (int c = 0; c < COL__COUNT; c++)
		FUZZ_CHECK(src->columns[c] != NULL, "column name missing");
	for (size_t i = 0; i < src->n_required_headers; i++)
		FUZZ_CHECK(src->required_headers[i] && src->required_headers[i][0],
			   "empty required header");
	FUZZ_CHECK(src->line > 0, "source without a line");
	FUZZ_CHECK(conf_source_equal(src, src), "source not equal to itself");
}

/* What `outbox-relay check-config` checks after conf_load (main.c load_checked). */
static void
check_like_main(const struct conf *cfg)
{
	char errstr[1024] = "", topic[ROUTE_TOPIC_MAX + 1], why[512];

	if (produce_check_conf(cfg, errstr, sizeof(errstr)) != 0)
		FUZZ_CHECK(strncmp(errstr, NAME ":", sizeof(NAME)) == 0,
			   "kafka property error without the place");
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct conf_source *src = &cfg->sources[i];
		struct outbox_event probe = { .aggregate_type = "t", .event_type = "t" };

		why[0] = '\0';
		if (route_topic(src->topic, src->name, &probe, topic, why, sizeof(why)) != 0)
			FUZZ_CHECK(why[0], "topic error without a message");
		why[0] = '\0';
		if (route_topic(src->dead_letter_topic, src->name, NULL, topic, why, sizeof(why)) != 0)
			FUZZ_CHECK(why[0], "dead_letter_topic error without a message");
	}
}

static void
load(const char *text)
{
	char errstr[1024] = "", again_err[1024] = "";
	struct conf *cfg = conf_load_string(NAME, text, errstr, sizeof(errstr)), *again;

	if (!cfg) {
		FUZZ_CHECK(strncmp(errstr, NAME ":", sizeof(NAME)) == 0,
			   "error message does not name the place");
		FUZZ_CHECK(strlen(errstr) > sizeof(NAME), "error without a message");
		return;
	}
	FUZZ_CHECK(cfg->path && strcmp(cfg->path, NAME) == 0, "path");
	FUZZ_CHECK(cfg->brokers && cfg->n_sources > 0 && cfg->sources, "no brokers or sources");
	for (size_t i = 0; i < cfg->n_kafka_props; i++)
		FUZZ_CHECK(cfg->kafka_props[i].name && cfg->kafka_props[i].value,
			   "kafka property missing");
	for (size_t i = 0; i < cfg->n_sources; i++)
		check_source(&cfg->sources[i]);
	FUZZ_CHECK(conf_shared_equal(cfg, cfg), "configuration not equal to itself");
	again = conf_load_string(NAME, text, again_err, sizeof(again_err));
	FUZZ_CHECK(again && again->n_sources == cfg->n_sources && conf_shared_equal(cfg, again),
		   "a second load differs");
	for (size_t i = 0; i < cfg->n_sources; i++)
		FUZZ_CHECK(conf_source_equal(&cfg->sources[i], &again->sources[i]),
			   "a second load gives another source");
	conf_destroy(again);
	check_like_main(cfg);
	conf_destroy(cfg);
}

static void
expand(const char *value)
{
	char errstr[512] = "";
	char *out = conf_expand_secrets(value, errstr, sizeof(errstr));

	if (!out) {
		FUZZ_CHECK(errstr[0], "conf_expand_secrets failed without a message");
		return;
	}
	/* without a reference the value comes back as it was */
	FUZZ_CHECK(strstr(value, "${") || strcmp(out, value) == 0, "plain value changed");
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char *text;
	size_t len;

	if (!ready) {
		setup();
		ready = 1;
	}
	/* the copy ends where the text does, with the NUL libconfig needs */
	if (!(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	len = strlen(text);
	if (!strcasestr(text, "@include"))
		load(text);
	if (len < size)
		expand(text + len + 1);
	free(text);
	return 0;
}
