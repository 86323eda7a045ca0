/*
 * metrics — see metrics.h. Every request is answered on libmicrohttpd's own polling thread;
 * it copies the pipelines' snapshots under the mutex, then renders without it.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define TEXT_FORMAT "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct MHD_Daemon *daemon;
	const char *version;
	long long alive_limit_ms;
	double start_time;			/* unix seconds */
	atomic_llong main_beat_ms;		/* clock_mono_ms() of the main loop's last round */
	pthread_mutex_t lock;			/* guards pipes, n_pipes */
	struct pipeline **pipes;
	size_t n_pipes;
};

static const char *const state_names[] = {
	[PIPELINE_CONNECTING] = "connecting", [PIPELINE_STANDBY] = "standby",
	[PIPELINE_ACTIVE] = "active", [PIPELINE_RETRYING] = "retrying",
	[PIPELINE_STOPPED] = "stopped",
};
#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

/* A snapshot of every pipeline; ok[i] = 0 for a source that could not be started. */
struct snapshot {
	struct pipeline_status *st;
	int *ok;
	size_t n;
};

/* Copies the current pipelines' status. Returns 0, or -1 when out of memory. */
static int
take_snapshot(struct metrics *m, struct snapshot *s)
{
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	s->n = m->n_pipes;
	s->st = calloc(s->n ? s->n : 1, sizeof(*s->st));
	s->ok = calloc(s->n ? s->n : 1, sizeof(*s->ok));
	if (!s->st || !s->ok) {
		rc = -1;
	} else {
		for (size_t i = 0; i < s->n; i++)
			if ((s->ok[i] = m->pipes[i] != NULL))
				pipeline_status(m->pipes[i], &s->st[i]);
	}
	pthread_mutex_unlock(&m->lock);
	if (rc != 0) {
		free(s->st);
		free(s->ok);
	}
	return rc;
}

static void
free_snapshot(struct snapshot *s)
{
	free(s->st);
	free(s->ok);
}

/* A label value as the text format wants it: backslash, double quote and newline escaped. */
static void
put_label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void
put_head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per started source: name{source="..."} value */
static void
put_per_source(FILE *out, const struct snapshot *s, const char *name, const char *type,
	       const char *help, double (*value)(const struct pipeline_status *),
	       int (*applies)(const struct pipeline_status *))
{
	put_head(out, name, type, help);
	for (size_t i = 0; i < s->n; i++) {
		if (!s->ok[i] || (applies && !applies(&s->st[i])))
			continue;
		fprintf(out, "%s{source=\"", name);
		put_label(out, s->st[i].source);
		fprintf(out, "\"} %.17g\n", value(&s->st[i]));
	}
}

static double v_published(const struct pipeline_status *st) { return (double)st->published; }
static double v_dead(const struct pipeline_status *st) { return (double)st->dead_lettered; }
static double v_failures(const struct pipeline_status *st) { return (double)st->delivery_failures; }
static double v_sessions(const struct pipeline_status *st) { return (double)st->sessions; }
static double v_in_flight(const struct pipeline_status *st) { return (double)st->in_flight; }
static double v_queue(const struct pipeline_status *st) { return (double)st->queue_depth; }
static double v_lag(const struct pipeline_status *st) { return (double)st->lag_bytes; }
static double v_backlog(const struct pipeline_status *st) { return (double)st->backlog_rows; }
static double v_oldest(const struct pipeline_status *st) { return st->oldest_unpublished_s; }
static double v_down(const struct pipeline_status *st) { return st->brokers_down; }

static double
v_last_ack(const struct pipeline_status *st)
{
	return (double)st->last_ack_unix_ms / 1000.0;
}

static int is_logical(const struct pipeline_status *st) { return st->mode == SOURCE_MODE_LOGICAL; }

static int
has_backlog(const struct pipeline_status *st)
{
	return st->mode == SOURCE_MODE_POLL && st->backlog_rows >= 0;
}

static int has_ack(const struct pipeline_status *st) { return st->last_ack_unix_ms > 0; }

static void
put_latency(FILE *out, const struct snapshot *s)
{
	const char *name = "outbox_relay_event_latency_seconds";

	put_head(out, name, "histogram",
		 "Time from an event's created_at to the broker's ack of its record.");
	for (size_t i = 0; i < s->n; i++) {
		unsigned long long cum = 0;

		if (!s->ok[i])
			continue;
		for (size_t b = 0; b <= PRODUCE_LATENCY_BUCKETS; b++) {
			cum += s->st[i].latency[b];
			fprintf(out, "%s_bucket{source=\"", name);
			put_label(out, s->st[i].source);
			if (b < PRODUCE_LATENCY_BUCKETS)
				fprintf(out, "\",le=\"%g\"} %llu\n", produce_latency_bounds[b], cum);
			else
				fprintf(out, "\",le=\"+Inf\"} %llu\n", cum);
		}
		fprintf(out, "%s_sum{source=\"", name);
		put_label(out, s->st[i].source);
		fprintf(out, "\"} %.6f\n", (double)s->st[i].latency_sum_us / 1e6);
		fprintf(out, "%s_count{source=\"", name);
		put_label(out, s->st[i].source);
		fprintf(out, "\"} %llu\n", cum);
	}
}

/* Resident memory, CPU time and open descriptors of this process, from /proc and getrusage. */
static void
put_process(FILE *out, const struct metrics *m)
{
	struct rusage ru;
	unsigned long size = 0, resident = 0;
	long fds = 0;
	FILE *statm = fopen("/proc/self/statm", "r");
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;

	if (statm) {
		if (fscanf(statm, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(statm);
	}
	if (dir) {
		while ((de = readdir(dir)))
			fds += de->d_name[0] != '.';
		fds--;	/* the directory's own descriptor */
		closedir(dir);
	}
	getrusage(RUSAGE_SELF, &ru);
	put_head(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	fprintf(out, "process_resident_memory_bytes %.17g\n",
		(double)resident * (double)sysconf(_SC_PAGESIZE));
	put_head(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
	fprintf(out, "process_cpu_seconds_total %.6f\n",
		(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	put_head(out, "process_open_fds", "gauge", "Number of open file descriptors.");
	fprintf(out, "process_open_fds %ld\n", fds < 0 ? 0 : fds);
	put_head(out, "process_start_time_seconds", "gauge",
		 "Start time of the process since unix epoch in seconds.");
	fprintf(out, "process_start_time_seconds %.3f\n", m->start_time);
	put_head(out, "outbox_relay_build_info", "gauge", "The relay's version; always 1.");
	fprintf(out, "outbox_relay_build_info{version=\"");
	put_label(out, m->version);
	fprintf(out, "\"} 1\n");
}

/* The /metrics page into a malloc'd buffer (*len bytes), or NULL when out of memory. */
static char *
render_metrics(struct metrics *m, size_t *len)
{
	struct snapshot s;
	char *buf = NULL;
	FILE *out;

	if (take_snapshot(m, &s) != 0)
		return NULL;
	if (!(out = open_memstream(&buf, len))) {
		free_snapshot(&s);
		return NULL;
	}
	put_per_source(out, &s, "outbox_relay_events_published_total", "counter",
		       "Events acked by the broker and marked published (dead letters included).",
		       v_published, NULL);
	put_per_source(out, &s, "outbox_relay_events_dead_lettered_total", "counter",
		       "Events sent to the dead-letter topic.", v_dead, NULL);
	put_per_source(out, &s, "outbox_relay_delivery_failures_total", "counter",
		       "Records whose delivery report was an error (they are sent again).",
		       v_failures, NULL);
	put_per_source(out, &s, "outbox_relay_sessions_total", "counter",
		       "Sessions started: the first connection and every reconnect.", v_sessions,
		       NULL);
	put_per_source(out, &s, "outbox_relay_events_in_flight", "gauge",
		       "Events sent and not yet acked and marked.", v_in_flight, NULL);
	put_per_source(out, &s, "outbox_relay_producer_queue_depth", "gauge",
		       "Messages in the Kafka producer's queues.", v_queue, NULL);
	put_per_source(out, &s, "outbox_relay_brokers_down", "gauge",
		       "1 while the producer has found every Kafka broker down.", v_down, NULL);
	put_per_source(out, &s, "outbox_relay_last_ack_timestamp_seconds", "gauge",
		       "When the broker last acked a record of the source (unix seconds).",
		       v_last_ack, has_ack);
	put_per_source(out, &s, "outbox_relay_slot_lag_bytes", "gauge",
		       "Logical sources: WAL the server sent beyond the last acked transaction.",
		       v_lag, is_logical);
	put_per_source(out, &s, "outbox_relay_backlog_rows", "gauge",
		       "Poll sources: unpublished rows (counted every few seconds).", v_backlog,
		       has_backlog);
	put_per_source(out, &s, "outbox_relay_oldest_unpublished_age_seconds", "gauge",
		       "Poll sources: age of the oldest unpublished row (0 when none).", v_oldest,
		       has_backlog);
	put_head(out, "outbox_relay_source_state", "gauge",
		 "1 for the state the source's pipeline is in, 0 for the others.");
	for (size_t i = 0; i < s.n; i++) {
		if (!s.ok[i])
			continue;
		for (size_t k = 0; k < N_STATES; k++) {
			fprintf(out, "outbox_relay_source_state{source=\"");
			put_label(out, s.st[i].source);
			fprintf(out, "\",state=\"%s\"} %d\n", state_names[k], (size_t)s.st[i].state == k);
		}
	}
	put_latency(out, &s);
	put_process(out, m);
	free_snapshot(&s);
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * /readyz: 1 when ready, else 0 with why not in why. A source is ready while standby, or active
 * with its producer not finding every broker down; no source at all (during a reload that
 * restarts them all) is not ready.
 */
static int
ready(struct metrics *m, char *why, size_t size)
{
	struct snapshot s;

	if (take_snapshot(m, &s) != 0) {
		snprintf(why, size, "out of memory\n");
		return 0;
	}
	if (s.n == 0)
		snprintf(why, size, "no source running\n");
	for (size_t i = 0; i < s.n; i++) {
		const struct pipeline_status *st = &s.st[i];

		if (!s.ok[i]) {
			snprintf(why, size, "a source could not be started (see the log)\n");
			break;
		}
		if (st->state != PIPELINE_ACTIVE && st->state != PIPELINE_STANDBY) {
			snprintf(why, size, "source \"%s\": %s\n", st->source, state_names[st->state]);
			break;
		}
		if (st->state == PIPELINE_ACTIVE && st->brokers_down) {
			snprintf(why, size, "source \"%s\": Kafka brokers unreachable\n", st->source);
			break;
		}
	}
	free_snapshot(&s);
	return why[0] == '\0';
}

/* Queues a response of text (copied) with status code and content type. */
static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned int code, const char *type, char *body, size_t len,
       enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct metrics *m = cls;
	static char ok[] = "ok\n", not_found[] = "not found\n", not_allowed[] = "method not allowed\n";
	const char *plain = "text/plain; charset=utf-8";
	char why[512] = "";

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/healthz") != 0 &&
	    strcmp(url, "/readyz") != 0)
		return answer(conn, MHD_HTTP_NOT_FOUND, plain, not_found, strlen(not_found),
			      MHD_RESPMEM_PERSISTENT);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, plain, not_allowed,
			      strlen(not_allowed), MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") == 0) {
		size_t len = 0;
		char *body = render_metrics(m, &len);

		if (!body)
			return MHD_NO;
		return answer(conn, MHD_HTTP_OK, TEXT_FORMAT, body, len, MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/healthz") == 0) {
		if (clock_mono_ms() - atomic_load(&m->main_beat_ms) <= m->alive_limit_ms)
			return answer(conn, MHD_HTTP_OK, plain, ok, strlen(ok), MHD_RESPMEM_PERSISTENT);
		snprintf(why, sizeof(why), "the main loop has not gone round for over %lld ms\n",
			 m->alive_limit_ms);
		return answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, plain, why, strlen(why),
			      MHD_RESPMEM_MUST_COPY);
	}
	if (ready(m, why, sizeof(why)))
		return answer(conn, MHD_HTTP_OK, plain, ok, strlen(ok), MHD_RESPMEM_PERSISTENT);
	return answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, plain, why, strlen(why),
		      MHD_RESPMEM_MUST_COPY);
}

struct metrics *
metrics_new(const struct conf_metrics *mc, const char *version, long long alive_limit_ms,
	    char *errstr, size_t errstr_size)
{
	struct metrics *m = calloc(1, sizeof(*m));
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr *sa;
	struct timespec now;
	const union MHD_DaemonInfo *info;

	if (!m) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (mc->ipv6) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)mc->port);
		inet_pton(AF_INET6, mc->host, &sin6.sin6_addr);	/* checked by conf */
		sa = (struct sockaddr *)&sin6;
	} else {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)mc->port);
		inet_pton(AF_INET, mc->host, &sin.sin_addr);
		sa = (struct sockaddr *)&sin;
	}
	m->version = version;
	m->alive_limit_ms = alive_limit_ms;
	clock_gettime(CLOCK_REALTIME, &now);
	m->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	atomic_store(&m->main_beat_ms, clock_mono_ms());
	pthread_mutex_init(&m->lock, NULL);
	m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
				     (mc->ipv6 ? MHD_USE_IPv6 : 0),
				     0, NULL, NULL, on_request, m,
				     MHD_OPTION_SOCK_ADDR, sa,
				     MHD_OPTION_CONNECTION_LIMIT, 64U,
				     MHD_OPTION_CONNECTION_TIMEOUT, 10U,
				     MHD_OPTION_END);
	if (!m->daemon) {
		snprintf(errstr, errstr_size, "could not serve metrics on %s (address in use, or not "
			 "this host's?)", mc->listen);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return NULL;
	}
	info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
	log_info("serving metrics and health on %s%s%s:%u (/metrics, /healthz, /readyz)",
		 mc->ipv6 ? "[" : "", mc->host, mc->ipv6 ? "]" : "",
		 info ? (unsigned int)info->port : (unsigned int)mc->port);
	return m;
}

void
metrics_destroy(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->daemon);
	pthread_mutex_destroy(&m->lock);
	free(m->pipes);
	free(m);
}

void
metrics_set_pipelines(struct metrics *m, struct pipeline *const *pipes, size_t n)
{
	struct pipeline **copy = n ? malloc(n * sizeof(*copy)) : NULL;

	if (n && !copy)
		n = 0;	/* out of memory: report none rather than pipelines about to be freed */
	if (n)
		memcpy(copy, pipes, n * sizeof(*copy));
	pthread_mutex_lock(&m->lock);
	free(m->pipes);
	m->pipes = copy;
	m->n_pipes = n;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_main_beat(struct metrics *m)
{
	atomic_store(&m->main_beat_ms, clock_mono_ms());
}
