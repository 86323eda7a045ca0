/*
 * ackwin — the acknowledgement window between produce and checkpoint.
 *
 * Every event handed to the producer takes a slot, in capture order; delivery reports settle
 * slots in any order; only the contiguous run of acked slots at the head is released for
 * checkpointing (like pg_recvlogical's flush position), so a row is marked published only after
 * it and everything captured before it was acked. The window is bounded by a count and a byte
 * total: that bound is what keeps the relay's memory flat whatever the backlog.
 *
 * Pure and single-threaded: the pipeline thread pushes, and also settles (librdkafka delivery
 * reports run on the thread that calls rd_kafka_poll, which is the pipeline thread).
 */
#ifndef OUTBOX_RELAY_ACKWIN_H
#define OUTBOX_RELAY_ACKWIN_H

#include <stddef.h>
#include <stdint.h>

struct ackwin;

/* A window of at most max_count events and max_bytes bytes; NULL when out of memory. */
struct ackwin *ackwin_new(size_t max_count, size_t max_bytes);
void ackwin_destroy(struct ackwin *w);

/*
 * Whether an event of `bytes` fits now. An empty window always takes one event, so a single
 * event larger than max_bytes still makes progress.
 */
int ackwin_has_room(const struct ackwin *w, size_t bytes);

/* Takes a slot for row `id` (caller checked ackwin_has_room); returns the slot's sequence. */
uint64_t ackwin_push(struct ackwin *w, long long id, size_t bytes);

/*
 * Settles the slot with sequence seq: ok = acked by the broker, or failed. A sequence that is not
 * in the window (a late or repeated report) is ignored; returns -1 then, else 0.
 */
int ackwin_settle(struct ackwin *w, uint64_t seq, int ok);

/*
 * Removes the acked slots at the head, up to max, writing their row ids to ids; stops at the first
 * slot still in flight or failed. Returns how many were taken.
 */
size_t ackwin_take_acked(struct ackwin *w, long long *ids, size_t max);

/* Whether the head slot failed (the pipeline must rewind and send it again). */
int ackwin_head_failed(const struct ackwin *w);

/* The id a live slot was pushed with. Returns 0, or -1 when seq is not in the window. */
int ackwin_tag(const struct ackwin *w, uint64_t seq, long long *id);

/* Events in the window (in flight, acked but not yet taken, or failed), and their bytes. */
size_t ackwin_count(const struct ackwin *w);
size_t ackwin_bytes(const struct ackwin *w);

/* Events still waiting for a delivery report. */
size_t ackwin_in_flight(const struct ackwin *w);

/*
 * Removes every acked slot wherever it stands (used when rewinding after a failure, once nothing
 * is in flight: acked rows are durable in Kafka whatever failed around them). Failed slots are
 * dropped. Returns how many ids were written (at most max; call again while it returns max).
 */
size_t ackwin_take_all_acked(struct ackwin *w, long long *ids, size_t max);

#endif
