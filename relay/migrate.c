/*
 * migrate — render and apply the outbox table's SQL migrations
 *
 * The app-side schema lives in sql/NNNN_name.sql as templates with the
 * tokens {{schema}} and {{table}}; relay/embed_sql.sh compiles them into
 * migrate_sqls[] (relay/sql_embed.c), so the binary carries the SQL it was
 * built with. `outbox-relay migrate --print` renders them for an app's own
 * migration tool; `outbox-relay migrate --dsn` applies the missing ones
 * over libpq and records each in <schema>.outbox_relay_migrations, keyed by
 * table name and version, with the file's checksum.
 *
 * Names may be anything PostgreSQL accepts as a quoted identifier (Sales
 * Dept, Out"box, upper case, UTF-8; no control characters): rendering
 * follows the template's SQL and quotes each token for where it stands
 * ("..." identifier, '...' string, comment). The templates double-quote
 * every name, so a keyword (e.g. "user") works too.
 *
 * Each transaction takes one advisory lock first, so two runs at once
 * (say, two replicas of an app starting together) serialise and the second
 * finds the work done. Applying is not on the pipeline's path: main() calls
 * it once and exits.
 */
#include "migrate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "conf.h"
#include "db.h"

#define BOOKKEEPING_TABLE "outbox_relay_migrations"

/* ---- names and rendering ---- */

/*
 * Check one identifier; what is "schema" or "table" for messages. Any name PostgreSQL takes
 * quoted is fine (the templates are rendered with quoting, see render_pass()) except control
 * characters, a "." in a table name (most likely schema.table given as the table) and names
 * longer than max bytes.
 */
static int
check_ident(const char *what, const char *name, size_t max,
	    char *errstr, size_t errstr_size)
{
	size_t i, len;

	if (name == NULL || name[0] == '\0') {
		snprintf(errstr, errstr_size, "%s name must not be empty", what);
		return MIGRATE_EINVAL;
	}
	len = strlen(name);
	if (strcmp(what, "table") == 0 && strchr(name, '.') != NULL) {
		snprintf(errstr, errstr_size,
			 "invalid table name \"%s\": give the schema separately",
			 name);
		return MIGRATE_EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 0x20 && c != 0x7f)
			continue;
		snprintf(errstr, errstr_size,
			 "invalid %s name: it contains a control character", what);
		return MIGRATE_EINVAL;
	}
	if (len > max) {
		snprintf(errstr, errstr_size,
			 "%s name \"%s\" is too long: %zu bytes, at most %zu%s",
			 what, name, len, max,
			 strcmp(what, "table") == 0
			     ? " (so that \"<table>_dead_letters_open_idx\" fits "
			       "PostgreSQL's 63-byte limit, NAMEDATALEN - 1)"
			     : " (PostgreSQL's limit, NAMEDATALEN - 1)");
		return MIGRATE_EINVAL;
	}
	return 0;
}

int
migrate_check_names(const char *schema, const char *table,
		    char *errstr, size_t errstr_size)
{
	int rc;

	rc = check_ident("schema", schema, MIGRATE_SCHEMA_MAX,
			 errstr, errstr_size);
	if (rc != 0)
		return rc;
	return check_ident("table", table, MIGRATE_TABLE_MAX,
			   errstr, errstr_size);
}

/* 1-based line number of position p in text, for messages. */
static int
line_of(const char *text, const char *p)
{
	int line = 1;

	for (; text < p; text++)
		if (*text == '\n')
			line++;
	return line;
}

/* Where a token stands in the template's SQL: what quoting its value needs. */
enum sql_context { CTX_CODE, CTX_IDENT, CTX_STRING, CTX_LINE_COMMENT, CTX_BLOCK_COMMENT };

/*
 * Writes value as its context needs it: inside "..." with every '"' doubled, inside '...' with
 * every "'" doubled, in a comment as is (names have no control characters, so no newline ends a
 * -- comment early). A token outside quotes is a template error (what would "{{table}}_x" be?),
 * and inside a $$ body the value must not hold "$$", which would end the body: MIGRATE_EINVAL.
 */
static int
put_value(const char *name, const char *sql, const char *at, const char *value,
	  enum sql_context ctx, int in_dollar, FILE *out, char *errstr, size_t errstr_size)
{
	char quote = ctx == CTX_IDENT ? '"' : ctx == CTX_STRING ? '\'' : 0;

	if (ctx == CTX_CODE) {
		snprintf(errstr, errstr_size, "migration \"%s\" has a token outside quotes at line %d "
			 "(write \"{{schema}}\" or \"{{table}}\" in double quotes)", name,
			 line_of(sql, at));
		return MIGRATE_EINVAL;
	}
	if ((in_dollar && strstr(value, "$$")) || (ctx == CTX_BLOCK_COMMENT && strstr(value, "*/"))) {
		snprintf(errstr, errstr_size, "the name \"%s\" cannot be used: it holds \"%s\", which "
			 "would end the %s at line %d of migration \"%s\"", value,
			 ctx == CTX_BLOCK_COMMENT ? "*/" : "$$",
			 ctx == CTX_BLOCK_COMMENT ? "comment" : "function body", line_of(sql, at), name);
		return MIGRATE_EINVAL;
	}
	if (out == NULL)
		return 0;
	for (const char *c = value; *c; c++) {
		if (quote && *c == quote)
			fputc(quote, out);
		fputc(*c, out);
	}
	return 0;
}

/*
 * One pass over the template: with out == NULL only check the tokens, otherwise write the
 * rendered text. A small SQL lexer follows the template (comments, '...' strings, "..."
 * identifiers, $$ bodies, whose text is lexed the same way), so that each token is quoted for
 * where it stands: a schema named Sales Dept or a table named Out"box render as valid SQL.
 */
static int
render_pass(const char *name, const char *sql, const char *schema,
	    const char *table, FILE *out,
	    char *errstr, size_t errstr_size)
{
	enum sql_context ctx = CTX_CODE;
	int in_dollar = 0, rc;
	const char *p = sql;

	while (*p) {
		const char *close, *value;
		size_t toklen, shown;

		if (p[0] != '{' || p[1] != '{') {
			switch (ctx) {
			case CTX_CODE:
				if (p[0] == '-' && p[1] == '-')
					ctx = CTX_LINE_COMMENT;
				else if (p[0] == '/' && p[1] == '*')
					ctx = CTX_BLOCK_COMMENT;
				else if (*p == '\'')
					ctx = CTX_STRING;
				else if (*p == '"')
					ctx = CTX_IDENT;
				else if (p[0] == '$' && p[1] == '$') {
					in_dollar = !in_dollar;
					if (out != NULL)
						fputc('$', out);
					p++;
				}
				break;
			case CTX_LINE_COMMENT:
				if (*p == '\n')
					ctx = CTX_CODE;
				break;
			case CTX_BLOCK_COMMENT:
				if (p[0] == '*' && p[1] == '/') {
					if (out != NULL)
						fputc('*', out);
					p++;
					ctx = CTX_CODE;
				}
				break;
			case CTX_STRING:	/* '' inside leaves and enters again: the same */
				if (*p == '\'')
					ctx = CTX_CODE;
				break;
			case CTX_IDENT:
				if (*p == '"')
					ctx = CTX_CODE;
				break;
			}
			if (out != NULL)
				fputc(*p, out);
			p++;
			continue;
		}
		close = strstr(p + 2, "}}");
		if (close == NULL) {
			snprintf(errstr, errstr_size,
				 "migration \"%s\" has an unterminated \"{{\" at line %d",
				 name, line_of(sql, p));
			return MIGRATE_EINVAL;
		}
		toklen = (size_t)(close - (p + 2));
		if (toklen == 6 && memcmp(p + 2, "schema", 6) == 0) {
			value = schema;
		} else if (toklen == 5 && memcmp(p + 2, "table", 5) == 0) {
			value = table;
		} else {
			/* Show the token, cut at a newline or 60 bytes. */
			shown = strcspn(p, "\n");
			if (shown > (size_t)(close + 2 - p))
				shown = (size_t)(close + 2 - p);
			if (shown > 60)
				shown = 60;
			snprintf(errstr, errstr_size,
				 "migration \"%s\" has unknown token \"%.*s\" at line %d "
				 "(only {{schema}} and {{table}} are known)",
				 name, (int)shown, p, line_of(sql, p));
			return MIGRATE_EINVAL;
		}
		rc = put_value(name, sql, p, value, ctx, in_dollar, out, errstr, errstr_size);
		if (rc != 0)
			return rc;
		p = close + 2;
	}
	return 0;
}

int
migrate_render_sql(const char *name, const char *sql,
		   const char *schema, const char *table, FILE *out,
		   char *errstr, size_t errstr_size)
{
	int rc;

	rc = render_pass(name, sql, schema, table, NULL, errstr, errstr_size);
	if (rc != 0 || out == NULL)
		return rc;
	render_pass(name, sql, schema, table, out, errstr, errstr_size);
	if (ferror(out)) {
		snprintf(errstr, errstr_size, "could not write migration \"%s\": %s",
			 name, strerror(errno));
		return MIGRATE_EIO;
	}
	return 0;
}

int
migrate_render(const char *schema, const char *table, int version,
	       FILE *out, char *errstr, size_t errstr_size)
{
	size_t i;
	int rc, written = 0;

	rc = migrate_check_names(schema, table, errstr, errstr_size);
	if (rc != 0)
		return rc;
	if (version < 0 || (size_t)version > migrate_sql_count) {
		snprintf(errstr, errstr_size,
			 "no migration %d: this build has 1 to %zu",
			 version, migrate_sql_count);
		return MIGRATE_EINVAL;
	}
	/* Check every template first, so that a failure writes nothing. */
	for (i = 0; i < migrate_sql_count; i++) {
		if (version != 0 && migrate_sqls[i].version != version)
			continue;
		rc = migrate_render_sql(migrate_sqls[i].name, migrate_sqls[i].sql,
					schema, table, NULL, errstr, errstr_size);
		if (rc != 0)
			return rc;
	}
	for (i = 0; i < migrate_sql_count; i++) {
		if (version != 0 && migrate_sqls[i].version != version)
			continue;
		if (written++ > 0)
			fputc('\n', out);
		rc = migrate_render_sql(migrate_sqls[i].name, migrate_sqls[i].sql,
					schema, table, out, errstr, errstr_size);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- applying ---- */

/*
 * errstr = "context: message", message being PostgreSQL's primary message
 * from res if there is one, else libpq's connection message, on one line
 * (libpq's messages end in a newline and may span lines).
 */
static void
set_pg_error(char *errstr, size_t errstr_size, const char *context,
	     PGconn *conn, const PGresult *res)
{
	const char *msg = NULL, *p;
	char flat[1024];
	size_t n = 0;
	int space = 0;

	if (res != NULL)
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL && conn != NULL)
		msg = PQerrorMessage(conn);
	if (msg == NULL || msg[0] == '\0')
		msg = "unknown error";
	for (p = msg; *p != '\0' && n + 1 < sizeof(flat); p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
			space = 1;
			continue;
		}
		if (space && n > 0 && n + 2 < sizeof(flat))
			flat[n++] = ' ';
		space = 0;
		flat[n++] = *p;
	}
	flat[n] = '\0';
	snprintf(errstr, errstr_size, "%s: %s", context, flat);
}

/*
 * Run sql (several statements allowed when there are no params). Returns
 * the result on success (command or rows; the caller PQclear()s it), or
 * NULL with errstr set from context.
 */
static PGresult *
run(PGconn *conn, const char *sql, int nparams,
    const char *const *params, const char *context,
    char *errstr, size_t errstr_size)
{
	PGresult *res;

	if (nparams == 0)
		res = PQexec(conn, sql);
	else
		res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (res != NULL && (PQresultStatus(res) == PGRES_COMMAND_OK ||
			    PQresultStatus(res) == PGRES_TUPLES_OK))
		return res;
	set_pg_error(errstr, errstr_size, context, conn, res);
	PQclear(res);
	return NULL;
}

/* run() for statements whose result is not needed. */
static int
run_command(PGconn *conn, const char *sql, int nparams,
	    const char *const *params, const char *context,
	    char *errstr, size_t errstr_size)
{
	PGresult *res = run(conn, sql, nparams, params, context,
			    errstr, errstr_size);

	if (res == NULL)
		return MIGRATE_EDB;
	PQclear(res);
	return 0;
}

/*
 * Connect without ever echoing the DSN. libpq's parse errors quote the
 * offending part of the string (for a URI, all of it, password included),
 * so parse it first and report only that it is invalid.
 */
static PGconn *
connect_db(const char *dsn, char *errstr, size_t errstr_size)
{
	static const char *const keys[] = {
		"dbname", "fallback_application_name", NULL
	};
	const char *values[] = { dsn, "outbox-relay migrate", NULL };
	char why[256];
	PGconn *conn;

	/* the daemon's check: a plain database name is fine, libpq's parse message never shown */
	if (conf_check_dsn(dsn, why, sizeof(why)) != 0) {
		snprintf(errstr, errstr_size, "invalid connection string: %s", why);
		return NULL;
	}

	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL) {
		snprintf(errstr, errstr_size,
			 "could not connect to database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		set_pg_error(errstr, errstr_size, "could not connect to database",
			     conn, NULL);
		PQfinish(conn);
		return NULL;
	}
	if (PQserverVersion(conn) < 130000) {
		snprintf(errstr, errstr_size,
			 "PostgreSQL %d.%d is too old: the outbox table needs 13 or "
			 "later (xid8, pg_current_xact_id)",
			 PQserverVersion(conn) / 10000,
			 PQserverVersion(conn) / 100 % 100);
		PQfinish(conn);
		return NULL;
	}
	/* IF NOT EXISTS and friends would otherwise print NOTICEs to stderr. */
	if (run_command(conn, "SET client_min_messages TO warning", 0, NULL,
			"could not set up the session", errstr, errstr_size)) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* BEGIN and take the migration lock; waits while another run holds it. */
static int
begin_locked(PGconn *conn, char *errstr, size_t errstr_size)
{
	char sql[128];

	if (run_command(conn, "BEGIN", 0, NULL, "could not start a transaction",
			errstr, errstr_size))
		return MIGRATE_EDB;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d, %d)",
		 MIGRATE_LOCK_CLASSID, MIGRATE_LOCK_OBJID);
	return run_command(conn, sql, 0, NULL,
			   "could not take the migration lock",
			   errstr, errstr_size);
}

/* Does schema.BOOKKEEPING_TABLE exist? 1 yes, 0 no, MIGRATE_EDB. */
static int
bookkeeping_exists(PGconn *conn, const char *schema,
		   char *errstr, size_t errstr_size)
{
	const char *params[] = { schema };
	PGresult *res;
	int found;

	res = run(conn,
		  "SELECT 1 FROM pg_catalog.pg_class c"
		  " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		  " WHERE n.nspname = $1 AND c.relname = '" BOOKKEEPING_TABLE "'",
		  1, params, "could not look for the migrations table",
		  errstr, errstr_size);
	if (res == NULL)
		return MIGRATE_EDB;
	found = PQntuples(res) > 0;
	PQclear(res);
	return found;
}

/*
 * Create the schema and the bookkeeping table if missing, in one locked
 * transaction (CREATE ... IF NOT EXISTS alone is not safe against a
 * concurrent run: both may try to insert the same catalog rows). The
 * schema is looked up rather than created IF NOT EXISTS, which would need
 * the CREATE privilege on the database even when the schema exists.
 */
static int
ensure_bookkeeping(PGconn *conn, const char *schema,
		   char *errstr, size_t errstr_size)
{
	const char *params[] = { schema };
	char sql[1024], context[160], qschema[DB_QUOTED_SIZE];
	PGresult *res = NULL;
	int rc, exists;

	db_quote_ident(schema, qschema, sizeof(qschema));

	rc = begin_locked(conn, errstr, errstr_size);
	if (rc != 0)
		goto done;

	snprintf(context, sizeof(context), "could not create schema \"%s\"",
		 schema);
	res = run(conn, "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
		  1, params, context, errstr, errstr_size);
	if (res == NULL) {
		rc = MIGRATE_EDB;
		goto done;
	}
	if (PQntuples(res) == 0) {
		snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", qschema);
		rc = run_command(conn, sql, 0, NULL, context, errstr, errstr_size);
		if (rc != 0)
			goto done;
	}

	exists = bookkeeping_exists(conn, schema, errstr, errstr_size);
	if (exists < 0) {
		rc = exists;
		goto done;
	}
	if (!exists) {
		snprintf(context, sizeof(context),
			 "could not create table \"%s." BOOKKEEPING_TABLE "\"",
			 schema);
		snprintf(sql, sizeof(sql),
			 "CREATE TABLE %s." BOOKKEEPING_TABLE " ("
			 " table_name text NOT NULL,"
			 " version int NOT NULL,"
			 " name text NOT NULL,"
			 " checksum text NOT NULL,"
			 " applied_at timestamptz NOT NULL DEFAULT now(),"
			 " PRIMARY KEY (table_name, version));"
			 " COMMENT ON TABLE %s." BOOKKEEPING_TABLE " IS"
			 " 'Outbox migrations applied by outbox-relay migrate,"
			 " per outbox table of this schema'",
			 qschema, qschema);
		rc = run_command(conn, sql, 0, NULL, context, errstr, errstr_size);
		if (rc != 0)
			goto done;
	}
	rc = run_command(conn, "COMMIT", 0, NULL,
			 "could not create the migrations table",
			 errstr, errstr_size);

done:
	PQclear(res);
	return rc;
}

/*
 * The recorded migrations of one table: rows (version, name, checksum) in
 * version order. Caller PQclear()s. NULL with errstr set on failure.
 */
static PGresult *
load_recorded(PGconn *conn, const char *schema,
	      const char *table,
	      char *errstr, size_t errstr_size)
{
	const char *params[] = { table };
	char sql[512], qschema[DB_QUOTED_SIZE];

	db_quote_ident(schema, qschema, sizeof(qschema));
	snprintf(sql, sizeof(sql),
		 "SELECT version, name, checksum FROM %s." BOOKKEEPING_TABLE
		 " WHERE table_name = $1 ORDER BY version", qschema);
	return run(conn, sql, 1, params, "could not read the applied migrations",
		   errstr, errstr_size);
}

/* Row of recorded (from load_recorded()) holding version, or -1. */
static int
find_recorded(const PGresult *recorded, int version)
{
	int i;

	if (recorded == NULL)
		return -1;
	for (i = 0; i < PQntuples(recorded); i++)
		if (atoi(PQgetvalue(recorded, i, 0)) == version)
			return i;
	return -1;
}

/* Warn about a recorded migration whose text differs from this build's. */
static void
check_checksum(FILE *report, const struct migrate_sql *m,
	       const PGresult *recorded, int row,
	       const char *qualified)
{
	const char *checksum = PQgetvalue(recorded, row, 2);

	if (strcmp(checksum, m->checksum) != 0)
		fprintf(report,
			"warning: migration %s was applied to %s with checksum "
			"%.12s, but this build's file has %.12s: the file was "
			"changed after it was applied\n",
			m->name, qualified, checksum, m->checksum);
}

/* Warn about recorded versions this build does not have. */
static void
warn_unknown(FILE *report, const PGresult *recorded,
	     const char *qualified)
{
	int i;

	for (i = 0; recorded != NULL && i < PQntuples(recorded); i++)
		if ((size_t)atoi(PQgetvalue(recorded, i, 0)) > migrate_sql_count)
			fprintf(report,
				"warning: %s has migration %s applied, which this build "
				"does not know (applied by a newer outbox-relay?)\n",
				qualified, PQgetvalue(recorded, i, 1));
}

/*
 * Apply migration m in its own locked transaction, unless the record shows
 * it applied (by an earlier or a concurrent run). *applied = 1 if it was.
 */
static int
apply_one(PGconn *conn, const struct migrate_sql *m,
	  const char *schema, const char *table,
	  const char *qualified, FILE *report, int *applied,
	  char *errstr, size_t errstr_size)
{
	char context[256], sql[512], version[16], qschema[DB_QUOTED_SIZE];
	const char *params[4];
	PGresult *recorded = NULL;
	char *text = NULL;
	size_t text_len = 0;
	FILE *mem = NULL;
	int rc, row;

	*applied = 0;
	snprintf(context, sizeof(context),
		 "could not apply migration \"%s\" to \"%s\"", m->name, qualified);

	rc = begin_locked(conn, errstr, errstr_size);
	if (rc != 0)
		goto done;
	recorded = load_recorded(conn, schema, table, errstr, errstr_size);
	if (recorded == NULL) {
		rc = MIGRATE_EDB;
		goto done;
	}
	row = find_recorded(recorded, m->version);
	if (row >= 0) {
		check_checksum(report, m, recorded, row, qualified);
		rc = run_command(conn, "COMMIT", 0, NULL, context,
				 errstr, errstr_size);
		goto done;
	}

	mem = open_memstream(&text, &text_len);
	if (mem == NULL) {
		snprintf(errstr, errstr_size, "%s: %s", context, strerror(errno));
		rc = MIGRATE_EIO;
		goto done;
	}
	rc = migrate_render_sql(m->name, m->sql, schema, table, mem,
				errstr, errstr_size);
	if (fclose(mem) != 0 && rc == 0) {
		snprintf(errstr, errstr_size, "%s: %s", context, strerror(errno));
		rc = MIGRATE_EIO;
	}
	mem = NULL;
	if (rc != 0)
		goto done;
	rc = run_command(conn, text, 0, NULL, context, errstr, errstr_size);
	if (rc != 0)
		goto done;

	db_quote_ident(schema, qschema, sizeof(qschema));
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s." BOOKKEEPING_TABLE
		 " (table_name, version, name, checksum) VALUES ($1, $2, $3, $4)",
		 qschema);
	snprintf(version, sizeof(version), "%d", m->version);
	params[0] = table;
	params[1] = version;
	params[2] = m->name;
	params[3] = m->checksum;
	rc = run_command(conn, sql, 4, params, context, errstr, errstr_size);
	if (rc != 0)
		goto done;
	rc = run_command(conn, "COMMIT", 0, NULL, context, errstr, errstr_size);
	if (rc != 0)
		goto done;
	*applied = 1;
	fprintf(report, "applied %s to %s\n", m->name, qualified);
	fflush(report);

done:
	/* On failure the open transaction dies with the connection. */
	PQclear(recorded);
	free(text);
	return rc;
}

static int
apply_all(PGconn *conn, const char *schema, const char *table,
	  const char *qualified, FILE *report,
	  char *errstr, size_t errstr_size)
{
	PGresult *recorded = NULL;
	size_t i;
	int rc, applied, any = 0;

	rc = ensure_bookkeeping(conn, schema, errstr, errstr_size);
	if (rc != 0)
		return rc;
	for (i = 0; i < migrate_sql_count; i++) {
		rc = apply_one(conn, &migrate_sqls[i], schema, table, qualified,
			       report, &applied, errstr, errstr_size);
		if (rc != 0)
			return rc;
		any |= applied;
	}
	recorded = load_recorded(conn, schema, table, errstr, errstr_size);
	if (recorded == NULL)
		return MIGRATE_EDB;
	warn_unknown(report, recorded, qualified);
	PQclear(recorded);
	if (!any)
		fprintf(report, "%s is up to date\n", qualified);
	return 0;
}

/* --dry-run: read the record, say what would be applied, change nothing. */
static int
plan_all(PGconn *conn, const char *schema, const char *table,
	 const char *qualified, FILE *report,
	 char *errstr, size_t errstr_size)
{
	PGresult *recorded = NULL;
	size_t i;
	int exists, row, any = 0;

	exists = bookkeeping_exists(conn, schema, errstr, errstr_size);
	if (exists < 0)
		return exists;
	if (exists) {
		recorded = load_recorded(conn, schema, table, errstr, errstr_size);
		if (recorded == NULL)
			return MIGRATE_EDB;
	}
	for (i = 0; i < migrate_sql_count; i++) {
		row = find_recorded(recorded, migrate_sqls[i].version);
		if (row >= 0) {
			check_checksum(report, &migrate_sqls[i], recorded, row,
				       qualified);
		} else {
			fprintf(report, "would apply %s to %s\n", migrate_sqls[i].name,
				qualified);
			any = 1;
		}
	}
	warn_unknown(report, recorded, qualified);
	PQclear(recorded);
	if (!any)
		fprintf(report, "%s is up to date\n", qualified);
	return 0;
}

int
migrate_apply(const char *dsn, const char *schema, const char *table,
	      int dry_run, FILE *report, char *errstr, size_t errstr_size)
{
	char qualified[MIGRATE_SCHEMA_MAX + MIGRATE_TABLE_MAX + 2];
	PGconn *conn;
	int rc;

	rc = migrate_check_names(schema, table, errstr, errstr_size);
	if (rc != 0)
		return rc;
	if (dsn == NULL) {
		snprintf(errstr, errstr_size, "no database given");
		return MIGRATE_EINVAL;
	}
	snprintf(qualified, sizeof(qualified), "%s.%s", schema, table);
	/* a name the templates cannot take ("$$" in it) fails before anything is changed */
	for (size_t i = 0; i < migrate_sql_count; i++) {
		rc = migrate_render_sql(migrate_sqls[i].name, migrate_sqls[i].sql, schema, table,
					NULL, errstr, errstr_size);
		if (rc != 0)
			return rc;
	}

	conn = connect_db(dsn, errstr, errstr_size);
	if (conn == NULL)
		return MIGRATE_EDB;
	if (dry_run)
		rc = plan_all(conn, schema, table, qualified, report,
			      errstr, errstr_size);
	else
		rc = apply_all(conn, schema, table, qualified, report,
			       errstr, errstr_size);
	fflush(report);
	PQfinish(conn);
	return rc;
}

const char *
migrate_usage(void)
{
	return
	    "Usage: outbox-relay migrate --dsn DSN [--schema S] [--table T] [--dry-run]\n"
	    "       outbox-relay migrate --print [--schema S] [--table T]\n"
	    "\n"
	    "Create or update the outbox table, its index of unpublished rows\n"
	    "and the <table>_emit() function in the app's database.\n"
	    "\n"
	    "Options:\n"
	    "  --dsn DSN     libpq connection string or URI of the database;\n"
	    "                keep the password out of it (PGPASSWORD, ~/.pgpass)\n"
	    "  --schema S    schema of the outbox table (default public)\n"
	    "  --table T     name of the outbox table (default outbox)\n"
	    "  --print       print the SQL for your own migration tool instead\n"
	    "                of applying it (no database needed)\n"
	    "  --dry-run     list the migrations that would be applied\n"
	    "\n"
	    "Names are taken as written (case-sensitive; spaces, quotes and UTF-8\n"
	    "are fine): schema up to 63 bytes, table up to 41. Applied\n"
	    "migrations are recorded in <schema>.outbox_relay_migrations, so a\n"
	    "second run applies only what is missing. Run it as the role that\n"
	    "owns (or will own) the table. Needs PostgreSQL 13 or later.\n";
}
