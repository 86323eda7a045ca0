/*
 * cli — the command line's parsing, apart from what the commands then do: each parser fills an
 * argument struct from argv and checks what can be checked without a file, a database or a
 * broker, with no other side effect (getopt itself prints what is wrong with an option unless
 * opterr is 0). main.c, replay.c and catalog.c run the commands with what these return; the
 * fuzz target tests/fuzz/fuzz_cli.c runs the parsers alone.
 *
 * Every parser restarts getopt with optind = 0, which under glibc (and musl) also drops what
 * getopt kept from an earlier parse (the rest of a cluster of short options, the permutation
 * of non-options), so parsers may be called any number of times in one process. argv is
 * permuted as getopt_long does; the structs borrow strings from it.
 */
#ifndef OUTBOX_RELAY_CLI_H
#define OUTBOX_RELAY_CLI_H

#include <stddef.h>

/* sysexits.h's EX_USAGE */
#define CLI_EXIT_USAGE 64

enum cli_parse_rc {
	CLI_PARSE_OK = 0,	/* run the command */
	CLI_PARSE_HELP,		/* --help: print the usage on stdout, exit 0 */
	CLI_PARSE_ERROR,	/* print errstr on stderr, exit 64 */
	CLI_PARSE_ERROR_USAGE,	/* print errstr and then the usage on stderr, exit 64 */
	CLI_PARSE_USAGE		/* print only the usage on stderr, exit 64: getopt has said what is
				 * wrong already, or nothing was given (errstr says which) */
};

/*
 * Prints what rc (not CLI_PARSE_OK) asks for, with usage as the command's usage text, and
 * returns the exit status: 0 for CLI_PARSE_HELP, 64 otherwise.
 */
int cli_finish(int rc, const char *errstr, const char *usage);

enum cli_command {
	CLI_RUN = 0,
	CLI_CHECK_CONFIG,
	CLI_STATUS,
	CLI_HELP_CONFIG,	/* --help-config */
	CLI_VERSION		/* --version */
};

/* `outbox-relay [OPTIONS] run|check-config|status` */
struct cli_main_args {
	enum cli_command command;
	const char *config;		/* -c; default_config when not given */
	const char *log_level;		/* --log-level, checked; NULL when not given */
	int json;			/* --json */
};

/*
 * Parses the top-level command line (argv[0] the program). Returns CLI_PARSE_OK with a filled
 * in; CLI_PARSE_HELP for -h; CLI_PARSE_USAGE without a command; CLI_PARSE_ERROR with errstr for
 * a bad option or --log-level, an extra argument or an unknown command. The options act in
 * order: the first of --help, --help-config, --version or a bad option decides.
 */
int cli_parse_main(int argc, char **argv, const char *default_config, struct cli_main_args *a,
		   char *errstr, size_t errstr_size);

/* `outbox-relay migrate [OPTIONS]` */
struct cli_migrate_args {
	const char *dsn;		/* as given: ${...} not expanded yet */
	const char *schema, *table;	/* default "public", "outbox" */
	int print, dry_run;
};

/*
 * Parses `migrate ...` (argv[0] = "migrate"). Returns CLI_PARSE_OK, CLI_PARSE_HELP,
 * CLI_PARSE_USAGE for a bad option, or CLI_PARSE_ERROR with errstr for an extra argument or a
 * missing --dsn (needed unless --print).
 */
int cli_parse_migrate(int argc, char **argv, struct cli_migrate_args *a, char *errstr,
		      size_t errstr_size);

#endif
