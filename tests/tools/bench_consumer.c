/*
 * bench-consumer — the benchmarks' view of Kafka: when outbox-relay's events arrive in a topic,
 * and how long after they were written (tests/bench, issue 8).
 *
 *     bench-consumer count   -b BROKERS -t TOPIC -n N [-T TIMEOUT_S] [-i INTERVAL_MS]
 *     bench-consumer latency -b BROKERS -t TOPIC -n N [-T IDLE_TIMEOUT_S] [-o RAW_FILE]
 *                            [-m MARKER]
 *
 * count — drain throughput. Consumes nothing: every INTERVAL_MS (default 20) it asks the broker
 * for the high watermark of each partition of TOPIC and sums them. The benchmark creates the
 * topic empty, and the relay's producer is idempotent but not transactional (no control records
 * take offsets), so the sum is the number of records the relay has had acknowledged. When the
 * sum reaches N it prints one line on standard output and exits 0:
 *
 *     first_ms=<epoch ms when the sum was first above 0> end_ms=<epoch ms when it reached N> count=<sum>
 *
 * Both times are taken when the sweep over the partitions that saw the change has returned, so
 * they are late by at most INTERVAL_MS plus one sweep (a few ms on loopback). After TIMEOUT_S
 * (default 900) without reaching N it exits 1 with a message saying how far it got. It holds one
 * connection and sends one ListOffsets round per partition per interval: cheap enough to run
 * beside the relay and the broker it measures.
 *
 * latency — latency under load. Assigns every partition of TOPIC from the beginning (no
 * consumer group, nothing committed) and prints a line "ready" on standard error once every
 * partition has been fetched up to its end (the fetchers run: an event written from now on is
 * seen as soon as the broker has it). For every message it finds MARKER (default "ts_us") in
 * the value, followed, after any of '"', '\\', ':', blanks, by an integer: the epoch
 * microseconds at which the writer inserted the event (tests/bench/latency.pgbench). That form
 * matches the relay's value (the payload JSON, {"ts_us": 1700000000123456, ...}) and a
 * Debezium value that carries the payload as a JSON string ("{\"ts_us\": 1700...}"). The
 * latency of a message is the time it is handed to this program minus that integer (same host,
 * same clock). It stops after N messages, or after IDLE_TIMEOUT_S (default 30) without one, and
 * prints on standard output
 *
 *     count=<messages> p50_ms=<ms> p99_ms=<ms> p999_ms=<ms> max_ms=<ms> missing_marker=<messages>
 *     warmup=<messages>
 *
 * warmup: the messages inserted within WARMUP_MS (-w, default 0) of the earliest insert seen,
 * counted but left out of the figures, so that start-up costs do not count as latency under
 * load. The figures are percentiles by nearest rank over every other message that carries the marker, in ms with 2
 * decimals. RAW_FILE, if given, gets a line per message, in arrival order: the insert time (epoch
 * µs), the latency (µs) and the part of it up to the broker's append (µs; -1 if not stamped).
 * When the broker stamps the messages (the topic's message.timestamp.type = LogAppendTime), the
 * line also splits the latency at that stamp (ms resolution, same clock):
 *
 *     append_p50_ms=<ms> append_p99_ms=<ms> fetch_p50_ms=<ms> fetch_p99_ms=<ms>
 *
 * "append" from the insert to the broker's append (database, decoding, the relay, the
 * producer's batching and the Produce round trip), "fetch" from the append to this program.
 * Exits 0 when N messages arrived, 1 when it stopped short (idle timeout, SIGTERM/SIGINT: the
 * line is printed all the same) or could not start, 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARTITIONS 10000

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: bench-consumer count   -b BROKERS -t TOPIC -n N [-T TIMEOUT_S] [-i INTERVAL_MS]\n"
		"       bench-consumer latency -b BROKERS -t TOPIC -n N [-T IDLE_TIMEOUT_S] [-o RAW_FILE]\n"
		"                              [-m MARKER] [-w WARMUP_MS]\n"
		"  count    wait until the partitions' high watermarks of TOPIC sum to N; prints\n"
		"           first_ms=... end_ms=... count=... (TIMEOUT_S default 900, INTERVAL_MS 20)\n"
		"  latency  consume TOPIC from the beginning, \"ready\" on stderr once fetching; per\n"
		"           message receive time minus the epoch-us integer after MARKER (default\n"
		"           ts_us); prints count=... p50_ms=... p99_ms=... p999_ms=... max_ms=...\n"
		"           missing_marker=... after N messages or IDLE_TIMEOUT_S (default 30) idle;\n"
		"           messages inserted within WARMUP_MS of the earliest are counted but not\n"
		"           measured\n");
}

static int64_t
clock_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t epoch_us(void) { return clock_us(CLOCK_REALTIME); }
static int64_t mono_ms(void) { return clock_us(CLOCK_MONOTONIC) / 1000; }

static void
sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !got_signal)
		;
}

static int
parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	fprintf(stderr, "bench-consumer: librdkafka %d %s: %s\n", level, fac, buf);
}

static rd_kafka_conf_t *
conf_new(const char *brokers, const char *const *kv)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char errstr[512];

	rd_kafka_conf_set_log_cb(kc, kafka_log);
	if (rd_kafka_conf_set(kc, "bootstrap.servers", brokers, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(kc, "client.id", "bench-consumer", errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(kc, "log_level", "4", errstr, sizeof(errstr)))
		goto bad;
	for (; kv && kv[0]; kv += 2)
		if (rd_kafka_conf_set(kc, kv[0], kv[1], errstr, sizeof(errstr)))
			goto bad;
	return kc;
bad:
	fprintf(stderr, "bench-consumer: %s\n", errstr);
	rd_kafka_conf_destroy(kc);
	return NULL;
}

/* The number of partitions of TOPIC, asking again until it has some (it may still be being
 * created) or TIMEOUT_MS has passed; -1 then, with a message. */
static int
partition_count(rd_kafka_t *rk, const char *topic, long long timeout_ms)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	int64_t deadline = mono_ms() + timeout_ms;
	const char *why = "no answer";
	int n = -1;

	if (!rkt) {
		fprintf(stderr, "bench-consumer: %s: %s\n", topic, rd_kafka_err2str(rd_kafka_last_error()));
		return -1;
	}
	while (n < 0 && !got_signal) {
		const struct rd_kafka_metadata *md;
		rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);

		if (err) {
			why = rd_kafka_err2str(err);
		} else {
			if (md->topic_cnt == 1 && md->topics[0].err)
				why = rd_kafka_err2str(md->topics[0].err);
			else if (md->topic_cnt == 1 && md->topics[0].partition_cnt > 0)
				n = md->topics[0].partition_cnt;
			else
				why = "no partitions";
			rd_kafka_metadata_destroy(md);
		}
		if (n < 0 && mono_ms() >= deadline)
			break;
		if (n < 0)
			sleep_ms(100);
	}
	rd_kafka_topic_destroy(rkt);
	if (n < 0)
		fprintf(stderr, "bench-consumer: topic %s: %s\n", topic, why);
	else if (n > MAX_PARTITIONS)
		fprintf(stderr, "bench-consumer: topic %s: %d partitions, more than %d\n", topic, n,
			MAX_PARTITIONS), n = -1;
	return n;
}

struct opts {
	const char *brokers, *topic, *raw, *marker;
	long long n, timeout_s, interval_ms, warmup_ms;
};

/* ---------------------------------------------------------------------------------------- */
/* count */

static int
cmd_count(const struct opts *o)
{
	/* A consumer handle that never consumes (no group, no assignment, so no fetcher): just
	 * the metadata and ListOffsets requests. A consumer's metadata requests do not
	 * auto-create the topic, a producer's would. */
	rd_kafka_conf_t *kc = conf_new(o->brokers, NULL);
	rd_kafka_t *rk;
	char errstr[512];
	int64_t start = mono_ms(), deadline = start + o->timeout_s * 1000, first_ms = 0;
	long long sum = 0;
	int parts, rc = 1;
	rd_kafka_resp_err_t last_err = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (!kc)
		return 1;
	if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr)))) {
		fprintf(stderr, "bench-consumer: %s\n", errstr);
		rd_kafka_conf_destroy(kc);
		return 1;
	}
	if ((parts = partition_count(rk, o->topic, o->timeout_s * 1000)) < 0)
		goto out;
	for (int sweep = 0; !got_signal; sweep++) {
		long long s = 0;
		int ok = 1;

		for (int p = 0; p < parts && ok; p++) {
			int64_t lo, hi, left = deadline - mono_ms();
			rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
				rk, o->topic, p, &lo, &hi, left < 5000 ? (left > 100 ? (int)left : 100)
								       : 5000);

			if (err) {
				/* a transient error (leader election, timeout): the sweep is
				 * retried; only a persistent one ends in the timeout */
				if (err != last_err)
					fprintf(stderr, "bench-consumer: %s [%d]: %s (retrying)\n",
						o->topic, p, rd_kafka_err2str(err));
				last_err = err;
				ok = 0;
			} else {
				s += hi;
			}
		}
		if (ok) {
			sum = s;
			if (sum > 0 && !first_ms) {
				first_ms = epoch_us() / 1000;
				if (sweep == 0)
					fprintf(stderr, "bench-consumer: %s already held %lld records "
						"at start: first_ms is only an upper bound\n", o->topic,
						sum);
			}
			if (sum >= o->n) {
				printf("first_ms=%" PRId64 " end_ms=%" PRId64 " count=%lld\n", first_ms,
				       epoch_us() / 1000, sum);
				fflush(stdout);
				rc = 0;
				goto out;
			}
		}
		if (mono_ms() >= deadline)
			break;
		sleep_ms((long)o->interval_ms);
	}
	fprintf(stderr, "bench-consumer: %s after %.1f s: %lld of %lld records (first_ms=%" PRId64
		")\n", got_signal ? "interrupted" : "timed out", (mono_ms() - start) / 1000.0, sum,
		o->n, first_ms);
out:
	rd_kafka_destroy(rk);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* latency */

/* The integer after the first occurrence of MARKER in VAL that is followed, past any '"', '\\',
 * ':' and blanks, by a digit; 0 when there is none. */
static int
find_marker(const char *val, size_t len, const char *marker, int64_t *out)
{
	size_t mlen = strlen(marker);
	const char *p = val, *end = val + len;

	while ((size_t)(end - p) > mlen) {
		const char *m = memmem(p, (size_t)(end - p), marker, mlen);
		const char *q;
		int64_t v = 0;

		if (!m)
			return 0;
		for (q = m + mlen; q < end && *q && strchr("\"\\: \t", *q); q++)
			;
		if (q < end && *q >= '0' && *q <= '9') {
			for (; q < end && *q >= '0' && *q <= '9' && v < INT64_MAX / 10 - 9; q++)
				v = v * 10 + (*q - '0');
			*out = v;
			return 1;
		}
		p = m + mlen;
	}
	return 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* nearest rank: the smallest value with at least PERMILLE/1000 of the values at or below it */
static double
rank_ms(const int64_t *sorted, size_t n, unsigned permille)
{
	size_t r = (n * permille + 999) / 1000;

	return n ? sorted[r ? r - 1 : 0] / 1000.0 : 0.0;
}

static int
cmd_latency(const struct opts *o)
{
	/* Low latency over throughput: a pending fetch is answered as soon as the partition has
	 * one byte more (fetch.min.bytes 1), and an empty one returns after 5 ms
	 * (fetch.wait.max.ms, default 500) and is sent again at once, so no record waits out a
	 * long poll; the cost is ~200 empty fetches a second while idle (~1.5 % of a core).
	 * Nagle off so that no fetch request sits behind an unacknowledged segment. Partitions are assigned, not subscribed: librdkafka wants a
	 * group.id for assign() all the same, but without subscribe() and with nothing committed
	 * the group is never joined. Partition EOF events tell when every fetcher has reached the
	 * end (readiness). */
	static const char *const kv[] = {
		"fetch.wait.max.ms", "5",
		"fetch.min.bytes", "1",
		"fetch.error.backoff.ms", "50",
		"socket.nagle.disable", "true",
		"enable.partition.eof", "true",
		"enable.auto.commit", "false",
		"enable.auto.offset.store", "false",
		"auto.offset.reset", "earliest",
		NULL,
	};
	rd_kafka_conf_t *kc = conf_new(o->brokers, kv);
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_resp_err_t err;
	char errstr[512], group[64];
	FILE *raw = NULL;
	int64_t *lat = NULL, *app = NULL, *fet = NULL, idle_since, max_us = 0, first_ts = 0;
	size_t n_lat = 0, cap = 0, n_app = 0, missing = 0, count = 0, early = 0, warming = 0;
	int nparts, ready = 0, at_end = 0, rc = 1;
	unsigned char *fetching = NULL;

	if (!kc)
		return 1;
	snprintf(group, sizeof(group), "bench-consumer-%ld", (long)getpid());
	if (rd_kafka_conf_set(kc, "group.id", group, errstr, sizeof(errstr))) {
		fprintf(stderr, "bench-consumer: %s\n", errstr);
		rd_kafka_conf_destroy(kc);
		return 1;
	}
	if (o->raw && !(raw = fopen(o->raw, "w"))) {
		fprintf(stderr, "bench-consumer: %s: %s\n", o->raw, strerror(errno));
		rd_kafka_conf_destroy(kc);
		return 1;
	}
	if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr)))) {
		fprintf(stderr, "bench-consumer: %s\n", errstr);
		rd_kafka_conf_destroy(kc);
		if (raw)
			fclose(raw);
		return 1;
	}
	rd_kafka_poll_set_consumer(rk);
	if ((nparts = partition_count(rk, o->topic, o->timeout_s * 1000)) < 0)
		goto out;
	fetching = calloc((size_t)nparts, 1);
	parts = rd_kafka_topic_partition_list_new(nparts);
	for (int p = 0; p < nparts; p++)
		rd_kafka_topic_partition_list_add(parts, o->topic, p)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	if (!fetching || (err = rd_kafka_assign(rk, parts))) {
		fprintf(stderr, "bench-consumer: assign %s: %s\n", o->topic,
			fetching ? rd_kafka_err2str(err) : "out of memory");
		goto out;
	}

	idle_since = mono_ms();
	while (count < (size_t)o->n && !got_signal) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		int64_t now_us, ts = 0;
		int has_ts;

		if (!m) {
			if (mono_ms() - idle_since >= o->timeout_s * 1000)
				break;
			continue;
		}
		now_us = epoch_us();	/* first thing: the message's arrival */
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || !m->err) {
			if (m->partition >= 0 && m->partition < nparts && !fetching[m->partition]) {
				fetching[m->partition] = 1;
				if (++at_end == nparts) {
					ready = 1;
					idle_since = mono_ms();
					fprintf(stderr, "ready\n");
					fflush(stderr);
				}
			}
		}
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				fprintf(stderr, "bench-consumer: %s [%d]: %s\n", o->topic,
					m->partition, rd_kafka_message_errstr(m));
				if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
				    m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
					rd_kafka_message_destroy(m);
					goto out;
				}
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		count++;
		idle_since = mono_ms();
		if (!ready)
			early++;
		has_ts = m->payload && find_marker(m->payload, m->len, o->marker, &ts);
		if (has_ts && (!first_ts || ts < first_ts))
			first_ts = ts;	/* the earliest insert: where the warm-up starts */
		if (has_ts && ts < first_ts + o->warmup_ms * 1000) {
			warming++;
		} else if (has_ts) {
			int64_t l = now_us - ts;
			rd_kafka_timestamp_type_t tstype;
			int64_t append_ms = rd_kafka_message_timestamp(m, &tstype), to_app = -1;

			if (n_lat == cap) {
				size_t ncap = cap ? cap * 2 : 65536;
				int64_t *nl = realloc(lat, ncap * sizeof(*lat));
				int64_t *na = nl ? realloc(app, ncap * sizeof(*app)) : NULL;
				int64_t *nf = na ? realloc(fet, ncap * sizeof(*fet)) : NULL;

				lat = nl ? nl : lat;
				app = na ? na : app;
				fet = nf ? nf : fet;
				if (!nf) {
					fprintf(stderr, "bench-consumer: out of memory\n");
					rd_kafka_message_destroy(m);
					goto out;
				}
				cap = ncap;
			}
			lat[n_lat++] = l;
			if (tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME && append_ms > 0) {
				to_app = app[n_app] = append_ms * 1000 - ts;
				fet[n_app++] = now_us - append_ms * 1000;
			}
			if (l > max_us || n_lat == 1)
				max_us = l;
			if (raw)
				fprintf(raw, "%" PRId64 " %" PRId64 " %" PRId64 "\n", ts, l, to_app);
		} else {
			missing++;
		}
		rd_kafka_message_destroy(m);
	}
	if (early)
		fprintf(stderr, "bench-consumer: %zu messages were in %s before it was ready: the "
			"topic was not empty\n", early, o->topic);
	if (!ready)
		fprintf(stderr, "bench-consumer: never ready: %d of %d partitions of %s fetched to "
			"their end\n", at_end, nparts, o->topic);
	if (count < (size_t)o->n)
		fprintf(stderr, "bench-consumer: %s: %zu of %lld messages\n",
			got_signal ? "interrupted" : "idle timeout", count, o->n);
	else
		rc = 0;
	if (lat)
		qsort(lat, n_lat, sizeof(*lat), cmp_i64);
	printf("count=%zu p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f missing_marker=%zu "
	       "warmup=%zu", count, rank_ms(lat, n_lat, 500), rank_ms(lat, n_lat, 990),
	       rank_ms(lat, n_lat, 999), max_us / 1000.0, missing, warming);
	if (n_app) {
		qsort(app, n_app, sizeof(*app), cmp_i64);
		qsort(fet, n_app, sizeof(*fet), cmp_i64);
		printf(" append_p50_ms=%.2f append_p99_ms=%.2f fetch_p50_ms=%.2f fetch_p99_ms=%.2f",
		       rank_ms(app, n_app, 500), rank_ms(app, n_app, 990),
		       rank_ms(fet, n_app, 500), rank_ms(fet, n_app, 990));
	}
	printf("\n");
	fflush(stdout);
out:
	if (raw && fclose(raw) != 0) {
		fprintf(stderr, "bench-consumer: %s: %s\n", o->raw, strerror(errno));
		rc = 1;
	}
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	free(lat);
	free(app);
	free(fet);
	free(fetching);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o = { .n = -1, .timeout_s = -1, .interval_ms = 20, .marker = "ts_us" };
	struct sigaction sa = { .sa_handler = on_signal };
	int latency, opt;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "count") && strcmp(argv[1], "latency"))) {
		usage(stderr);
		return 2;
	}
	latency = strcmp(argv[1], "latency") == 0;
	while ((opt = getopt(argc - 1, argv + 1, latency ? "b:t:n:T:o:m:w:" : "b:t:n:T:i:")) != -1) {
		int ok = 1;

		switch (opt) {
		case 'b': o.brokers = optarg; break;
		case 't': o.topic = optarg; break;
		case 'o': o.raw = optarg; break;
		case 'm': o.marker = optarg; ok = *optarg != '\0'; break;
		case 'n': ok = parse_ll(optarg, 1, INT64_MAX / 2, &o.n) == 0; break;
		case 'T': ok = parse_ll(optarg, 1, 86400 * 7, &o.timeout_s) == 0; break;
		case 'i': ok = parse_ll(optarg, 1, 60000, &o.interval_ms) == 0; break;
		case 'w': ok = parse_ll(optarg, 0, 3600 * 1000, &o.warmup_ms) == 0; break;
		default: ok = 0;
		}
		if (!ok) {
			fprintf(stderr, "bench-consumer: bad value for -%c\n", opt);
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || !o.brokers || !o.topic || o.n < 0) {
		fprintf(stderr, "bench-consumer %s: -b, -t and -n are required\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (o.timeout_s < 0)
		o.timeout_s = latency ? 30 : 900;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	return latency ? cmd_latency(&o) : cmd_count(&o);
}
