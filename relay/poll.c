/*
 * poll — see poll.h.
 */
#include "poll.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

struct poll_source {
	const struct conf_source *src;
	PGconn *conn;
	PGresult *rows;		/* the last fetch */
	char qualified[DB_QUALIFIED_SIZE];	/* "schema"."table", quoted for SQL */
	char shown[DB_QUALIFIED_SIZE];		/* schema.table for messages */
	char lock_name[DB_QUALIFIED_SIZE + 16];	/* text hashed into the advisory lock key */
	char server[300];
	int has_txid;
	int locked;

	/* commit-order passes (has_txid): rows visible in snap_new and not in snap_old */
	char *snap_old;		/* NULL = nothing read yet: every unpublished row qualifies */
	char *snap_new;		/* NULL = the next fetch starts a pass */
	/* both modes: ids already read within the current pass are below the cursor */
	long long cursor;
	int pass_done;		/* fallback mode: the last fetch reached the end of the table */
	/* commit-order passes: rows whose txid is NULL are read by id alone, as in fallback
	 * mode: those above this id (the highest read since the window was last idle) */
	long long null_cursor;

	char *idbuf;		/* "{1,2,3}" for poll_mark */
	size_t idbuf_cap;

	/* Marks go over a connection of their own, without waiting: the server updates one batch
	 * while this one reads and sends the next (see poll_mark). */
	PGconn *mconn;
	char mark_sql[1024];
	size_t mark_pending;	/* rows in the mark sent and not yet answered */
	unsigned long long marked;	/* rows whose mark was answered, for poll_take_marked */

	char backlog_sql[1024];	/* poll_backlog's query, built by poll_connect */
};

struct poll_source *
poll_new(const struct conf_source *src)
{
	struct poll_source *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	ps->src = src;
	/* conf accepted only names of at most 63 bytes: this cannot fail */
	(void)db_table_sql(src, "", ps->qualified, sizeof(ps->qualified), NULL, 0);
	db_table_display(src, "", ps->shown, sizeof(ps->shown));
	/* plain names read as before (outbox-relay:public.outbox), so versions exclude each other;
	 * others quoted, so that no two tables share a lock */
	snprintf(ps->lock_name, sizeof(ps->lock_name), "outbox-relay:%s", ps->shown);
	return ps;
}

void
poll_destroy(struct poll_source *ps)
{
	if (!ps)
		return;
	poll_disconnect(ps);
	free(ps->idbuf);
	free(ps);
}

void
poll_rewind(struct poll_source *ps)
{
	free(ps->snap_old);
	free(ps->snap_new);
	ps->snap_old = ps->snap_new = NULL;
	ps->cursor = 0;
	ps->null_cursor = 0;
	ps->pass_done = 1;
}

/* Closes the mark connection (opened again by the next mark), forgetting an unanswered mark:
 * it may or may not commit, and either way its rows are safe (sent again, or marked after their
 * ack). Returns -1, for the error paths. */
static int
mark_close(struct poll_source *ps)
{
	if (ps->mconn)
		PQfinish(ps->mconn);
	ps->mconn = NULL;
	ps->mark_pending = 0;
	return -1;
}

void
poll_disconnect(struct poll_source *ps)
{
	PQclear(ps->rows);
	ps->rows = NULL;
	if (ps->conn)
		PQfinish(ps->conn);
	ps->conn = NULL;
	mark_close(ps);
	ps->locked = 0;
	poll_rewind(ps);
}

const char *
poll_server(const struct poll_source *ps)
{
	return ps->server;
}

static int
fail(struct poll_source *ps, PGresult *res, const char *what, char *errstr, size_t errstr_size)
{
	return db_error(ps->conn, res, what, errstr, errstr_size);
}

/* The select-list expression of a logical column, or NULL::text when the table lacks it. */
static void
column_expr(const struct conf_source *src, enum outbox_column col, int present, char *out,
	    size_t size)
{
	char name[DB_QUOTED_SIZE];

	if (!present || db_quote_ident(src->columns[col], name, sizeof(name)) != 0)
		snprintf(out, size, "NULL::text");
	else if (col == COL_ID)
		snprintf(out, size, "%s", name);
	else if (col == COL_CREATED_AT)
		snprintf(out, size, "(extract(epoch from %s) * 1000)::int8", name);
	else
		snprintf(out, size, "%s::text", name);
}

/* Field order of the fetch queries; poll_row reads them by these positions. */
static const enum outbox_column fetch_fields[] = {
	COL_ID, COL_EVENT_ID, COL_AGGREGATE_TYPE, COL_AGGREGATE_ID, COL_EVENT_TYPE,
	COL_SCHEMA_VERSION, COL_PAYLOAD, COL_HEADERS, COL_CREATED_AT,
};
#define N_FETCH_FIELDS (sizeof(fetch_fields) / sizeof(fetch_fields[0]))

/*
 * Looks up the table's columns and decides which mapped ones exist: a missing required column is
 * an error, a missing optional one a warning (the relay does without it).
 */
static int
check_columns(struct poll_source *ps, int present[COL__COUNT], char *errstr, size_t errstr_size)
{
	const struct conf_source *src = ps->src;
	const char *params[1] = { ps->qualified };
	PGresult *res = PQexecParams(ps->conn,
				     "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
				     "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
				     1, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return fail(ps, res, "could not read the outbox table's columns", errstr, errstr_size);
	if (PQntuples(res) == 0) {
		snprintf(errstr, errstr_size,
			 "table %s does not exist (create it with \"outbox-relay migrate\")",
			 ps->shown);
		PQclear(res);
		return -1;
	}
	for (int c = 0; c < COL__COUNT; c++) {
		present[c] = 0;
		for (int r = 0; r < PQntuples(res); r++) {
			const char *type = PQgetvalue(res, r, 1);

			if (!*src->columns[c] || strcmp(PQgetvalue(res, r, 0), src->columns[c]) != 0)
				continue;
			present[c] = 1;
			/* reading in passes compares and sorts ids as integers */
			if (c == COL_ID && strcmp(type, "bigint") != 0 && strcmp(type, "integer") != 0 &&
			    strcmp(type, "smallint") != 0) {
				snprintf(errstr, errstr_size,
					 "column \"%s\" of %s (columns.id) is %s; it must be an integer "
					 "that grows with insertion order", src->columns[c], ps->shown, type);
				PQclear(res);
				return -1;
			}
		}
		if (present[c] || !*src->columns[c])
			continue;
		if (c == COL_ID || c == COL_AGGREGATE_TYPE || c == COL_AGGREGATE_ID ||
		    c == COL_PAYLOAD || (c == COL_PUBLISHED_AT && src->on_publish == ON_PUBLISH_MARK)) {
			snprintf(errstr, errstr_size,
				 "table %s has no column \"%s\" (mapped from columns.%s)",
				 ps->shown, src->columns[c],
				 conf_column_key((enum outbox_column)c));
			PQclear(res);
			return -1;
		}
		if (c == COL_TXID)
			log_warning("source \"%s\": table %s has no column \"%s\"; reading in id order, "
				    "so a row that commits late may be published after newer rows of "
				    "its aggregate", src->name, ps->shown, src->columns[c]);
		else if (c != COL_PUBLISHED_AT)
			log_warning("source \"%s\": table %s has no column \"%s\"; events are sent "
				    "without it", src->name, ps->shown, src->columns[c]);
	}
	PQclear(res);
	return 0;
}

static int
prepare(struct poll_source *ps, const char *name, const char *sql, char *errstr,
	size_t errstr_size)
{
	PGresult *res = PQprepare(ps->conn, name, sql, 0, NULL);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return fail(ps, res, "could not prepare the outbox queries", errstr, errstr_size);
	PQclear(res);
	return 0;
}

static int
exec_simple(struct poll_source *ps, const char *sql, char *errstr, size_t errstr_size)
{
	PGresult *res = PQexec(ps->conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		return fail(ps, res, "could not set up the session", errstr, errstr_size);
	PQclear(res);
	return 0;
}

int
poll_connect(struct poll_source *ps, char *errstr, size_t errstr_size)
{
	const struct conf_source *src = ps->src;
	int present[COL__COUNT];
	char select[4096], expr[320], sql[8192];
	char qid[DB_QUOTED_SIZE], qtxid[DB_QUOTED_SIZE], qpub[DB_QUOTED_SIZE];
	char qcreated[DB_QUOTED_SIZE];
	size_t len = 0;

	poll_disconnect(ps);
	if (!(ps->conn = db_connect(src, 0, ps->server, sizeof(ps->server), errstr, errstr_size)))
		return -1;
	/* Marks are idempotent hints: losing the last few in a database crash only re-sends
	 * those events, so they need not wait for the WAL flush. */
	if (exec_simple(ps, "SET synchronous_commit = off", errstr, errstr_size) != 0)
		return -1;
	if (check_columns(ps, present, errstr, errstr_size) != 0)
		return -1;
	ps->has_txid = present[COL_TXID];

	for (size_t f = 0; f < N_FETCH_FIELDS; f++) {
		column_expr(src, fetch_fields[f], present[fetch_fields[f]], expr, sizeof(expr));
		len += (size_t)snprintf(select + len, sizeof(select) - len, "%s%s", f ? ", " : "", expr);
	}
	char unpublished[DB_QUOTED_SIZE + 16] = "TRUE";

	/* absent (or "") columns quote as "": the queries below use only the present ones */
	db_quote_ident(src->columns[COL_ID], qid, sizeof(qid));
	db_quote_ident(src->columns[COL_TXID], qtxid, sizeof(qtxid));
	db_quote_ident(src->columns[COL_PUBLISHED_AT], qpub, sizeof(qpub));
	db_quote_ident(src->columns[COL_CREATED_AT], qcreated, sizeof(qcreated));
	if (present[COL_PUBLISHED_AT])
		snprintf(unpublished, sizeof(unpublished), "%s IS NULL", qpub);
	/* the same condition as the fetch, so the partial index on the unpublished rows serves it */
	if (present[COL_CREATED_AT])
		snprintf(ps->backlog_sql, sizeof(ps->backlog_sql),
			 "SELECT count(*), extract(epoch FROM now() - min(%s)) FROM %s WHERE %s",
			 qcreated, ps->qualified, unpublished);
	else
		snprintf(ps->backlog_sql, sizeof(ps->backlog_sql),
			 "SELECT count(*), NULL FROM %s WHERE %s", ps->qualified, unpublished);

	/* A row whose txid is NULL (a mapped table's column may allow it) has no commit order:
	 * pg_visible_in_snapshot(NULL) would skip it forever, and reading it in every pass would
	 * send it again while in flight. It is read by id alone, as in fallback mode: above
	 * null_cursor ($5), which goes back to 0 only when nothing is in flight. */
	if (ps->has_txid)
		snprintf(sql, sizeof(sql),
			 "SELECT %s FROM %s WHERE %s AND %s > $1 "
			 "AND ((%s IS NULL AND %s > $5) OR (%s IS NOT NULL "
			 "AND pg_visible_in_snapshot(%s, $2::pg_snapshot) "
			 "AND ($3::pg_snapshot IS NULL OR NOT pg_visible_in_snapshot(%s, $3::pg_snapshot)))) "
			 "ORDER BY %s LIMIT $4",
			 select, ps->qualified, unpublished, qid, qtxid, qid, qtxid, qtxid, qtxid, qid);
	else
		snprintf(sql, sizeof(sql),
			 "SELECT %s FROM %s WHERE %s AND %s > $1 ORDER BY %s LIMIT $2",
			 select, ps->qualified, unpublished, qid, qid);
	if (prepare(ps, "fetch", sql, errstr, errstr_size) != 0)
		return -1;

	/* prepared on the mark connection, when the first mark opens it */
	if (src->on_publish == ON_PUBLISH_DELETE)
		snprintf(ps->mark_sql, sizeof(ps->mark_sql), "DELETE FROM %s WHERE %s = ANY($1::int8[])",
			 ps->qualified, qid);
	else
		snprintf(ps->mark_sql, sizeof(ps->mark_sql),
			 "UPDATE %s SET %s = now() WHERE %s = ANY($1::int8[]) AND %s IS NULL",
			 ps->qualified, qpub, qid, qpub);
	poll_rewind(ps);
	return 0;
}

int
poll_try_lock(struct poll_source *ps, char *errstr, size_t errstr_size)
{
	const char *params[1] = { ps->lock_name };
	PGresult *res;
	int got;

	if (ps->locked)
		return 1;
	res = PQexecParams(ps->conn, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1, NULL,
			   params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return fail(ps, res, "could not take the outbox lock", errstr, errstr_size);
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	ps->locked = got;
	return got;
}

static int
take_snapshot(struct poll_source *ps, char *errstr, size_t errstr_size)
{
	PGresult *res = PQexec(ps->conn, "SELECT pg_current_snapshot()::text");

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return fail(ps, res, "could not take a snapshot", errstr, errstr_size);
	free(ps->snap_new);
	ps->snap_new = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!ps->snap_new) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	return 0;
}

int
poll_fetch(struct poll_source *ps, size_t max_rows, int window_empty, char *errstr,
	   size_t errstr_size)
{
	char cursor[32], limit[32], null_cursor[32];
	const char *params[5];
	int nparams, n;
	PGresult *res;

	PQclear(ps->rows);
	ps->rows = NULL;

	/* Only with nothing in flight may a read go back over rows it read before (the fallback
	 * mode's rescan, the NULL-txid cursor): the rows acked last must be marked by then. */
	if (window_empty && poll_mark_settle(ps, errstr, errstr_size) != 0)
		return -1;
	if (ps->has_txid) {
		if (!ps->snap_new) {
			if (take_snapshot(ps, errstr, errstr_size) != 0)
				return -1;
			ps->cursor = 0;
			if (window_empty)
				ps->null_cursor = 0;
		}
	} else if (ps->pass_done) {
		/* a rescan from the start would read the in-flight rows again: only when idle */
		if (!window_empty)
			return 0;
		ps->cursor = 0;
		ps->pass_done = 0;
	}

	snprintf(cursor, sizeof(cursor), "%lld", ps->cursor);
	snprintf(limit, sizeof(limit), "%zu", max_rows);
	params[0] = cursor;
	if (ps->has_txid) {
		params[1] = ps->snap_new;
		params[2] = ps->snap_old;
		params[3] = limit;
		snprintf(null_cursor, sizeof(null_cursor), "%lld", ps->null_cursor);
		params[4] = null_cursor;
		nparams = 5;
	} else {
		params[1] = limit;
		nparams = 2;
	}
	res = PQexecPrepared(ps->conn, "fetch", nparams, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return fail(ps, res, "could not read the outbox", errstr, errstr_size);
	ps->rows = res;
	n = PQntuples(res);
	if (n > 0)
		ps->cursor = strtoll(PQgetvalue(res, n - 1, 0), NULL, 10);
	if (ps->cursor > ps->null_cursor)
		ps->null_cursor = ps->cursor;
	if ((size_t)n < max_rows) {
		/* this pass is complete */
		if (ps->has_txid) {
			free(ps->snap_old);
			ps->snap_old = ps->snap_new;
			ps->snap_new = NULL;
		} else {
			ps->pass_done = 1;
		}
	}
	return n;
}

static const char *
field(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

void
poll_row(const struct poll_source *ps, int i, struct outbox_event *ev)
{
	poll_event_from(ps->rows, i, ev);
}

size_t
poll_select_list(const struct conf_source *src, char *buf, size_t size)
{
	char expr[320];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t f = 0; f < N_FETCH_FIELDS; f++) {
		column_expr(src, fetch_fields[f], 1, expr, sizeof(expr));
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", f ? ", " : "",
					expr);
	}
	return len;
}

void
poll_event_from(const PGresult *r, int i, struct outbox_event *ev)
{
	const char *created;

	memset(ev, 0, sizeof(*ev));	/* lsn and invalid have no column in poll mode */
	ev->id = db_int8(PQgetvalue(r, i, 0));
	ev->event_id = field(r, i, 1);
	ev->aggregate_type = field(r, i, 2);
	ev->aggregate_id = field(r, i, 3);
	ev->event_type = field(r, i, 4);
	ev->schema_version = field(r, i, 5);
	ev->payload = field(r, i, 6);
	ev->payload_len = ev->payload ? (size_t)PQgetlength(r, i, 6) : 0;
	ev->headers = field(r, i, 7);
	created = field(r, i, 8);
	ev->created_at_ms = created ? db_int8(created) : 0;
}

/* One statement of the mark session's set-up (param: its one text parameter, or NULL). */
static int
mark_setup(struct poll_source *ps, const char *sql, const char *param, char *errstr,
	   size_t errstr_size)
{
	PGresult *res = PQexecParams(ps->mconn, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		return db_error(ps->mconn, res, "could not set up the mark session", errstr,
				errstr_size);
	PQclear(res);
	return 0;
}

/* Opens the mark connection: autocommit, asynchronous commits, the mark statement prepared. */
static int
mark_connect(struct poll_source *ps, char *errstr, size_t errstr_size)
{
	char server[300], own[96], mark_app[128];
	const char *app;
	PGresult *res;

	if (!(ps->mconn = db_connect(ps->src, 0, server, sizeof(server), errstr, errstr_size)))
		return -1;
	/* told apart from the reading session in pg_stat_activity, unless the dsn names the
	 * application itself */
	snprintf(own, sizeof(own), "outbox-relay/%s", ps->src->name);
	snprintf(mark_app, sizeof(mark_app), "%s/mark", own);
	app = PQparameterStatus(ps->mconn, "application_name");
	/* marks are idempotent hints, as on the reading session */
	if (mark_setup(ps, "SET synchronous_commit = off", NULL, errstr, errstr_size) != 0 ||
	    (app && strcmp(app, own) == 0 &&
	     mark_setup(ps, "SELECT set_config('application_name', $1, false)", mark_app, errstr,
			errstr_size) != 0))
		goto fail;
	res = PQprepare(ps->mconn, "mark", ps->mark_sql, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_error(ps->mconn, res, "could not prepare the mark statement", errstr, errstr_size);
		goto fail;
	}
	PQclear(res);
	return 0;
fail:
	return mark_close(ps);
}

int
poll_mark_settle(struct poll_source *ps, char *errstr, size_t errstr_size)
{
	PGresult *res;
	int ok = 1;

	if (!ps->mark_pending)
		return 0;
	/* every result of the one statement, then NULL; the first error is the one reported */
	while ((res = PQgetResult(ps->mconn))) {
		if (ok && PQresultStatus(res) != PGRES_COMMAND_OK) {
			ok = 0;
			db_error(ps->mconn, res, "could not mark published rows", errstr, errstr_size);
			continue;	/* db_error cleared it */
		}
		PQclear(res);
	}
	if (ok && PQstatus(ps->mconn) != CONNECTION_OK) {
		ok = 0;
		db_error(ps->mconn, NULL, "could not mark published rows", errstr, errstr_size);
	}
	if (!ok)
		return mark_close(ps);
	ps->marked += ps->mark_pending;
	ps->mark_pending = 0;
	return 0;
}

unsigned long long
poll_take_marked(struct poll_source *ps)
{
	unsigned long long n = ps->marked;

	ps->marked = 0;
	return n;
}

int
poll_mark(struct poll_source *ps, const long long *ids, size_t n, char *errstr,
	  size_t errstr_size)
{
	const char *params[1];
	size_t need = 3 + n * 21, len = 0;

	if (n == 0)
		return 0;
	if (poll_mark_settle(ps, errstr, errstr_size) != 0)
		return -1;
	if (!ps->mconn && mark_connect(ps, errstr, errstr_size) != 0)
		return -1;
	if (need > ps->idbuf_cap) {
		char *b = realloc(ps->idbuf, need);

		if (!b) {
			snprintf(errstr, errstr_size, "out of memory");
			return -1;
		}
		ps->idbuf = b;
		ps->idbuf_cap = need;
	}
	ps->idbuf[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			ps->idbuf[len++] = ',';
		len += db_format_int8(ps->idbuf + len, ids[i]);
	}
	ps->idbuf[len++] = '}';
	ps->idbuf[len] = '\0';
	params[0] = ps->idbuf;
	if (!PQsendQueryPrepared(ps->mconn, "mark", 1, params, NULL, NULL, 0)) {
		db_error(ps->mconn, NULL, "could not mark published rows", errstr, errstr_size);
		return mark_close(ps);
	}
	ps->mark_pending = n;
	return 0;
}

PGconn *
poll_conn(const struct poll_source *ps)
{
	return ps->conn;
}

int
poll_retention(struct poll_source *ps, long long retention_ms, long long batch,
	       long long *deleted, char *errstr, size_t errstr_size)
{
	const struct conf_source *src = ps->src;
	char id[DB_QUOTED_SIZE], published[DB_QUOTED_SIZE];
	char age[32], limit[32], sql[2048];
	const char *params[2] = { age, limit };
	PGresult *res;

	*deleted = 0;
	/* with on_publish = "delete" no published row stays behind (and the table may lack the
	 * published_at column) */
	if (src->on_publish == ON_PUBLISH_DELETE)
		return 0;
	db_quote_ident(src->columns[COL_ID], id, sizeof(id));
	db_quote_ident(src->columns[COL_PUBLISHED_AT], published, sizeof(published));
	snprintf(age, sizeof(age), "%lld", retention_ms);
	snprintf(limit, sizeof(limit), "%lld", batch);
	/* One short autocommit statement: the subquery bounds the rows (and so the locks) to one
	 * batch, taken in id order so that successive batches walk the oldest rows first. Rows
	 * with published_at NULL never qualify. */
	snprintf(sql, sizeof(sql),
		 "DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s IS NOT NULL "
		 "AND %s < now() - $1::float8 * interval '1 millisecond' ORDER BY %s LIMIT $2)",
		 ps->qualified, id, id, ps->qualified, published, published, id);
	res = PQexecParams(ps->conn, sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return fail(ps, res, "could not delete published rows past retention", errstr,
			    errstr_size);
	*deleted = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int
poll_backlog(struct poll_source *ps, long long *rows, double *oldest_s, char *errstr,
	     size_t errstr_size)
{
	PGresult *res = PQexec(ps->conn, ps->backlog_sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return fail(ps, res, "could not count the unpublished rows", errstr, errstr_size);
	*rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*oldest_s = PQgetisnull(res, 0, 1) ? 0.0 : strtod(PQgetvalue(res, 0, 1), NULL);
	if (*oldest_s < 0)
		*oldest_s = 0.0;	/* created_at in the future: clocks apart */
	PQclear(res);
	return 0;
}
