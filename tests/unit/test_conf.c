/*
 * test_conf.c: unit tests of the conf module (configuration file parsing)
 *
 * Every test writes its configuration to a fresh file (mkstemp) and loads it with conf_load.
 * Error cases are one table: each names the line the message must point at by a "#!" comment
 * on that line (no marker: the message has no line, only "FILE: "), plus the substrings that
 * name the culprit. Success cases check the defaults, every key, the schema.table split, the
 * kafka property spelling, and the expansion of ${VAR} and ${credential:NAME}, whose values
 * must never appear in an error message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A secret that no error message may repeat, and a variable that is never set. */
#define SECRET "hunter2"
#define UNSET_VAR "OUTBOX_TEST_UNSET"


/* Writes text into a new temporary file and puts its name into path. */
static void write_temp(char *path, size_t path_size, const char *text)
{
    const char *dir = getenv("TMPDIR");
    size_t len = strlen(text);
    int fd;

    snprintf(path, path_size, "%s/outbox-relay-conf-XXXXXX",
             dir != NULL && *dir != '\0' ? dir : "/tmp");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), len);
    assert_int_equal(close(fd), 0);
}

/* Loads text as a configuration file; path receives the file's (already removed) name. */
static struct conf *load(const char *text, char *path, size_t path_size,
                         char *errstr, size_t errstr_size)
{
    struct conf *cfg;

    write_temp(path, path_size, text);
    errstr[0] = '\0';
    cfg = conf_load(path, errstr, errstr_size);
    assert_int_equal(unlink(path), 0);
    return cfg;
}

/* Loads text that must be valid. */
static struct conf *load_ok(const char *text)
{
    char path[4096], errstr[1024];
    struct conf *cfg = load(text, path, sizeof(path), errstr, sizeof(errstr));

    if (cfg == NULL)
        fail_msg("rejected: %s", errstr);
    assert_string_equal(cfg->path, path);
    return cfg;
}

/* Line (1-based) of the "#!" marker in text, or 0 when there is none. */
static int marked_line(const char *text)
{
    const char *mark = strstr(text, "#!");
    int line = 1;

    if (mark == NULL)
        return 0;
    for (const char *p = text; p < mark; p++)
        if (*p == '\n')
            line++;
    return line;
}

static int group_setup(void **state)
{
    (void)state;
    setenv("OUTBOX_TEST_PW", SECRET, 1);
    unsetenv(UNSET_VAR);
    return 0;
}

/* ---- errors ---------------------------------------------------------------------------- */

#define KAFKA "kafka = { brokers = \"127.0.0.1:9092\"; };\n"
/* One source; the caller adds keys (from line 6 on) and SRC_END. */
#define SRC "sources = (\n" \
            "  {\n" \
            "    name = \"orders\";\n" \
            "    dsn = \"host=db password=${OUTBOX_TEST_PW}\";\n"
/* The same, for errors that point at the line where the source starts (line 3). */
#define SRC_MARKED "sources = (\n" \
                   "  { #!\n" \
                   "    name = \"orders\";\n" \
                   "    dsn = \"host=db password=${OUTBOX_TEST_PW}\";\n"
#define SRC_END "  }\n" \
                ");\n"

static const struct {
    const char *what;
    const char *text;
    const char *want[3];    /* substrings of the message after "FILE:LINE: " */
} error_cases[] = {
    /* syntax, reported by libconfig at the line it stopped */
    { "syntax: two =", KAFKA SRC "    batch_size = = 1; #!\n" SRC_END,
      { "syntax error" } },
    { "syntax: no =", KAFKA SRC "    batch_size 1; #!\n" SRC_END,
      { "syntax error" } },
    { "syntax: duplicate key", KAFKA SRC "    name = \"again\"; #!\n" SRC_END,
      { "duplicate setting" } },

    /* top level */
    { "unknown top-level key", KAFKA "colour = \"red\"; #!\n" SRC SRC_END,
      { "unknown key \"colour\"" } },
    { "unknown key in log", KAFKA "log = {\n  lvl = \"info\"; #!\n};\n" SRC SRC_END,
      { "unknown key \"lvl\" in \"log\"" } },
    { "bad log level", KAFKA "log = { level = \"loud\"; }; #!\n" SRC SRC_END,
      { "\"level\" must be one of", "\"debug\", \"info\", \"warning\", \"error\"" } },
    { "bad log format", KAFKA "log = { format = \"xml\"; }; #!\n" SRC SRC_END,
      { "\"format\" must be \"text\" or \"json\"" } },
    { "log not a group", KAFKA "log = \"debug\"; #!\n" SRC SRC_END,
      { "\"log\" must be a group" } },
    { "drain_timeout_ms negative", KAFKA "drain_timeout_ms = -1; #!\n" SRC SRC_END,
      { "\"drain_timeout_ms\" must be an integer between 0 and 3600000" } },
    { "drain_timeout_ms string", KAFKA "drain_timeout_ms = \"5\"; #!\n" SRC SRC_END,
      { "\"drain_timeout_ms\" must be an integer" } },

    /* kafka */
    { "missing kafka", SRC SRC_END,
      { "missing required group \"kafka\"", "\"brokers\"" } },
    { "kafka not a group", "kafka = \"k:9092\"; #!\n" SRC SRC_END,
      { "\"kafka\" must be a group" } },
    { "missing brokers", "kafka = { #!\n  linger_ms = 5;\n};\n" SRC SRC_END,
      { "\"kafka\" is missing required key \"brokers\"" } },
    { "empty brokers", "kafka = { brokers = \"\"; }; #!\n" SRC SRC_END,
      { "\"kafka\" is missing required key \"brokers\"" } },
    { "kafka property is a group",
      "kafka = {\n  brokers = \"k:9092\";\n  sasl = { x = 1; }; #!\n};\n" SRC SRC_END,
      { "kafka property \"sasl\" must be a string, number or boolean" } },
    { "kafka property is an array",
      "kafka = {\n  brokers = \"k:9092\";\n  debug = [ 1, 2 ]; #!\n};\n" SRC SRC_END,
      { "kafka property \"debug\"" } },
    { "kafka property with a missing variable",
      "kafka = {\n  brokers = \"k:9092\";\n  sasl_password = \"${" UNSET_VAR "}\"; #!\n};\n"
      SRC SRC_END,
      { "kafka property \"sasl_password\"",
        "environment variable \"" UNSET_VAR "\" is not set" } },
    { "brokers with a missing variable",
      "kafka = {\n  brokers = \"${" UNSET_VAR "}:9092\"; #!\n};\n" SRC SRC_END,
      { "\"brokers\"", "environment variable \"" UNSET_VAR "\" is not set" } },

    /* sources list */
    { "missing sources", KAFKA, { "missing required list \"sources\"" } },
    { "empty sources", KAFKA "sources = ( ); #!\n", { "\"sources\" must be a non-empty list" } },
    { "sources not a list", KAFKA "sources = { name = \"orders\"; }; #!\n",
      { "\"sources\" must be a non-empty list" } },
    { "source not a group", KAFKA "sources = (\n  \"orders\" ); #!\n",
      { "each source must be a group" } },

    /* schema_registry, required_headers, format */
    { "registry without url", KAFKA "schema_registry = { #!\n  username = \"u\";\n};\n" SRC SRC_END,
      { "schema_registry", "\"url\" is required" } },
    { "registry url not http", KAFKA "schema_registry = { url = \"ftp://r\"; }; #!\n" SRC SRC_END,
      { "must start with http:// or https://" } },
    { "registry unknown key",
      KAFKA "schema_registry = {\n  url = \"http://r:8081\";\n  uri = \"x\"; #!\n};\n" SRC SRC_END,
      { "unknown key \"uri\" in \"schema_registry\"" } },
    { "registry user without password",
      KAFKA "schema_registry = { #!\n  url = \"http://r:8081\";\n  username = \"u\";\n};\n"
      SRC SRC_END, { "\"username\" and \"password\" go together" } },
    { "registry password with a missing variable",
      KAFKA "schema_registry = {\n  url = \"http://r:8081\";\n  username = \"u\";\n"
      "  password = \"${" UNSET_VAR "}\"; #!\n};\n" SRC SRC_END,
      { "\"password\"", "environment variable \"" UNSET_VAR "\" is not set" } },
    { "registry timeout out of range",
      KAFKA "schema_registry = {\n  url = \"http://r:8081\";\n  timeout_ms = 5; #!\n};\n"
      SRC SRC_END, { "\"timeout_ms\" must be an integer between 100 and 600000" } },
    { "avro confluent without a registry", KAFKA SRC_MARKED "    format = \"avro\";\n" SRC_END,
      { "format \"avro\" with framing \"confluent\" needs a schema_registry" } },
    { "bad format", KAFKA SRC "    format = \"protobuf\"; #!\n" SRC_END,
      { "\"format\" must be one of \"json\", \"avro\"" } },
    { "bad compatibility", KAFKA SRC "    compatibility = \"sideways\"; #!\n" SRC_END,
      { "\"compatibility\" must be one of", "\"full_transitive\"" } },
    { "required_headers not a list", KAFKA SRC "    required_headers = 5; #!\n" SRC_END,
      { "\"required_headers\" must be a list" } },
    { "required_headers with an empty name", KAFKA SRC "    required_headers = [\"a\", \"\"]; #!\n" SRC_END,
      { "\"required_headers\": element 2 must be a non-empty string" } },

    /* metrics */
    { "metrics not a group", KAFKA "metrics = \"127.0.0.1:9187\"; #!\n" SRC SRC_END,
      { "\"metrics\" must be a group" } },
    { "metrics without listen", KAFKA "metrics = { }; #!\n" SRC SRC_END,
      { "metrics: \"listen\" is required" } },
    { "metrics unknown key", KAFKA "metrics = {\n  listen = \"127.0.0.1:1\";\n  port = 1; #!\n};\n"
      SRC SRC_END, { "unknown key \"port\" in \"metrics\"" } },
    { "metrics listen not a string", KAFKA "metrics = {\n  listen = 9187; #!\n};\n" SRC SRC_END,
      { "\"listen\" must be a string" } },
    { "metrics listen without port", KAFKA "metrics = { listen = \"127.0.0.1\"; }; #!\n" SRC SRC_END,
      { "\"listen\" must be \"IPv4:port\" or \"[IPv6]:port\"", "not \"127.0.0.1\"" } },
    { "metrics port too large", KAFKA "metrics = { listen = \"127.0.0.1:65536\"; }; #!\n" SRC SRC_END,
      { "with a port from 0 to 65535" } },
    { "metrics port not a number", KAFKA "metrics = { listen = \"127.0.0.1:http\"; }; #!\n" SRC SRC_END,
      { "with a port from 0 to 65535" } },
    { "metrics empty port", KAFKA "metrics = { listen = \"127.0.0.1:\"; }; #!\n" SRC SRC_END,
      { "\"listen\" must be" } },
    { "metrics negative port", KAFKA "metrics = { listen = \"127.0.0.1:-1\"; }; #!\n" SRC SRC_END,
      { "\"listen\" must be" } },
    { "metrics host name", KAFKA "metrics = { listen = \"localhost:9187\"; }; #!\n" SRC SRC_END,
      { "\"listen\" must be" } },
    { "metrics IPv6 without brackets", KAFKA "metrics = { listen = \"::1:9187\"; }; #!\n" SRC SRC_END,
      { "\"listen\" must be" } },
    { "metrics IPv6 unclosed", KAFKA "metrics = { listen = \"[::1:9187\"; }; #!\n" SRC SRC_END,
      { "\"listen\" must be" } },
    { "metrics IPv4 in brackets", KAFKA "metrics = { listen = \"[127.0.0.1]:9187\"; }; #!\n" SRC SRC_END,
      { "\"listen\" must be" } },

    /* keys of a source */
    { "unknown source key", KAFKA SRC "    bach_size = 10; #!\n" SRC_END,
      { "unknown key \"bach_size\" in source" } },
    { "string for int", KAFKA SRC "    batch_size = \"10\"; #!\n" SRC_END,
      { "\"batch_size\" must be an integer" } },
    { "float for int", KAFKA SRC "    poll_interval_ms = 1.5; #!\n" SRC_END,
      { "\"poll_interval_ms\" must be an integer" } },
    { "int for string", KAFKA SRC "    topic = 5; #!\n" SRC_END,
      { "\"topic\" must be a string" } },
    { "bool for dsn", KAFKA "sources = (\n  {\n    name = \"orders\";\n    dsn = true; #!\n"
      SRC_END, { "\"dsn\" must be a string" } },
    { "int for enum", KAFKA SRC "    mode = 1; #!\n" SRC_END,
      { "\"mode\" must be a string" } },
    { "batch_size 0", KAFKA SRC "    batch_size = 0; #!\n" SRC_END,
      { "\"batch_size\" must be between 1 and 100000, not 0" } },
    { "batch_size too big", KAFKA SRC "    batch_size = 100001; #!\n" SRC_END,
      { "\"batch_size\" must be between 1 and 100000, not 100001" } },
    { "batch_size 64-bit", KAFKA SRC "    batch_size = 10000000000L; #!\n" SRC_END,
      { "\"batch_size\" must be between 1 and 100000, not 10000000000" } },
    { "max_in_flight_bytes too small", KAFKA SRC "    max_in_flight_bytes = 1023; #!\n" SRC_END,
      { "\"max_in_flight_bytes\" must be between 1024 and 1099511627776, not 1023" } },
    { "bad mode", KAFKA SRC "    mode = \"bogus\"; #!\n" SRC_END,
      { "\"mode\" must be one of \"poll\", \"logical\", not \"bogus\"" } },
    { "bad on_error", KAFKA SRC "    on_error = \"x\"; #!\n" SRC_END,
      { "\"on_error\" must be one of \"stop\", \"dead-letter\", not \"x\"" } },
    { "bad on_publish", KAFKA SRC "    on_publish = \"remove\"; #!\n" SRC_END,
      { "\"on_publish\" must be one of \"mark\", \"delete\", not \"remove\"" } },

    /* columns */
    { "unknown column",
      KAFKA SRC "    columns = {\n      id = \"oid\";\n      aggregate = \"agg\"; #!\n    };\n"
      SRC_END,
      { "unknown column \"aggregate\" in \"columns\"" } },
    { "columns not a group", KAFKA SRC "    columns = \"id\"; #!\n" SRC_END,
      { "\"columns\" must be a group" } },
    { "column not a string", KAFKA SRC "    columns = { payload = 5; }; #!\n" SRC_END,
      { "column \"payload\" must be a string" } },
    { "column name of 64 bytes", KAFKA SRC "    columns = { payload = \"p23456789012345678901234"
      "5678901234567890123456789012345678901234\"; }; #!\n" SRC_END,
      { "column \"payload\"", "is 64 bytes; PostgreSQL's limit for names is 63" } },
    { "column name with a newline", KAFKA SRC "    columns = { payload = \"pay\\nload\"; }; #!\n"
      SRC_END, { "column \"payload\"", "contains a control character" } },
    { "required column empty", KAFKA SRC "    columns = { aggregate_id = \"\"; }; #!\n"
      SRC_END, { "column \"aggregate_id\" is required and cannot be empty" } },

    /* checks made once the whole source is read point at the line where it starts */
    { "missing name", KAFKA "sources = (\n  { #!\n    dsn = \"host=db\";\n" SRC_END,
      { "source is missing required key \"name\"" } },
    { "missing dsn", KAFKA "sources = (\n  { #!\n    name = \"orders\";\n" SRC_END,
      { "source is missing required key \"dsn\"" } },
    { "duplicate source name",
      KAFKA "sources = (\n  { name = \"orders\"; dsn = \"a\"; },\n"
      "  { name = \"orders\"; dsn = \"b\"; } #!\n);\n",
      { "duplicate source name \"orders\"", "(first at line 3)" } },
    { "bad source name",
      KAFKA "sources = (\n  { #!\n    name = \"Orders!\";\n    dsn = \"a\";\n" SRC_END,
      { "source name \"Orders!\"", "a-z, 0-9" } },
    { "empty source name",
      KAFKA "sources = (\n  { #!\n    name = \"\";\n    dsn = \"a\";\n" SRC_END,
      { "source name \"\"" } },
    { "source name of 64 characters",
      KAFKA "sources = (\n  { #!\n    name = \"a123456789012345678901234567890123456789"
      "012345678901234567890123\";\n    dsn = \"a\";\n" SRC_END,
      { "must be 1-63 characters" } },
    { "logical slot with capitals", KAFKA SRC_MARKED "    mode = \"logical\";\n"
      "    slot = \"Bad-Slot\";\n" SRC_END,
      { "source \"orders\"", "slot name \"Bad-Slot\" must be 1-63 characters" } },
    { "default slot name too long", KAFKA "sources = (\n  { #!\n    name = \"a1234567890123456789"
      "0123456789012345678901234567890\";\n    dsn = \"a\";\n    mode = \"logical\";\n" SRC_END,
      { "the default slot name \"outbox_relay_a12", "is 64 bytes; PostgreSQL's limit for names "
        "is 63 (NAMEDATALEN - 1): set \"slot\"" } },
    { "publication of 64 bytes", KAFKA SRC_MARKED "    mode = \"logical\";\n"
      "    publication = \"p234567890123456789012345678901234567890123456789012345678901234\";\n"
      SRC_END, { "publication \"p2345", "is 64 bytes; PostgreSQL's limit for names is 63" } },
    { "table of 64 bytes", KAFKA SRC_MARKED "    table = \"s.t23456789012345678901234567890123456"
      "7890123456789012345678901234\";\n" SRC_END,
      { "table name \"t2345", "is 64 bytes; PostgreSQL's limit for names is 63" } },
    { "schema of 64 bytes", KAFKA SRC_MARKED "    table = \"s2345678901234567890123456789012345678"
      "9012345678901234567890123\"\n      \"4.t\";\n" SRC_END,
      { "schema name \"s2345", "is 64 bytes" } },
    { "dead-letter table name too long", KAFKA SRC_MARKED "    on_error = \"dead-letter\";\n"
      "    table = \"t23456789012345678901234567890123456789012345678901\";\n" SRC_END,
      { "on_error = \"dead-letter\" needs the table \"t2345678901234567890123456789012345678901"
        "2345678901_dead_letters\", which would be 64 bytes", "limit for names is 63" } },
    { "avro catalog name too long", KAFKA SRC_MARKED "    format = \"avro\";\n"
      "    framing = \"single-object\";\n"
      "    table = \"t2345678901234567890123456789012345678901234567890123456\";\n" SRC_END,
      { "format = \"avro\" needs the table \"t2345678901234567890123456789012345678901234567890"
        "123456_schemas\", which would be 64 bytes" } },
    { "table with an unterminated quote", KAFKA SRC_MARKED "    table = \"\\\"Out\";\n" SRC_END,
      { "table \"\"Out\": has an unterminated quoted name" } },
    { "table with a quote in an unquoted name", KAFKA SRC_MARKED "    table = \"Out\\\"box\";\n"
      SRC_END, { "table \"Out\"box\": has a double quote inside an unquoted name" } },
    { "retention in logical mode", KAFKA SRC_MARKED "    mode = \"logical\";\n"
      "    retention_ms = 86400000;\n" SRC_END,
      { "source \"orders\": retention_ms works in mode \"poll\" only",
        "never sets published_at" } },
    { "table with two dots", KAFKA SRC_MARKED "    table = \"a.b.c\";\n" SRC_END,
      { "source \"orders\"", "table \"a.b.c\": has more than one \".\" outside double quotes" } },
    { "table without schema name", KAFKA SRC_MARKED "    table = \".outbox\";\n" SRC_END,
      { "table \".outbox\"" } },
    { "empty table", KAFKA SRC_MARKED "    table = \"\";\n" SRC_END,
      { "table \"\"" } },
    { "dsn with a missing variable",
      KAFKA "sources = (\n  { #!\n    name = \"orders\";\n"
      "    dsn = \"password=${OUTBOX_TEST_PW} user=${" UNSET_VAR "}\";\n" SRC_END,
      { "source \"orders\": dsn:", "environment variable \"" UNSET_VAR "\" is not set" } },
    { "dsn with an unterminated reference",
      KAFKA "sources = (\n  { #!\n    name = \"orders\";\n"
      "    dsn = \"host=db password=${OUTBOX_TEST_PW\";\n" SRC_END,
      { "source \"orders\": dsn:", "unterminated or empty \"${...}\"" } },
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
        char path[4096], errstr[1024], prefix[4200];
        int line = marked_line(error_cases[i].text);
        struct conf *cfg = load(error_cases[i].text, path, sizeof(path),
                                errstr, sizeof(errstr));

        if (cfg != NULL)
            fail_msg("case \"%s\": accepted", error_cases[i].what);
        if (line > 0)
            snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
        else
            snprintf(prefix, sizeof(prefix), "%s: ", path);
        if (strncmp(errstr, prefix, strlen(prefix)) != 0)
            fail_msg("case \"%s\": \"%s\" does not start with \"%s\"", error_cases[i].what,
                     errstr, prefix);
        for (size_t j = 0; j < ARRAY_SIZE(error_cases[i].want) && error_cases[i].want[j]; j++)
            if (strstr(errstr, error_cases[i].want[j]) == NULL)
                fail_msg("case \"%s\": \"%s\" not in \"%s\"", error_cases[i].what,
                         error_cases[i].want[j], errstr);
        /* one line, and never a secret nor the connection string */
        if (strstr(errstr, SECRET) != NULL || strstr(errstr, "host=db") != NULL ||
            strstr(errstr, "password=") != NULL)
            fail_msg("case \"%s\" leaks a value: %s", error_cases[i].what, errstr);
        assert_null(strchr(errstr, '\n'));
    }
}

/* Each bound of each integer key: accepted at the bound, rejected one past it. */
static const struct {
    const char *key;
    long long min, max;
} int_bounds[] = {
    { "batch_size", 1, 100000 },
    { "poll_interval_ms", 1, 3600000 },
    { "max_in_flight", 1, 10000000 },
    { "max_in_flight_bytes", 1024, 1LL << 40 },
    { "standby_retry_ms", 10, 600000 },
    { "retry_backoff_max_ms", 100, 3600000 },
    { "retention_ms", 0, 10LL * 365 * 24 * 3600 * 1000 },
    { "retention_batch", 1, 100000 },
    { "retention_interval_ms", 1000, 86400000 },
};

static void test_int_bounds(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(int_bounds); i++) {
        const long long values[4] = {
            int_bounds[i].min, int_bounds[i].max, int_bounds[i].min - 1, int_bounds[i].max + 1
        };

        for (size_t v = 0; v < 4; v++) {
            char text[512], path[4096], errstr[1024], want[256];
            struct conf *cfg;

            snprintf(text, sizeof(text), KAFKA SRC "    %s = %lldL;\n" SRC_END,
                     int_bounds[i].key, values[v]);
            cfg = load(text, path, sizeof(path), errstr, sizeof(errstr));
            if (v < 2) {
                if (cfg == NULL)
                    fail_msg("%s = %lld rejected: %s", int_bounds[i].key, values[v], errstr);
                /* the key's field, found through the same order as int_bounds */
                const long long got[] = {
                    cfg->sources[0].batch_size, cfg->sources[0].poll_interval_ms,
                    cfg->sources[0].max_in_flight, cfg->sources[0].max_in_flight_bytes,
                    cfg->sources[0].standby_retry_ms, cfg->sources[0].retry_backoff_max_ms,
                    cfg->sources[0].retention_ms, cfg->sources[0].retention_batch,
                    cfg->sources[0].retention_interval_ms,
                };
                assert_int_equal(got[i], values[v]);
                conf_destroy(cfg);
            } else {
                if (cfg != NULL)
                    fail_msg("%s = %lld accepted", int_bounds[i].key, values[v]);
                snprintf(want, sizeof(want), "%s:6: \"%s\" must be between %lld and %lld, not %lld",
                         path, int_bounds[i].key, int_bounds[i].min, int_bounds[i].max,
                         values[v]);
                assert_string_equal(errstr, want);
            }
        }
    }
}

/* Every column may be renamed; only the optional ones may be "" (the table lacks them). */
static void test_columns_required_and_optional(void **state)
{
    static const int optional[COL__COUNT] = {
        [COL_EVENT_ID] = 1, [COL_EVENT_TYPE] = 1, [COL_SCHEMA_VERSION] = 1,
        [COL_HEADERS] = 1, [COL_CREATED_AT] = 1, [COL_TXID] = 1,
    };

    (void)state;
    for (int c = 0; c < COL__COUNT; c++) {
        char text[512], path[4096], errstr[1024], want[512];
        struct conf *cfg;

        /* renamed */
        snprintf(text, sizeof(text), KAFKA SRC "    columns = { %s = \"my_%s\"; };\n" SRC_END,
                 conf_column_key((enum outbox_column)c), conf_column_key((enum outbox_column)c));
        cfg = load_ok(text);
        for (int o = 0; o < COL__COUNT; o++) {
            snprintf(want, sizeof(want), "%s%s", o == c ? "my_" : "",
                     conf_column_key((enum outbox_column)o));
            assert_string_equal(cfg->sources[0].columns[o], want);
        }
        conf_destroy(cfg);

        /* absent */
        snprintf(text, sizeof(text), KAFKA SRC "    columns = { %s = \"\"; };\n" SRC_END,
                 conf_column_key((enum outbox_column)c));
        cfg = load(text, path, sizeof(path), errstr, sizeof(errstr));
        if (optional[c]) {
            if (cfg == NULL)
                fail_msg("column %s = \"\" rejected: %s", conf_column_key((enum outbox_column)c),
                         errstr);
            assert_string_equal(cfg->sources[0].columns[c], "");
            conf_destroy(cfg);
        } else {
            if (cfg != NULL)
                fail_msg("required column %s = \"\" accepted",
                         conf_column_key((enum outbox_column)c));
            snprintf(want, sizeof(want), "%s:6: column \"%s\" is required and cannot be empty",
                     path, conf_column_key((enum outbox_column)c));
            assert_string_equal(errstr, want);
        }
    }
}

static void test_column_keys(void **state)
{
    static const char *const names[COL__COUNT] = {
        [COL_ID] = "id", [COL_EVENT_ID] = "event_id", [COL_AGGREGATE_TYPE] = "aggregate_type",
        [COL_AGGREGATE_ID] = "aggregate_id", [COL_EVENT_TYPE] = "event_type",
        [COL_SCHEMA_VERSION] = "schema_version", [COL_PAYLOAD] = "payload",
        [COL_HEADERS] = "headers", [COL_CREATED_AT] = "created_at",
        [COL_PUBLISHED_AT] = "published_at", [COL_TXID] = "txid",
    };

    (void)state;
    for (int c = 0; c < COL__COUNT; c++)
        assert_string_equal(conf_column_key((enum outbox_column)c), names[c]);
}

/* ---- success --------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    struct conf *cfg;
    const struct conf_source *src;

    (void)state;
    cfg = load_ok(KAFKA "sources = ( { name = \"orders\"; dsn = \"host=db\"; } );\n");
    assert_string_equal(cfg->brokers, "127.0.0.1:9092");
    assert_int_equal(cfg->n_kafka_props, 0);
    assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
    assert_int_equal(cfg->drain_timeout_ms, 30000);
    assert_int_equal(cfg->n_sources, 1);
    src = &cfg->sources[0];
    assert_string_equal(src->name, "orders");
    assert_string_equal(src->dsn, "host=db");
    assert_int_equal(src->mode, SOURCE_MODE_POLL);
    assert_string_equal(src->table, "public.outbox");
    assert_string_equal(src->schema_name, "public");
    assert_string_equal(src->table_name, "outbox");
    assert_string_equal(src->topic, "outbox.event.{aggregate_type}");
    assert_string_equal(src->dead_letter_topic, "outbox.dlq.{source}");
    assert_int_equal(src->batch_size, 1000);
    assert_int_equal(src->poll_interval_ms, 100);
    assert_int_equal(src->max_in_flight, 20000);
    assert_int_equal(src->max_in_flight_bytes, 67108864);
    assert_int_equal(src->standby_retry_ms, 1000);
    assert_int_equal(src->retry_backoff_max_ms, 30000);
    assert_int_equal(src->retention_ms, 0);	/* published rows are kept forever */
    assert_int_equal(src->retention_batch, 1000);
    assert_int_equal(src->retention_interval_ms, 60000);
    assert_int_equal(src->on_error, ON_ERROR_STOP);
    assert_int_equal(src->on_publish, ON_PUBLISH_MARK);
    assert_int_equal(src->format, FORMAT_JSON);
    assert_int_equal(src->framing, FRAMING_CONFLUENT);
    assert_int_equal(src->subject_strategy, SUBJECT_TOPIC);
    assert_int_equal(src->compatibility, 1);	/* COMPAT_BACKWARD */
    assert_int_equal(src->n_required_headers, 0);
    assert_null(cfg->registry.url);
    for (int c = 0; c < COL__COUNT; c++)
        assert_string_equal(src->columns[c], conf_column_key((enum outbox_column)c));
    assert_int_equal(src->line, 2);
    conf_destroy(cfg);
}

static void test_avro_keys(void **state)
{
    struct conf *cfg;
    const struct conf_source *src;

    (void)state;
    cfg = load_ok(KAFKA
                  "schema_registry = {\n"
                  "  url = \"https://registry:8081/apis/ccompat/v7\";\n"
                  "  username = \"relay\";\n"
                  "  password = \"${OUTBOX_TEST_PW}\";\n"
                  "  ssl_ca_location = \"/etc/ca.pem\";\n"
                  "  ssl_verify = false;\n"
                  "  timeout_ms = 2500;\n"
                  "};\n"
                  SRC
                  "    format = \"avro\";\n"
                  "    framing = \"confluent\";\n"
                  "    subject_strategy = \"topic-record\";\n"
                  "    compatibility = \"FULL_TRANSITIVE\";\n"
                  "    required_headers = [\"tenant_id\", \"user_id\"];\n"
                  SRC_END);
    src = &cfg->sources[0];
    assert_int_equal(src->format, FORMAT_AVRO);
    assert_int_equal(src->framing, FRAMING_CONFLUENT);
    assert_int_equal(src->subject_strategy, SUBJECT_TOPIC_RECORD);
    assert_int_equal(src->compatibility, 6);	/* COMPAT_FULL_TRANSITIVE, case-insensitive */
    assert_int_equal(src->n_required_headers, 2);
    assert_string_equal(src->required_headers[0], "tenant_id");
    assert_string_equal(src->required_headers[1], "user_id");
    assert_string_equal(cfg->registry.url, "https://registry:8081/apis/ccompat/v7");
    assert_string_equal(cfg->registry.username, "relay");
    assert_string_equal(cfg->registry.password, SECRET);
    assert_string_equal(cfg->registry.ca_location, "/etc/ca.pem");
    assert_int_equal(cfg->registry.verify_peer, 0);
    assert_int_equal(cfg->registry.timeout_ms, 2500);
    conf_destroy(cfg);

    /* single-object needs no registry; a lone string is a list of one */
    cfg = load_ok(KAFKA SRC "    format = \"avro\";\n    framing = \"single-object\";\n"
                  "    required_headers = \"tenant_id\";\n" SRC_END);
    assert_int_equal(cfg->sources[0].framing, FRAMING_SINGLE_OBJECT);
    assert_int_equal(cfg->sources[0].n_required_headers, 1);
    conf_destroy(cfg);
}

static void test_every_key(void **state)
{
    static const char text[] =
        "kafka = {\n"
        "  brokers = \"k1:9092,k2:9092\";\n"
        "};\n"
        "log = { level = \"debug\"; };\n"
        "drain_timeout_ms = 0;\n"
        "sources = (\n"
        "  {\n"
        "    name = \"orders\";\n"
        "    dsn = \"host=a\";\n"
        "    mode = \"poll\";\n"
        "    table = \"app.orders_outbox\";\n"
        "    topic = \"{source}.{event_type}\";\n"
        "    dead_letter_topic = \"dlq.{source}\";\n"
        "    on_error = \"stop\";\n"
        "    on_publish = \"delete\";\n"
        "    batch_size = 5;\n"
        "    poll_interval_ms = 7;\n"
        "    max_in_flight = 11;\n"
        "    max_in_flight_bytes = 2048;\n"
        "    standby_retry_ms = 13;\n"
        "    retry_backoff_max_ms = 170;\n"
        "    columns = { id = \"seq\"; event_id = \"\"; headers = \"extra\"; txid = \"\"; };\n"
        "  },\n"
        "  {\n"
        "    name = \"billing_2-x\";\n"
        "    dsn = \"host=b\";\n"
        "    on_error = \"dead-letter\";\n"
        "    on_publish = \"mark\";\n"
        "    table = \"ledger\";\n"
        "  }\n"
        ");\n";
    struct conf *cfg;
    const struct conf_source *a, *b;

    (void)state;
    cfg = load_ok(text);
    assert_string_equal(cfg->brokers, "k1:9092,k2:9092");
    assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(cfg->drain_timeout_ms, 0);
    assert_int_equal(cfg->n_sources, 2);
    a = &cfg->sources[0];
    b = &cfg->sources[1];

    assert_string_equal(a->name, "orders");
    assert_string_equal(a->dsn, "host=a");
    assert_int_equal(a->mode, SOURCE_MODE_POLL);
    assert_string_equal(a->table, "app.orders_outbox");
    assert_string_equal(a->schema_name, "app");
    assert_string_equal(a->table_name, "orders_outbox");
    assert_string_equal(a->topic, "{source}.{event_type}");
    assert_string_equal(a->dead_letter_topic, "dlq.{source}");
    assert_int_equal(a->on_error, ON_ERROR_STOP);
    assert_int_equal(a->on_publish, ON_PUBLISH_DELETE);
    assert_int_equal(a->batch_size, 5);
    assert_int_equal(a->poll_interval_ms, 7);
    assert_int_equal(a->max_in_flight, 11);
    assert_int_equal(a->max_in_flight_bytes, 2048);
    assert_int_equal(a->standby_retry_ms, 13);
    assert_int_equal(a->retry_backoff_max_ms, 170);
    assert_string_equal(a->columns[COL_ID], "seq");
    assert_string_equal(a->columns[COL_EVENT_ID], "");
    assert_string_equal(a->columns[COL_HEADERS], "extra");
    assert_string_equal(a->columns[COL_TXID], "");
    assert_string_equal(a->columns[COL_AGGREGATE_ID], "aggregate_id");
    assert_int_equal(a->line, 7);

    /* the second source has its own defaults, untouched by the first */
    assert_string_equal(b->name, "billing_2-x");
    assert_string_equal(b->dsn, "host=b");
    assert_int_equal(b->on_error, ON_ERROR_DEAD_LETTER);
    assert_int_equal(b->on_publish, ON_PUBLISH_MARK);
    assert_string_equal(b->schema_name, "public");
    assert_string_equal(b->table_name, "ledger");
    assert_string_equal(b->topic, "outbox.event.{aggregate_type}");
    assert_int_equal(b->batch_size, 1000);
    assert_string_equal(b->columns[COL_ID], "id");
    assert_string_equal(b->columns[COL_TXID], "txid");
    assert_int_equal(b->line, 24);
    conf_destroy(cfg);
}

/* Retention is for poll mode; logical mode takes 0 (the default), on_publish = "delete" any. */
static void test_retention_modes(void **state)
{
    struct conf *cfg;

    (void)state;
    cfg = load_ok(KAFKA SRC "    mode = \"logical\";\n    retention_ms = 0;\n" SRC_END);
    assert_int_equal(cfg->sources[0].retention_ms, 0);
    conf_destroy(cfg);
    cfg = load_ok(KAFKA SRC "    on_publish = \"delete\";\n    retention_ms = 3600000;\n"
                  "    retention_batch = 50;\n    retention_interval_ms = 5000;\n" SRC_END);
    assert_int_equal(cfg->sources[0].retention_ms, 3600000);
    assert_int_equal(cfg->sources[0].retention_batch, 50);
    assert_int_equal(cfg->sources[0].retention_interval_ms, 5000);
    conf_destroy(cfg);
}

/* a poll source never uses a slot: a 63-character name is fine there (it is refused in
 * logical mode, whose default slot outbox_relay_<name> would be too long) */
static void test_long_name_poll(void **state)
{
    struct conf *cfg;

    (void)state;
    cfg = load_ok(KAFKA "sources = (\n  {\n    name = \"a1234567890123456789"
                  "0123456789012345678901234567890123456789012\";\n    dsn = \"a\";\n" SRC_END);
    assert_int_equal(strlen(cfg->sources[0].name), 63);
    assert_true(strlen(cfg->sources[0].slot) <= 63);
    conf_destroy(cfg);
}

/* table as written in the file (libconfig escapes), as read, and how it splits */
static const struct {
    const char *text, *table, *schema, *name;
} table_cases[] = {
    { "myschema.events", "myschema.events", "myschema", "events" },
    { "events", "events", "public", "events" },
    { "public.outbox", "public.outbox", "public", "outbox" },
    { "_s1.T_2", "_s1.T_2", "_s1", "T_2" },
    { "bad-name", "bad-name", "public", "bad-name" },
    { "\\\"Sales Dept\\\".\\\"Out\\\"\\\"box\\\"", "\"Sales Dept\".\"Out\"\"box\"", "Sales Dept",
      "Out\"box" },
    { "\\\"a.b\\\".c", "\"a.b\".c", "a.b", "c" },
    { "a.\\\"b.c\\\"", "a.\"b.c\"", "a", "b.c" },
    { "\\\"\\\"\\\"\\\"\\\"\\\"", "\"\"\"\"\"\"", "public", "\"\"" },
    { "Straße.Ereignisse", "Straße.Ereignisse", "Straße", "Ereignisse" },
    /* 63 bytes each: the limit */
    { "s23456789012345678901234567890123456789012345678901234567890123."
      "t23456789012345678901234567890123456789012345678901234567890123",
      "s23456789012345678901234567890123456789012345678901234567890123."
      "t23456789012345678901234567890123456789012345678901234567890123",
      "s23456789012345678901234567890123456789012345678901234567890123",
      "t23456789012345678901234567890123456789012345678901234567890123" },
};

static void test_table_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(table_cases); i++) {
        char text[512];
        struct conf *cfg;

        snprintf(text, sizeof(text), KAFKA SRC "    table = \"%s\";\n" SRC_END,
                 table_cases[i].text);
        cfg = load_ok(text);
        assert_string_equal(cfg->sources[0].table, table_cases[i].table);
        assert_string_equal(cfg->sources[0].schema_name, table_cases[i].schema);
        assert_string_equal(cfg->sources[0].table_name, table_cases[i].name);
        conf_destroy(cfg);
    }
}

/* The metrics group: absent = disabled; listen split into address and port. */
static const struct {
    const char *listen;
    const char *host;
    int ipv6, port;
} metrics_cases[] = {
    { "127.0.0.1:9187", "127.0.0.1", 0, 9187 },
    { "0.0.0.0:0", "0.0.0.0", 0, 0 },
    { "10.1.2.3:65535", "10.1.2.3", 0, 65535 },
    { "[::1]:9187", "::1", 1, 9187 },
    { "[fe80::1:2]:80", "fe80::1:2", 1, 80 },
};

static void test_metrics(void **state)
{
    struct conf *cfg;

    (void)state;
    cfg = load_ok(KAFKA SRC SRC_END);
    assert_null(cfg->metrics.listen);
    conf_destroy(cfg);
    for (size_t i = 0; i < ARRAY_SIZE(metrics_cases); i++) {
        char text[512];

        snprintf(text, sizeof(text), KAFKA "metrics = { listen = \"%s\"; };\n" SRC SRC_END,
                 metrics_cases[i].listen);
        cfg = load_ok(text);
        assert_string_equal(cfg->metrics.listen, metrics_cases[i].listen);
        assert_string_equal(cfg->metrics.host, metrics_cases[i].host);
        assert_int_equal(cfg->metrics.ipv6, metrics_cases[i].ipv6);
        assert_int_equal(cfg->metrics.port, metrics_cases[i].port);
        conf_destroy(cfg);
    }
}

static void test_kafka_properties(void **state)
{
    static const char text[] =
        "kafka = {\n"
        "  linger_ms = 5;\n"
        "  brokers = \"k:9092\";\n"
        "  enable_idempotence = true;\n"
        "  enable_ssl_certificate_verification = false;\n"
        "  compression_type = \"lz4\";\n"
        "  message_max_bytes = 10000000000L;\n"
        "  retry_backoff_ms = 0.5;\n"
        "  client_id = \"a_b.c\";\n"
        "  sasl_password = \"${OUTBOX_TEST_PW}\";\n"
        "};\n"
        "sources = ( { name = \"orders\"; dsn = \"host=db\"; } );\n";
    static const struct {
        const char *name, *value;
        int line;
    } want[] = {
        { "linger.ms", "5", 2 },
        { "enable.idempotence", "true", 4 },
        { "enable.ssl.certificate.verification", "false", 5 },
        { "compression.type", "lz4", 6 },
        { "message.max.bytes", "10000000000", 7 },
        { "retry.backoff.ms", "0.5", 8 },
        { "client.id", "a_b.c", 9 },    /* only names change, values are kept */
        { "sasl.password", SECRET, 10 },
    };
    struct conf *cfg;

    (void)state;
    cfg = load_ok(text);
    assert_string_equal(cfg->brokers, "k:9092");
    assert_int_equal(cfg->n_kafka_props, ARRAY_SIZE(want));
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        assert_string_equal(cfg->kafka_props[i].name, want[i].name);
        assert_string_equal(cfg->kafka_props[i].value, want[i].value);
        assert_int_equal(cfg->kafka_props[i].line, want[i].line);
    }
    conf_destroy(cfg);
}

/* BUG: string values are copied into a 4096-byte buffer first, so longer ones are cut. */
static void test_kafka_long_value_kept(void **state)
{
    size_t len = 6000;
    char *pem, *text;
    struct conf *cfg;

    (void)state;
    pem = malloc(len + 1);
    text = malloc(len + 256);
    assert_non_null(pem);
    assert_non_null(text);
    memset(pem, 'A', len);
    pem[len] = '\0';
    snprintf(text, len + 256, "kafka = { brokers = \"k:9092\"; ssl_ca_pem = \"%s\"; };\n"
             "sources = ( { name = \"orders\"; dsn = \"host=db\"; } );\n", pem);
    cfg = load_ok(text);
    assert_int_equal(cfg->n_kafka_props, 1);
    assert_string_equal(cfg->kafka_props[0].name, "ssl.ca.pem");
    assert_int_equal(strlen(cfg->kafka_props[0].value), len);
    conf_destroy(cfg);
    free(text);
    free(pem);
}

/* BUG: floats are printed with "%g", six significant digits. */
static void test_kafka_float_kept(void **state)
{
    struct conf *cfg;

    (void)state;
    cfg = load_ok("kafka = { brokers = \"k:9092\"; linger_ms = 1234567.0; };\n"
                  "sources = ( { name = \"orders\"; dsn = \"host=db\"; } );\n");
    assert_int_equal(cfg->n_kafka_props, 1);
    /* "1.23457e+06" reaches librdkafka as 1234570 */
    assert_true(strtod(cfg->kafka_props[0].value, NULL) == 1234567.0);
    conf_destroy(cfg);
}

static void test_env_expansion(void **state)
{
    struct conf *cfg;

    (void)state;
    setenv("OUTBOX_TEST_HOST", "db.internal", 1);
    cfg = load_ok("kafka = {\n"
                  "  brokers = \"${OUTBOX_TEST_HOST}:9092\";\n"
                  "  sasl_username = \"relay\";\n"
                  "  sasl_password = \"pw-${OUTBOX_TEST_PW}-x\";\n"
                  "};\n"
                  "sources = ( { name = \"orders\";\n"
                  "  dsn = \"host=${OUTBOX_TEST_HOST} password=${OUTBOX_TEST_PW}\"; } );\n");
    assert_string_equal(cfg->brokers, "db.internal:9092");
    assert_string_equal(cfg->sources[0].dsn, "host=db.internal password=" SECRET);
    assert_int_equal(cfg->n_kafka_props, 2);
    assert_string_equal(cfg->kafka_props[1].name, "sasl.password");
    assert_string_equal(cfg->kafka_props[1].value, "pw-" SECRET "-x");
    /* other keys are taken literally */
    conf_destroy(cfg);
    cfg = load_ok(KAFKA "sources = ( { name = \"orders\"; dsn = \"host=db\";\n"
                  "  topic = \"t.${OUTBOX_TEST_HOST}\"; } );\n");
    assert_string_equal(cfg->sources[0].topic, "t.${OUTBOX_TEST_HOST}");
    conf_destroy(cfg);
    unsetenv("OUTBOX_TEST_HOST");
}

/* conf_expand_secrets on its own: plain text, references, and bad references. */
static const struct {
    const char *in;
    const char *out;    /* NULL: must fail */
    const char *error;  /* substring of the message when failing */
} expand_cases[] = {
    { "", "", NULL },
    { "plain text", "plain text", NULL },
    { "${OUTBOX_TEST_A}", "a", NULL },
    { "x${OUTBOX_TEST_A}y${OUTBOX_TEST_A}z", "xayaz", NULL },
    { "${OUTBOX_TEST_A}${OUTBOX_TEST_A}", "aa", NULL },
    { "[${OUTBOX_TEST_EMPTY}]", "[]", NULL },
    /* a value is never expanded again */
    { "${OUTBOX_TEST_REF}", "${OUTBOX_TEST_A}", NULL },
    /* only "${" starts a reference */
    { "$OUTBOX_TEST_A", "$OUTBOX_TEST_A", NULL },
    { "a$", "a$", NULL },
    { "$", "$", NULL },
    { "}{", "}{", NULL },
    { "$$", "$$", NULL },
    { "${}", NULL, "unterminated or empty \"${...}\" reference" },
    { "x${OUTBOX_TEST_A", NULL, "unterminated or empty \"${...}\" reference" },
    { "${" UNSET_VAR "}", NULL, "environment variable \"" UNSET_VAR "\" is not set" },
    /* the message names the missing variable, never a value found before it */
    { "password=${OUTBOX_TEST_PW} x=${" UNSET_VAR "}", NULL,
      "environment variable \"" UNSET_VAR "\" is not set" },
};

static void test_expand_secrets(void **state)
{
    (void)state;
    setenv("OUTBOX_TEST_A", "a", 1);
    setenv("OUTBOX_TEST_EMPTY", "", 1);
    setenv("OUTBOX_TEST_REF", "${OUTBOX_TEST_A}", 1);
    for (size_t i = 0; i < ARRAY_SIZE(expand_cases); i++) {
        char errstr[256] = "";
        char *out = conf_expand_secrets(expand_cases[i].in, errstr, sizeof(errstr));

        if (expand_cases[i].out != NULL) {
            if (out == NULL)
                fail_msg("case %zu (%s): %s", i, expand_cases[i].in, errstr);
            assert_string_equal(out, expand_cases[i].out);
            free(out);
        } else {
            if (out != NULL)
                fail_msg("case %zu (%s): gave \"%s\"", i, expand_cases[i].in, out);
            if (strstr(errstr, expand_cases[i].error) == NULL)
                fail_msg("case %zu: \"%s\" not in \"%s\"", i, expand_cases[i].error, errstr);
            assert_null(strstr(errstr, SECRET));
            assert_null(strstr(errstr, "password"));
        }
    }
    unsetenv("OUTBOX_TEST_A");
    unsetenv("OUTBOX_TEST_EMPTY");
    unsetenv("OUTBOX_TEST_REF");
}

/* Values much longer than the text around them make the output grow several times. */
static void test_expand_long_values(void **state)
{
    char value[1001], want[10 * 1000 + 10 + 1], *out, errstr[256];
    const char *in = "${OUTBOX_TEST_LONG}.${OUTBOX_TEST_LONG}.${OUTBOX_TEST_LONG}."
                     "${OUTBOX_TEST_LONG}.${OUTBOX_TEST_LONG}.${OUTBOX_TEST_LONG}."
                     "${OUTBOX_TEST_LONG}.${OUTBOX_TEST_LONG}.${OUTBOX_TEST_LONG}."
                     "${OUTBOX_TEST_LONG}.";
    size_t n = 0;

    (void)state;
    memset(value, 'v', 1000);
    value[1000] = '\0';
    setenv("OUTBOX_TEST_LONG", value, 1);
    for (int i = 0; i < 10; i++) {
        memcpy(want + n, value, 1000);
        n += 1000;
        want[n++] = '.';
    }
    want[n] = '\0';
    out = conf_expand_secrets(in, errstr, sizeof(errstr));
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
    unsetenv("OUTBOX_TEST_LONG");
}

/* Variable names up to 255 characters are looked up; longer ones are refused. */
static void test_expand_name_length(void **state)
{
    char in[300], errstr[512], want[512];

    (void)state;
    for (size_t len = 254; len <= 257; len++) {
        memcpy(in, "${", 2);
        memset(in + 2, 'Q', len);
        memcpy(in + 2 + len, "}", 2);
        assert_null(conf_expand_secrets(in, errstr, sizeof(errstr)));
        if (len <= 255)
            snprintf(want, sizeof(want), "environment variable \"%.*s\" is not set", (int)len,
                     in + 2);
        else
            snprintf(want, sizeof(want), "unterminated or empty \"${...}\" reference");
        assert_string_equal(errstr, want);
    }
}

/* A missing variable: the message names it and repeats no value, in dsn and in kafka. */
static void test_missing_variable_names_only_the_variable(void **state)
{
    static const struct {
        const char *text;
        int line;
    } cases[] = {
        { KAFKA "sources = ( { name = \"orders\";\n"
          "  dsn = \"host=db password=${OUTBOX_TEST_PW} user=${" UNSET_VAR "}\"; } );\n", 2 },
        { "kafka = { brokers = \"k:9092\";\n"
          "  sasl_password = \"${OUTBOX_TEST_PW}\";\n"
          "  sasl_username = \"user-${" UNSET_VAR "}-${OUTBOX_TEST_PW}\"; };\n"
          "sources = ( { name = \"orders\"; dsn = \"password=${OUTBOX_TEST_PW}\"; } );\n", 3 },
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char path[4096], errstr[1024], want[4200];

        assert_null(load(cases[i].text, path, sizeof(path), errstr, sizeof(errstr)));
        snprintf(want, sizeof(want), "%s:%d: ", path, cases[i].line);
        assert_memory_equal(errstr, want, strlen(want));
        assert_non_null(strstr(errstr, "environment variable \"" UNSET_VAR "\" is not set"));
        assert_null(strstr(errstr, SECRET));
        assert_null(strstr(errstr, "host=db"));
        assert_null(strstr(errstr, "user-"));
        assert_null(strstr(errstr, "password="));
    }
}

/* ---- credentials ----------------------------------------------------------------------- */

static const struct {
    const char *name, *content, *value;
} credential_files[] = {
    { "db-password", "s3cret\n", "s3cret" },
    { "no-newline", "abc", "abc" },
    { "crlf", "tok\r\n", "tok" },
    { "multi-line", "line1\nline2\n\n", "line1\nline2" },
    { "empty", "", "" },
};

struct credentials {
    char dir[4096];
};

static int credentials_setup(void **state)
{
    struct credentials *c = calloc(1, sizeof(*c));
    const char *tmp = getenv("TMPDIR");

    if (c == NULL)
        return -1;
    snprintf(c->dir, sizeof(c->dir), "%s/outbox-relay-cred-XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(c->dir) == NULL)
        return -1;
    for (size_t i = 0; i < ARRAY_SIZE(credential_files); i++) {
        char path[4200];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", c->dir, credential_files[i].name);
        if ((f = fopen(path, "wb")) == NULL)
            return -1;
        fputs(credential_files[i].content, f);
        if (fclose(f) != 0)
            return -1;
    }
    setenv("CREDENTIALS_DIRECTORY", c->dir, 1);
    *state = c;
    return 0;
}

static int credentials_teardown(void **state)
{
    struct credentials *c = *state;

    for (size_t i = 0; i < ARRAY_SIZE(credential_files); i++) {
        char path[4200];

        snprintf(path, sizeof(path), "%s/%s", c->dir, credential_files[i].name);
        unlink(path);
    }
    rmdir(c->dir);
    unsetenv("CREDENTIALS_DIRECTORY");
    free(c);
    return 0;
}

static void test_credentials(void **state)
{
    struct conf *cfg;

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(credential_files); i++) {
        char in[256], errstr[256], *out;

        snprintf(in, sizeof(in), "<${credential:%s}>", credential_files[i].name);
        out = conf_expand_secrets(in, errstr, sizeof(errstr));
        if (out == NULL)
            fail_msg("%s: %s", in, errstr);
        assert_int_equal(strlen(out), strlen(credential_files[i].value) + 2);
        assert_memory_equal(out + 1, credential_files[i].value, strlen(credential_files[i].value));
        free(out);
    }

    cfg = load_ok("kafka = { brokers = \"k:9092\";\n"
                  "  sasl_password = \"${credential:no-newline}\"; };\n"
                  "sources = ( { name = \"orders\";\n"
                  "  dsn = \"user=app password=${credential:db-password}\"; } );\n");
    assert_string_equal(cfg->sources[0].dsn, "user=app password=s3cret");
    assert_int_equal(cfg->n_kafka_props, 1);
    assert_string_equal(cfg->kafka_props[0].value, "abc");
    conf_destroy(cfg);
}

static void test_credential_errors(void **state)
{
    struct credentials *c = *state;
    char errstr[512], path[4096], want[4200];
    char *out;

    /* a file that is not there */
    out = conf_expand_secrets("${credential:nope}", errstr, sizeof(errstr));
    assert_null(out);
    assert_non_null(strstr(errstr, "could not read credential \"nope\""));
    assert_non_null(strstr(errstr, "No such file or directory"));

    /* an empty name is the directory itself, whose size can read as 2^63 (found by fuzz_conf) */
    out = conf_expand_secrets("${credential:}", errstr, sizeof(errstr));
    assert_null(out);
    assert_string_equal(errstr, "could not read credential \"\": Is a directory");
    out = conf_expand_secrets("${credential:.}", errstr, sizeof(errstr));
    assert_null(out);
    assert_string_equal(errstr, "could not read credential \".\": Is a directory");

    /* through conf_load: the line where the source starts, the source and the key */
    assert_null(load(KAFKA "sources = (\n  { name = \"orders\";\n"
                     "    dsn = \"password=${credential:nope}\"; }\n);\n",
                     path, sizeof(path), errstr, sizeof(errstr)));
    snprintf(want, sizeof(want), "%s:3: source \"orders\": dsn: could not read credential \"nope\"",
             path);
    assert_memory_equal(errstr, want, strlen(want));
    assert_null(load("kafka = { brokers = \"k:9092\";\n"
                     "  ssl_key_password = \"${credential:nope}\"; };\n"
                     "sources = ( { name = \"orders\"; dsn = \"host=db\"; } );\n",
                     path, sizeof(path), errstr, sizeof(errstr)));
    snprintf(want, sizeof(want), "%s:2: kafka property \"ssl_key_password\": could not read "
             "credential \"nope\"", path);
    assert_memory_equal(errstr, want, strlen(want));

    /* no CREDENTIALS_DIRECTORY (not started by systemd with LoadCredential=) */
    unsetenv("CREDENTIALS_DIRECTORY");
    out = conf_expand_secrets("${credential:db-password}", errstr, sizeof(errstr));
    assert_null(out);
    assert_string_equal(errstr, "credential \"db-password\" requested but "
                        "CREDENTIALS_DIRECTORY is not set");
    assert_null(load(KAFKA "sources = (\n  { name = \"orders\";\n"
                     "    dsn = \"password=${credential:db-password}\"; }\n);\n",
                     path, sizeof(path), errstr, sizeof(errstr)));
    snprintf(want, sizeof(want), "%s:3: source \"orders\": dsn: credential \"db-password\" "
             "requested but CREDENTIALS_DIRECTORY is not set", path);
    assert_string_equal(errstr, want);
    assert_null(strstr(errstr, "s3cret"));
    setenv("CREDENTIALS_DIRECTORY", c->dir, 1);
}

/* ---- odds and ends --------------------------------------------------------------------- */

static void test_unreadable_file(void **state)
{
    char errstr[512];

    (void)state;
    assert_null(conf_load("/nonexistent/outbox-relay.conf", errstr, sizeof(errstr)));
    assert_string_equal(errstr, "/nonexistent/outbox-relay.conf: could not read configuration "
                        "file: No such file or directory");
}

/* A message longer than the buffer is cut, and still terminated. */
static void test_small_errstr(void **state)
{
    char path[4096], errstr[16];

    (void)state;
    memset(errstr, 'x', sizeof(errstr));
    assert_null(load(KAFKA SRC "    bach_size = 10;\n" SRC_END, path, sizeof(path),
                     errstr, sizeof(errstr)));
    assert_int_equal(strlen(errstr), sizeof(errstr) - 1);
    assert_memory_equal(errstr, path, sizeof(errstr) - 1);
}

/* The example shipped in conf/ stays valid (run from the top of the repository, as make does). */
static void test_example_config(void **state)
{
    static const char path[] = "conf/outbox-relay.conf";
    char errstr[1024];
    struct conf *cfg;

    (void)state;
    if (access(path, R_OK) != 0)
        skip();
    setenv("ORDERS_DB_PASSWORD", SECRET, 1);
    cfg = conf_load(path, errstr, sizeof(errstr));
    unsetenv("ORDERS_DB_PASSWORD");
    if (cfg == NULL)
        fail_msg("%s", errstr);
    assert_int_equal(cfg->n_sources, 1);
    assert_string_equal(cfg->sources[0].name, "orders");
    assert_non_null(strstr(cfg->sources[0].dsn, "password=" SECRET));
    conf_destroy(cfg);
}

static void test_destroy_null(void **state)
{
    (void)state;
    conf_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_int_bounds),
        cmocka_unit_test(test_columns_required_and_optional),
        cmocka_unit_test(test_column_keys),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_avro_keys),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_retention_modes),
        cmocka_unit_test(test_long_name_poll),
        cmocka_unit_test(test_table_split),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_kafka_properties),
        cmocka_unit_test(test_kafka_long_value_kept),
        cmocka_unit_test(test_kafka_float_kept),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_expand_secrets),
        cmocka_unit_test(test_expand_long_values),
        cmocka_unit_test(test_expand_name_length),
        cmocka_unit_test(test_missing_variable_names_only_the_variable),
        cmocka_unit_test_setup_teardown(test_credentials, credentials_setup,
                                        credentials_teardown),
        cmocka_unit_test_setup_teardown(test_credential_errors, credentials_setup,
                                        credentials_teardown),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_small_errstr),
        cmocka_unit_test(test_example_config),
        cmocka_unit_test(test_destroy_null),
    };

    return cmocka_run_group_tests_name("conf", tests, group_setup, NULL);
}
