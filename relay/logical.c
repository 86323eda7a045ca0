/*
 * logical — see logical.h.
 */
#include "logical.h"

#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "pgoutput.h"

/* µs between 1970-01-01 and 2000-01-01, PostgreSQL's epoch */
#define PG_EPOCH_OFFSET_MS 946684800000LL
/* When idle, the confirmed position follows the server's; recording every such step would
 * itself write WAL every status interval. Idle advances are recorded this much less often. */
#define IDLE_RECORD_FACTOR 10

struct logical_source {
	const struct conf_source *src;
	PGconn *conn;		/* plain: publication, slot checks, the record */
	PGconn *repl;		/* replication=database: the stream */
	struct pgo_parser *parser;
	char server[300];
	char slots_table[DB_QUOTED_SIZE + 24];	/* "schema".outbox_relay_slots */
	char *copybuf;		/* the last CopyData, until the next read */

	uint64_t confirmed;	/* flush position last sent to the server */
	uint64_t recorded;	/* position last written to the slots table */
	uint64_t server_sent;	/* from keepalives: the server has sent everything before it */
	long long last_status_ms;
	long long last_record_ms;
	int reply_requested;
	int in_tx;
	int64_t commit_ts;	/* of the open transaction, µs since 2000 */

	uint32_t cached_relid;	/* relation whose column positions are in col_index */
	int cached_is_outbox;
	int col_index[COL__COUNT];

	char *scratch;		/* NUL-terminated copies of an event's fields */
	size_t scratch_cap;
	json_t *envelope;	/* the last message event's parsed content */
	char *env_payload;	/* its payload and headers, re-serialised */
	char *env_headers;
	char invalid[256];
};

static int
parse_lsn(const char *s, uint64_t *lsn)
{
	unsigned int hi, lo;

	if (!s || sscanf(s, "%X/%X", &hi, &lo) != 2)
		return -1;
	*lsn = ((uint64_t)hi << 32) | lo;
	return 0;
}

static void
format_lsn(uint64_t lsn, char *out, size_t size)
{
	snprintf(out, size, "%X/%X", (unsigned int)(lsn >> 32), (unsigned int)lsn);
}

struct logical_source *
logical_new(const struct conf_source *src)
{
	struct logical_source *ls = calloc(1, sizeof(*ls));

	if (!ls || !(ls->parser = pgo_parser_new())) {
		free(ls);
		return NULL;
	}
	ls->src = src;
	db_quote_ident(src->schema_name, ls->slots_table, sizeof(ls->slots_table));
	strcat(ls->slots_table, ".outbox_relay_slots");
	return ls;
}

static void
clear_event(struct logical_source *ls)
{
	if (ls->envelope) {
		json_decref(ls->envelope);
		ls->envelope = NULL;
	}
	free(ls->env_payload);
	free(ls->env_headers);
	ls->env_payload = ls->env_headers = NULL;
}

void
logical_disconnect(struct logical_source *ls)
{
	clear_event(ls);
	if (ls->copybuf)
		PQfreemem(ls->copybuf);
	ls->copybuf = NULL;
	if (ls->repl)
		PQfinish(ls->repl);
	if (ls->conn)
		PQfinish(ls->conn);
	ls->repl = ls->conn = NULL;
	ls->in_tx = 0;
	ls->reply_requested = 0;
	ls->server_sent = 0;
	ls->cached_relid = 0;
	/* a new connection's parser must not trust relations cached from the old stream */
	pgo_parser_destroy(ls->parser);
	ls->parser = pgo_parser_new();
}

void
logical_destroy(struct logical_source *ls)
{
	if (!ls)
		return;
	logical_disconnect(ls);
	pgo_parser_destroy(ls->parser);
	free(ls->scratch);
	free(ls);
}

const char *
logical_server(const struct logical_source *ls)
{
	return ls->server;
}

int
logical_socket(const struct logical_source *ls)
{
	return ls->repl ? PQsocket(ls->repl) : -1;
}

int
logical_in_transaction(const struct logical_source *ls)
{
	return ls->in_tx;
}

uint64_t
logical_server_sent(const struct logical_source *ls)
{
	return ls->server_sent;
}

/* Runs a one-value query with up to two text parameters; *out is malloc'd or NULL for no row. */
static int
query_value(struct logical_source *ls, const char *sql, const char *p1, const char *p2,
	    char **out, const char *what, char *errstr, size_t errstr_size)
{
	const char *params[2] = { p1, p2 };
	PGresult *res = PQexecParams(ls->conn, sql, p2 ? 2 : p1 ? 1 : 0, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return db_error(ls->conn, res, what, errstr, errstr_size);
	*out = NULL;
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) && !(*out = strdup(PQgetvalue(res, 0, 0)))) {
		PQclear(res);
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	PQclear(res);
	return 0;
}

static int
record_position(struct logical_source *ls, uint64_t lsn, char *errstr, size_t errstr_size)
{
	char sql[512], text[32];
	const char *params[2] = { ls->src->slot, text };
	PGresult *res;

	format_lsn(lsn, text, sizeof(text));
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (slot_name, confirmed_lsn, updated_at) VALUES ($1, $2::pg_lsn, now()) "
		 "ON CONFLICT (slot_name) DO UPDATE SET confirmed_lsn = EXCLUDED.confirmed_lsn, "
		 "updated_at = now()", ls->slots_table);
	res = PQexecParams(ls->conn, sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return db_error(ls->conn, res, "could not record the confirmed position", errstr,
				 errstr_size);
	PQclear(res);
	ls->recorded = lsn;
	ls->last_record_ms = clock_mono_ms();
	return 0;
}

static int
ensure_publication(struct logical_source *ls, char *errstr, size_t errstr_size)
{
	const struct conf_source *src = ls->src;
	char qualified[DB_QUALIFIED_SIZE], qpub[DB_QUOTED_SIZE], sql[1024];
	char *found = NULL, *table = NULL;
	PGresult *res;

	if (query_value(ls, "SELECT pubname FROM pg_publication WHERE pubname = $1", src->publication,
			NULL, &found, "could not look up the publication", errstr, errstr_size) != 0)
		return -1;
	if (found) {
		free(found);
		return 0;
	}
	if (!src->create_slot) {
		snprintf(errstr, errstr_size,
			 "publication \"%s\" does not exist and create_slot is false", src->publication);
		return -1;
	}
	if (db_table_sql(src, "", qualified, sizeof(qualified), errstr, errstr_size) != 0 ||
	    db_quote_ident(src->publication, qpub, sizeof(qpub)) != 0)
		return -1;
	if (query_value(ls, "SELECT to_regclass($1)::text", qualified, NULL, &table,
			"could not look up the outbox table", errstr, errstr_size) != 0)
		return -1;
	/* inserts are all the relay reads; without the table, messages still flow */
	if (table)
		snprintf(sql, sizeof(sql), "CREATE PUBLICATION %s FOR TABLE %s WITH (publish = 'insert')",
			 qpub, qualified);
	else
		snprintf(sql, sizeof(sql), "CREATE PUBLICATION %s WITH (publish = 'insert')", qpub);
	free(table);
	res = PQexec(ls->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return db_error(ls->conn, res, "could not create the publication", errstr, errstr_size);
	PQclear(res);
	log_info("source \"%s\": created publication \"%s\"", src->name, src->publication);
	return 0;
}

static int
create_slot(struct logical_source *ls, char *errstr, size_t errstr_size)
{
	char sql[256], pos[32], slot[DB_QUOTED_SIZE];
	uint64_t lsn;
	PGresult *res;

	/* the replication grammar quotes identifiers as SQL does (slot names are [a-z0-9_]) */
	db_quote_ident(ls->src->slot, slot, sizeof(slot));
	snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT 'nothing')",
		 slot);
	res = PQexec(ls->repl, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return db_error(ls->repl, res, "could not create the replication slot", errstr,
				 errstr_size);
	if (parse_lsn(PQgetvalue(res, 0, 1), &lsn) != 0) {
		PQclear(res);
		snprintf(errstr, errstr_size, "could not read the new slot's position");
		return -1;
	}
	PQclear(res);
	format_lsn(lsn, pos, sizeof(pos));
	log_info("source \"%s\": created replication slot \"%s\" at %s", ls->src->name, ls->src->slot,
		 pos);
	ls->confirmed = lsn;
	return record_position(ls, lsn, errstr, errstr_size);
}

/* Compares the slot with the recorded position; see the file comment of logical.h. */
static int
check_slot(struct logical_source *ls, char *errstr, size_t errstr_size)
{
	const struct conf_source *src = ls->src;
	char sql[256], *slot_pos = NULL, *rec_pos = NULL, *plugin = NULL;
	uint64_t slot_lsn = 0, rec_lsn = 0;
	int rc = -1;

	if (query_value(ls, "SELECT to_regclass($1)::text", ls->slots_table, NULL, &rec_pos,
			"could not look up the slots table", errstr, errstr_size) != 0)
		return -1;
	if (!rec_pos) {
		snprintf(errstr, errstr_size,
			 "table %s.outbox_relay_slots does not exist (create it with \"outbox-relay migrate\")",
			 src->schema_name);
		return -1;
	}
	free(rec_pos);
	rec_pos = NULL;
	snprintf(sql, sizeof(sql), "SELECT confirmed_lsn::text FROM %s WHERE slot_name = $1",
		 ls->slots_table);
	if (query_value(ls, sql, src->slot, NULL, &rec_pos, "could not read the recorded position",
			errstr, errstr_size) != 0 ||
	    query_value(ls, "SELECT coalesce(plugin, '') FROM pg_replication_slots WHERE slot_name = $1",
			src->slot, NULL, &plugin, "could not look up the slot", errstr, errstr_size) != 0 ||
	    query_value(ls, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
			    "WHERE slot_name = $1", src->slot, NULL, &slot_pos,
			"could not look up the slot", errstr, errstr_size) != 0)
		goto out;
	if (plugin && strcmp(plugin, "pgoutput") != 0) {
		snprintf(errstr, errstr_size,
			 "replication slot \"%s\" exists but is not a logical slot of plugin pgoutput",
			 src->slot);
		goto out;
	}
	if (rec_pos && parse_lsn(rec_pos, &rec_lsn) != 0) {
		snprintf(errstr, errstr_size, "could not read the recorded position \"%s\"", rec_pos);
		goto out;
	}
	if (!plugin) {
		if (rec_pos) {
			snprintf(errstr, errstr_size,
				 "replication slot \"%s\" is missing, but the relay had confirmed up to %s: "
				 "events after that position may be gone; refusing to create a new slot "
				 "(if the gap is accepted, delete the slot's row from %s.outbox_relay_slots)",
				 src->slot, rec_pos, src->schema_name);
			goto out;
		}
		if (!src->create_slot) {
			snprintf(errstr, errstr_size,
				 "replication slot \"%s\" does not exist and create_slot is false", src->slot);
			goto out;
		}
		rc = create_slot(ls, errstr, errstr_size);
		goto out;
	}
	if (slot_pos && parse_lsn(slot_pos, &slot_lsn) != 0) {
		snprintf(errstr, errstr_size, "could not read the slot's position \"%s\"", slot_pos);
		goto out;
	}
	if (!rec_pos) {
		/* a slot made before the relay's first start (by hand, or by a benchmark): adopt it */
		log_info("source \"%s\": adopting existing replication slot \"%s\" at %s", src->name,
			 src->slot, slot_pos ? slot_pos : "0/0");
		ls->confirmed = slot_lsn;
		rc = record_position(ls, slot_lsn, errstr, errstr_size);
		goto out;
	}
	if (slot_lsn > rec_lsn) {
		snprintf(errstr, errstr_size,
			 "replication slot \"%s\" was recreated or advanced behind the relay's back: it "
			 "starts at %s, but the relay confirmed only up to %s, so the events in between "
			 "would be skipped; refusing to stream (if the gap is accepted, delete the slot's "
			 "row from %s.outbox_relay_slots)", src->slot, slot_pos, rec_pos, src->schema_name);
		goto out;
	}
	ls->confirmed = slot_lsn;
	ls->recorded = rec_lsn;
	rc = 0;
out:
	free(slot_pos);
	free(rec_pos);
	free(plugin);
	return rc;
}

int
logical_connect(struct logical_source *ls, char *errstr, size_t errstr_size)
{
	logical_disconnect(ls);
	PGresult *res;

	if (!(ls->conn = db_connect(ls->src, 0, ls->server, sizeof(ls->server), errstr, errstr_size)) ||
	    !(ls->repl = db_connect(ls->src, 1, ls->server, sizeof(ls->server), errstr, errstr_size)))
		return -1;
	/* a replication connection answers IDENTIFY_SYSTEM; anything else (a pooler in
	 * transaction mode, a server without logical replication) fails here, clearly */
	res = PQexec(ls->repl, "IDENTIFY_SYSTEM");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) < 4) {
		db_error(ls->repl, res, "the replication connection does not work", errstr,
			  errstr_size);
		return -2;
	}
	log_debug("source \"%s\": system %s, timeline %s, WAL at %s, database %s", ls->src->name,
		  PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
		  PQgetvalue(res, 0, 3));
	PQclear(res);
	if (ensure_publication(ls, errstr, errstr_size) != 0 || check_slot(ls, errstr, errstr_size) != 0)
		return -2;
	ls->last_status_ms = clock_mono_ms();
	return 0;
}

int
logical_start(struct logical_source *ls, char *errstr, size_t errstr_size)
{
	char sql[1024], slot[DB_QUOTED_SIZE], pub[DB_QUOTED_SIZE], names[2 * DB_QUOTED_SIZE];
	PGresult *res;
	const char *state;
	size_t n = 0;

	/* publication_names is a string of SQL identifiers ("Order ""Events"") that pgoutput
	 * splits at commas; the string itself is quoted '...' with '' for a quote */
	db_quote_ident(ls->src->slot, slot, sizeof(slot));
	db_quote_ident(ls->src->publication, pub, sizeof(pub));
	for (const char *c = pub; *c; c++) {
		if (*c == '\'')
			names[n++] = '\'';
		names[n++] = *c;
	}
	names[n] = '\0';
	snprintf(sql, sizeof(sql),
		 "START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '1', "
		 "publication_names '%s', messages 'true')", slot, names);
	res = PQexec(ls->repl, sql);
	if (PQresultStatus(res) == PGRES_COPY_BOTH) {
		PQclear(res);
		return 0;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && strcmp(state, "55006") == 0) {	/* object_in_use: another relay streams */
		PQclear(res);
		return 1;
	}
	return db_error(ls->repl, res, "could not start streaming", errstr, errstr_size);
}

/* Copies n bytes into the scratch buffer as a NUL-terminated string; returns its offset. */
static long
scratch_put(struct logical_source *ls, size_t *used, const char *data, size_t n)
{
	size_t off = *used;

	if (off + n + 1 > ls->scratch_cap) {
		size_t cap = (off + n + 1) * 2;
		char *b = realloc(ls->scratch, cap);

		if (!b)
			return -1;
		ls->scratch = b;
		ls->scratch_cap = cap;
	}
	memcpy(ls->scratch + off, data, n);
	ls->scratch[off + n] = '\0';
	*used = off + n + 1;
	return (long)off;
}

static void
cache_columns(struct logical_source *ls, const struct pgo_relation *rel)
{
	const struct conf_source *src = ls->src;

	ls->cached_relid = rel->relid;
	ls->cached_is_outbox = strcmp(rel->nspname, src->schema_name) == 0 &&
			       strcmp(rel->relname, src->table_name) == 0;
	for (int c = 0; c < COL__COUNT; c++)
		ls->col_index[c] = *src->columns[c] ? pgo_column_index(rel, src->columns[c]) : -1;
}

/* Builds an event from an INSERT into the outbox table. Returns 1 = event, 0 = not ours, -1. */
static int
event_from_insert(struct logical_source *ls, const struct pgo_msg *m, uint64_t lsn,
		  struct outbox_event *ev, char *errstr, size_t errstr_size)
{
	const struct pgo_relation *rel = pgo_relation_get(ls->parser, m->u.change.relid);
	long off[COL__COUNT];
	size_t used = 0, lens[COL__COUNT];

	if (!rel) {
		snprintf(errstr, errstr_size, "insert into unknown relation %u", m->u.change.relid);
		return -1;
	}
	if (rel->relid != ls->cached_relid)
		cache_columns(ls, rel);
	if (!ls->cached_is_outbox)
		return 0;
	for (int c = 0; c < COL__COUNT; c++) {
		int i = ls->col_index[c];
		const struct pgo_value *v = i >= 0 && i < m->u.change.ncols ? &m->u.change.values[i] : NULL;

		off[c] = -1;
		lens[c] = 0;
		if (!v || (v->kind != 't' && v->kind != 'b'))
			continue;
		if ((off[c] = scratch_put(ls, &used, v->data, v->len)) < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			return -1;
		}
		lens[c] = v->len;
	}
#define FIELD(c) (off[c] >= 0 ? ls->scratch + off[c] : NULL)
	memset(ev, 0, sizeof(*ev));
	ev->id = off[COL_ID] >= 0 ? db_int8(ls->scratch + off[COL_ID]) : 0;
	ev->event_id = FIELD(COL_EVENT_ID);
	ev->aggregate_type = FIELD(COL_AGGREGATE_TYPE);
	ev->aggregate_id = FIELD(COL_AGGREGATE_ID);
	ev->event_type = FIELD(COL_EVENT_TYPE);
	ev->schema_version = FIELD(COL_SCHEMA_VERSION);
	ev->payload = FIELD(COL_PAYLOAD);
	ev->payload_len = lens[COL_PAYLOAD];
	ev->headers = FIELD(COL_HEADERS);
#undef FIELD
	ev->created_at_ms = ls->commit_ts / 1000 + PG_EPOCH_OFFSET_MS;
	ev->lsn = lsn;
	return 1;
}

static const char *
envelope_string(json_t *env, const char *key, const char *name, char *invalid, size_t size)
{
	json_t *v = json_object_get(env, key);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		snprintf(invalid, size, "message envelope: \"%s\" must be a string", name);
		return NULL;
	}
	return json_string_value(v);
}

/* Builds an event from a pg_logical_emit_message() envelope. A bad envelope still yields an
 * event, marked invalid, so that the source's on_error policy applies to it. */
static int
event_from_message(struct logical_source *ls, const struct pgo_msg *m, uint64_t lsn,
		   struct outbox_event *ev, char *errstr, size_t errstr_size)
{
	json_error_t jerr;
	json_t *env, *v;
	size_t used = 0;
	long off;
	char num[32];

	memset(ev, 0, sizeof(*ev));
	ev->lsn = lsn;
	ev->created_at_ms = ls->in_tx ? ls->commit_ts / 1000 + PG_EPOCH_OFFSET_MS : 0;
	ls->invalid[0] = '\0';
	/* the raw content, for the dead-letter topic if the envelope is bad */
	if ((off = scratch_put(ls, &used, m->u.message.content, m->u.message.content_len)) < 0) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	env = json_loadb(m->u.message.content, m->u.message.content_len, JSON_REJECT_DUPLICATES,
			 &jerr);
	if (!env || !json_is_object(env)) {
		snprintf(ls->invalid, sizeof(ls->invalid),
			 "message envelope is not a JSON object%s%s", env ? "" : ": ", env ? "" : jerr.text);
		json_decref(env);
		ev->payload = ls->scratch + off;
		ev->payload_len = m->u.message.content_len;
		ev->invalid = ls->invalid;
		return 1;
	}
	ls->envelope = env;
	ev->event_id = envelope_string(env, "event_id", "event_id", ls->invalid, sizeof(ls->invalid));
	ev->aggregate_type = envelope_string(env, "aggregate_type", "aggregate_type", ls->invalid,
					     sizeof(ls->invalid));
	ev->aggregate_id = envelope_string(env, "aggregate_id", "aggregate_id", ls->invalid,
					   sizeof(ls->invalid));
	ev->event_type = envelope_string(env, "event_type", "event_type", ls->invalid,
					 sizeof(ls->invalid));
	v = json_object_get(env, "schema_version");
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		if ((off = scratch_put(ls, &used, num, strlen(num))) < 0) {
			snprintf(errstr, errstr_size, "out of memory");
			return -1;
		}
		ev->schema_version = ls->scratch + off;
	} else if (v && !json_is_null(v)) {
		ev->schema_version = envelope_string(env, "schema_version", "schema_version",
						     ls->invalid, sizeof(ls->invalid));
	}
	v = json_object_get(env, "payload");
	if (v && !json_is_null(v)) {
		ls->env_payload = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		ev->payload = ls->env_payload;
		ev->payload_len = ls->env_payload ? strlen(ls->env_payload) : 0;
	}
	v = json_object_get(env, "headers");
	if (v && !json_is_null(v)) {
		ls->env_headers = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		ev->headers = ls->env_headers;
	}
	if (ls->invalid[0])
		ev->invalid = ls->invalid;
	return 1;
}

int
logical_read(struct logical_source *ls, struct outbox_event *ev, uint64_t *lsn, char *errstr,
	     size_t errstr_size)
{
	for (;;) {
		struct pgo_frame f;
		struct pgo_msg m;
		int n, rc;

		clear_event(ls);
		if (ls->copybuf) {
			PQfreemem(ls->copybuf);
			ls->copybuf = NULL;
		}
		n = PQgetCopyData(ls->repl, &ls->copybuf, 1);
		if (n == 0) {
			if (PQconsumeInput(ls->repl) == 0)
				return db_error(ls->repl, NULL, "replication connection failed", errstr,
						 errstr_size);
			n = PQgetCopyData(ls->repl, &ls->copybuf, 1);
			if (n == 0)
				return LOGICAL_NONE;
		}
		if (n == -1) {
			PGresult *res = PQgetResult(ls->repl);

			return db_error(ls->repl, res, "the server ended the replication stream", errstr,
					 errstr_size);
		}
		if (n < 0)
			return db_error(ls->repl, NULL, "replication connection failed", errstr,
					 errstr_size);
		if (pgo_parse_frame(ls->copybuf, (size_t)n, &f, errstr, errstr_size) != 0)
			return LOGICAL_ERROR;
		if (f.kind == PGO_FRAME_KEEPALIVE) {
			if (f.wal_end > ls->server_sent)
				ls->server_sent = f.wal_end;
			if (f.reply_requested)
				ls->reply_requested = 1;
			continue;
		}
		if (pgo_parse(ls->parser, f.data, f.len, &m, errstr, errstr_size) != 0)
			return LOGICAL_ERROR;
		switch (m.type) {
		case 'B':
			ls->in_tx = 1;
			ls->commit_ts = m.u.begin.commit_ts;
			continue;
		case 'C':
			ls->in_tx = 0;
			*lsn = m.u.commit.end_lsn;
			return LOGICAL_COMMIT;
		case 'R':
			if (m.u.relation->relid == ls->cached_relid)
				ls->cached_relid = 0;	/* columns may have changed */
			continue;
		case 'I':
			rc = event_from_insert(ls, &m, f.wal_start, ev, errstr, errstr_size);
			if (rc < 0)
				return LOGICAL_ERROR;
			if (rc > 0)
				return LOGICAL_EVENT;
			continue;
		case 'M':
			if (!*ls->src->message_prefix ||
			    strcmp(m.u.message.prefix, ls->src->message_prefix) != 0)
				continue;
			if (event_from_message(ls, &m, m.u.message.lsn, ev, errstr, errstr_size) < 0)
				return LOGICAL_ERROR;
			return LOGICAL_EVENT;
		default:
			continue;	/* updates, deletes, truncates, origins, types */
		}
	}
}

int
logical_feedback_due(const struct logical_source *ls)
{
	return ls->reply_requested || logical_feedback_wait_ms(ls) == 0;
}

long long
logical_feedback_wait_ms(const struct logical_source *ls)
{
	long long left = ls->last_status_ms + ls->src->status_interval_ms - clock_mono_ms();

	return left > 0 ? left : 0;
}

int
logical_feedback(struct logical_source *ls, uint64_t acked_lsn, int idle, char *errstr,
		 size_t errstr_size)
{
	char msg[PGO_STATUS_LEN];
	uint64_t flush_lsn = acked_lsn > ls->confirmed ? acked_lsn : ls->confirmed;

	/* Idle, everything the server has sent is settled and its position may be confirmed. But
	 * recording that position writes WAL, which the next interval would confirm, record
	 * again, and so on: following the server is recorded only every IDLE_RECORD_FACTOR
	 * intervals; in between it goes no further than what is recorded. */
	if (idle && ls->server_sent > flush_lsn) {
		if (clock_mono_ms() - ls->last_record_ms >= IDLE_RECORD_FACTOR * ls->src->status_interval_ms)
			flush_lsn = ls->server_sent;
		else if (ls->recorded > flush_lsn)
			flush_lsn = ls->recorded < ls->server_sent ? ls->recorded : ls->server_sent;
	}
	if (flush_lsn > ls->recorded && record_position(ls, flush_lsn, errstr, errstr_size) != 0)
		return -1;
	pgo_build_status(msg, flush_lsn, flush_lsn, flush_lsn, pgo_now(), idle);
	if (PQputCopyData(ls->repl, msg, PGO_STATUS_LEN) != 1 || PQflush(ls->repl) != 0)
		return db_error(ls->repl, NULL, "could not send a status update", errstr, errstr_size);
	ls->confirmed = flush_lsn;
	ls->last_status_ms = clock_mono_ms();
	ls->reply_requested = 0;
	return 0;
}

int
logical_slot_active(struct logical_source *ls, char *errstr, size_t errstr_size)
{
	char *active = NULL;
	int rc;

	if (query_value(ls, "SELECT active::text FROM pg_replication_slots WHERE slot_name = $1",
			ls->src->slot, NULL, &active, "could not look up the slot", errstr,
			errstr_size) != 0)
		return -1;
	rc = active && strcmp(active, "true") == 0;
	free(active);
	return rc;
}

PGconn *
logical_conn(const struct logical_source *ls)
{
	return ls->conn;
}
