/*
 * test_cli — unit tests of the command-line parsers: cli_parse_main and cli_parse_migrate
 * (cli.c), replay_parse_args (replay.c) and catalog_parse_args (catalog.c).
 *
 * Table-driven: each case is a command line, the code the parser must return and, for usage
 * errors, the exact message main.c and the subcommands print. One test runs a parser that
 * returns in the middle of a cluster of short options and then parses other arguments, which
 * only works because the parsers restart getopt completely (optind = 0).
 */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog.h"
#include "cli.h"
#include "replay.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ARGS 16

/* Copies a NULL-terminated list into writable strings (getopt permutes argv). */
struct argv_copy {
	int argc;
	char *argv[MAX_ARGS + 1];
};

static void
copy_args(struct argv_copy *c, const char *const *args)
{
	memset(c, 0, sizeof(*c));
	for (; args[c->argc]; c->argc++) {
		assert_true(c->argc < MAX_ARGS);
		c->argv[c->argc] = strdup(args[c->argc]);
		assert_non_null(c->argv[c->argc]);
	}
}

static void
free_args(struct argv_copy *c)
{
	for (int i = 0; i < c->argc; i++)
		free(c->argv[i]);
}

/* Parses args (args[0] the program or the subcommand) with the parser for its first word. */
static int
parse(const char *const *args, char *errstr, size_t size)
{
	struct argv_copy c;
	struct cli_main_args m;
	struct cli_migrate_args mg;
	struct replay_args r;
	struct catalog_args k;
	int rc;

	copy_args(&c, args);
	errstr[0] = '\0';
	if (strcmp(args[0], "migrate") == 0)
		rc = cli_parse_migrate(c.argc, c.argv, &mg, errstr, size);
	else if (strcmp(args[0], "replay") == 0)
		rc = replay_parse_args(c.argc, c.argv, "default.conf", &r, errstr, size);
	else if (strcmp(args[0], "schema") == 0)
		rc = catalog_parse_args(c.argc, c.argv, "default.conf", &k, errstr, size);
	else
		rc = cli_parse_main(c.argc, c.argv, "default.conf", &m, errstr, size);
	free_args(&c);
	return rc;
}

static const struct {
	const char *args[MAX_ARGS];
	int rc;
	const char *message;	/* for CLI_PARSE_ERROR and CLI_PARSE_ERROR_USAGE */
} cases[] = {
	{ { "outbox-relay", "run" }, CLI_PARSE_OK, NULL },
	{ { "outbox-relay", "-c", "x.conf", "--log-level", "debug", "check-config" }, CLI_PARSE_OK,
	  NULL },
	{ { "outbox-relay", "status", "--json" }, CLI_PARSE_OK, NULL },
	{ { "outbox-relay", "--help-config", "--bogus" }, CLI_PARSE_OK, NULL },
	{ { "outbox-relay", "-h", "run" }, CLI_PARSE_HELP, NULL },
	{ { "outbox-relay" }, CLI_PARSE_USAGE, NULL },
	{ { "outbox-relay", "--bogus", "run" }, CLI_PARSE_ERROR, "Try \"outbox-relay --help\"." },
	{ { "outbox-relay", "--log-level", "loud", "-h" }, CLI_PARSE_ERROR,
	  "outbox-relay: --log-level must be debug, info, warning or error, not \"loud\"" },
	{ { "outbox-relay", "run", "extra" }, CLI_PARSE_ERROR,
	  "outbox-relay: unexpected argument \"extra\"" },
	{ { "outbox-relay", "frob" }, CLI_PARSE_ERROR,
	  "outbox-relay: unknown command \"frob\"\nTry \"outbox-relay --help\"." },

	{ { "migrate", "--print" }, CLI_PARSE_OK, NULL },
	{ { "migrate", "--dsn", "${X}", "--dry-run" }, CLI_PARSE_OK, NULL },
	{ { "migrate", "--help" }, CLI_PARSE_HELP, NULL },
	{ { "migrate", "--bogus" }, CLI_PARSE_USAGE, NULL },
	{ { "migrate" }, CLI_PARSE_ERROR, "outbox-relay migrate: --dsn is required (or --print)" },
	{ { "migrate", "--print", "x" }, CLI_PARSE_ERROR,
	  "outbox-relay migrate: unexpected argument \"x\"" },

	{ { "replay", "--from-id", "1", "--to-id", "1" }, CLI_PARSE_OK, NULL },
	{ { "replay", "--history" }, CLI_PARSE_OK, NULL },
	{ { "replay", "--dead-lettered" }, CLI_PARSE_OK, NULL },
	{ { "replay", "--since", "2026-11-21", "--until", "2026-11-21T00:00:01Z" }, CLI_PARSE_OK,
	  NULL },
	{ { "replay", "-h" }, CLI_PARSE_HELP, NULL },
	{ { "replay", "--bogus" }, CLI_PARSE_USAGE, NULL },
	{ { "replay" }, CLI_PARSE_ERROR,
	  "outbox-relay replay: no range: give --from-id/--to-id and/or --since/--until" },
	{ { "replay", "--from-id", "-1" }, CLI_PARSE_ERROR,
	  "outbox-relay replay: --from-id must be an integer >= 0, not \"-1\"" },
	{ { "replay", "--from-id", "1", "--batch", "0" }, CLI_PARSE_ERROR,
	  "outbox-relay replay: --batch must be an integer >= 1, not \"0\"" },
	{ { "replay", "--from-id", "5", "--to-id", "4" }, CLI_PARSE_ERROR,
	  "outbox-relay replay: empty range: --from-id 5 is above --to-id 4" },
	{ { "replay", "--until", "yesterday" }, CLI_PARSE_ERROR,
	  "outbox-relay replay: --until \"yesterday\" is not an ISO-8601 date or date-time "
	  "(e.g. 2026-11-21T10:00:00Z)" },
	{ { "replay", "--since", "2026-11-22", "--until", "2026-11-21" }, CLI_PARSE_ERROR,
	  "outbox-relay replay: empty range: --since 2026-11-22 is not before --until 2026-11-21" },
	{ { "replay", "--history", "x" }, CLI_PARSE_ERROR,
	  "outbox-relay replay: unexpected argument \"x\"" },

	{ { "schema", "add", "--event-type", "t", "t.avsc" }, CLI_PARSE_OK, NULL },
	{ { "schema", "check" }, CLI_PARSE_OK, NULL },
	{ { "schema", "list", "--json", "-c", "x" }, CLI_PARSE_OK, NULL },
	{ { "schema", "show", "--event-type", "t", "--version", "2" }, CLI_PARSE_OK, NULL },
	{ { "schema" }, CLI_PARSE_USAGE, NULL },
	{ { "schema", "-h" }, CLI_PARSE_HELP, NULL },
	{ { "schema", "list", "--help" }, CLI_PARSE_HELP, NULL },
	{ { "schema", "list", "--bogus" }, CLI_PARSE_USAGE, NULL },
	{ { "schema", "frob" }, CLI_PARSE_ERROR_USAGE,
	  "outbox-relay schema: unknown subcommand \"frob\"" },
	{ { "schema", "add", "t.avsc" }, CLI_PARSE_ERROR_USAGE,
	  "outbox-relay schema add: missing or extra arguments" },
	{ { "schema", "show", "--version", "0" }, CLI_PARSE_ERROR,
	  "outbox-relay schema: --version must be a positive integer, not \"0\"" },
	{ { "schema", "check", "a", "b" }, CLI_PARSE_ERROR,
	  "outbox-relay schema check: unexpected argument \"b\"" },
};

static void
test_cases(void **state)
{
	char errstr[512];

	(void)state;
	opterr = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = parse(cases[i].args, errstr, sizeof(errstr));

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s %s): code %d, want %d (%s)", i, cases[i].args[0],
				 cases[i].args[1] ? cases[i].args[1] : "", rc, cases[i].rc, errstr);
		if (rc != CLI_PARSE_OK && rc != CLI_PARSE_HELP && !errstr[0])
			fail_msg("case %zu: no message", i);
		if (cases[i].message && strcmp(errstr, cases[i].message) != 0)
			fail_msg("case %zu:\n   got %s\n  want %s", i, errstr, cases[i].message);
	}
}

/* What a successful parse fills in. */
static void
test_values(void **state)
{
	const char *const rargs[] = { "replay", "--since", "1970-01-01T00:00:01Z", "-c", "r.conf",
				      "--rate", "7", "--topic", "t", NULL };
	const char *const margs[] = { "outbox-relay", "--json", "status", "--config=s.conf", NULL };
	const char *const kargs[] = { "schema", "check", "--event-type", "e", "-", NULL };
	struct argv_copy c;
	struct replay_args r;
	struct cli_main_args m;
	struct catalog_args k;
	char errstr[256];

	(void)state;
	copy_args(&c, rargs);
	assert_int_equal(replay_parse_args(c.argc, c.argv, "d", &r, errstr, sizeof(errstr)),
			 CLI_PARSE_OK);
	assert_string_equal(r.config, "r.conf");
	assert_string_equal(r.since_us, "1000000");
	assert_int_equal(r.rate, 7);
	assert_int_equal(r.batch, 500);
	assert_string_equal(r.topic, "t");
	assert_null(r.source);
	free_args(&c);

	copy_args(&c, margs);
	assert_int_equal(cli_parse_main(c.argc, c.argv, "d", &m, errstr, sizeof(errstr)),
			 CLI_PARSE_OK);
	assert_int_equal(m.command, CLI_STATUS);
	assert_int_equal(m.json, 1);
	assert_string_equal(m.config, "s.conf");
	assert_null(m.log_level);
	free_args(&c);

	copy_args(&c, kargs);
	assert_int_equal(catalog_parse_args(c.argc, c.argv, "d", &k, errstr, sizeof(errstr)),
			 CLI_PARSE_OK);
	assert_string_equal(k.command, "check");
	assert_string_equal(k.config, "d");
	assert_string_equal(k.event_type, "e");
	assert_string_equal(k.file, "-");
	assert_int_equal(k.version, 0);
	free_args(&c);
}

/*
 * "-hc" returns at "h" with getopt still inside the cluster; the next parse must start afresh
 * rather than go on with "c" from the freed argument (glibc keeps a pointer to it unless
 * optind is set to 0).
 */
static void
test_restart(void **state)
{
	const char *const first[] = { "outbox-relay", "-hc", NULL };
	const char *const second[] = { "outbox-relay", "-c", "x", "run", NULL };
	char errstr[256];

	(void)state;
	assert_int_equal(parse(first, errstr, sizeof(errstr)), CLI_PARSE_HELP);
	assert_int_equal(parse(second, errstr, sizeof(errstr)), CLI_PARSE_OK);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(parse(cases[i].args, errstr, sizeof(errstr)), cases[i].rc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
