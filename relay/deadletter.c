/*
 * deadletter — see deadletter.h.
 */
#include "deadletter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

int
deadletter_record(PGconn *conn, const struct conf_source *src, const struct outbox_event *ev,
		  long long outbox_id, const char *error, const char *topic, char *errstr,
		  size_t errstr_size)
{
	char sql[1024], table[DB_QUALIFIED_SIZE], id[32], lsn[40], created[32];
	const char *params[12];
	PGresult *res;
	char *payload = NULL;

	if (db_table_sql(src, "_dead_letters", table, sizeof(table), errstr, errstr_size) != 0)
		return -1;
	if (ev->payload && !(payload = strndup(ev->payload, ev->payload_len))) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (event_id, outbox_id, wal_lsn, "
		 "aggregate_type, aggregate_id, event_type, schema_version, payload, headers, "
		 "created_at, error, topic) "
		 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, to_timestamp($10::float8 / 1000), $11, $12) "
		 "ON CONFLICT (event_id) DO UPDATE SET error = excluded.error, topic = excluded.topic, "
		 "dead_lettered_at = now(), recovered_at = NULL", table);
	snprintf(id, sizeof(id), "%lld", outbox_id);
	snprintf(lsn, sizeof(lsn), "%X/%X", (unsigned int)(ev->lsn >> 32), (unsigned int)ev->lsn);
	snprintf(created, sizeof(created), "%lld", ev->created_at_ms);
	params[0] = ev->event_id;
	params[1] = outbox_id > 0 ? id : NULL;
	params[2] = ev->lsn ? lsn : NULL;
	params[3] = ev->aggregate_type;
	params[4] = ev->aggregate_id;
	params[5] = ev->event_type;
	params[6] = ev->schema_version;
	/* a payload is text here; one with a NUL byte (a broken logical message) is cut there */
	params[7] = payload;
	params[8] = ev->headers;
	params[9] = ev->created_at_ms > 0 ? created : NULL;
	params[10] = error;
	params[11] = topic;
	res = PQexecParams(conn, sql, 12, NULL, params, NULL, NULL, 0);
	free(payload);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return db_table_error(conn, res, src, "_dead_letters", "recording the dead letter",
				      errstr, errstr_size);
	PQclear(res);
	return 0;
}
