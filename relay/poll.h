/*
 * poll — capture and checkpoint for a source in poll mode: reads unpublished outbox rows and
 * marks them published (or deletes them) once the broker acked them.
 *
 * Reading in commit order, with no high-water mark. Ids come from a sequence, so a transaction
 * can commit after another one with higher ids; a relay that remembers "the highest id I have
 * read" skips the late row forever, and one that rescans by id can publish an aggregate's later
 * event before its earlier one. Like PgQ, this module reads in batches between two snapshots:
 * a pass takes pg_current_snapshot() and reads the rows whose inserting transaction (the txid
 * column) is visible in it but was not visible in the previous pass's snapshot, in id order.
 * Every committed row falls into exactly one pass, passes follow commit order, and rows that are
 * still in flight from earlier passes are never read twice. Tables without a txid column fall
 * back to id order with a full rescan whenever nothing is in flight (late rows are still
 * published, possibly after newer rows of their aggregate; README says so).
 *
 * One writer per outbox: the connection holds a session advisory lock derived from the table's
 * name; an instance that cannot take it is a standby and keeps trying.
 *
 * All calls come from the owning pipeline thread. Connection errors are returned, never retried
 * here: the pipeline reconnects with backoff.
 */
#ifndef OUTBOX_RELAY_POLL_H
#define OUTBOX_RELAY_POLL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "conf.h"
#include "event.h"

struct poll_source;

/* src is borrowed and must outlive the poll source. */
struct poll_source *poll_new(const struct conf_source *src);
void poll_destroy(struct poll_source *ps);

/*
 * Connects, checks that the table and every mapped column exist, and prepares the statements.
 * Returns 0, or -1 with errstr saying what is wrong (PostgreSQL's message, trimmed).
 */
int poll_connect(struct poll_source *ps, char *errstr, size_t errstr_size);
void poll_disconnect(struct poll_source *ps);

/* "host:port" of the connection, for logs (never the whole dsn). */
const char *poll_server(const struct poll_source *ps);

/* The source's connection, for the schema catalog and dead-letter records (NULL if none). */
PGconn *poll_conn(const struct poll_source *ps);

/* Tries the outbox lock: returns 1 taken (or already held), 0 held by another session, -1 error. */
int poll_try_lock(struct poll_source *ps, char *errstr, size_t errstr_size);

/*
 * Reads up to max_rows rows not read before (see the file comment). window_empty tells whether
 * any event of this source is still in flight: only then may the fallback mode rescan. Returns
 * the number of rows (0 = nothing new), or -1 with errstr. The rows stay valid until the next
 * poll_fetch, poll_disconnect or poll_destroy.
 */
int poll_fetch(struct poll_source *ps, size_t max_rows, int window_empty, char *errstr,
	       size_t errstr_size);

/* Row i of the last fetch (0 <= i < the count poll_fetch returned); strings are borrowed. */
void poll_row(const struct poll_source *ps, int i, struct outbox_event *ev);

/*
 * The select list of the fetch query for src, every mapped column taken as present (a column
 * mapped to "" reads as NULL); rows of a query with it convert with poll_event_from. Returns the
 * length the list needs (as snprintf).
 */
size_t poll_select_list(const struct conf_source *src, char *buf, size_t size);

/* Row i of a result selected with poll_select_list, as an event (borrowing from r). */
void poll_event_from(const PGresult *r, int i, struct outbox_event *ev);

/*
 * Marks rows published (sets published_at, or deletes them with on_publish = "delete"), over a
 * second connection of the source's, opened by the first mark: the statement is sent and not
 * waited for, so that the server marks one batch while the pipeline reads and sends the next.
 * Each call first waits for the previous mark's answer (poll_mark_settle). Returns 0, or -1
 * with errstr (this mark or the previous one failed; the session must end).
 */
int poll_mark(struct poll_source *ps, const long long *ids, size_t n, char *errstr,
	      size_t errstr_size);

/* Waits for the answer to the mark in progress, if any. Returns 0, or -1 with errstr. poll_fetch
 * calls it whenever nothing is in flight, before it may read rows it has read before. */
int poll_mark_settle(struct poll_source *ps, char *errstr, size_t errstr_size);

/* Rows whose marks were answered since the last call (for the published counter). */
unsigned long long poll_take_marked(struct poll_source *ps);

/* Forgets what was read: the next fetch starts over from every unpublished row. Call only when
 * nothing is in flight. */
void poll_rewind(struct poll_source *ps);

/*
 * Retention: deletes at most batch published rows whose published_at is older than
 * retention_ms, the lowest ids first, in one autocommit statement (so its locks last one batch).
 * Never touches unpublished rows; with on_publish = "delete" there is nothing to find. Sets
 * *deleted; returns 0, or -1 with errstr. Call only while holding the outbox lock.
 */
int poll_retention(struct poll_source *ps, long long retention_ms, long long batch,
		   long long *deleted, char *errstr, size_t errstr_size);

/*
 * The backlog, for the metrics: the number of unpublished rows and the age in seconds of the
 * oldest (0 when there is none, or the table has no created_at column). One count over the
 * partial index of the unpublished rows. Returns 0, or -1 with errstr.
 */
int poll_backlog(struct poll_source *ps, long long *rows, double *oldest_s, char *errstr,
		 size_t errstr_size);

#endif
