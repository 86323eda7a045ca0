/*
 * catalog — the Avro schema catalog of a source: <schema>.<table>_schemas (sql/0004), one
 * schema text per (event_type, schema_version). The pipeline reads schemas from it; the
 * `outbox-relay schema add|list|check` commands manage it, enforcing the source's
 * compatibility rule between versions.
 */
#ifndef OUTBOX_RELAY_CATALOG_H
#define OUTBOX_RELAY_CATALOG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "conf.h"

/*
 * Reads the schema text of (event_type, version). Returns 1 and a malloc'd *text when found,
 * 0 when the catalog has no such version, -1 with errstr when the database failed (including a
 * missing catalog table: the message says to run the migrations).
 */
int catalog_fetch(PGconn *conn, const struct conf_source *src, const char *event_type,
		  int version, char **text, char *errstr, size_t errstr_size);

/* What `schema`'s command line asks for (catalog_parse_args). */
struct catalog_args {
	const char *command;		/* "add", "check", "list" or "show" */
	const char *config;
	const char *source;
	const char *event_type;
	int version;			/* 0 = not given */
	int json;
	const char *file;		/* SCHEMA.avsc; "-" = standard input; NULL = none */
};

/*
 * Parses `schema SUBCOMMAND ...` (argv[0] = "schema") into a (strings borrowed from argv),
 * checking which arguments the subcommand needs. Returns a cli.h code: CLI_PARSE_OK,
 * CLI_PARSE_HELP, CLI_PARSE_USAGE without a subcommand or for a bad option,
 * CLI_PARSE_ERROR_USAGE for an unknown subcommand or missing or extra arguments, or
 * CLI_PARSE_ERROR with errstr. Touches no file or database.
 */
int catalog_parse_args(int argc, char **argv, const char *default_config,
		       struct catalog_args *a, char *errstr, size_t errstr_size);

/*
 * `outbox-relay schema SUBCOMMAND ...` (argv[0] = "schema"). load reads and checks the config
 * file (printing why it is bad and returning NULL). Returns the process exit status.
 */
int catalog_command(int argc, char **argv, struct conf *(*load)(const char *path),
		    const char *default_config);

#endif
