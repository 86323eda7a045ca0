/*
 * produce — the pipeline's Kafka producer: one librdkafka idempotent producer per source.
 *
 * Each routed event becomes one record (key = aggregate id, value = payload, headers from route)
 * whose delivery report settles the event's slot in the ack window. The settings that carry the
 * guarantees are fixed: enable.idempotence=true (retries never reorder or duplicate within a
 * partition), acks=all, and the murmur2_random partitioner (keys land where Java producers put
 * them). Every other librdkafka property comes from the `kafka` group of the config.
 *
 * Threading: everything here runs on the owning pipeline's thread, including the delivery report
 * and error callbacks (served by produce_poll). librdkafka's log callback may run on its own
 * threads; it only calls the thread-safe log module.
 */
#ifndef OUTBOX_RELAY_PRODUCE_H
#define OUTBOX_RELAY_PRODUCE_H

#include <stdint.h>

#include "ackwin.h"
#include "conf.h"
#include "event.h"
#include "route.h"

struct producer;

enum produce_result {
	PRODUCE_OK = 0,
	PRODUCE_QUEUE_FULL,	/* transient: serve delivery reports and try again */
	PRODUCE_REJECTED,	/* this record can never be sent (too large, ...): poison */
	PRODUCE_FATAL		/* the producer is unusable: the pipeline restarts it */
};

/*
 * Checks every kafka property of cfg against librdkafka without connecting anywhere.
 * Returns 0, or -1 with errstr "FILE:LINE: ..." naming the property.
 */
int produce_check_conf(const struct conf *cfg, char *errstr, size_t errstr_size);

/*
 * Creates the producer of source src; its delivery reports settle slots of win (not owned).
 * Returns NULL with errstr on failure.
 */
struct producer *produce_new(const struct conf *cfg, const struct conf_source *src,
			     struct ackwin *win, char *errstr, size_t errstr_size);

/* Purges what is still queued (those events are simply not marked) and destroys. NULL: no-op. */
void produce_destroy(struct producer *p);

/*
 * Asks the cluster for metadata: 0 when a broker answered within timeout_ms (which also clears
 * produce_brokers_down), else -1 + errstr.
 */
int produce_check_brokers(struct producer *p, int timeout_ms, char *errstr, size_t errstr_size);

/*
 * Sends one routed event, its delivery report settling window slot seq. On PRODUCE_REJECTED
 * or PRODUCE_FATAL errstr says why; the slot must then be settled by the caller.
 */
enum produce_result produce_send(struct producer *p, const struct route_result *r,
				 const struct outbox_event *ev, const void *value, size_t value_len,
				 uint64_t seq, char *errstr, size_t errstr_size);

/*
 * Sends ev to the dead-letter topic with headers naming the error, the source and the row;
 * the key is the aggregate id when there is one, the value the payload, unless the event was
 * refused for its size (error says so) or the dead letter itself is too large for the
 * producer: then no value, and a header payload_omitted ("N bytes"). Same results as
 * produce_send.
 */
enum produce_result produce_send_dead_letter(struct producer *p, const char *topic,
					     const struct outbox_event *ev, const char *error,
					     uint64_t seq, char *errstr, size_t errstr_size);

/* Serves delivery reports and errors for up to timeout_ms (returns early when one arrives). */
void produce_poll(struct producer *p, int timeout_ms);

/*
 * Serves the delivery reports and errors waiting now, without emptying produce_wake_fd: for a
 * caller that has just seen that descriptor not readable in poll(2), where emptying it would be
 * a read(2) that finds nothing. Left readable, it only makes the next poll(2) return at once.
 */
void produce_serve(struct producer *p);

/*
 * A descriptor that becomes readable when delivery reports or errors wait to be served by
 * produce_poll (which also empties it), for waiting on it with poll(2); -1 if unavailable.
 */
int produce_wake_fd(const struct producer *p);

/* Whether librdkafka raised a fatal error; errstr gets its text. */
int produce_failed(struct producer *p, char *errstr, size_t errstr_size);

/*
 * Delivery failures since the last call (and resets the count); first_error gets the first
 * one's topic and reason.
 */
uint64_t produce_take_failures(struct producer *p, char *first_error, size_t size);

/*
 * A record the broker refused for good at delivery (too large for the topic, an invalid record
 * or timestamp): retrying it unchanged can never succeed. The broker refuses whole batches, so
 * a record may be reported for a neighbour's fault; the pipeline tells them apart by sending it
 * again alone.
 */
struct produce_rejection {
	long long tag;		/* the window slot's id */
	char why[200];
};

/*
 * Moves up to max rejections reported since the last call into out; returns how many. At most
 * PRODUCE_MAX_REJECTIONS are kept between calls; beyond that they are plain failures (the
 * events are sent again, and rejected again).
 */
#define PRODUCE_MAX_REJECTIONS 64
size_t produce_take_rejections(struct producer *p, struct produce_rejection *out, size_t max);

/* Upper bounds (seconds) of the end-to-end latency histogram's buckets, ascending. */
#define PRODUCE_LATENCY_BUCKETS 13
extern const double produce_latency_bounds[PRODUCE_LATENCY_BUCKETS];

/*
 * What the delivery reports said, for the metrics. Latency is created_at (the record's
 * timestamp) to the broker's ack, as seen by this host's clock.
 */
struct produce_stats {
	unsigned long long acked, failed;	/* delivery reports */
	long long last_ack_unix_ms;		/* 0: none yet */
	unsigned long long latency[PRODUCE_LATENCY_BUCKETS + 1];	/* per bucket (not
						 * cumulative); the last one: beyond every bound */
	unsigned long long latency_sum_us;
};

/* Adds what was reported since the last call to acc, and starts counting again from zero. */
void produce_take_stats(struct producer *p, struct produce_stats *acc);

/*
 * Whether every broker was down at the last word from librdkafka (its ALL_BROKERS_DOWN error)
 * and none has been heard from since (a delivery or a produce_check_brokers that succeeded).
 */
int produce_brokers_down(const struct producer *p);

/* Messages in librdkafka's queues: waiting to be sent, in flight, or reports not yet served. */
long long produce_queue_len(struct producer *p);

#endif
