/*
 * produce — see produce.h.
 */
#include "produce.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/*
 * Topic handles of the topics sent to lately. Naming the topic by its name in every
 * rd_kafka_producev makes librdkafka look it up under its handle's write lock, for every event;
 * a handle kept here is used directly. Events mostly go to a few topics.
 */
#define TOPIC_HANDLES 8

struct topic_handle {
	char name[ROUTE_TOPIC_MAX + 1];
	rd_kafka_topic_t *rkt;		/* NULL: free */
};

struct producer {
	rd_kafka_t *rk;
	struct topic_handle topics[TOPIC_HANDLES];
	size_t next_topic;		/* the entry the next new topic replaces */
	struct ackwin *win;
	const char *source;
	const char *brokers;
	uint64_t acked;
	uint64_t failed;		/* delivery failures not yet reported by the pipeline */
	char last_failure[256];
	time_t last_unreachable_log;
	int fatal;
	char fatal_msg[512];
	int wake[2];		/* librdkafka writes a byte to wake[1] when reports are waiting */
	struct produce_rejection rejections[PRODUCE_MAX_REJECTIONS];
	size_t n_rejections;
	int brokers_down;	/* ALL_BROKERS_DOWN, and no broker heard from since */
	char broker_error[256];	/* why the last broker connection failed (TLS, SASL, ...) */
	struct produce_stats stats;	/* since the last produce_take_stats */
};

const double produce_latency_bounds[PRODUCE_LATENCY_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};

/* Properties whose value the relay's guarantees depend on; the config may not change them. */
static const struct {
	const char *name;
	const char *value;
	const char *const allowed[3];
	const char *why;
} fixed_props[] = {
	{ "enable.idempotence", "true", { "true", NULL }, "retries must not reorder events" },
	{ "acks", "all", { "all", "-1", NULL }, "an event is only acked once it is replicated" },
	{ "request.required.acks", "all", { "all", "-1", NULL },
	  "an event is only acked once it is replicated" },
};

static void
kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const char *src = rd_kafka_opaque(rk) ? ((struct producer *)rd_kafka_opaque(rk))->source : "";
	/* Everything that matters to an operator also arrives through error_cb or a delivery
	 * report, worded by the relay; librdkafka's own lines (connection FAILs at syslog level 3,
	 * ...) would say it twice, so only the critical ones are kept above debug. */
	enum log_level lvl = level <= 2 ? LOG_LEVEL_ERROR : LOG_LEVEL_DEBUG;

	log_msg(lvl, "source \"%s\": kafka %s: %s", src, fac, buf);
}

static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct producer *p = opaque;

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[512];
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));

		p->fatal = 1;
		snprintf(p->fatal_msg, sizeof(p->fatal_msg), "%s: %s", rd_kafka_err2name(orig), buf);
		log_error("source \"%s\": kafka producer failed: %s", p->source, p->fatal_msg);
		return;
	}
	/* the connection's own failure (refused, TLS handshake, SASL authentication) says more
	 * than "all brokers down": produce_check_brokers reports it */
	if (err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		snprintf(p->broker_error, sizeof(p->broker_error), "%s", reason);
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
	    err == RD_KAFKA_RESP_ERR__RESOLVE || err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
	    err == RD_KAFKA_RESP_ERR__SSL) {
		time_t now = time(NULL);

		/* an idle poll source stays active while no broker answers: readiness needs this */
		if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
			p->brokers_down = 1;

		/* librdkafka repeats this on every reconnect attempt; once every 10 s is plenty */
		if (now - p->last_unreachable_log >= 10) {
			p->last_unreachable_log = now;
			log_warning("source \"%s\": could not reach Kafka brokers \"%s\": %s; retrying",
				    p->source, p->brokers, reason);
		}
		return;
	}
	log_warning("source \"%s\": kafka: %s: %s", p->source,
		    rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Delivery errors that sending the same record again cannot cure. */
static int
permanent(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
		return 1;
	default:
		return 0;
	}
}

/* Counts an acked record into the stats: last ack time and created_at-to-ack latency. */
static void
record_ack(struct producer *p, const rd_kafka_message_t *m)
{
	struct timespec ts;
	rd_kafka_timestamp_type_t type;
	int64_t created = rd_kafka_message_timestamp(m, &type);
	long long now_ms, latency_ms;
	size_t b = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	p->stats.acked++;
	p->stats.last_ack_unix_ms = now_ms;
	if (created <= 0 || type != RD_KAFKA_TIMESTAMP_CREATE_TIME)
		return;	/* no timestamp to measure from */
	latency_ms = now_ms - created > 0 ? now_ms - created : 0;
	while (b < PRODUCE_LATENCY_BUCKETS && (double)latency_ms / 1000.0 > produce_latency_bounds[b])
		b++;
	p->stats.latency[b]++;
	p->stats.latency_sum_us += (unsigned long long)latency_ms * 1000;
}

static void
delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct producer *p = opaque;
	uint64_t seq = (uint64_t)(uintptr_t)m->_private;

	(void)rk;
	if (m->err) {
		/* one line per failed event would flood the log when a broker goes away with
		 * thousands in flight: count them, the pipeline reports once */
		p->stats.failed++;
		if (p->failed++ == 0)
			snprintf(p->last_failure, sizeof(p->last_failure), "topic \"%s\": %s",
				 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
		log_debug("source \"%s\": delivery to topic \"%s\" failed: %s", p->source,
			  rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
		if (permanent(m->err) && p->n_rejections < PRODUCE_MAX_REJECTIONS &&
		    ackwin_tag(p->win, seq, &p->rejections[p->n_rejections].tag) == 0)
			snprintf(p->rejections[p->n_rejections++].why,
				 sizeof(p->rejections[0].why), "Kafka refused the record: %s",
				 rd_kafka_err2str(m->err));
		ackwin_settle(p->win, seq, 0);
		return;
	}
	p->acked++;
	p->brokers_down = 0;
	record_ack(p, m);
	ackwin_settle(p->win, seq, 1);
}

/* Builds a librdkafka conf from the relay's defaults, cfg's properties and the fixed ones. */
static rd_kafka_conf_t *
build_conf(const struct conf *cfg, const struct conf_source *src, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char buf[512], client_id[128], qmax[32];

	snprintf(client_id, sizeof(client_id), "outbox-relay-%s", src ? src->name : "check");
	/* the ack window is the bound on buffered events; librdkafka's queue must not be smaller */
	snprintf(qmax, sizeof(qmax), "%lld",
		 src && src->max_in_flight * 2 > 100000 ? src->max_in_flight * 2 : 100000LL);
	const char *defaults[][2] = {
		{ "bootstrap.servers", cfg->brokers },
		{ "client.id", client_id },
		{ "partitioner", "murmur2_random" },
		{ "linger.ms", "5" },
		{ "queue.buffering.max.messages", qmax },
		{ "enable.idempotence", "true" },
		{ "acks", "all" },
	};

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		if (rd_kafka_conf_set(kc, defaults[i][0], defaults[i][1], buf, sizeof(buf)) !=
		    RD_KAFKA_CONF_OK) {
			snprintf(errstr, errstr_size, "%s: kafka property \"%s\": %s", cfg->path,
				 defaults[i][0], buf);
			rd_kafka_conf_destroy(kc);
			return NULL;
		}
	}
	for (size_t i = 0; i < cfg->n_kafka_props; i++) {
		const struct conf_kafka_property *kp = &cfg->kafka_props[i];

		for (size_t f = 0; f < sizeof(fixed_props) / sizeof(fixed_props[0]); f++) {
			int ok = 0;

			if (strcmp(kp->name, fixed_props[f].name) != 0)
				continue;
			for (int a = 0; fixed_props[f].allowed[a]; a++)
				ok |= strcmp(kp->value, fixed_props[f].allowed[a]) == 0;
			if (!ok) {
				snprintf(errstr, errstr_size,
					 "%s:%d: kafka property \"%s\" must stay \"%s\": %s", cfg->path,
					 kp->line, kp->name, fixed_props[f].value, fixed_props[f].why);
				rd_kafka_conf_destroy(kc);
				return NULL;
			}
		}
		if (rd_kafka_conf_set(kc, kp->name, kp->value, buf, sizeof(buf)) != RD_KAFKA_CONF_OK) {
			/* librdkafka's message may quote the value; property values can be secrets,
			 * so only name the property */
			snprintf(errstr, errstr_size, "%s:%d: kafka property \"%s\" is %s", cfg->path,
				 kp->line, kp->name,
				 strstr(buf, "No such configuration property") ? "unknown"
									      : "not valid");
			rd_kafka_conf_destroy(kc);
			return NULL;
		}
	}
	return kc;
}

int
produce_check_conf(const struct conf *cfg, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *kc = build_conf(cfg, NULL, errstr, errstr_size);

	if (!kc)
		return -1;
	rd_kafka_conf_destroy(kc);
	return 0;
}

struct producer *
produce_new(const struct conf *cfg, const struct conf_source *src, struct ackwin *win,
	    char *errstr, size_t errstr_size)
{
	struct producer *p = calloc(1, sizeof(*p));
	rd_kafka_conf_t *kc;
	char buf[512];

	if (!p) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	p->win = win;
	p->source = src->name;
	p->wake[0] = p->wake[1] = -1;
	p->brokers = cfg->brokers;
	if (!(kc = build_conf(cfg, src, errstr, errstr_size))) {
		free(p);
		return NULL;
	}
	rd_kafka_conf_set_opaque(kc, p);
	rd_kafka_conf_set_dr_msg_cb(kc, delivery_cb);
	rd_kafka_conf_set_error_cb(kc, error_cb);
	rd_kafka_conf_set_log_cb(kc, kafka_log_cb);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, buf, sizeof(buf));
	if (!p->rk) {
		snprintf(errstr, errstr_size, "could not create Kafka producer: %s", buf);
		rd_kafka_conf_destroy(kc);
		free(p);
		return NULL;
	}
	/* so that a pipeline can wait on its database socket and Kafka's reports together */
	if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) == 0) {
		rd_kafka_queue_t *q = rd_kafka_queue_get_main(p->rk);

		rd_kafka_queue_io_event_enable(q, p->wake[1], "1", 1);
		rd_kafka_queue_destroy(q);
	} else {
		p->wake[0] = p->wake[1] = -1;
	}
	return p;
}

void
produce_destroy(struct producer *p)
{
	if (!p)
		return;
	/* librdkafka waits for the application's topic handles before it is destroyed */
	for (size_t i = 0; i < TOPIC_HANDLES; i++)
		if (p->topics[i].rkt)
			rd_kafka_topic_destroy(p->topics[i].rkt);
	/* whatever is still queued or in flight is dropped: its rows stay unmarked and are sent
	 * again by the next session; delivery reports for them settle nothing */
	rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(p->rk, 0);
	rd_kafka_destroy(p->rk);
	if (p->wake[0] >= 0) {
		close(p->wake[0]);
		close(p->wake[1]);
	}
	free(p);
}

int
produce_check_brokers(struct producer *p, int timeout_ms, char *errstr, size_t errstr_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(p->rk, 0, NULL, &md, timeout_ms);

	if (err) {
		/* error_cb runs only from rd_kafka_poll: serve it, so that the reason the
		 * connections failed (a wrong password, an unverifiable certificate) is known;
		 * called from the pipeline's thread, where reports are served anyway */
		p->broker_error[0] = '\0';
		rd_kafka_poll(p->rk, 0);
		snprintf(errstr, errstr_size, "%s", p->broker_error[0] ? p->broker_error
								     : rd_kafka_err2str(err));
		return -1;
	}
	rd_kafka_metadata_destroy(md);
	p->brokers_down = 0;
	return 0;
}

static enum produce_result
classify(struct producer *p, rd_kafka_resp_err_t err, char *errstr, size_t errstr_size)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return PRODUCE_OK;
	case RD_KAFKA_RESP_ERR__QUEUE_FULL:
		return PRODUCE_QUEUE_FULL;
	case RD_KAFKA_RESP_ERR__FATAL:
		snprintf(errstr, errstr_size, "%s", p->fatal_msg[0] ? p->fatal_msg : "fatal error");
		return PRODUCE_FATAL;
	default:
		snprintf(errstr, errstr_size, "Kafka refused the record: %s", rd_kafka_err2str(err));
		return PRODUCE_REJECTED;
	}
}

/*
 * The handle of topic, kept in p->topics; NULL when librdkafka would not make one
 * (rd_kafka_last_error() says why).
 */
static rd_kafka_topic_t *
topic_handle(struct producer *p, const char *topic)
{
	struct topic_handle *h;
	rd_kafka_topic_t *rkt;

	for (size_t i = 0; i < TOPIC_HANDLES; i++)
		if (p->topics[i].rkt && strcmp(p->topics[i].name, topic) == 0)
			return p->topics[i].rkt;
	if (strlen(topic) > ROUTE_TOPIC_MAX || !(rkt = rd_kafka_topic_new(p->rk, topic, NULL)))
		return NULL;
	h = &p->topics[p->next_topic];
	p->next_topic = (p->next_topic + 1) % TOPIC_HANDLES;
	/* messages already queued hold their own references: the old handle may go */
	if (h->rkt)
		rd_kafka_topic_destroy(h->rkt);
	h->rkt = rkt;
	memcpy(h->name, topic, strlen(topic) + 1);
	return rkt;
}

enum produce_result
produce_send(struct producer *p, const struct route_result *r, const struct outbox_event *ev,
	     const void *value, size_t value_len, uint64_t seq, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_t *rkt = topic_handle(p, r->topic);
	rd_kafka_headers_t *hdrs;
	rd_kafka_resp_err_t err;

	if (!rkt) {
		/* librdkafka would not make a handle for the topic: its reason refuses the record */
		err = rd_kafka_last_error();
		return classify(p, err ? err : RD_KAFKA_RESP_ERR__INVALID_ARG, errstr, errstr_size);
	}
	hdrs = rd_kafka_headers_new(r->n_headers);
	for (size_t i = 0; i < r->n_headers; i++)
		rd_kafka_header_add(hdrs, r->headers[i].name, -1, r->headers[i].value,
				    r->headers[i].value ? (ssize_t)r->headers[i].value_len : 0);
	err = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(rkt),
				RD_KAFKA_V_KEY(ev->aggregate_id, strlen(ev->aggregate_id)),
				RD_KAFKA_V_VALUE((void *)value, value ? value_len : 0),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_TIMESTAMP(ev->created_at_ms),
				RD_KAFKA_V_HEADERS(hdrs),
				RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
	if (err)
		rd_kafka_headers_destroy(hdrs);	/* ownership passes only on success */
	return classify(p, err, errstr, errstr_size);
}

/*
 * One try at the dead letter, with or without the payload as its value. Without it, a header
 * payload_omitted says how large it was (the dead-letter record in the database keeps it).
 */
static rd_kafka_resp_err_t
send_dead_letter(struct producer *p, const char *topic, const struct outbox_event *ev,
		 const char *error, uint64_t seq, int with_payload)
{
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(9);
	rd_kafka_resp_err_t err;
	char id[32], omitted[48];
	size_t key_len = ev->aggregate_id ? strlen(ev->aggregate_id) : 0;
	const void *value = with_payload ? ev->payload : NULL;

	snprintf(id, sizeof(id), "%lld", ev->id);
	rd_kafka_header_add(hdrs, "error", -1, error, -1);
	rd_kafka_header_add(hdrs, "source", -1, p->source, -1);
	rd_kafka_header_add(hdrs, "outbox_id", -1, id, -1);
	if (ev->event_id)
		rd_kafka_header_add(hdrs, "event_id", -1, ev->event_id, -1);
	if (ev->event_type)
		rd_kafka_header_add(hdrs, "event_type", -1, ev->event_type, -1);
	if (ev->aggregate_type)
		rd_kafka_header_add(hdrs, "aggregate_type", -1, ev->aggregate_type, -1);
	if (ev->aggregate_id)
		rd_kafka_header_add(hdrs, "aggregate_id", -1, ev->aggregate_id, -1);
	if (ev->headers)
		rd_kafka_header_add(hdrs, "headers", -1, ev->headers, -1);
	if (ev->payload && !with_payload) {
		snprintf(omitted, sizeof(omitted), "%zu bytes", ev->payload_len);
		rd_kafka_header_add(hdrs, "payload_omitted", -1, omitted, -1);
	}
	err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
				RD_KAFKA_V_KEY(key_len ? ev->aggregate_id : NULL, key_len),
				RD_KAFKA_V_VALUE((void *)value, value ? ev->payload_len : 0),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_TIMESTAMP(ev->created_at_ms),
				RD_KAFKA_V_HEADERS(hdrs),
				RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
	if (err)
		rd_kafka_headers_destroy(hdrs);
	return err;
}

enum produce_result
produce_send_dead_letter(struct producer *p, const char *topic, const struct outbox_event *ev,
			 const char *error, uint64_t seq, char *errstr, size_t errstr_size)
{
	/* An event refused for its size (by this producer's message.max.bytes or, at delivery,
	 * by the topic's max.message.bytes) would be refused again on the dead-letter topic,
	 * and the source could never get past it: such a dead letter goes without its value. */
	int with_payload = ev->payload &&
			   !strstr(error, rd_kafka_err2str(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)) &&
			   !strstr(error, rd_kafka_err2str(RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE));
	rd_kafka_resp_err_t err = send_dead_letter(p, topic, ev, error, seq, with_payload);

	if (with_payload && (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
			     err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE))
		err = send_dead_letter(p, topic, ev, error, seq, 0);
	return classify(p, err, errstr, errstr_size);
}

void
produce_poll(struct producer *p, int timeout_ms)
{
	char drain[64];

	if (p->wake[0] >= 0)
		while (read(p->wake[0], drain, sizeof(drain)) > 0)
			;
	rd_kafka_poll(p->rk, timeout_ms);
}

void
produce_serve(struct producer *p)
{
	rd_kafka_poll(p->rk, 0);
}

int
produce_wake_fd(const struct producer *p)
{
	return p->wake[0];
}

int
produce_failed(struct producer *p, char *errstr, size_t errstr_size)
{
	if (p->fatal)
		snprintf(errstr, errstr_size, "%s", p->fatal_msg);
	return p->fatal;
}

uint64_t
produce_take_failures(struct producer *p, char *first_error, size_t size)
{
	uint64_t n = p->failed;

	snprintf(first_error, size, "%s", n ? p->last_failure : "");
	p->failed = 0;
	return n;
}

size_t
produce_take_rejections(struct producer *p, struct produce_rejection *out, size_t max)
{
	size_t n = p->n_rejections < max ? p->n_rejections : max;

	memcpy(out, p->rejections, n * sizeof(*out));
	memmove(p->rejections, p->rejections + n, (p->n_rejections - n) * sizeof(*out));
	p->n_rejections -= n;
	return n;
}

void
produce_take_stats(struct producer *p, struct produce_stats *acc)
{
	acc->acked += p->stats.acked;
	acc->failed += p->stats.failed;
	if (p->stats.last_ack_unix_ms)
		acc->last_ack_unix_ms = p->stats.last_ack_unix_ms;
	for (size_t b = 0; b <= PRODUCE_LATENCY_BUCKETS; b++)
		acc->latency[b] += p->stats.latency[b];
	acc->latency_sum_us += p->stats.latency_sum_us;
	memset(&p->stats, 0, sizeof(p->stats));
}

int
produce_brokers_down(const struct producer *p)
{
	return p->brokers_down;
}

long long
produce_queue_len(struct producer *p)
{
	return rd_kafka_outq_len(p->rk);
}
