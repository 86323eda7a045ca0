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

/*
 * `outbox-relay schema SUBCOMMAND ...` (argv[0] = "schema"). load reads and checks the config
 * file (printing why it is bad and returning NULL). Returns the process exit status.
 */
int catalog_command(int argc, char **argv, struct conf *(*load)(const char *path),
		    const char *default_config);

#endif
