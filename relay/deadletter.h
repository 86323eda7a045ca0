/*
 * deadletter — the record of events sent to the dead-letter topic:
 * <schema>.<table>_dead_letters (sql/0004). Written before the dead letter is sent, so an event
 * is never in the dead-letter topic without a row saying why; an event dead-lettered twice (a
 * restart in between) keeps one row, keyed by event_id.
 */
#ifndef OUTBOX_RELAY_DEADLETTER_H
#define OUTBOX_RELAY_DEADLETTER_H

#include <libpq-fe.h>
#include <stddef.h>

#include "conf.h"
#include "event.h"

/*
 * Records ev (outbox_id: its row id, or 0 when it has none) as dead-lettered to topic because of
 * error. Returns 0, or -1 with errstr (the table is missing, the database failed).
 */
int deadletter_record(PGconn *conn, const struct conf_source *src, const struct outbox_event *ev,
		      long long outbox_id, const char *error, const char *topic, char *errstr,
		      size_t errstr_size);

#endif
