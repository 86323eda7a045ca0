/*
 * mock-broker — a Kafka cluster that fails on command, for the fault tests. It hosts
 * librdkafka's mock cluster (rdkafka_mock.h) in its own process: the brokers listen on loopback
 * TCP ports, so the relay (a normal producer) and kcat (the verifier's consumer) talk to it like
 * to a real cluster, while the test injects request errors, delays, broker outages and leader
 * moves through commands on standard input, which a real broker cannot do on demand.
 *
 *     mock-broker [--brokers N] [--partitions P] [--topic NAME]... [--ready-file FILE]
 *                 [--verbose] [--debug]
 *
 * The bootstrap servers string goes to FILE (written to FILE.tmp, then renamed) or, without
 * --ready-file, as the first line of standard output. Then one command per line on standard
 * input, each answered by one line "ok" or "error: <reason>" on standard output (flushed);
 * blank lines and lines starting with '#' are ignored. See usage() for the commands. Exits 0 on
 * end of input, `quit`, SIGTERM or SIGINT, after stopping a running chaos (which restores what it
 * changed) and freeing the cluster; 64 on a usage error, 1 when the cluster cannot be set up.
 *
 * Threads: the main thread reads commands; `chaos` runs in one extra thread. Both call the
 * mock API, which hands every change to the mock cluster's own thread, so that is safe; the
 * tool's own record of leaders, round-trip times and down brokers is under mock.lock.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_BROKERS 64
#define MAX_PARTITIONS 10000
#define MAX_ARGS 64
#define LINE_MAX_LEN 4096

/* A topic created by this tool, with the leaders it assigned (so a chaos can put them back). */
struct mock_topic {
	struct mock_topic *next;
	char *name;
	int partitions;
	int *base_leader;	/* as created or set by `leader` */
	int *cur_leader;	/* as set last, by `leader` or a chaos */
};

struct chaos_stats {
	unsigned error_pushes, errors, rtts, leaders, downs;
};

struct mock {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	int brokers;
	int partitions;
	int verbose;
	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t wake;	/* signalled when chaos_stop is set or a chaos ends */
	struct mock_topic *topics;
	int base_rtt[MAX_BROKERS + 1];	/* indexed by broker id, 1..brokers */
	int base_down[MAX_BROKERS + 1];
	int chaos_running;	/* a chaos thread exists and has not been joined */
	int chaos_done;		/* it has finished and restored */
	int chaos_stop;
	int chaos_seconds;
	uint64_t chaos_seed;
	pthread_t chaos_thread;
};

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
		"usage: mock-broker [--brokers N] [--partitions P] [--topic NAME]... "
		"[--ready-file FILE] [--verbose] [--debug]\n"
		"  --brokers N       brokers in the cluster, ids 1..N (default 3)\n"
		"  --partitions P    partitions of each --topic (default 4), replicated on all brokers\n"
		"  --topic NAME      create NAME at start (repeatable); other topics are created\n"
		"                    on first use with 4 partitions, replication min(3, N)\n"
		"  --ready-file FILE write the bootstrap servers to FILE (atomically), else to stdout\n"
		"  --verbose         log every chaos injection to stderr\n"
		"  --debug           librdkafka's mock debug log to stderr\n"
		"commands on stdin, one a line, each answered \"ok\" or \"error: <reason>\":\n"
		"  errors API ERR [ERR...]              fail the next requests of API, cluster-wide\n"
		"  broker-errors BROKER API ERR:RTT_MS...  same on one broker, each after a delay\n"
		"  rtt BROKER MS                        broker round-trip time (0 = normal, -1 = all)\n"
		"  down BROKER | up BROKER              broker refuses / accepts connections\n"
		"  leader TOPIC PARTITION BROKER        move a partition's leader (-1: leaderless)\n"
		"  topic NAME PARTITIONS                create a topic, replicated on all brokers\n"
		"  chaos SECONDS SEED                   random faults in the background, then restore\n"
		"  chaos-wait | chaos-stop              wait for / cut short the running chaos\n"
		"  quit\n"
		"API: Produce, Fetch, ListOffsets, Metadata, FindCoordinator, ApiVersions,\n"
		"InitProducerId, ... or a number; ERR: a name as rd_kafka_err2name() prints it\n"
		"(REQUEST_TIMED_OUT, _TRANSPORT, NOT_LEADER_OR_FOLLOWER, ...) or a number.\n");
}

/* ------------------------------------------------------------------------------------------ */
/* names */

static const struct {
	const char *name;
	int16_t key;
} api_names[] = {
	{ "Produce", 0 },		{ "Fetch", 1 },
	{ "ListOffsets", 2 },		{ "Metadata", 3 },
	{ "OffsetCommit", 8 },		{ "OffsetFetch", 9 },
	{ "FindCoordinator", 10 },	{ "JoinGroup", 11 },
	{ "Heartbeat", 12 },		{ "LeaveGroup", 13 },
	{ "SyncGroup", 14 },		{ "DescribeGroups", 15 },
	{ "ListGroups", 16 },		{ "SaslHandshake", 17 },
	{ "ApiVersions", 18 },		{ "CreateTopics", 19 },
	{ "InitProducerId", 22 },	{ "OffsetForLeaderEpoch", 23 },
	{ "AddPartitionsToTxn", 24 },	{ "AddOffsetsToTxn", 25 },
	{ "EndTxn", 26 },		{ "TxnOffsetCommit", 28 },
	{ "SaslAuthenticate", 36 },
};

/* Newer Kafka names for codes that librdkafka 2.0.2 still names the old way. */
static const struct {
	const char *alias;
	rd_kafka_resp_err_t err;
} err_aliases[] = {
	{ "NOT_LEADER_OR_FOLLOWER", RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION },
};

/* Parses a whole decimal int in [min, max]; returns 0 and sets *out, or -1. */
static int
parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int
parse_api(const char *s, int16_t *key)
{
	int v;

	for (size_t i = 0; i < sizeof(api_names) / sizeof(api_names[0]); i++) {
		if (strcasecmp(s, api_names[i].name) == 0) {
			*key = api_names[i].key;
			return 0;
		}
	}
	if (parse_int(s, 0, 100, &v) == 0) {
		*key = (int16_t)v;
		return 0;
	}
	return -1;
}

/* Error code from its rd_kafka_err2name() name (prefix RD_KAFKA_RESP_ERR_ optional, any
 * case), an alias, or its number. */
static int
parse_err(const char *s, rd_kafka_resp_err_t *err)
{
	const struct rd_kafka_err_desc *descs;
	size_t n;
	int v;

	if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
		s += 18;
	rd_kafka_get_err_descs(&descs, &n);
	for (size_t i = 0; i < n; i++) {
		if (descs[i].name && strcasecmp(s, descs[i].name) == 0) {
			*err = descs[i].code;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(err_aliases) / sizeof(err_aliases[0]); i++) {
		if (strcasecmp(s, err_aliases[i].alias) == 0) {
			*err = err_aliases[i].err;
			return 0;
		}
	}
	if (parse_int(s, -200, 1000, &v) == 0) {
		*err = (rd_kafka_resp_err_t)v;
		return 0;
	}
	return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* cluster and topics */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct mock_topic *
topic_find(struct mock *m, const char *name)
{
	for (struct mock_topic *t = m->topics; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static void
topic_free(struct mock_topic *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->base_leader);
	free(t->cur_leader);
	free(t);
}

/*
 * Creates topic NAME with PARTITIONS partitions on all brokers and assigns the leaders round
 * robin (the mock picks them at random, and a chaos must know them to put them back). Returns
 * 0, or -1 with errstr. Called from the main thread only.
 */
static int
topic_create(struct mock *m, const char *name, int partitions, char *errstr, size_t errstr_size)
{
	struct mock_topic *t;
	rd_kafka_resp_err_t err;
	int rc = -1;

	pthread_mutex_lock(&m->lock);
	if (topic_find(m, name)) {
		snprintf(errstr, errstr_size, "topic \"%s\" exists", name);
		goto out;
	}
	if (!(t = calloc(1, sizeof(*t))) || !(t->name = strdup(name)) ||
	    !(t->base_leader = calloc((size_t)partitions, sizeof(int))) ||
	    !(t->cur_leader = calloc((size_t)partitions, sizeof(int)))) {
		topic_free(t);
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	t->partitions = partitions;
	if ((err = rd_kafka_mock_topic_create(m->mc, name, partitions, m->brokers))) {
		snprintf(errstr, errstr_size, "topic \"%s\": %s", name, rd_kafka_err2str(err));
		topic_free(t);
		goto out;
	}
	for (int p = 0; p < partitions; p++) {
		t->base_leader[p] = t->cur_leader[p] = p % m->brokers + 1;
		rd_kafka_mock_partition_set_leader(m->mc, name, p, t->base_leader[p]);
	}
	t->next = m->topics;
	m->topics = t;
	rc = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Writes the bootstrap servers to path (via path.tmp and rename) or, path NULL, to stdout. */
static int
write_ready(const char *path, const char *bootstraps)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (!path) {
		printf("%s\n", bootstraps);
		return fflush(stdout) == 0 ? 0 : -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -1;
	if (!(f = fopen(tmp, "w")))
		return -1;
	if (fprintf(f, "%s\n", bootstraps) < 0 || fclose(f) != 0) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void
kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	fprintf(stderr, "mock-broker: librdkafka %d %s: %s\n", level, fac, buf);
}

/* ------------------------------------------------------------------------------------------ */
/* chaos */

/*
 * Produce errors a real cluster returns while it is healthy enough to retry against, and that
 * librdkafka retries. Not NETWORK_EXCEPTION: a broker never puts it in a ProduceResponse (it
 * is the Java client's name for a dropped connection), and librdkafka 2.0.2 fails the batch
 * for good on it, idempotent or not; `errors Produce NETWORK_EXCEPTION` still injects it.
 */
static const rd_kafka_resp_err_t chaos_errors[] = {
	RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
	RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
	RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
	RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
	RD_KAFKA_RESP_ERR__TRANSPORT,	/* the mock drops the connection */
};

/* splitmix64: a small PRNG, so that a seed means the same sequence everywhere. */
static uint64_t
rnd_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [lo, hi]. */
static int
rnd_range(uint64_t *s, int lo, int hi)
{
	return lo + (int)(rnd_next(s) % (uint64_t)(hi - lo + 1));
}

/* Waits until deadline (monotonic ms) or until chaos_stop; called with m->lock held. */
static void
chaos_sleep_until(struct mock *m, long long deadline)
{
	while (!m->chaos_stop && now_ms() < deadline) {
		struct timespec ts = { .tv_sec = deadline / 1000,
				       .tv_nsec = (deadline % 1000) * 1000000 };

		pthread_cond_timedwait(&m->wake, &m->lock, &ts);
	}
}

/* Moves a random partition of a random tool-created topic to another broker. Lock held. */
static int
chaos_move_leader(struct mock *m, uint64_t *rs)
{
	struct mock_topic *t;
	int ntopics = 0, i, p, b;

	for (t = m->topics; t; t = t->next)
		ntopics++;
	if (!ntopics || m->brokers < 2)
		return -1;
	for (i = rnd_range(rs, 0, ntopics - 1), t = m->topics; i > 0; i--)
		t = t->next;
	p = rnd_range(rs, 0, t->partitions - 1);
	do
		b = rnd_range(rs, 1, m->brokers);
	while (b == t->cur_leader[p]);
	t->cur_leader[p] = b;
	rd_kafka_mock_partition_set_leader(m->mc, t->name, p, b);
	if (m->verbose)
		fprintf(stderr, "mock-broker: chaos: leader %s [%d] -> broker %d\n", t->name, p, b);
	return 0;
}

/* Takes down a random broker that is up (never the last one up). Lock held. */
static int
chaos_take_down(struct mock *m, uint64_t *rs)
{
	int up = 0, b;

	for (b = 1; b <= m->brokers; b++)
		up += !m->base_down[b];
	if (up < 2)
		return -1;
	do
		b = rnd_range(rs, 1, m->brokers);
	while (m->base_down[b]);
	rd_kafka_mock_broker_set_down(m->mc, b);
	if (m->verbose)
		fprintf(stderr, "mock-broker: chaos: broker %d down\n", b);
	return b;
}

/*
 * The chaos thread: every 100-300 ms one random fault, for chaos_seconds; then puts back the
 * brokers' round-trip times, up/down states and the topics' leaders as recorded in m (what the
 * commands set), clears the Produce errors still pending (a test's own `errors Produce` too),
 * and prints what it did to stderr.
 */
static void *
chaos_main(void *arg)
{
	struct mock *m = arg;
	struct chaos_stats st = { 0 };
	uint64_t rs;
	long long start = now_ms(), end, up_at = 0;
	int down = 0, touched_rtt[MAX_BROKERS + 1] = { 0 };
	/* MOCK_CHAOS_KINDS=N: only the first N kinds (1 errors, 2 + round trips, 3 + leader
	 * moves, 4 + broker outages: the default) */
	const char *kinds_env = getenv("MOCK_CHAOS_KINDS");
	int max_kind = kinds_env && *kinds_env >= '1' && *kinds_env <= '4' ? *kinds_env - '1' : 3;

	pthread_mutex_lock(&m->lock);
	rs = m->chaos_seed;
	end = start + (long long)m->chaos_seconds * 1000;
	while (!m->chaos_stop && now_ms() < end) {
		int kind = rnd_range(&rs, 0, max_kind);

		if (down && now_ms() >= up_at) {
			rd_kafka_mock_broker_set_up(m->mc, down);
			if (m->verbose)
				fprintf(stderr, "mock-broker: chaos: broker %d up\n", down);
			down = 0;
		}
		if (kind == 3) {
			int b = down ? -1 : chaos_take_down(m, &rs);

			if (b > 0) {
				down = b;
				up_at = now_ms() + rnd_range(&rs, 200, 1000);
				st.downs++;
			} else {
				kind = rnd_range(&rs, 0, max_kind < 2 ? max_kind : 2);
			}
		}
		if (kind == 2 && chaos_move_leader(m, &rs) == 0)
			st.leaders++;
		else if (kind == 2)
			kind = 0;
		if (kind == 1) {
			int b = rnd_range(&rs, 1, m->brokers), ms = rnd_range(&rs, 0, 800);

			rd_kafka_mock_broker_set_rtt(m->mc, b, ms);
			touched_rtt[b] = 1;
			st.rtts++;
			if (m->verbose)
				fprintf(stderr, "mock-broker: chaos: broker %d rtt %d ms\n", b, ms);
		} else if (kind == 0) {
			rd_kafka_resp_err_t errs[3];
			int n = rnd_range(&rs, 1, 3);

			for (int i = 0; i < n; i++)
				errs[i] = chaos_errors[rnd_range(&rs, 0, (int)(sizeof(chaos_errors) /
									  sizeof(chaos_errors[0])) - 1)];
			rd_kafka_mock_push_request_errors_array(m->mc, 0, (size_t)n, errs);
			st.error_pushes++;
			st.errors += (unsigned)n;
			if (m->verbose)
				fprintf(stderr, "mock-broker: chaos: %d Produce error(s), first %s\n", n,
					rd_kafka_err2name(errs[0]));
		}
		chaos_sleep_until(m, now_ms() + rnd_range(&rs, 100, 300));
	}

	/* restore */
	if (down)
		rd_kafka_mock_broker_set_up(m->mc, down);
	for (int b = 1; b <= m->brokers; b++)
		if (touched_rtt[b])
			rd_kafka_mock_broker_set_rtt(m->mc, b, m->base_rtt[b]);
	rd_kafka_mock_clear_request_errors(m->mc, 0);
	for (struct mock_topic *t = m->topics; t; t = t->next) {
		for (int p = 0; p < t->partitions; p++) {
			if (t->cur_leader[p] != t->base_leader[p]) {
				t->cur_leader[p] = t->base_leader[p];
				rd_kafka_mock_partition_set_leader(m->mc, t->name, p, t->base_leader[p]);
			}
		}
	}
	fprintf(stderr,
		"mock-broker: chaos done after %.1f s (seed %llu%s): produce_errors=%u (%u errors) "
		"rtt=%u leader_moves=%u broker_downs=%u; restored\n",
		(double)(now_ms() - start) / 1000, (unsigned long long)m->chaos_seed,
		m->chaos_stop ? ", stopped" : "", st.error_pushes, st.errors, st.rtts, st.leaders,
		st.downs);
	m->chaos_done = 1;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* Stops (stop != 0) or waits for the chaos thread, if any, and joins it. Main thread only. */
static void
chaos_finish(struct mock *m, int stop)
{
	pthread_mutex_lock(&m->lock);
	if (!m->chaos_running) {
		pthread_mutex_unlock(&m->lock);
		return;
	}
	if (stop) {
		m->chaos_stop = 1;
		pthread_cond_broadcast(&m->wake);
	}
	/* chaos-wait blocks here with SIGTERM/SIGINT blocked: look for a pending one now and then,
	 * stop the chaos then, and leave the signal to command_loop's ppoll */
	while (!m->chaos_done) {
		long long d = now_ms() + 200;
		struct timespec ts = { .tv_sec = d / 1000, .tv_nsec = (d % 1000) * 1000000 };
		sigset_t pending;

		if (sigpending(&pending) == 0 &&
		    (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1)) {
			m->chaos_stop = 1;
			pthread_cond_broadcast(&m->wake);
		}
		pthread_cond_timedwait(&m->wake, &m->lock, &ts);
	}
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->chaos_thread, NULL);
	m->chaos_running = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* commands */

static int
broker_arg(struct mock *m, const char *s, int allow_all, int *b)
{
	return parse_int(s, allow_all ? -1 : 1, m->brokers, b) == 0 && *b != 0 ? 0 : -1;
}

/*
 * Runs one command (argv split on whitespace). Returns 0, 1 for quit, or -1 with errstr.
 * Main thread only.
 */
static int
run_command(struct mock *m, int argc, char **argv, char *errstr, size_t errstr_size)
{
	const char *cmd = argv[0];
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	int16_t api;
	int b, n;

#define ARGC(want, use) \
	do { \
		if (argc != (want)) { \
			snprintf(errstr, errstr_size, "usage: %s", use); \
			return -1; \
		} \
	} while (0)
#define BROKER(s, all) \
	do { \
		if (broker_arg(m, (s), (all), &b)) { \
			snprintf(errstr, errstr_size, "bad broker \"%s\" (1..%d%s)", (s), \
				 m->brokers, (all) ? " or -1" : ""); \
			return -1; \
		} \
	} while (0)

	if (strcmp(cmd, "quit") == 0) {
		return 1;
	} else if (strcmp(cmd, "errors") == 0) {
		rd_kafka_resp_err_t errs[MAX_ARGS];

		if (argc < 3) {
			snprintf(errstr, errstr_size, "usage: errors API ERR [ERR...]");
			return -1;
		}
		if (parse_api(argv[1], &api)) {
			snprintf(errstr, errstr_size, "unknown API \"%s\"", argv[1]);
			return -1;
		}
		for (int i = 2; i < argc; i++) {
			if (parse_err(argv[i], &errs[i - 2])) {
				snprintf(errstr, errstr_size, "unknown error \"%s\"", argv[i]);
				return -1;
			}
		}
		rd_kafka_mock_push_request_errors_array(m->mc, api, (size_t)(argc - 2), errs);
		return 0;
	} else if (strcmp(cmd, "broker-errors") == 0) {
		rd_kafka_resp_err_t errs[MAX_ARGS];
		int rtts[MAX_ARGS];

		if (argc < 4) {
			snprintf(errstr, errstr_size,
				 "usage: broker-errors BROKER API ERR:RTT_MS [ERR:RTT_MS...]");
			return -1;
		}
		BROKER(argv[1], 0);
		if (parse_api(argv[2], &api)) {
			snprintf(errstr, errstr_size, "unknown API \"%s\"", argv[2]);
			return -1;
		}
		for (int i = 3; i < argc; i++) {
			char *colon = strrchr(argv[i], ':');

			if (!colon || parse_int(colon + 1, 0, 3600000, &rtts[i - 3])) {
				snprintf(errstr, errstr_size, "bad ERR:RTT_MS \"%s\"", argv[i]);
				return -1;
			}
			*colon = '\0';
			if (parse_err(argv[i], &errs[i - 3])) {
				snprintf(errstr, errstr_size, "unknown error \"%s\"", argv[i]);
				return -1;
			}
		}
		/* no array variant in 2.0.2: one call per entry, each appended to the stack */
		for (int i = 0; i < argc - 3 && !err; i++)
			err = rd_kafka_mock_broker_push_request_error_rtts(m->mc, b, api, 1, errs[i],
									   rtts[i]);
	} else if (strcmp(cmd, "rtt") == 0) {
		ARGC(3, "rtt BROKER MS");
		BROKER(argv[1], 1);
		if (parse_int(argv[2], 0, 3600000, &n)) {
			snprintf(errstr, errstr_size, "bad round-trip time \"%s\"", argv[2]);
			return -1;
		}
		pthread_mutex_lock(&m->lock);
		for (int i = 1; i <= m->brokers; i++)
			if (b == -1 || b == i)
				m->base_rtt[i] = n;
		pthread_mutex_unlock(&m->lock);
		err = rd_kafka_mock_broker_set_rtt(m->mc, b, n);
	} else if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) {
		int down = cmd[0] == 'd';

		ARGC(2, down ? "down BROKER" : "up BROKER");
		BROKER(argv[1], 1);
		pthread_mutex_lock(&m->lock);
		for (int i = 1; i <= m->brokers; i++)
			if (b == -1 || b == i)
				m->base_down[i] = down;
		pthread_mutex_unlock(&m->lock);
		err = down ? rd_kafka_mock_broker_set_down(m->mc, b)
			   : rd_kafka_mock_broker_set_up(m->mc, b);
	} else if (strcmp(cmd, "leader") == 0) {
		struct mock_topic *t;
		int p;

		ARGC(4, "leader TOPIC PARTITION BROKER");
		if (parse_int(argv[2], 0, MAX_PARTITIONS - 1, &p)) {
			snprintf(errstr, errstr_size, "bad partition \"%s\"", argv[2]);
			return -1;
		}
		BROKER(argv[3], 1);
		pthread_mutex_lock(&m->lock);
		if ((t = topic_find(m, argv[1])) && p >= t->partitions) {
			pthread_mutex_unlock(&m->lock);
			snprintf(errstr, errstr_size, "topic \"%s\" has %d partitions", argv[1],
				 t->partitions);
			return -1;
		}
		if (t)
			t->base_leader[p] = t->cur_leader[p] = b;
		pthread_mutex_unlock(&m->lock);
		/* on a topic not created here, the mock creates it, or refuses an unknown partition */
		err = rd_kafka_mock_partition_set_leader(m->mc, argv[1], p, b);
	} else if (strcmp(cmd, "topic") == 0) {
		ARGC(3, "topic NAME PARTITIONS");
		if (parse_int(argv[2], 1, MAX_PARTITIONS, &n)) {
			snprintf(errstr, errstr_size, "bad partition count \"%s\"", argv[2]);
			return -1;
		}
		return topic_create(m, argv[1], n, errstr, errstr_size);
	} else if (strcmp(cmd, "chaos") == 0) {
		int secs, seed;

		ARGC(3, "chaos SECONDS SEED");
		if (parse_int(argv[1], 1, 86400, &secs) || parse_int(argv[2], 0, INT_MAX, &seed)) {
			snprintf(errstr, errstr_size, "bad SECONDS or SEED");
			return -1;
		}
		if (m->chaos_running) {
			pthread_mutex_lock(&m->lock);
			n = m->chaos_done;
			pthread_mutex_unlock(&m->lock);
			if (!n) {
				snprintf(errstr, errstr_size, "a chaos is running");
				return -1;
			}
			chaos_finish(m, 0);
		}
		m->chaos_seconds = secs;
		m->chaos_seed = (uint64_t)seed;
		m->chaos_stop = m->chaos_done = 0;
		if ((n = pthread_create(&m->chaos_thread, NULL, chaos_main, m))) {
			snprintf(errstr, errstr_size, "could not start thread: %s", strerror(n));
			return -1;
		}
		m->chaos_running = 1;
		return 0;
	} else if (strcmp(cmd, "chaos-wait") == 0 || strcmp(cmd, "chaos-stop") == 0) {
		ARGC(1, cmd);
		chaos_finish(m, cmd[6] == 's');
		return 0;
	} else {
		snprintf(errstr, errstr_size, "unknown command \"%s\"", cmd);
		return -1;
	}
	if (err) {
		snprintf(errstr, errstr_size, "%s", rd_kafka_err2str(err));
		return -1;
	}
	return 0;
#undef ARGC
#undef BROKER
}

/* Splits line on whitespace, runs it and answers on stdout. Returns 1 on quit, else 0. */
static int
handle_line(struct mock *m, char *line)
{
	char *argv[MAX_ARGS], *save, errstr[512];
	int argc = 0, rc;

	for (char *tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
		if (argc == MAX_ARGS) {
			printf("error: more than %d words\n", MAX_ARGS);
			fflush(stdout);
			return 0;
		}
		argv[argc++] = tok;
	}
	if (argc == 0 || argv[0][0] == '#')
		return 0;
	if ((rc = run_command(m, argc, argv, errstr, sizeof(errstr))) < 0)
		printf("error: %s\n", errstr);
	else
		printf("ok\n");
	fflush(stdout);
	return rc == 1;
}

/*
 * Reads commands from stdin until end of input, quit or a signal. ppoll unblocks SIGTERM and
 * SIGINT only while waiting, so a signal can never slip in between the flag check and the wait.
 */
static void
command_loop(struct mock *m, const sigset_t *waitmask)
{
	char buf[LINE_MAX_LEN];
	size_t len = 0;
	int skipping = 0;	/* inside a line that was too long */

	while (!got_signal) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		char *nl;
		ssize_t r;

		if (ppoll(&pfd, 1, NULL, waitmask) < 0) {
			if (errno == EINTR)
				continue;
			perror("mock-broker: poll");
			return;
		}
		r = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		len += (size_t)r;
		buf[len] = '\0';
		while ((nl = memchr(buf, '\n', len))) {
			size_t used = (size_t)(nl - buf) + 1;
			int quit = 0;

			*nl = '\0';
			if (skipping) {
				printf("error: line longer than %d bytes\n", LINE_MAX_LEN - 2);
				fflush(stdout);
				skipping = 0;
			} else {
				quit = handle_line(m, buf);
			}
			memmove(buf, buf + used, len - used);
			len -= used;
			if (quit)
				return;
		}
		if (len == sizeof(buf) - 1) {
			skipping = 1;
			len = 0;
		}
	}
}

int
main(int argc, char **argv)
{
	struct mock m = { .brokers = 3, .partitions = 4 };
	const char *ready = NULL, *topics[MAX_ARGS];
	int ntopics = 0, debug = 0, rc = 1;
	char errstr[512];
	rd_kafka_conf_t *kc;
	pthread_condattr_t ca;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, waitmask;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--verbose") == 0) {
			m.verbose = 1;
		} else if (strcmp(a, "--debug") == 0) {
			debug = 1;
		} else if (v && strcmp(a, "--brokers") == 0 &&
			   parse_int(v, 1, MAX_BROKERS, &m.brokers) == 0) {
			i++;
		} else if (v && strcmp(a, "--partitions") == 0 &&
			   parse_int(v, 1, MAX_PARTITIONS, &m.partitions) == 0) {
			i++;
		} else if (v && strcmp(a, "--topic") == 0 && ntopics < MAX_ARGS && *v) {
			topics[ntopics++] = v;
			i++;
		} else if (v && strcmp(a, "--ready-file") == 0) {
			ready = v;
			i++;
		} else {
			fprintf(stderr, "mock-broker: bad argument \"%s\"\n", a);
			usage(stderr);
			return 64;
		}
	}

	/* every thread (librdkafka's, the mock's, the chaos) inherits this mask: only the main
	 * thread takes SIGTERM/SIGINT, inside ppoll */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_mutex_init(&m.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m.wake, &ca);
	pthread_condattr_destroy(&ca);

	kc = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(kc, kafka_log);
	/* the handle only hosts the cluster; it never connects anywhere, so no bootstrap servers
	 * and nothing below warnings (librdkafka notes their absence at level 5) */
	if (rd_kafka_conf_set(kc, "log_level", debug ? "7" : "4", errstr, sizeof(errstr)) ||
	    (debug && rd_kafka_conf_set(kc, "debug", "mock", errstr, sizeof(errstr)))) {
		fprintf(stderr, "mock-broker: %s\n", errstr);
		rd_kafka_conf_destroy(kc);
		goto out;
	}
	if (!(m.rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr)))) {
		fprintf(stderr, "mock-broker: could not create the librdkafka handle: %s\n", errstr);
		rd_kafka_conf_destroy(kc);
		goto out;
	}
	if (!(m.mc = rd_kafka_mock_cluster_new(m.rk, m.brokers))) {
		fprintf(stderr, "mock-broker: could not create the mock cluster\n");
		goto out;
	}
	for (int i = 0; i < ntopics; i++) {
		if (topic_create(&m, topics[i], m.partitions, errstr, sizeof(errstr))) {
			fprintf(stderr, "mock-broker: %s\n", errstr);
			goto out;
		}
	}
	if (write_ready(ready, rd_kafka_mock_cluster_bootstraps(m.mc))) {
		fprintf(stderr, "mock-broker: could not write \"%s\": %s\n", ready ? ready : "stdout",
			strerror(errno));
		goto out;
	}
	fprintf(stderr, "mock-broker: %d brokers at %s\n", m.brokers,
		rd_kafka_mock_cluster_bootstraps(m.mc));

	command_loop(&m, &waitmask);
	rc = 0;
out:
	chaos_finish(&m, 1);
	while (m.topics) {
		struct mock_topic *t = m.topics;

		m.topics = t->next;
		topic_free(t);
	}
	if (m.mc)
		rd_kafka_mock_cluster_destroy(m.mc);
	if (m.rk)
		rd_kafka_destroy(m.rk);
	pthread_cond_destroy(&m.wake);
	pthread_mutex_destroy(&m.lock);
	return rc;
}
