/*
 * logical — capture and checkpoint for a source in logical mode: reads outbox events from the
 * WAL through a replication slot with the built-in pgoutput plugin (no server extension), and
 * confirms positions back to the slot.
 *
 * Events come in commit order, whole transactions at a time (protocol v1 without streaming),
 * in three forms: an INSERT into the outbox table (the row may stay, or be deleted in the same
 * transaction: the delete is ignored), or a transactional pg_logical_emit_message() with the
 * configured prefix whose content is a JSON envelope of the same fields.
 *
 * Positions. The pipeline tells this module which WAL position is fully acked (a transaction's
 * end LSN once it and everything before it are in Kafka, or the server's sent position when
 * nothing is in flight); logical_feedback first records that position in
 * <schema>.outbox_relay_slots, then sends it to the server as the flush position. Recording
 * first means the slot can never be ahead of the record unless someone else moved it: at start,
 * a slot that is missing although a record exists, or that is ahead of the record, was dropped,
 * recreated or advanced behind the relay's back, and events would be skipped — the source
 * refuses to stream instead of guessing.
 *
 * Two connections per source: the replication connection (replication=database) carries the
 * stream; a plain one manages the publication and the record. All calls come from the owning
 * pipeline thread.
 */
#ifndef OUTBOX_RELAY_LOGICAL_H
#define OUTBOX_RELAY_LOGICAL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "event.h"

struct logical_source;

enum logical_read {
	LOGICAL_NONE = 0,	/* nothing more has arrived */
	LOGICAL_EVENT,		/* *ev is the next event (valid until the next logical_read) */
	LOGICAL_COMMIT,		/* a transaction ended; *lsn is its end LSN */
	LOGICAL_ERROR = -1
};

/* src is borrowed and must outlive the logical source. NULL when out of memory. */
struct logical_source *logical_new(const struct conf_source *src);
void logical_destroy(struct logical_source *ls);

/*
 * Connects both connections, creates the publication and the slot when missing (and
 * create_slot allows), and checks the slot against the recorded position. Returns 0; -1 when a
 * connection failed; -2 when connected but the publication or slot is refused or could not be
 * set up (errstr says why and what to do).
 */
int logical_connect(struct logical_source *ls, char *errstr, size_t errstr_size);
void logical_disconnect(struct logical_source *ls);
const char *logical_server(const struct logical_source *ls);

/* The plain (non-replication) connection, for the schema catalog and dead-letter records. */
PGconn *logical_conn(const struct logical_source *ls);

/* Whether another connection is streaming from the slot: 1 yes, 0 no, -1 error. */
int logical_slot_active(struct logical_source *ls, char *errstr, size_t errstr_size);

/* Starts streaming. Returns 0, 1 when the slot is in use by another connection (standby), or -1. */
int logical_start(struct logical_source *ls, char *errstr, size_t errstr_size);

/* The replication connection's socket, for poll(2). */
int logical_socket(const struct logical_source *ls);

/* Reads the next item without blocking (see enum logical_read). */
int logical_read(struct logical_source *ls, struct outbox_event *ev, uint64_t *lsn, char *errstr,
		 size_t errstr_size);

/* Whether a transaction has begun and not yet committed in what was read. */
int logical_in_transaction(const struct logical_source *ls);

/* The server's sent position from its last message: safe to confirm when nothing is in flight
 * and no transaction is open. */
uint64_t logical_server_sent(const struct logical_source *ls);

/* Whether the server asked for a reply, or status_interval_ms passed since the last update. */
int logical_feedback_due(const struct logical_source *ls);

/*
 * Confirms acked_lsn (the end of the last fully acked transaction; never moves backwards) or,
 * when idle (nothing in flight, no transaction open), the server's sent position: records the
 * position if it advanced, then sends a status update (asking the server for its position when
 * idle). Returns 0 or -1 with errstr.
 */
int logical_feedback(struct logical_source *ls, uint64_t acked_lsn, int idle, char *errstr,
		     size_t errstr_size);

/* Milliseconds until the next status update is due (0 = now). */
long long logical_feedback_wait_ms(const struct logical_source *ls);

#endif
