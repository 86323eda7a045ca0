/*
 * main — the command line: parses arguments, loads the config and hands over to the modules.
 * The only place that exits the process.
 */
#include <libconfig.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "catalog.h"
#include "cli.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "pipeline.h"
#include "produce.h"
#include "replay.h"
#include "route.h"
#include "status.h"

#ifndef OUTBOX_RELAY_VERSION
#define OUTBOX_RELAY_VERSION "0.1.0-dev"
#endif

/* sysexits.h values, spelled out so the meaning is visible here */
#define EXIT_USAGE 64
#define EXIT_UNAVAILABLE 69
#define EXIT_SOFTWARE 70
#define EXIT_CONFIG 78

#define DEFAULT_CONFIG "/etc/outbox-relay/outbox-relay.conf"

static volatile sig_atomic_t got_stop_signal;

static void
on_stop_signal(int sig)
{
	(void)sig;
	got_stop_signal = 1;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"outbox-relay relays events from PostgreSQL outbox tables to Kafka.\n"
		"\n"
		"Usage:\n"
		"  outbox-relay run [-c FILE] [--log-level LEVEL]   relay until SIGTERM/SIGINT\n"
		"  outbox-relay check-config [-c FILE]              validate a config and exit\n"
		"  outbox-relay status [-c FILE] [--json]           backlog or slot lag, per source\n"
		"  outbox-relay migrate --dsn DSN [options]         create or print the outbox table\n"
		"  outbox-relay schema add|check|list|show ...      the Avro schema catalog\n"
		"  outbox-relay replay [-c FILE] RANGE [options]    re-send past events (replay --help)\n"
		"  outbox-relay --help-config                       every configuration key\n"
		"  outbox-relay --version                           version and linked libraries\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE      configuration file (default %s)\n"
		"      --log-level LEVEL  debug, info, warning or error (overrides the file)\n"
		"      --json             status: machine-readable output\n"
		"  -h, --help             this help\n"
		"\n"
		"Exit status: 0 ok, 64 usage error, 69 service unavailable, 70 internal error,\n"
		"78 configuration error.\n",
		DEFAULT_CONFIG);
}

static void
version(void)
{

	printf("outbox-relay %s\n", OUTBOX_RELAY_VERSION);
	printf("  libpq %d.%d\n", PQlibVersion() / 10000, PQlibVersion() % 100);
	printf("  librdkafka %s\n", rd_kafka_version_str());
	printf("  jansson %s\n", jansson_version_str());
	printf("  libconfig %d.%d.%d\n", LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR,
	       LIBCONFIG_VER_REVISION);
	printf("  %s\n", curl_version());
	printf("  avro-c (version not reported by the library)\n");
}

/* Loads and fully checks a config file; prints the reason and returns NULL when it is bad. */
static struct conf *
load_checked(const char *path)
{
	char errstr[1024] = "";
	struct conf *cfg = conf_load(path, errstr, sizeof(errstr));

	if (!cfg) {
		fprintf(stderr, "outbox-relay: %s\n", errstr);
		return NULL;
	}
	if (produce_check_conf(cfg, errstr, sizeof(errstr)) != 0) {
		fprintf(stderr, "outbox-relay: %s\n", errstr);
		conf_destroy(cfg);
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_sources; i++) {
		char topic[ROUTE_TOPIC_MAX + 1], why[512];
		const struct conf_source *src = &cfg->sources[i];

		/* a placeholder typo in `topic` would send every event to the dead-letter topic */
		struct outbox_event probe = { .aggregate_type = "t", .event_type = "t" };

		if (route_topic(src->topic, src->name, &probe, topic, why, sizeof(why)) != 0) {
			fprintf(stderr, "outbox-relay: %s:%d: source \"%s\": topic: %s\n", path,
				src->line, src->name, why);
			conf_destroy(cfg);
			return NULL;
		}
		if (route_topic(src->dead_letter_topic, src->name, NULL, topic, why, sizeof(why)) != 0) {
			fprintf(stderr, "outbox-relay: %s:%d: source \"%s\": dead_letter_topic: %s "
				"(it may only use {source})\n", path, src->line, src->name, why);
			conf_destroy(cfg);
			return NULL;
		}
	}
	return cfg;
}

/*
 * What runs: every configuration loaded (a reload keeps the old ones, which pipelines left
 * unchanged still read), the current one, and its pipelines (index = source index).
 */
struct running {
	const char *path;
	const char *level_override;
	struct conf **cfgs;
	size_t n_cfgs;
	struct conf *cur;
	struct pipeline **pipes;
	struct metrics *metrics;	/* NULL: no metrics group */
};

/*
 * Tells the metrics which pipelines to report: the n entries of pipes, or with started_only
 * the non-NULL ones (during a reload, the ones kept running while the others are replaced).
 */
static void
show_pipelines(struct running *r, struct pipeline **pipes, size_t n, int started_only)
{
	struct pipeline **started;
	size_t k = 0;

	if (!r->metrics)
		return;
	if (!started_only) {
		metrics_set_pipelines(r->metrics, pipes, n);
		return;
	}
	started = malloc((n ? n : 1) * sizeof(*started));
	for (size_t i = 0; started && i < n; i++)
		if (pipes[i])
			started[k++] = pipes[i];
	metrics_set_pipelines(r->metrics, started, k);
	free(started);
}

/*
 * SIGHUP: reads the file again. An invalid file changes nothing (the reason is logged). A valid
 * one restarts only the sources it adds, removes or changes (all of them when what they share
 * changed: brokers, kafka properties, the registry, drain_timeout_ms); a stopped source drains
 * and marks what was acked, so nothing is lost, and its successor starts from its unmarked
 * rows. The log level applies in place.
 */
static void
reload(struct running *r)
{
	struct conf *next, **cfgs;
	struct pipeline **pipes;
	size_t kept = 0, restarted = 0, added = 0, removed = 0;
	int shared_changed;
	enum log_level lvl;

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)clock_mono_ms() * 1000);
	log_info("reloading \"%s\"", r->path);
	if (!(next = load_checked(r->path))) {
		log_error("reload: \"%s\" is not valid (the reason is above); the running "
			  "configuration stays", r->path);
		sd_notify(0, "READY=1");
		return;
	}
	cfgs = realloc(r->cfgs, (r->n_cfgs + 1) * sizeof(*cfgs));
	pipes = calloc(next->n_sources, sizeof(*pipes));
	if (!cfgs || !pipes) {
		log_error("reload: out of memory; the running configuration stays");
		if (cfgs)
			r->cfgs = cfgs;
		free(pipes);
		conf_destroy(next);
		sd_notify(0, "READY=1");
		return;
	}
	r->cfgs = cfgs;
	r->cfgs[r->n_cfgs++] = next;
	shared_changed = !conf_shared_equal(r->cur, next);
	if ((r->cur->metrics.listen || next->metrics.listen) &&
	    (!r->cur->metrics.listen || !next->metrics.listen ||
	     strcmp(r->cur->metrics.listen, next->metrics.listen) != 0))
		log_warning("reload: the metrics listener is read at start only; restart to apply "
			    "the change of \"metrics\"");
	log_set_level((enum log_level)next->log_level);
	log_set_json(next->log_json);
	if (r->level_override && log_level_parse(r->level_override, &lvl) == 0)
		log_set_level(lvl);

	/* stop every source that goes or changes, all at once, then wait for them */
	for (size_t i = 0; i < r->cur->n_sources; i++) {
		const struct conf_source *old = &r->cur->sources[i];
		size_t j;

		for (j = 0; j < next->n_sources; j++)
			if (strcmp(next->sources[j].name, old->name) == 0)
				break;
		if (j < next->n_sources && !shared_changed &&
		    conf_source_equal(old, &next->sources[j])) {
			pipes[j] = r->pipes[i];
			r->pipes[i] = NULL;
			kept++;
			continue;
		}
		log_info("source \"%s\": %s; stopping it", old->name,
			 j == next->n_sources ? "removed" : "changed");
		pipeline_stop(r->pipes[i]);
		if (j == next->n_sources)
			removed++;
	}
	/* no request may read a stopped pipeline once it is joined (freed) */
	show_pipelines(r, pipes, next->n_sources, 1);
	for (size_t i = 0; i < r->cur->n_sources; i++)
		pipeline_join(r->pipes[i]);	/* NULL for the kept ones */
	free(r->pipes);
	r->pipes = pipes;

	for (size_t j = 0; j < next->n_sources; j++) {
		char errstr[512] = "";
		int existed = 0;

		if (pipes[j])
			continue;
		for (size_t i = 0; i < r->cur->n_sources; i++)
			if (strcmp(r->cur->sources[i].name, next->sources[j].name) == 0)
				existed = 1;
		if (!(pipes[j] = pipeline_start(next, j, errstr, sizeof(errstr)))) {
			log_error("source \"%s\": could not start: %s", next->sources[j].name, errstr);
			continue;
		}
		existed ? restarted++ : added++;
	}
	r->cur = next;
	show_pipelines(r, pipes, next->n_sources, 0);
	log_info("reloaded \"%s\": %zu source(s) kept running, %zu restarted, %zu added, %zu removed",
		 r->path, kept, restarted, added, removed);
	sd_notify(0, "READY=1");
}

#define STATUS_EVERY_MS 10000
#define STALE_WITHOUT_WATCHDOG_MS 60000

static const char *const state_names[] = {
	[PIPELINE_CONNECTING] = "connecting", [PIPELINE_STANDBY] = "standby",
	[PIPELINE_ACTIVE] = "active", [PIPELINE_RETRYING] = "retrying",
	[PIPELINE_STOPPED] = "stopped",
};

/*
 * The main thread's work while the pipelines run: wait for SIGTERM or SIGINT (stop) and SIGHUP
 * (reload), and keep systemd informed (sd_notify, a no-op when NOTIFY_SOCKET is not set):
 * READY=1 once every source is active or standby; STATUS= with each source's state, throughput,
 * in-flight count and slot lag, when a state changes and every 10 s; RELOADING=1 and READY=1
 * around a reload; WATCHDOG=1 every quarter of WatchdogSec, but only while every pipeline's loop
 * keeps going round (its heartbeat younger than half of WatchdogSec), so a pipeline stuck in a
 * call that does not return gets the service restarted; STOPPING=1 at the end.
 */
static void
supervise(struct running *r, const sigset_t *signals)
{
	uint64_t wd_usec = 0;
	long long wd_ms = 0, next_ping = 0, next_status = 0, last_status_ms = clock_mono_ms();
	/* per source of the current configuration: published at the last STATUS, last state */
	unsigned long long *prev = NULL;
	int *prev_state = NULL, ready = 0;
	char stale_logged[64] = "";

	if (sd_watchdog_enabled(0, &wd_usec) > 0)
		wd_ms = (long long)(wd_usec / 1000);
	while (!got_stop_signal) {
		struct timespec ts = { 0, 200 * 1000000L };
		long long now, stale_limit = wd_ms ? wd_ms / 2 : STALE_WITHOUT_WATCHDOG_MS;
		const char *stale = NULL;
		int all_up = 1, changed = 0, sig;
		size_t n = r->cur->n_sources;
		char status[1024];
		size_t len = 0;

		if (r->metrics)
			metrics_main_beat(r->metrics);
		sig = sigtimedwait(signals, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP) {
			reload(r);
			free(prev);
			free(prev_state);
			prev = NULL;
			prev_state = NULL;
			continue;
		}
		if (!prev) {
			prev = calloc(n, sizeof(*prev));
			prev_state = malloc(n * sizeof(*prev_state));
			if (!prev || !prev_state) {
				log_fatal("out of memory");
				break;
			}
			memset(prev_state, 0xff, n * sizeof(*prev_state));
		}
		now = clock_mono_ms();
		for (size_t i = 0; i < n; i++) {
			struct pipeline_status st;
			double secs = (double)(now - last_status_ms) / 1000.0;

			if (!r->pipes[i]) {	/* could not be started at the last reload */
				all_up = 0;
				continue;
			}
			pipeline_status(r->pipes[i], &st);
			if (st.state != PIPELINE_ACTIVE && st.state != PIPELINE_STANDBY)
				all_up = 0;
			if (now - st.heartbeat_ms > stale_limit && !stale)
				stale = st.source;
			if (prev_state[i] != (int)st.state) {
				prev_state[i] = (int)st.state;
				changed = 1;
			}
			len += (size_t)snprintf(status + len, len < sizeof(status) ? sizeof(status) - len : 0,
						"%s%s: %s, %llu published (%.0f/s), %zu in flight",
						i ? "; " : "", st.source, state_names[st.state],
						st.published, secs > 0 && st.published >= prev[i]
						? (double)(st.published - prev[i]) / secs : 0.0,
						st.in_flight);
			if (st.mode == SOURCE_MODE_LOGICAL && len < sizeof(status))
				len += (size_t)snprintf(status + len, sizeof(status) - len, ", lag %llu bytes",
							st.lag_bytes);
			if (now >= next_status)
				prev[i] = st.published;
		}
		if (!ready && all_up) {
			ready = 1;
			log_info("ready: every source is active or standby");
			sd_notify(0, "READY=1");
		}
		if (changed || now >= next_status) {
			sd_notifyf(0, "STATUS=%s", status);
			if (now >= next_status) {
				last_status_ms = now;
				next_status = now + STATUS_EVERY_MS;
			}
		}
		if (stale && strcmp(stale, stale_logged) != 0) {
			log_error("source \"%s\": its pipeline has not gone round its loop for over %lld ms "
				  "(stuck in a database or broker call)%s", stale, stale_limit,
				  wd_ms ? "; withholding the watchdog ping" : "");
			snprintf(stale_logged, sizeof(stale_logged), "%s", stale);
		} else if (!stale && stale_logged[0]) {
			log_info("every pipeline is going round its loop again");
			stale_logged[0] = '\0';
		}
		if (wd_ms && now >= next_ping && !stale) {
			sd_notify(0, "WATCHDOG=1");
			next_ping = now + wd_ms / 4;
		}
	}
	free(prev);
	free(prev_state);
	sd_notify(0, "STOPPING=1");
}

static int
cmd_run(const char *path, const char *level_override)
{
	struct conf *cfg = load_checked(path);
	struct running r = { .path = path, .level_override = level_override };
	struct sigaction sa;
	sigset_t signals, old;
	enum log_level lvl;
	int rc = 0;

	if (!cfg)
		return EXIT_CONFIG;
	log_set_level((enum log_level)cfg->log_level);
	log_set_json(cfg->log_json);
	if (level_override) {
		log_level_parse(level_override, &lvl);
		log_set_level(lvl);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	/* Pipeline threads inherit a mask blocking these signals, so they are delivered to this
	 * thread, which takes them with sigtimedwait in supervise() without a race. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, &old);

	log_info("outbox-relay %s starting with %zu source(s) from \"%s\"", OUTBOX_RELAY_VERSION,
		 cfg->n_sources, path);
	r.cfgs = malloc(sizeof(*r.cfgs));
	r.pipes = calloc(cfg->n_sources, sizeof(*r.pipes));
	if (!r.cfgs || !r.pipes) {
		log_fatal("out of memory");
		free(r.cfgs);
		free(r.pipes);
		conf_destroy(cfg);
		return EXIT_SOFTWARE;
	}
	r.cfgs[r.n_cfgs++] = cfg;
	r.cur = cfg;
	if (cfg->metrics.listen) {
		char errstr[512] = "";

		/* a reload may block the main loop for a drain: /healthz allows for it */
		r.metrics = metrics_new(&cfg->metrics, OUTBOX_RELAY_VERSION,
					cfg->drain_timeout_ms + 30000, errstr, sizeof(errstr));
		if (!r.metrics) {
			log_fatal("%s", errstr);
			free(r.cfgs);
			free(r.pipes);
			conf_destroy(cfg);
			return EXIT_UNAVAILABLE;
		}
	}
	for (size_t i = 0; i < cfg->n_sources; i++) {
		char errstr[512] = "";

		r.pipes[i] = pipeline_start(cfg, i, errstr, sizeof(errstr));
		if (!r.pipes[i]) {
			log_fatal("source \"%s\": %s", cfg->sources[i].name, errstr);
			rc = EXIT_SOFTWARE;
			got_stop_signal = 1;
			break;
		}
	}
	show_pipelines(&r, r.pipes, cfg->n_sources, 1);
	if (!got_stop_signal)
		supervise(&r, &signals);
	else
		sd_notify(0, "STOPPING=1");
	log_info("stopping: waiting for events in flight (at most %lld ms)", r.cur->drain_timeout_ms);
	pipeline_request_stop();
	metrics_destroy(r.metrics);	/* before the pipelines it reads are freed */
	for (size_t i = 0; i < r.cur->n_sources; i++)
		pipeline_join(r.pipes[i]);
	free(r.pipes);
	for (size_t i = 0; i < r.n_cfgs; i++)
		conf_destroy(r.cfgs[i]);
	free(r.cfgs);
	log_info("stopped");
	return rc;
}

static int
cmd_check_config(const char *path)
{
	struct conf *cfg = load_checked(path);

	if (!cfg)
		return EXIT_CONFIG;
	printf("%s: ok, %zu source(s)\n", path, cfg->n_sources);
	conf_destroy(cfg);
	return 0;
}

static int
cmd_migrate(int argc, char **argv)
{
	struct cli_migrate_args a;
	char errstr[1024] = "", *expanded;
	int rc;

	if ((rc = cli_parse_migrate(argc, argv, &a, errstr, sizeof(errstr))) != CLI_PARSE_OK)
		return cli_finish(rc, errstr, migrate_usage());
	if (a.print) {
		rc = migrate_render(a.schema, a.table, 0, stdout, errstr, sizeof(errstr));
		if (rc != 0)
			fprintf(stderr, "outbox-relay migrate: %s\n", errstr);
		return rc == 0 ? 0 : rc == MIGRATE_EINVAL ? EXIT_USAGE : EXIT_SOFTWARE;
	}
	if (!(expanded = conf_expand_secrets(a.dsn, errstr, sizeof(errstr)))) {
		fprintf(stderr, "outbox-relay migrate: --dsn: %s\n", errstr);
		return EXIT_USAGE;
	}
	rc = migrate_apply(expanded, a.schema, a.table, a.dry_run, stdout, errstr, sizeof(errstr));
	free(expanded);
	if (rc != 0)
		fprintf(stderr, "outbox-relay migrate: %s\n", errstr);
	return rc == 0 ? 0 : rc == MIGRATE_EINVAL ? EXIT_USAGE :
	       rc == MIGRATE_EDB ? EXIT_UNAVAILABLE : EXIT_SOFTWARE;
}

int
main(int argc, char **argv)
{
	struct cli_main_args a;
	char errstr[1024] = "";
	int rc;

	log_init();
	if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
		return cmd_migrate(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "schema") == 0)
		return catalog_command(argc - 1, argv + 1, load_checked, DEFAULT_CONFIG);
	if (argc >= 2 && strcmp(argv[1], "replay") == 0)
		return replay_command(argc - 1, argv + 1, load_checked, DEFAULT_CONFIG);

	rc = cli_parse_main(argc, argv, DEFAULT_CONFIG, &a, errstr, sizeof(errstr));
	if (rc == CLI_PARSE_HELP) {
		usage(stdout);
		return 0;
	}
	if (rc == CLI_PARSE_USAGE) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (rc != CLI_PARSE_OK) {
		fprintf(stderr, "%s\n", errstr);
		return EXIT_USAGE;
	}
	switch (a.command) {
	case CLI_HELP_CONFIG:
		conf_print_help(stdout);
		return 0;
	case CLI_VERSION:
		version();
		return 0;
	case CLI_RUN:
		return cmd_run(a.config, a.log_level);
	case CLI_CHECK_CONFIG:
		return cmd_check_config(a.config);
	case CLI_STATUS: {
		struct conf *cfg = load_checked(a.config);

		if (!cfg)
			return EXIT_CONFIG;
		rc = status_print(cfg, a.json, stdout);
		conf_destroy(cfg);
		return rc == 0 ? 0 : EXIT_UNAVAILABLE;
	}
	}
	return EXIT_SOFTWARE;
}
