/*
 * fuzz_cli — fuzz target for the command line: relay/cli.c (cli_parse_main, cli_parse_migrate),
 * replay_parse_args (relay/replay.c) and catalog_parse_args (relay/catalog.c), the parsers that
 * main.c and the subcommands run before anything touches a file, database or broker (see
 * tests/fuzz/README.md).
 *
 * An input is the arguments after the program's name, separated by NUL bytes (a trailing NUL
 * ends the last one; at most 64 are taken). As in main(), "migrate", "schema" or "replay" first
 * goes to that subcommand's parser, anything else to the top-level one. Each argument is a heap
 * copy of exactly its size, so ASan sees a read past its end. getopt's messages are silenced
 * (opterr = 0).
 *
 * Invariants checked (a broken one aborts): a parse returns one of the cli.h codes; an error
 * comes with a message; what a successful parse fills in is consistent (a range in order, a
 * subcommand that exists, --dsn or --print) and every string it returns lies inside an argument
 * or is a default; parsing the same arguments again in the same process gives the same result
 * and message (getopt's state does not leak from one parse to the next); nothing leaks.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "fuzz.h"
#include "replay.h"

#define MAX_ARGS 64
#define DEFAULT_CONFIG "/etc/outbox-relay/outbox-relay.conf"

/* for driver.c: options and values */
static const char *const tokens[] = {
	"run", "check-config", "status", "migrate", "schema", "replay", "add", "check", "list",
	"show", "-c", "--config", "--config=", "--log-level", "--log-level=debug", "-h", "--help",
	"--help-config", "--version", "-V", "--json", "--dsn", "--dsn=${X}", "--schema", "--table",
	"--print", "--dry-run", "--source", "--from-id", "--to-id", "--since", "--until",
	"--aggregate-type", "--aggregate-id", "--event-type", "--topic", "--rate", "--batch",
	"--yes", "--history", "--dead-lettered", "--version=", "--", "-", "-ch", "-hc",
	"2026-11-21T10:00:00Z", "2026-11-21", "9223372036854775807", "-1", "0", "--con", "--d",
	NULL
};

const struct fuzz_hints fuzz_hints = {
	.name = "fuzz_cli",
	.max_len = 1024,
	.insert_bytes = "-=\0-c", .n_insert_bytes = 5,
	.tag_bytes = "-=\0hcV", .n_tag_bytes = 6,
	.tokens = tokens,
};

struct args {
	int argc;
	char *argv[MAX_ARGS + 2];	/* permuted by getopt_long */
	char *orig[MAX_ARGS + 2];	/* the same strings in their order, for their sizes */
	size_t len[MAX_ARGS + 2];
};

static void
args_free(struct args *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->orig[i]);
}

/* "outbox-relay" and the input's NUL-separated strings, each in a heap copy of its own. */
static int
args_make(struct args *a, const uint8_t *data, size_t size)
{
	size_t pos = 0;

	memset(a, 0, sizeof(*a));
	a->argv[a->argc] = a->orig[a->argc] = strdup("outbox-relay");
	a->len[a->argc++] = sizeof("outbox-relay");
	while (pos < size && a->argc <= MAX_ARGS) {
		const uint8_t *nul = memchr(data + pos, '\0', size - pos);
		size_t n = nul ? (size_t)(nul - data) - pos : size - pos;
		char *s = malloc(n + 1);

		if (!s)
			break;
		memcpy(s, data + pos, n);
		s[n] = '\0';
		a->argv[a->argc] = a->orig[a->argc] = s;
		a->len[a->argc++] = n + 1;
		pos += n + 1;
	}
	a->argv[a->argc] = NULL;
	if (!a->argv[0]) {
		args_free(a);
		return -1;
	}
	return 0;
}

/* Whether s is NULL, a default, or inside one of the arguments. */
static int
borrowed(const struct args *a, const char *s, const char *dflt)
{
	if (!s || (dflt && strcmp(s, dflt) == 0))
		return 1;
	for (int i = 0; i < a->argc; i++)
		if (s >= a->orig[i] && s < a->orig[i] + a->len[i])
			return 1;
	return 0;
}

/* One parse: its cli.h code, its message in errstr; the parsed fields checked. */
static int
parse(struct args *a, char *errstr, size_t errstr_size)
{
	int rc;

	errstr[0] = '\0';
	if (a->argc >= 2 && strcmp(a->argv[1], "migrate") == 0) {
		struct cli_migrate_args m;

		rc = cli_parse_migrate(a->argc - 1, a->argv + 1, &m, errstr, errstr_size);
		if (rc == CLI_PARSE_OK) {
			FUZZ_CHECK(m.print || m.dsn, "migrate without --dsn or --print");
			FUZZ_CHECK(m.schema && m.table, "migrate without schema or table");
			FUZZ_CHECK(borrowed(a, m.dsn, NULL) && borrowed(a, m.schema, "public") &&
				   borrowed(a, m.table, "outbox"), "migrate string not from argv");
		}
	} else if (a->argc >= 2 && strcmp(a->argv[1], "schema") == 0) {
		struct catalog_args c;

		rc = catalog_parse_args(a->argc - 1, a->argv + 1, DEFAULT_CONFIG, &c, errstr,
					errstr_size);
		if (rc == CLI_PARSE_OK) {
			FUZZ_CHECK(c.command && strstr("add check list show", c.command) &&
				   strlen(c.command) >= 3, "unknown schema subcommand accepted");
			FUZZ_CHECK(strcmp(c.command, "show") != 0 || (c.event_type && c.version > 0),
				   "schema show without --event-type and --version");
			FUZZ_CHECK(strcmp(c.command, "add") != 0 || (c.event_type && c.file),
				   "schema add without --event-type and a file");
			FUZZ_CHECK(c.version >= 0, "negative --version");
			FUZZ_CHECK(borrowed(a, c.config, DEFAULT_CONFIG) && borrowed(a, c.source, NULL) &&
				   borrowed(a, c.event_type, NULL) && borrowed(a, c.file, NULL) &&
				   borrowed(a, c.command, NULL), "schema string not from argv");
		}
	} else if (a->argc >= 2 && strcmp(a->argv[1], "replay") == 0) {
		struct replay_args r;

		rc = replay_parse_args(a->argc - 1, a->argv + 1, DEFAULT_CONFIG, &r, errstr,
				       errstr_size);
		if (rc == CLI_PARSE_OK) {
			FUZZ_CHECK(r.history || r.has_from || r.has_to || r.since || r.until ||
				   r.dead_lettered, "replay without a range");
			FUZZ_CHECK(r.history || !r.has_from || !r.has_to || r.from_id <= r.to_id,
				   "replay range out of order");
			FUZZ_CHECK(r.from_id >= 0 && r.to_id >= 0 && r.batch >= 1 && r.rate >= 0,
				   "replay count out of bounds");
			FUZZ_CHECK(r.history || !r.since || r.since_us[0], "--since not converted");
			FUZZ_CHECK(r.history || !r.until || r.until_us[0], "--until not converted");
			FUZZ_CHECK(borrowed(a, r.config, DEFAULT_CONFIG) && borrowed(a, r.source, NULL) &&
				   borrowed(a, r.since, NULL) && borrowed(a, r.until, NULL) &&
				   borrowed(a, r.aggregate_type, NULL) &&
				   borrowed(a, r.aggregate_id, NULL) && borrowed(a, r.event_type, NULL) &&
				   borrowed(a, r.topic, NULL), "replay string not from argv");
		}
	} else {
		struct cli_main_args m;

		rc = cli_parse_main(a->argc, a->argv, DEFAULT_CONFIG, &m, errstr, errstr_size);
		if (rc == CLI_PARSE_OK) {
			FUZZ_CHECK(m.command <= CLI_VERSION, "unknown command");
			FUZZ_CHECK(borrowed(a, m.config, DEFAULT_CONFIG) &&
				   borrowed(a, m.log_level, NULL), "string not from argv");
		}
	}
	FUZZ_CHECK(rc >= CLI_PARSE_OK && rc <= CLI_PARSE_USAGE, "unknown return code");
	if (rc != CLI_PARSE_OK && rc != CLI_PARSE_HELP)
		FUZZ_CHECK(errstr[0], "usage error without a message");
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errstr[1024], again_err[1024];
	struct args a, b;
	int rc;

	opterr = 0;
	if (args_make(&a, data, size) != 0)
		return 0;
	rc = parse(&a, errstr, sizeof(errstr));
	args_free(&a);
	/* fresh copies: getopt permuted the first ones, and may keep pointers into them */
	if (args_make(&b, data, size) != 0)
		return 0;
	FUZZ_CHECK(parse(&b, again_err, sizeof(again_err)) == rc &&
		   strcmp(errstr, again_err) == 0, "a second parse gives another result");
	args_free(&b);
	return 0;
}
