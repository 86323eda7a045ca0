/*
 * cli — see cli.h.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int
cli_finish(int rc, const char *errstr, const char *usage)
{
	switch (rc) {
	case CLI_PARSE_HELP:
		fputs(usage, stdout);
		return 0;
	case CLI_PARSE_ERROR:
		fprintf(stderr, "%s\n", errstr);
		break;
	case CLI_PARSE_ERROR_USAGE:
		fprintf(stderr, "%s\n%s", errstr, usage);
		break;
	default:
		fputs(usage, stderr);
		break;
	}
	return CLI_EXIT_USAGE;
}

int
cli_parse_main(int argc, char **argv, const char *default_config, struct cli_main_args *a,
	       char *errstr, size_t errstr_size)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "help-config", no_argument, NULL, 'H' },
		{ "version", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	enum log_level lvl;
	int c;

	memset(a, 0, sizeof(*a));
	a->config = default_config;
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case 'l':
			if (log_level_parse(optarg, &lvl) != 0) {
				snprintf(errstr, errstr_size, "outbox-relay: --log-level must be debug, "
					 "info, warning or error, not \"%s\"", optarg);
				return CLI_PARSE_ERROR;
			}
			a->log_level = optarg;
			break;
		case 'h': return CLI_PARSE_HELP;
		case 'H': a->command = CLI_HELP_CONFIG; return CLI_PARSE_OK;
		case 'V': a->command = CLI_VERSION; return CLI_PARSE_OK;
		case 'j': a->json = 1; break;
		default:
			snprintf(errstr, errstr_size, "Try \"outbox-relay --help\".");
			return CLI_PARSE_ERROR;
		}
	}
	if (optind >= argc) {
		snprintf(errstr, errstr_size, "outbox-relay: no command given");
		return CLI_PARSE_USAGE;
	}
	cmd = argv[optind];
	if (optind + 1 < argc) {
		snprintf(errstr, errstr_size, "outbox-relay: unexpected argument \"%s\"",
			 argv[optind + 1]);
		return CLI_PARSE_ERROR;
	}
	if (strcmp(cmd, "run") == 0)
		a->command = CLI_RUN;
	else if (strcmp(cmd, "check-config") == 0)
		a->command = CLI_CHECK_CONFIG;
	else if (strcmp(cmd, "status") == 0)
		a->command = CLI_STATUS;
	else {
		snprintf(errstr, errstr_size, "outbox-relay: unknown command \"%s\"\n"
			 "Try \"outbox-relay --help\".", cmd);
		return CLI_PARSE_ERROR;
	}
	return CLI_PARSE_OK;
}

int
cli_parse_migrate(int argc, char **argv, struct cli_migrate_args *a, char *errstr,
		  size_t errstr_size)
{
	static const struct option opts[] = {
		{ "dsn", required_argument, NULL, 'd' },
		{ "schema", required_argument, NULL, 's' },
		{ "table", required_argument, NULL, 't' },
		{ "print", no_argument, NULL, 'p' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->schema = "public";
	a->table = "outbox";
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': a->dsn = optarg; break;
		case 's': a->schema = optarg; break;
		case 't': a->table = optarg; break;
		case 'p': a->print = 1; break;
		case 'n': a->dry_run = 1; break;
		case 'h': return CLI_PARSE_HELP;
		default:
			snprintf(errstr, errstr_size, "outbox-relay migrate: invalid option");
			return CLI_PARSE_USAGE;
		}
	}
	if (optind < argc) {
		snprintf(errstr, errstr_size, "outbox-relay migrate: unexpected argument \"%s\"",
			 argv[optind]);
		return CLI_PARSE_ERROR;
	}
	if (!a->print && !a->dsn) {
		snprintf(errstr, errstr_size, "outbox-relay migrate: --dsn is required (or --print)");
		return CLI_PARSE_ERROR;
	}
	return CLI_PARSE_OK;
}
