/*
 * pipeline — one source's whole path, on its own thread:
 *
 *   capture (poll.c) -> route (route.c) -> produce (produce.c) -> ack window (ackwin.c)
 *   -> checkpoint (poll_mark)
 *
 * A pipeline owns its database connection and its Kafka producer. Every failure it can recover
 * from (database or broker unreachable, connection lost, producer failure, a poison row under
 * on_error = "stop") ends the current session; the pipeline then retries with capped exponential
 * backoff and never affects the other sources. A new session forgets everything that was in
 * flight and starts again from the unpublished rows, so nothing is lost; events that were sent
 * but not yet marked are sent again, with the same event_id.
 */
#ifndef OUTBOX_RELAY_PIPELINE_H
#define OUTBOX_RELAY_PIPELINE_H

#include <stddef.h>

#include "conf.h"
#include "produce.h"

struct pipeline;

enum pipeline_state {
	PIPELINE_CONNECTING = 0,	/* starting a session: database, lock or slot, broker */
	PIPELINE_STANDBY,		/* another instance holds the outbox lock or the slot */
	PIPELINE_ACTIVE,		/* relaying */
	PIPELINE_RETRYING,		/* the session failed; waiting out the backoff */
	PIPELINE_STOPPED
};

/* What a pipeline looks like from another thread (systemd notifications, metrics). */
struct pipeline_status {
	const char *source;
	int mode;			/* enum source_mode */
	enum pipeline_state state;
	long long heartbeat_ms;		/* clock_mono_ms() when its loop last went round */
	unsigned long long published, dead_lettered;
	size_t in_flight;
	unsigned long long lag_bytes;	/* logical: WAL sent by the server beyond the last ack */
	unsigned long long sessions;	/* sessions started (the first one and every reconnect) */
	int brokers_down;		/* active, but the producer has heard from no broker since
					 * librdkafka found them all down */
	long long queue_depth;		/* messages in the producer's queues; 0 without one */
	long long backlog_rows;		/* poll: unpublished rows; -1 = not measured yet */
	double oldest_unpublished_s;	/* poll: age of the oldest unpublished row */
	/* delivery reports over the pipeline's lifetime (every session) */
	unsigned long long delivery_failures;
	long long last_ack_unix_ms;	/* 0: none yet */
	unsigned long long latency[PRODUCE_LATENCY_BUCKETS + 1];	/* per bucket, see
									 * produce_stats */
	unsigned long long latency_sum_us;
};

/*
 * Starts the pipeline of cfg->sources[index] on a new thread. cfg is borrowed and must outlive
 * the pipeline. Returns NULL with errstr if the thread could not be started.
 */
struct pipeline *pipeline_start(const struct conf *cfg, size_t index, char *errstr,
				size_t errstr_size);

/*
 * Asks every pipeline to stop: stop reading, wait (up to drain_timeout_ms) for the acks of what
 * is in flight, mark what was acked. Safe to call from any thread, not from a signal handler.
 */
void pipeline_request_stop(void);

/*
 * Asks one pipeline to stop the way pipeline_request_stop asks all (drain, mark what was acked);
 * pipeline_join then waits for it. For a reload that removes or changes its source.
 */
void pipeline_stop(struct pipeline *p);

/*
 * A snapshot of p's state, safe from any thread. The heartbeat moves at least once a second
 * while the pipeline's loop runs (waits included); one that stops moving means the pipeline is
 * stuck in a call that does not return.
 */
void pipeline_status(struct pipeline *p, struct pipeline_status *out);

/* Waits for the pipeline's thread to end, then frees it. NULL: no-op. */
void pipeline_join(struct pipeline *p);

#endif
