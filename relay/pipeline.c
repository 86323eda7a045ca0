/*
 * pipeline — see pipeline.h.
 */
#include "pipeline.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ackwin.h"
#include "clock.h"
#include "db.h"
#include "deadletter.h"
#include "encode.h"
#include "log.h"
#include "logical.h"
#include "poll.h"
#include "produce.h"
#include "route.h"

#define MARK_BATCH 4096		/* ids per UPDATE */
#define BROKER_CHECK_TIMEOUT_MS 5000
#define PROGRESS_LOG_SECONDS 30
#define BACKLOG_EVERY_MS 5000		/* poll: how often the backlog is counted, for the metrics */
#define BACKLOG_SHARE 100		/* ... or less often: at most 1/100 of the time counting */
#define BROKER_RECHECK_MS 1000		/* while every broker is down: how often to ask again */
#define BROKER_RECHECK_TIMEOUT_MS 200

static atomic_int stop_requested;
static pthread_mutex_t stop_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;

/* Where the retention of a poll source stands, kept across sessions so that a session
 * that keeps failing (a poison row under on_error = "stop") neither restarts nor starves a pass. */
struct retention {
	long long next_ms;		/* monotonic time of the next pass */
	int running;			/* a pass is under way: one more batch is due */
	long long deleted, batches;	/* of the pass */
	long long longest_ms;		/* the slowest DELETE of the pass */
};

struct pipeline {
	pthread_t thread;
	const struct conf *cfg;
	const struct conf_source *src;
	struct poll_source *ps;		/* poll mode */
	struct logical_source *ls;	/* logical mode */
	uint64_t acked_lsn;		/* logical: end of the last transaction fully acked */
	struct ackwin *win;
	struct producer *prod;
	struct route_result route;
	char dlq_topic[ROUTE_TOPIC_MAX + 1];
	long long ids[MARK_BATCH];
	unsigned long long published, dead_lettered;	/* rows marked, this process */
	int standby_logged;
	struct encoder *enc;
	/* Events Kafka refused for good at delivery. The broker refuses whole batches, so each is
	 * sent again alone (isolated) before it counts as poison (confirmed). Kept across sessions:
	 * a logical source re-reads them in a new one. */
	struct suspect {
		long long tag;
		int isolated, confirmed;
		char why[200];
	} suspects[PRODUCE_MAX_REJECTIONS];
	size_t n_suspects;
	struct retention retention;	/* poll mode */
	struct produce_stats stats;	/* every session's delivery reports */
	unsigned long long sessions;
	long long next_backlog_ms, next_broker_check_ms;
	/* what other threads may read (pipeline_status) */
	atomic_int state;			/* enum pipeline_state */
	atomic_llong heartbeat_ms;		/* clock_mono_ms() when the loop last went round */
	atomic_ullong pub_shared, dl_shared;	/* copies of published, dead_lettered */
	atomic_size_t in_flight_shared;
	atomic_ullong lag_shared;		/* logical: bytes the server sent beyond the ack */
	atomic_int stop_one;			/* pipeline_stop: this one only */
	atomic_ullong sessions_shared, failures_shared;
	atomic_int brokers_down_shared;
	atomic_llong queue_shared, last_ack_shared, backlog_shared;
	atomic_llong oldest_ms_shared;		/* backlog age, in ms */
	atomic_ullong latency_shared[PRODUCE_LATENCY_BUCKETS + 1], latency_sum_shared;
};

enum session_end { SESSION_STOPPED, SESSION_RETRY };

/* Whether this pipeline should stop: all of them (shutdown), or this one (reload). */
static int
stopping(const struct pipeline *p)
{
	return atomic_load(&stop_requested) || atomic_load(&p->stop_one);
}

void
pipeline_request_stop(void)
{
	pthread_mutex_lock(&stop_mutex);
	atomic_store(&stop_requested, 1);
	pthread_cond_broadcast(&stop_cond);
	pthread_mutex_unlock(&stop_mutex);
}

void
pipeline_stop(struct pipeline *p)
{
	pthread_mutex_lock(&stop_mutex);
	atomic_store(&p->stop_one, 1);
	pthread_cond_broadcast(&stop_cond);
	pthread_mutex_unlock(&stop_mutex);
}

/* The exponential step, capped by retry_backoff_max_ms. */
static long long
next_backoff(const struct pipeline *p, long long backoff)
{
	return backoff * 2 > p->src->retry_backoff_max_ms ? p->src->retry_backoff_max_ms : backoff * 2;
}

/*
 * The loop went round: tells pipeline_status readers that this pipeline is alive, and what it
 * has done. Called from every loop, including waits, so a pipeline whose heartbeat stops is one
 * stuck somewhere (a database or broker call that does not return).
 */
static void
beat(struct pipeline *p)
{
	atomic_store(&p->heartbeat_ms, clock_mono_ms());
	atomic_store(&p->pub_shared, p->published);
	atomic_store(&p->dl_shared, p->dead_lettered);
	atomic_store(&p->in_flight_shared, p->win ? ackwin_count(p->win) : 0);
	if (p->ls) {
		uint64_t sent = logical_server_sent(p->ls);

		atomic_store(&p->lag_shared, sent > p->acked_lsn ? sent - p->acked_lsn : 0);
	}
	if (p->prod)
		produce_take_stats(p->prod, &p->stats);
	atomic_store(&p->sessions_shared, p->sessions);
	atomic_store(&p->brokers_down_shared, p->prod ? produce_brokers_down(p->prod) : 0);
	atomic_store(&p->queue_shared, p->prod ? produce_queue_len(p->prod) : 0);
	atomic_store(&p->failures_shared, p->stats.failed);
	atomic_store(&p->last_ack_shared, p->stats.last_ack_unix_ms);
	for (size_t b = 0; b <= PRODUCE_LATENCY_BUCKETS; b++)
		atomic_store(&p->latency_shared[b], p->stats.latency[b]);
	atomic_store(&p->latency_sum_shared, p->stats.latency_sum_us);
}

static void
set_state(struct pipeline *p, enum pipeline_state st)
{
	atomic_store(&p->state, (int)st);
	beat(p);
}

void
pipeline_status(struct pipeline *p, struct pipeline_status *out)
{
	out->source = p->src->name;
	out->mode = p->src->mode;
	out->state = (enum pipeline_state)atomic_load(&p->state);
	out->heartbeat_ms = atomic_load(&p->heartbeat_ms);
	out->published = atomic_load(&p->pub_shared);
	out->dead_lettered = atomic_load(&p->dl_shared);
	out->in_flight = atomic_load(&p->in_flight_shared);
	out->lag_bytes = atomic_load(&p->lag_shared);
	out->sessions = atomic_load(&p->sessions_shared);
	out->brokers_down = atomic_load(&p->brokers_down_shared);
	out->queue_depth = atomic_load(&p->queue_shared);
	out->backlog_rows = atomic_load(&p->backlog_shared);
	out->oldest_unpublished_s = (double)atomic_load(&p->oldest_ms_shared) / 1000.0;
	out->delivery_failures = atomic_load(&p->failures_shared);
	out->last_ack_unix_ms = atomic_load(&p->last_ack_shared);
	for (size_t b = 0; b <= PRODUCE_LATENCY_BUCKETS; b++)
		out->latency[b] = atomic_load(&p->latency_shared[b]);
	out->latency_sum_us = atomic_load(&p->latency_sum_shared);
}

/*
 * Poll mode, for the metrics: counts the backlog every BACKLOG_EVERY_MS (or less often, see
 * below), on the pipeline's own connection (never from the HTTP thread). Returns 0, or -1 when
 * the database refused (the session must end, like any other database error).
 */
static int
measure_backlog(struct pipeline *p)
{
	char errstr[1024];
	long long rows;
	double oldest;
	long long start = clock_mono_ms(), took;

	if (start < p->next_backlog_ms)
		return 0;
	if (poll_backlog(p->ps, &rows, &oldest, errstr, sizeof(errstr)) != 0) {
		log_error("source \"%s\": %s", p->src->name, errstr);
		return -1;
	}
	/* The count reads every unpublished row: ~0.2 s for a million, during which nothing is
	 * read or marked. A large backlog is therefore counted less often, so that counting
	 * takes at most 1/BACKLOG_SHARE of the pipeline's time. */
	took = clock_mono_ms() - start;
	p->next_backlog_ms = clock_mono_ms() +
		(took * BACKLOG_SHARE > BACKLOG_EVERY_MS ? took * BACKLOG_SHARE : BACKLOG_EVERY_MS);
	atomic_store(&p->backlog_shared, rows);
	atomic_store(&p->oldest_ms_shared, (long long)(oldest * 1000.0));
	return 0;
}

/*
 * While librdkafka reports every broker down, asks for metadata now and then (briefly), so that
 * an idle source notices the broker is back without waiting for a delivery.
 */
static void
recheck_brokers(struct pipeline *p)
{
	char errstr[512];

	if (!produce_brokers_down(p->prod) || clock_mono_ms() < p->next_broker_check_ms)
		return;
	p->next_broker_check_ms = clock_mono_ms() + BROKER_RECHECK_MS;
	if (produce_check_brokers(p->prod, BROKER_RECHECK_TIMEOUT_MS, errstr, sizeof(errstr)) == 0)
		log_info("source \"%s\": Kafka brokers \"%s\" reachable again", p->src->name,
			 p->cfg->brokers);
}

/* Waits ms milliseconds, or less when a stop is requested; beats at least once a second. */
static void
wait_or_stop(struct pipeline *p, long long ms)
{
	while (ms > 1000 && !stopping(p)) {
		wait_or_stop(p, 1000);
		ms -= 1000;
	}
	beat(p);
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&stop_mutex);
	while (!stopping(p))
		if (pthread_cond_timedwait(&stop_cond, &stop_mutex, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&stop_mutex);
}

static struct suspect *
find_suspect(struct pipeline *p, long long tag)
{
	for (size_t i = 0; i < p->n_suspects; i++)
		if (p->suspects[i].tag == tag)
			return &p->suspects[i];
	return NULL;
}

static void
drop_suspect(struct pipeline *p, struct suspect *s)
{
	*s = p->suspects[--p->n_suspects];
}

/* Takes the producer's reports of records refused for good into the suspects. */
static void
take_rejections(struct pipeline *p)
{
	struct produce_rejection r[PRODUCE_MAX_REJECTIONS];
	size_t n;

	if (!p->prod || !(n = produce_take_rejections(p->prod, r, PRODUCE_MAX_REJECTIONS)))
		return;
	for (size_t i = 0; i < n; i++) {
		struct suspect *s = find_suspect(p, r[i].tag);

		if (s) {
			if (s->isolated)
				s->confirmed = 1;	/* refused even on its own: poison */
			snprintf(s->why, sizeof(s->why), "%s", r[i].why);
		} else if (p->n_suspects < PRODUCE_MAX_REJECTIONS) {
			s = &p->suspects[p->n_suspects++];
			s->tag = r[i].tag;
			s->isolated = s->confirmed = 0;
			snprintf(s->why, sizeof(s->why), "%s", r[i].why);
		}
	}
}

/* The database connection of the session, for the catalog and dead-letter records. */
static PGconn *
source_conn(const struct pipeline *p)
{
	return p->ls ? logical_conn(p->ls) : poll_conn(p->ps);
}

/*
 * Releases the acked head of the window (all = every acked slot, once nothing is in flight).
 * Poll mode marks those rows published; logical mode advances acked_lsn over the commit markers
 * among them (the slot position itself is sent by the logical loop). Returns 0, or -1 when the
 * database refused (the session must end).
 */
static int
checkpoint(struct pipeline *p, int all)
{
	char errstr[1024];
	size_t n;

	take_rejections(p);
	do {
		n = all ? ackwin_take_all_acked(p->win, p->ids, MARK_BATCH)
			: ackwin_take_acked(p->win, p->ids, MARK_BATCH);
		if (p->ls) {
			for (size_t i = 0; i < n; i++) {
				if (p->ids[i] > 0 && (uint64_t)p->ids[i] > p->acked_lsn)
					p->acked_lsn = (uint64_t)p->ids[i];
				else if (p->ids[i] <= 0)	/* an event (-lsn) */
					p->published++;
			}
			continue;
		}
		if (n && poll_mark(p->ps, p->ids, n, errstr, sizeof(errstr)) != 0) {
			log_error("source \"%s\": %s", p->src->name, errstr);
			return -1;
		}
	} while (n == MARK_BATCH);
	if (p->ps)
		p->published += poll_take_marked(p->ps);	/* counted once their mark is answered */
	return 0;
}

/* "row 42 of public.outbox" or "the event at WAL 0/16B3748", for messages about one event */
static void
describe(const struct pipeline *p, const struct outbox_event *ev, char *buf, size_t size)
{
	if (p->ls)
		snprintf(buf, size, "the event at WAL %X/%X", (unsigned int)(ev->lsn >> 32),
			 (unsigned int)ev->lsn);
	else {
		char shown[DB_QUALIFIED_SIZE];

		snprintf(buf, size, "row %lld of %s", ev->id,
			 db_table_display(p->src, "", shown, sizeof(shown)));
	}
}

/*
 * Serves delivery reports and marks until nothing is in flight or the deadline passes.
 * Returns 0 when the window drained, -1 otherwise.
 */
static int
drain(struct pipeline *p, long long deadline_ms)
{
	while (ackwin_in_flight(p->win) > 0 && clock_mono_ms() < deadline_ms) {
		beat(p);
		produce_poll(p->prod, 100);
		if (checkpoint(p, 0) != 0)
			return -1;
	}
	return ackwin_in_flight(p->win) == 0 ? 0 : -1;
}

/*
 * Applies on_error to a row that cannot be published. seq is the row's window slot if it already
 * has one (Kafka refused the record), else 0. Returns 0 when the row was handed to the
 * dead-letter topic (its slot settles with that delivery), -1 when the session must end
 * (on_error = "stop", or the dead letter could not be sent; the slot is then settled as failed).
 */
static int
poison(struct pipeline *p, const struct outbox_event *ev, const char *why, uint64_t seq)
{
	char errstr[512], what[128];
	enum produce_result r;

	describe(p, ev, what, sizeof(what));
	if (p->src->on_error == ON_ERROR_STOP) {
		log_error("source \"%s\": %s cannot be published: %s; the source stops before it "
			  "(on_error = \"stop\")%s", p->src->name, what, why,
			  p->ls ? "" : "; fix or remove the row");
		if (seq)
			ackwin_settle(p->win, seq, 0);
		return -1;
	}
	log_warning("source \"%s\": %s cannot be published: %s; sending it to dead-letter topic "
		    "\"%s\"", p->src->name, what, why, p->dlq_topic);
	if (deadletter_record(source_conn(p), p->src, ev, p->ls ? 0 : ev->id, why, p->dlq_topic,
			      errstr, sizeof(errstr)) != 0) {
		if (seq)
			ackwin_settle(p->win, seq, 0);
		log_error("source \"%s\": %s could not be dead-lettered: %s", p->src->name, what,
			  errstr);
		return -1;
	}
	if (!seq)
		seq = ackwin_push(p->win, ev->id, ev->payload_len);
	while ((r = produce_send_dead_letter(p->prod, p->dlq_topic, ev, why, seq, errstr,
					     sizeof(errstr))) == PRODUCE_QUEUE_FULL)
		produce_poll(p->prod, 10);
	if (r != PRODUCE_OK) {
		ackwin_settle(p->win, seq, 0);
		log_error("source \"%s\": %s could not be sent to dead-letter topic \"%s\": %s",
			  p->src->name, what, p->dlq_topic, errstr);
		return -1;
	}
	p->dead_lettered++;
	return 0;
}

/*
 * poison() for an event that cannot be routed or encoded. A suspect for it means Kafka refused
 * its dead letter last time: the reason is added to why, so that a dead letter refused for its
 * size goes without its value now (produce_send_dead_letter) instead of being refused forever.
 */
static int
poison_again(struct pipeline *p, const struct outbox_event *dl, char *why, size_t why_size,
	     struct suspect *sus)
{
	if (sus) {
		size_t n = strlen(why);

		snprintf(why + n, why_size - n, "; its dead letter was refused: %s", sus->why);
		drop_suspect(p, sus);
	}
	return poison(p, dl, why, 0);
}

/*
 * Routes, encodes and sends one event (its window slot's tag is tag: the row id in poll mode,
 * minus its WAL position in logical mode). Returns 0, or -1 when the session must end (a poison
 * event under "stop", a fatal producer error, an unavailable schema registry).
 */
static int
send_event(struct pipeline *p, const struct outbox_event *ev, long long tag)
{
	char errstr[1024];
	enum produce_result r;
	uint64_t seq;
	struct outbox_event dl = *ev;
	struct suspect *sus = p->n_suspects ? find_suspect(p, tag) : NULL;
	const void *value;
	size_t value_len;

	dl.id = tag;
	if (sus && sus->confirmed) {
		snprintf(errstr, sizeof(errstr), "%s", sus->why);
		drop_suspect(p, sus);
		return poison(p, &dl, errstr, 0);
	}
	if (route_event(p->src->topic, p->src->name, ev, &p->route, errstr, sizeof(errstr)) != 0)
		return poison_again(p, &dl, errstr, sizeof(errstr), sus);
	switch (encoder_encode(p->enc, source_conn(p), ev, &p->route, &value, &value_len, errstr,
			       sizeof(errstr))) {
	case ENCODE_OK:
		break;
	case ENCODE_POISON:
		return poison_again(p, &dl, errstr, sizeof(errstr), sus);
	default:
		log_error("source \"%s\": %s", p->src->name, errstr);
		return -1;
	}
	if (sus) {
		/* refused at delivery, perhaps for a batch neighbour's fault: send it alone */
		if (drain(p, clock_mono_ms() + p->cfg->drain_timeout_ms) != 0)
			return -1;
		if (!(sus = find_suspect(p, tag)))
			return -1;
		sus->isolated = 1;
	}
	/* the caller sized its reading to the window's free count; bytes may still run out */
	while (!ackwin_has_room(p->win, value_len)) {
		produce_poll(p->prod, 10);
		if (checkpoint(p, 0) != 0)
			return -1;
	}
	seq = ackwin_push(p->win, tag, value_len);
	while ((r = produce_send(p->prod, &p->route, ev, value, value_len, seq, errstr,
				 sizeof(errstr))) == PRODUCE_QUEUE_FULL)
		produce_poll(p->prod, 10);
	if (r == PRODUCE_OK) {
		if (sus) {
			if (drain(p, clock_mono_ms() + p->cfg->drain_timeout_ms) != 0)
				return -1;
			if (!(sus = find_suspect(p, tag)))
				return 0;
			if (!sus->confirmed) {
				drop_suspect(p, sus);	/* alone, it went through */
				return 0;
			}
			/* refused on its own: nothing after it may go before on_error decides; the
			 * next session reads it again and applies on_error */
			log_warning("source \"%s\": Kafka refused an event even when sent alone: %s",
				    p->src->name, sus->why);
			return -1;
		}
		return 0;
	}
	if (r == PRODUCE_FATAL) {
		ackwin_settle(p->win, seq, 0);
		log_error("source \"%s\": kafka producer failed: %s", p->src->name, errstr);
		return -1;
	}
	/* refused before it left (too large, ...): the event is poison, its slot goes to the dead
	 * letter */
	return poison(p, &dl, errstr, seq);
}

/* Sends the rows of the last poll fetch. Returns 0, or -1 when the session must end. */
static int
send_rows(struct pipeline *p, int nrows)
{
	for (int i = 0; i < nrows; i++) {
		struct outbox_event ev;

		poll_row(p->ps, i, &ev);
		if (send_event(p, &ev, ev.id) != 0)
			return -1;
	}
	return 0;
}

/* Waits until this instance holds the outbox lock. Returns 0 when active, -1 to end the session. */
static int
become_active(struct pipeline *p)
{
	char errstr[1024];

	for (;;) {
		int got = poll_try_lock(p->ps, errstr, sizeof(errstr));

		if (got < 0) {
			log_error("source \"%s\": %s", p->src->name, errstr);
			return -1;
		}
		if (got)
			return 0;
		if (!p->standby_logged) {
			char shown[DB_QUALIFIED_SIZE];

			log_info("source \"%s\": standby: another instance holds the lock of %s; "
				 "taking over when it goes away", p->src->name,
				 db_table_display(p->src, "", shown, sizeof(shown)));
			p->standby_logged = 1;
		}
		set_state(p, PIPELINE_STANDBY);
		wait_or_stop(p, p->src->standby_retry_ms);
		if (stopping(p))
			return -1;
	}
}

/* Waits until a broker answers. Returns 0, or -1 when stopping. */
static int
reach_brokers(struct pipeline *p)
{
	char errstr[512];
	long long backoff = 500;

	while (produce_check_brokers(p->prod, BROKER_CHECK_TIMEOUT_MS, errstr, sizeof(errstr)) != 0) {
		log_warning("source \"%s\": could not reach Kafka brokers \"%s\": %s; retrying in %lld ms",
			    p->src->name, p->cfg->brokers, errstr, backoff);
		wait_or_stop(p, backoff);
		if (stopping(p))
			return -1;
		backoff = next_backoff(p, backoff);
	}
	return 0;
}

/*
 * Retention (poll mode, active instance): every retention_interval_ms a pass deletes the
 * published rows older than retention_ms, retention_batch rows per DELETE, until a DELETE finds
 * fewer. One batch per call, and run_active calls once per loop, so that delivery reports and
 * marks are served between two batches however many rows a pass deletes. Returns 0, or -1 when
 * the database refused (the session must end, like any other database error).
 */
static int
retention_step(struct pipeline *p, struct retention *r)
{
	const struct conf_source *src = p->src;
	char errstr[1024];
	long long deleted, started;

	if (src->retention_ms == 0)
		return 0;
	if (!r->running) {
		if (clock_mono_ms() < r->next_ms)
			return 0;
		r->running = 1;
		r->deleted = r->batches = r->longest_ms = 0;
	}
	started = clock_mono_ms();
	if (poll_retention(p->ps, src->retention_ms, src->retention_batch, &deleted, errstr,
			   sizeof(errstr)) != 0) {
		log_error("source \"%s\": %s", src->name, errstr);
		return -1;
	}
	if (clock_mono_ms() - started > r->longest_ms)
		r->longest_ms = clock_mono_ms() - started;
	r->deleted += deleted;
	r->batches++;
	if (deleted >= src->retention_batch)
		return 0;	/* perhaps more: the next batch on the next loop */
	r->running = 0;
	r->next_ms = clock_mono_ms() + src->retention_interval_ms;
	if (r->deleted > 0)
		log_info("source \"%s\": retention deleted %lld published rows older than %lld ms in "
			 "%lld batches (longest %lld ms)", src->name, r->deleted, src->retention_ms,
			 r->batches, r->longest_ms);
	else
		log_debug("source \"%s\": retention found no published rows older than %lld ms "
			  "(%lld ms)", src->name, src->retention_ms, r->longest_ms);
	return 0;
}

/* How long the idle loop may wait for delivery reports: the poll interval, cut short by a
 * retention pass that is due or under way. */
static int
idle_wait_ms(const struct pipeline *p, const struct retention *r)
{
	long long wait = p->src->poll_interval_ms;

	if (p->src->retention_ms > 0) {
		long long until = r->running ? 0 : r->next_ms - clock_mono_ms();

		if (until < wait)
			wait = until < 0 ? 0 : until;
	}
	return (int)wait;
}

/* The steady state: read, send, mark, until stopped or something fails. */
static enum session_end
run_active(struct pipeline *p)
{
	char errstr[1024];
	long long next_progress = clock_mono_ms() + PROGRESS_LOG_SECONDS * 1000;
	unsigned long long last_published = p->published;
	int rewinding = 0;

	set_state(p, PIPELINE_ACTIVE);
	while (!stopping(p)) {
		int nrows = 0;

		beat(p);
		produce_poll(p->prod, 0);
		if (produce_failed(p->prod, errstr, sizeof(errstr)))
			return SESSION_RETRY;
		if (checkpoint(p, 0) != 0 || measure_backlog(p) != 0)
			return SESSION_RETRY;
		recheck_brokers(p);

		if (ackwin_head_failed(p->win) && !rewinding) {
			char first[256];
			unsigned long long n = produce_take_failures(p->prod, first, sizeof(first));

			rewinding = 1;
			log_warning("source \"%s\": %llu events were not acked (first: %s); sending "
				    "everything unmarked again once the events in flight are settled",
				    p->src->name, n, first);
		}
		if (rewinding) {
			if (ackwin_in_flight(p->win) > 0) {
				produce_poll(p->prod, 100);
				continue;
			}
			if (checkpoint(p, 1) != 0)
				return SESSION_RETRY;
			poll_rewind(p->ps);
			rewinding = 0;
			{
				char first[256];
				unsigned long long n = produce_take_failures(p->prod, first,
									     sizeof(first));

				log_info("source \"%s\": events in flight settled (%llu more not "
					 "acked); reading the unpublished rows again", p->src->name, n);
			}
		}

		/* before reading: a session that ends at the next row still gets its batch */
		if (retention_step(p, &p->retention) != 0) {
			drain(p, clock_mono_ms() + p->cfg->drain_timeout_ms);
			return SESSION_RETRY;
		}

		size_t room = p->src->max_in_flight - ackwin_count(p->win);

		if (room > 0) {
			nrows = poll_fetch(p->ps, room < (size_t)p->src->batch_size ? room
						  : (size_t)p->src->batch_size,
					   ackwin_count(p->win) == 0, errstr, sizeof(errstr));
			if (nrows < 0) {
				log_error("source \"%s\": %s", p->src->name, errstr);
				return SESSION_RETRY;
			}
			if (send_rows(p, nrows) != 0) {
				drain(p, clock_mono_ms() + p->cfg->drain_timeout_ms);
				return SESSION_RETRY;
			}
		}
		if (nrows == 0)
			/* idle, or the window is full: wait for delivery reports (returns on the
			 * first) or until it is time to poll again */
			produce_poll(p->prod, room > 0 ? idle_wait_ms(p, &p->retention) : 100);

		if (clock_mono_ms() >= next_progress) {
			if (p->published != last_published)
				log_info("source \"%s\": %llu events published so far (%llu dead-lettered), "
					 "%zu in flight", p->src->name, p->published, p->dead_lettered,
					 ackwin_count(p->win));
			last_published = p->published;
			next_progress = clock_mono_ms() + PROGRESS_LOG_SECONDS * 1000;
		}
	}

	/* stop requested: no more reading; settle and mark what is in flight */
	if (drain(p, clock_mono_ms() + p->cfg->drain_timeout_ms) != 0)
		log_warning("source \"%s\": %zu events were still in flight after %lld ms; they stay "
			    "unpublished and will be sent again", p->src->name,
			    ackwin_in_flight(p->win), p->cfg->drain_timeout_ms);
	checkpoint(p, 0);
	if (poll_mark_settle(p->ps, errstr, sizeof(errstr)) != 0)
		log_error("source \"%s\": %s", p->src->name, errstr);
	p->published += poll_take_marked(p->ps);
	return SESSION_STOPPED;
}

/* Logical mode: sends the slot its new position when due (or when forced). */
static int
logical_confirm(struct pipeline *p, int force)
{
	char errstr[1024];
	/* With nothing in flight and no transaction open, everything the server has sent is
	 * settled: confirming its position lets an idle slot (or one that only sees other
	 * tables' WAL) advance, so the server keeps no WAL for it. */
	int idle = ackwin_count(p->win) == 0 && !logical_in_transaction(p->ls);

	if (!force && !logical_feedback_due(p->ls))
		return 0;
	if (logical_feedback(p->ls, p->acked_lsn, idle, errstr, sizeof(errstr)) != 0) {
		log_error("source \"%s\": %s", p->src->name, errstr);
		return -1;
	}
	return 0;
}

/* Waits until the stream has data (when there is room for it), Kafka has reports, or the next
 * status update is due. Returns 0 when Kafka's wake-up descriptor was seen not readable (nothing
 * to empty), else 1. */
static int
logical_wait(struct pipeline *p, int want_stream)
{
	struct pollfd fds[2];
	nfds_t n = 0;
	long long timeout = logical_feedback_wait_ms(p->ls);

	if (want_stream) {
		fds[n].fd = logical_socket(p->ls);
		fds[n++].events = POLLIN;
	}
	if (produce_wake_fd(p->prod) >= 0) {
		fds[n].fd = produce_wake_fd(p->prod);
		fds[n++].events = POLLIN;
	} else if (timeout > 10) {
		timeout = 10;	/* no wake-up descriptor: serve Kafka's reports often */
	}
	if (timeout > 1000)
		timeout = 1000;	/* and look at the stop flag at least every second */
	if (poll(fds, n, (int)timeout) < 0 || produce_wake_fd(p->prod) < 0)
		return 1;
	return (fds[n - 1].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) != 0;
}

/* The steady state of a logical source: read the stream, send, confirm, until stopped. */
static enum session_end
run_logical(struct pipeline *p)
{
	char errstr[1024];

	int kafka_woke = 1;	/* Kafka's wake-up descriptor may be readable */

	set_state(p, PIPELINE_ACTIVE);
	while (!stopping(p)) {
		int items = 0, more = 1;

		beat(p);
		/* when the wait below saw no wake-up, there is no byte to read: serve without the
		 * read(2), which would otherwise be one more system call per wait */
		if (kafka_woke)
			produce_poll(p->prod, 0);
		else
			produce_serve(p->prod);
		kafka_woke = 1;
		if (produce_failed(p->prod, errstr, sizeof(errstr)) || checkpoint(p, 0) != 0)
			return SESSION_RETRY;
		recheck_brokers(p);
		if (ackwin_head_failed(p->win)) {
			char first[256];
			unsigned long long n = produce_take_failures(p->prod, first, sizeof(first));

			/* the stream cannot be rewound within a session: settle what is in flight,
			 * confirm what was acked, and stream again from the slot's position */
			log_warning("source \"%s\": %llu events were not acked (first: %s); restarting "
				    "the stream from the last confirmed position", p->src->name, n, first);
			drain(p, clock_mono_ms() + p->cfg->drain_timeout_ms);
			logical_confirm(p, 1);
			return SESSION_RETRY;
		}
		/* read while the window has room, a bounded number at a time so that reports and
		 * status updates are served in between */
		while (more && items < 4096 && ackwin_has_room(p->win, 0) &&
		       ackwin_count(p->win) < (size_t)p->src->max_in_flight) {
			struct outbox_event ev;
			uint64_t lsn;
			int r = logical_read(p->ls, &ev, &lsn, errstr, sizeof(errstr));

			switch (r) {
			case LOGICAL_EVENT:
				if (send_event(p, &ev, -(long long)ev.lsn) != 0) {
					drain(p, clock_mono_ms() + p->cfg->drain_timeout_ms);
					logical_confirm(p, 1);
					return SESSION_RETRY;
				}
				break;
			case LOGICAL_COMMIT:
				/* a marker: released once everything before it is acked */
				ackwin_settle(p->win, ackwin_push(p->win, (long long)lsn, 0), 1);
				break;
			case LOGICAL_NONE:
				more = 0;
				break;
			default:
				log_error("source \"%s\": %s", p->src->name, errstr);
				drain(p, clock_mono_ms() + p->cfg->drain_timeout_ms);
				return SESSION_RETRY;
			}
			items++;
		}
		if (checkpoint(p, 0) != 0 || logical_confirm(p, 0) != 0)
			return SESSION_RETRY;
		if (!more || items == 0)
			kafka_woke = logical_wait(p, ackwin_count(p->win) < (size_t)p->src->max_in_flight);
	}
	if (drain(p, clock_mono_ms() + p->cfg->drain_timeout_ms) != 0)
		log_warning("source \"%s\": %zu events were still in flight after %lld ms; they will be "
			    "sent again", p->src->name, ackwin_in_flight(p->win), p->cfg->drain_timeout_ms);
	checkpoint(p, 0);
	logical_confirm(p, 1);
	return SESSION_STOPPED;
}

/* One replication connection's lifetime: connect, wait while another instance streams from
 * the slot, stream. */
static enum session_end
logical_session(struct pipeline *p)
{
	char errstr[1024];
	int rc;

	if ((rc = logical_connect(p->ls, errstr, sizeof(errstr))) != 0) {
		if (rc == -1)
			log_error("source \"%s\": could not connect to database at %s: %s",
				  p->src->name, logical_server(p->ls), errstr);
		else
			log_error("source \"%s\": %s", p->src->name, errstr);
		return SESSION_RETRY;
	}
	while ((rc = logical_slot_active(p->ls, errstr, sizeof(errstr))) == 1) {
		if (!p->standby_logged) {
			log_info("source \"%s\": standby: another instance streams from slot \"%s\"; "
				 "taking over when it goes away", p->src->name, p->src->slot);
			p->standby_logged = 1;
		}
		set_state(p, PIPELINE_STANDBY);
		wait_or_stop(p, p->src->standby_retry_ms);
		if (stopping(p))
			return SESSION_STOPPED;
	}
	if (rc < 0) {
		log_error("source \"%s\": %s", p->src->name, errstr);
		return SESSION_RETRY;
	}
	p->prod = produce_new(p->cfg, p->src, p->win, errstr, sizeof(errstr));
	if (!p->prod) {
		log_error("source \"%s\": %s", p->src->name, errstr);
		return SESSION_RETRY;
	}
	if (reach_brokers(p) != 0)
		return SESSION_RETRY;
	rc = logical_start(p->ls, errstr, sizeof(errstr));
	if (rc != 0) {
		if (rc < 0)
			log_error("source \"%s\": %s", p->src->name, errstr);
		return SESSION_RETRY;	/* rc 1: taken meanwhile; the next session is a standby */
	}
	log_info("source \"%s\": active: streaming slot \"%s\" of %s to Kafka", p->src->name,
		 p->src->slot, logical_server(p->ls));
	p->standby_logged = 0;
	p->acked_lsn = 0;
	return run_logical(p);
}

/* One connection's lifetime: connect, take the lock, relay. */
static enum session_end
session(struct pipeline *p)
{
	char errstr[1024];
	enum session_end end = SESSION_RETRY;

	/* commit markers share the window with events: room for both */
	p->win = ackwin_new((size_t)p->src->max_in_flight * (p->ls ? 2 : 1),
			    (size_t)p->src->max_in_flight_bytes);
	if (!p->win) {
		log_error("source \"%s\": out of memory", p->src->name);
		return SESSION_RETRY;
	}
	if (p->ls) {
		end = logical_session(p);
		goto out;
	}
	if (poll_connect(p->ps, errstr, sizeof(errstr)) != 0) {
		log_error("source \"%s\": could not connect to database at %s: %s", p->src->name,
			  poll_server(p->ps), errstr);
		goto out;
	}
	if (become_active(p) != 0)
		goto out;
	{
		char shown[DB_QUALIFIED_SIZE];

		log_info("source \"%s\": active: relaying %s at %s to Kafka", p->src->name,
			 db_table_display(p->src, "", shown, sizeof(shown)), poll_server(p->ps));
	}
	p->standby_logged = 0;
	/* only the active instance talks to Kafka: a standby holds no producer */
	p->prod = produce_new(p->cfg, p->src, p->win, errstr, sizeof(errstr));
	if (!p->prod) {
		log_error("source \"%s\": %s", p->src->name, errstr);
		goto out;
	}
	if (reach_brokers(p) != 0)
		goto out;
	end = run_active(p);
out:
	if (stopping(p))
		end = SESSION_STOPPED;
	take_rejections(p);
	beat(p);	/* the last reports of the session into the lifetime stats */
	produce_destroy(p->prod);
	p->prod = NULL;
	if (p->ls)
		logical_disconnect(p->ls);
	else
		poll_disconnect(p->ps);
	ackwin_destroy(p->win);
	p->win = NULL;
	return end;
}

static void *
pipeline_main(void *arg)
{
	struct pipeline *p = arg;
	long long backoff = 100;

	while (!stopping(p)) {
		unsigned long long published_before = p->published;

		p->sessions++;
		set_state(p, PIPELINE_CONNECTING);
		if (session(p) == SESSION_STOPPED)
			break;
		set_state(p, PIPELINE_RETRYING);
		/* A session that published was healthy: the next failure is a new one, so start the
		 * backoff over. One that failed without progress (a poison row under "stop", a
		 * missing table) keeps backing off. */
		if (p->published > published_before)
			backoff = 100;
		log_info("source \"%s\": retrying in %lld ms", p->src->name, backoff);
		wait_or_stop(p, backoff);
		backoff = next_backoff(p, backoff);
	}
	log_info("source \"%s\": stopped; %llu events published (%llu dead-lettered)", p->src->name,
		 p->published, p->dead_lettered);
	set_state(p, PIPELINE_STOPPED);
	return NULL;
}

struct pipeline *
pipeline_start(const struct conf *cfg, size_t index, char *errstr, size_t errstr_size)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	int err;

	if (!p) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	p->cfg = cfg;
	p->src = &cfg->sources[index];
	if (route_topic(p->src->dead_letter_topic, p->src->name, NULL, p->dlq_topic, errstr,
			errstr_size) != 0) {
		free(p);
		return NULL;
	}
	if (!(p->enc = encoder_new(cfg, p->src, errstr, errstr_size))) {
		free(p);
		return NULL;
	}
	if (p->src->mode == SOURCE_MODE_LOGICAL ? !(p->ls = logical_new(p->src))
						 : !(p->ps = poll_new(p->src))) {
		snprintf(errstr, errstr_size, "out of memory");
		encoder_free(p->enc);
		free(p);
		return NULL;
	}
	atomic_store(&p->heartbeat_ms, clock_mono_ms());
	atomic_store(&p->backlog_shared, -1);
	if ((err = pthread_create(&p->thread, NULL, pipeline_main, p)) != 0) {
		snprintf(errstr, errstr_size, "could not start thread: %s", strerror(err));
		poll_destroy(p->ps);
		logical_destroy(p->ls);
		encoder_free(p->enc);
		free(p);
		return NULL;
	}
	return p;
}

void
pipeline_join(struct pipeline *p)
{
	if (!p)
		return;
	pthread_join(p->thread, NULL);
	poll_destroy(p->ps);
	logical_destroy(p->ls);
	route_result_free(&p->route);
	encoder_free(p->enc);
	free(p);
}
