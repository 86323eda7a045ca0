/*
 * replay — `outbox-relay replay`: re-sends a chosen range of a source's past events to Kafka,
 * through the same routing and encoding as live events (same topic, key, partition, framing),
 * with a "replay" header naming the replay and the original event_id kept, so consumers can
 * tell a replay apart and deduplicate. It reads in small batches in id order (so each
 * aggregate's events go out in order), never changes published_at and takes no lock the
 * running daemon waits for. Every run is recorded in <table>_replays (sql/0005).
 */
#ifndef OUTBOX_RELAY_REPLAY_H
#define OUTBOX_RELAY_REPLAY_H

#include "conf.h"

/* What `replay`'s command line asks for (replay_parse_args). */
struct replay_args {
	const char *config, *source;
	long long from_id, to_id;	/* meaningful with has_from / has_to */
	int has_from, has_to;
	const char *since, *until;	/* as given */
	char since_us[32], until_us[32];	/* epoch microseconds, for the query */
	const char *aggregate_type, *aggregate_id, *event_type, *topic;
	int dry_run, yes, history, dead_lettered;
	long long rate, batch;
};

/*
 * Parses `replay ...` (argv[0] = "replay") into a (strings borrowed from argv), checking the
 * range: at least one bound unless --history, bounds in order, --since and --until ISO-8601.
 * Returns a cli.h code: CLI_PARSE_OK, CLI_PARSE_HELP, CLI_PARSE_USAGE for a bad option, or
 * CLI_PARSE_ERROR with errstr. Touches no file, database or broker.
 */
int replay_parse_args(int argc, char **argv, const char *default_config, struct replay_args *a,
		      char *errstr, size_t errstr_size);

/*
 * `outbox-relay replay ...` (argv[0] = "replay"). load reads and checks the config file (printing
 * why it is bad, returning NULL). Returns the process exit status: 0 all acked, 64 usage (bad or
 * empty range, unknown source, no confirmation), 65 some events could not be encoded, 69 some
 * were not acked (broker down, ...) or the database failed, 78 bad config, 130 interrupted.
 */
int replay_command(int argc, char **argv, struct conf *(*load)(const char *path),
		   const char *default_config);

#endif
