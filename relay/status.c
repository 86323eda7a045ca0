/*
 * status — see status.h. One short-lived connection per source; read-only queries.
 */
#include "status.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

/* Runs sql with one parameter; on success returns the result (one row expected). */
static PGresult *
ask(PGconn *conn, const char *sql, const char *param, char *errstr, size_t errstr_size)
{
	const char *params[1] = { param };
	PGresult *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
	char msg[512];

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		return res;
	snprintf(msg, sizeof(msg), "%s",
		 PQresultStatus(res) == PGRES_TUPLES_OK ? "not found" : PQresultErrorMessage(res));
	log_flatten(msg);
	snprintf(errstr, errstr_size, "%s", msg);
	PQclear(res);
	return NULL;
}

static json_t *
integer_or_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? json_null()
					: json_integer(strtoll(PQgetvalue(res, 0, col), NULL, 10));
}

static json_t *
string_or_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? json_null() : json_string(PQgetvalue(res, 0, col));
}

/* A timestamptz column as ISO-8601 UTC with milliseconds, in SQL. */
#define ISO_UTC(expr) "to_char((" expr ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/*
 * A poll source's published and replayable figures, one row: last published id and time (NULL
 * when none is kept), the lowest and highest id in the table and the oldest created_at (what
 * `replay` can send again). One pass over the table: exact, and cheap while retention keeps the
 * table small; the outbox's indexes cover only the unpublished rows.
 */
static PGresult *
ask_range(PGconn *conn, const struct conf_source *src, char *errstr, size_t errstr_size)
{
	char id[DB_QUOTED_SIZE], pub[DB_QUOTED_SIZE], created[DB_QUOTED_SIZE];
	char table[DB_QUALIFIED_SIZE], published[1024], since[512], sql[2048];

	db_table_sql(src, "", table, sizeof(table), NULL, 0);
	db_quote_ident(src->columns[COL_ID], id, sizeof(id));
	db_quote_ident(src->columns[COL_PUBLISHED_AT], pub, sizeof(pub));
	db_quote_ident(src->columns[COL_CREATED_AT], created, sizeof(created));

	if (src->on_publish == ON_PUBLISH_DELETE) {
		/* published rows are deleted: none is kept, and the table may lack the column */
		snprintf(published, sizeof(published), "NULL::bigint, NULL::text");
	} else {
		char at[DB_QUOTED_SIZE + 8];

		snprintf(at, sizeof(at), "max(%s)", pub);
		snprintf(published, sizeof(published),
			 "max(%s) FILTER (WHERE %s IS NOT NULL), " ISO_UTC("%s"), id, pub, at);
	}
	if (*src->columns[COL_CREATED_AT]) {
		char min[DB_QUOTED_SIZE + 8];

		snprintf(min, sizeof(min), "min(%s)", created);
		snprintf(since, sizeof(since), ISO_UTC("%s"), min);
	} else {
		snprintf(since, sizeof(since), "NULL::text");
	}
	snprintf(sql, sizeof(sql), "SELECT %s, min(%s), max(%s), %s FROM %s",
		 published, id, id, since, table);
	return ask(conn, sql, NULL, errstr, errstr_size);
}

/* Fills obj with the source's figures; returns 0, or -1 with errstr. */
static int
describe_source(const struct conf_source *src, json_t *obj, char *errstr, size_t errstr_size)
{
	char server[300], why[512];
	PGconn *conn = db_connect(src, 0, server, sizeof(server), why, sizeof(why));
	PGresult *res = NULL;
	char sql[1024], table[DB_QUALIFIED_SIZE], qcreated[DB_QUOTED_SIZE], qpub[DB_QUOTED_SIZE];
	int rc = -1;

	db_table_sql(src, "", table, sizeof(table), NULL, 0);
	db_quote_ident(src->columns[COL_CREATED_AT], qcreated, sizeof(qcreated));
	db_quote_ident(src->columns[COL_PUBLISHED_AT], qpub, sizeof(qpub));

	if (!conn) {
		snprintf(errstr, errstr_size, "could not connect: %s", why);
		goto out;
	}
	if (src->mode == SOURCE_MODE_LOGICAL) {
		res = ask(conn,
			  "SELECT confirmed_flush_lsn::text, "
			  "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, active "
			  "FROM pg_replication_slots WHERE slot_name = $1", src->slot, errstr, errstr_size);
		if (!res) {
			snprintf(errstr, errstr_size, "replication slot \"%s\": %s", src->slot,
				 strcmp(errstr, "not found") == 0 ? "does not exist" : errstr);
			goto out;
		}
		json_object_set_new(obj, "slot", json_string(src->slot));
		json_object_set_new(obj, "confirmed_lsn", json_string(PQgetvalue(res, 0, 0)));
		json_object_set_new(obj, "lag_bytes",
				    json_integer(strtoll(PQgetvalue(res, 0, 1), NULL, 10)));
		json_object_set_new(obj, "state", json_string(strcmp(PQgetvalue(res, 0, 2), "t") == 0
							      ? "streaming" : "idle"));
	} else {
		if (!*src->columns[COL_PUBLISHED_AT] || src->on_publish == ON_PUBLISH_DELETE)
			snprintf(sql, sizeof(sql), "SELECT count(*), NULL FROM %s", table);
		else if (*src->columns[COL_CREATED_AT])
			snprintf(sql, sizeof(sql),
				 "SELECT count(*), extract(epoch from now() - min(%s))::bigint "
				 "FROM %s WHERE %s IS NULL", qcreated, table, qpub);
		else
			snprintf(sql, sizeof(sql), "SELECT count(*), NULL FROM %s WHERE %s IS NULL", table,
				 qpub);
		if (!(res = ask(conn, sql, NULL, errstr, errstr_size)))
			goto out;
		json_object_set_new(obj, "backlog", json_integer(strtoll(PQgetvalue(res, 0, 0), NULL, 10)));
		json_object_set_new(obj, "oldest_unpublished_age_s",
				    PQgetisnull(res, 0, 1) ? json_null()
				    : json_integer(strtoll(PQgetvalue(res, 0, 1), NULL, 10)));
		PQclear(res);
		if (!(res = ask_range(conn, src, errstr, errstr_size)))
			goto out;
		json_object_set_new(obj, "last_published_id", integer_or_null(res, 0));
		json_object_set_new(obj, "last_published_at", string_or_null(res, 1));
		json_object_set_new(obj, "replayable_from_id", integer_or_null(res, 2));
		json_object_set_new(obj, "replayable_to_id", integer_or_null(res, 3));
		json_object_set_new(obj, "replayable_since", string_or_null(res, 4));
		PQclear(res);
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
			 "database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND "
			 "objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)");
		char lock_name[DB_QUALIFIED_SIZE + 16], shown[DB_QUALIFIED_SIZE];

		/* the poll lock's text, as poll_new makes it */
		snprintf(lock_name, sizeof(lock_name), "outbox-relay:%s",
			 db_table_display(src, "", shown, sizeof(shown)));
		if (!(res = ask(conn, sql, lock_name, errstr, errstr_size)))
			goto out;
		json_object_set_new(obj, "state", json_string(strcmp(PQgetvalue(res, 0, 0), "0") != 0
							      ? "active" : "no relay"));
	}
	rc = 0;
out:
	PQclear(res);
	PQfinish(conn);
	return rc;
}

/* The DETAIL column of a poll source: backlog; last published; replayable range. */
static void
print_poll_detail(json_t *obj, FILE *out)
{
	json_t *age = json_object_get(obj, "oldest_unpublished_age_s");
	json_t *last = json_object_get(obj, "last_published_id");
	json_t *from = json_object_get(obj, "replayable_from_id");
	json_t *since = json_object_get(obj, "replayable_since");

	fprintf(out, "backlog %" JSON_INTEGER_FORMAT " rows",
		json_integer_value(json_object_get(obj, "backlog")));
	if (json_is_integer(age))
		fprintf(out, ", oldest %" JSON_INTEGER_FORMAT " s", json_integer_value(age));
	if (json_is_integer(last))
		fprintf(out, "; last published id %" JSON_INTEGER_FORMAT " at %s",
			json_integer_value(last),
			json_string_value(json_object_get(obj, "last_published_at")));
	if (json_is_integer(from)) {
		fprintf(out, "; replayable ids %" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT,
			json_integer_value(from),
			json_integer_value(json_object_get(obj, "replayable_to_id")));
		if (json_is_string(since))
			fprintf(out, " since %s", json_string_value(since));
	} else {
		fprintf(out, "; table empty");
	}
	fputc('\n', out);
}

int
status_print(const struct conf *cfg, int json, FILE *out)
{
	json_t *all = json_array();
	int failed = 0;

	if (!json)
		fprintf(out, "%-20s %-8s %-10s %s\n", "SOURCE", "MODE", "STATE", "DETAIL");
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct conf_source *src = &cfg->sources[i];
		json_t *obj = json_object();
		char errstr[512] = "";

		json_object_set_new(obj, "source", json_string(src->name));
		json_object_set_new(obj, "mode", json_string(src->mode == SOURCE_MODE_LOGICAL ?
							    "logical" : "poll"));
		if (describe_source(src, obj, errstr, sizeof(errstr)) != 0) {
			failed = 1;
			json_object_set_new(obj, "state", json_string("error"));
			json_object_set_new(obj, "error", json_string(errstr));
		}
		if (!json) {
			const char *state = json_string_value(json_object_get(obj, "state"));

			fprintf(out, "%-20s %-8s %-10s ", src->name,
				json_string_value(json_object_get(obj, "mode")), state);
			if (json_object_get(obj, "error"))
				fprintf(out, "%s\n", errstr);
			else if (src->mode == SOURCE_MODE_LOGICAL)
				fprintf(out, "slot %s confirmed %s, lag %" JSON_INTEGER_FORMAT " bytes\n",
					src->slot,
					json_string_value(json_object_get(obj, "confirmed_lsn")),
					json_integer_value(json_object_get(obj, "lag_bytes")));
			else
				print_poll_detail(obj, out);
		}
		json_array_append_new(all, obj);
	}
	if (json) {
		char *text = json_dumps(all, JSON_INDENT(2));

		fprintf(out, "%s\n", text ? text : "[]");
		free(text);
	}
	json_decref(all);
	return failed;
}
