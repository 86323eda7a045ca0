/*
 * replay — see replay.h.
 */
#include "replay.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackwin.h"
#include "avlogical.h"
#include "cli.h"
#include "clock.h"
#include "db.h"
#include "encode.h"
#include "log.h"
#include "poll.h"
#include "produce.h"
#include "route.h"

#define EXIT_USAGE 64
#define EXIT_DATAERR 65
#define EXIT_UNAVAILABLE 69
#define EXIT_CONFIG 78
#define EXIT_INTERRUPTED 130

#define CONFIRM_ABOVE 1000	/* events; more need --yes or an answer on a terminal */
#define TAKE_MAX 4096

static volatile sig_atomic_t interrupted;

static void
on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static const char *
replay_usage(void)
{
	return "Usage:\n"
	       "  outbox-relay replay [-c FILE] [--source NAME] RANGE [FILTERS] [OPTIONS]\n"
	       "  outbox-relay replay [-c FILE] [--source NAME] --history\n"
	       "\n"
	       "RANGE (at least one bound; both kinds may be combined):\n"
	       "  --from-id A --to-id B     outbox ids A..B, inclusive\n"
	       "  --since T --until T       created_at in [T, T), ISO-8601 (\"2026-11-21T10:00:00Z\",\n"
	       "                            \"2026-11-21 10:00:00+01:00\", \"2026-11-21\"); no zone = UTC\n"
	       "FILTERS:\n"
	       "  --aggregate-type T  --aggregate-id ID  --event-type T\n"
	       "  --dead-lettered     the events in <table>_dead_letters not yet recovered (the\n"
	       "                      range is optional; ids are outbox ids); each acked one is\n"
	       "                      marked recovered\n"
	       "OPTIONS:\n"
	       "  --topic T     send every event to topic T instead of its own\n"
	       "  --dry-run     count and show what would be sent; send nothing\n"
	       "  --rate N      at most N events per second\n"
	       "  --batch N     rows read per query (default 500)\n"
	       "  --yes         needed for more than 1000 events when not asked on a terminal\n"
	       "\n"
	       "Events go out through the source's routing and encoding with a \"replay\" header\n"
	       "(the replay's number) and their original event_id; published_at is never changed.\n"
	       "Exit status: 0 every event acked, 64 usage or empty range, 65 some events could not\n"
	       "be encoded, 69 some were not acked or the database failed, 78 configuration error,\n"
	       "130 interrupted (the summary says how to resume).\n";
}

/* ISO-8601 date-time or date -> epoch microseconds text. Returns 0, or -1. */
static int
parse_time(const char *s, char *out, size_t size)
{
	int64_t sec;
	int32_t nsec = 0, days;
	int has_zone;

	if (avlogical_parse_timestamp(s, strlen(s), &sec, &nsec, &has_zone) != 0) {
		if (avlogical_parse_date(s, strlen(s), &days) != 0)
			return -1;
		sec = (int64_t)days * 86400;
	}
	snprintf(out, size, "%" PRId64, sec * 1000000 + nsec / 1000);
	return 0;
}

static int
parse_count(const char *opt, const char *s, long long min, long long *out, char *errstr,
	    size_t errstr_size)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (!*s || *end || v < min) {
		snprintf(errstr, errstr_size,
			 "outbox-relay replay: %s must be an integer >= %lld, not \"%s\"", opt, min, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* The WHERE clause and its parameters (texts kept in a). Returns the parameter count. */
static int
build_filter(const struct conf_source *src, struct replay_args *a, char *where, size_t size,
	     const char **params, char bufs[][32])
{
	int n = 0;
	size_t len = 0;
	char q[DB_QUOTED_SIZE];

#define COND(fmt, col, value)							\
	do {									\
		params[n] = (value);						\
		n++;								\
		db_quote_ident(src->columns[col], q, sizeof(q));		\
		len += (size_t)snprintf(where + len, len < size ? size - len : 0,	\
					" AND %s " fmt, q, n);			\
	} while (0)

	len += (size_t)snprintf(where, size, "TRUE");
	if (a->has_from) {
		snprintf(bufs[0], 32, "%lld", a->from_id);
		COND(">= $%d", COL_ID, bufs[0]);
	}
	if (a->has_to) {
		snprintf(bufs[1], 32, "%lld", a->to_id);
		COND("<= $%d", COL_ID, bufs[1]);
	}
	if (a->since)
		COND(">= to_timestamp($%d::float8 / 1e6)", COL_CREATED_AT, a->since_us);
	if (a->until)
		COND("< to_timestamp($%d::float8 / 1e6)", COL_CREATED_AT, a->until_us);
	if (a->aggregate_type)
		COND("= $%d", COL_AGGREGATE_TYPE, a->aggregate_type);
	if (a->aggregate_id)
		COND("= $%d", COL_AGGREGATE_ID, a->aggregate_id);
	if (a->event_type)
		COND("= $%d", COL_EVENT_TYPE, a->event_type);
#undef COND
	return n;
}

/* The selection as written in the history: the range and filters, space-separated. */
static void
describe_selection(const struct replay_args *a, char *out, size_t size)
{
	size_t len = 0;

#define ADD(fmt, ...) (len += (size_t)snprintf(out + len, len < size ? size - len : 0, fmt, \
					       __VA_ARGS__))
	out[0] = '\0';
	if (a->has_from)
		ADD("%s--from-id %lld", len ? " " : "", a->from_id);
	if (a->has_to)
		ADD("%s--to-id %lld", len ? " " : "", a->to_id);
	if (a->since)
		ADD("%s--since %s", len ? " " : "", a->since);
	if (a->until)
		ADD("%s--until %s", len ? " " : "", a->until);
	if (a->aggregate_type)
		ADD("%s--aggregate-type %s", len ? " " : "", a->aggregate_type);
	if (a->aggregate_id)
		ADD("%s--aggregate-id %s", len ? " " : "", a->aggregate_id);
	if (a->event_type)
		ADD("%s--event-type %s", len ? " " : "", a->event_type);
#undef ADD
}

/* Asks on the terminal. Returns 1 yes, 0 no or no terminal. */
static int
confirm(long long n, const struct conf_source *src, const struct replay_args *a)
{
	char line[16];

	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return 0;
	fprintf(stderr, "Replay %lld events of source \"%s\"%s%s? [y/N] ", n, src->name,
		a->topic ? " to topic " : "", a->topic ? a->topic : "");
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return line[0] == 'y' || line[0] == 'Y';
}

static int
show_history(PGconn *conn, const struct conf_source *src)
{
	char sql[1024], errstr[512], table[DB_QUALIFIED_SIZE];
	PGresult *res;

	db_table_sql(src, "_replays", table, sizeof(table), NULL, 0);	/* checked by replay_main */
	snprintf(sql, sizeof(sql),
		 "SELECT id, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
		 "coalesce(os_user, db_user), status, selected, sent, acked, failed, "
		 "selection || coalesce(' --topic ' || topic, '') "
		 "FROM %s ORDER BY id", table);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_table_error(conn, res, src, "_replays", "replay history", errstr, sizeof(errstr));
		fprintf(stderr, "outbox-relay replay: %s\n", errstr);
		return EXIT_UNAVAILABLE;
	}
	printf("%5s  %-19s  %-12s  %-11s  %8s %8s %8s %6s  %s\n", "ID", "STARTED (UTC)", "BY",
	       "STATUS", "SELECTED", "SENT", "ACKED", "FAILED", "SELECTION");
	for (int i = 0; i < PQntuples(res); i++)
		printf("%5s  %-19s  %-12s  %-11s  %8s %8s %8s %6s  %s\n", PQgetvalue(res, i, 0),
		       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		       PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6),
		       PQgetvalue(res, i, 7), PQgetvalue(res, i, 8));
	PQclear(res);
	return 0;
}

/*
 * What a replay reads: the outbox table with the source's column names, or with --dead-lettered
 * the dead-letter record, whose columns have fixed names (outbox_id standing for the id range)
 * and whose own id orders the reading and identifies what to mark recovered.
 */
struct selection {
	char table[DB_QUALIFIED_SIZE];
	struct conf_source cols;	/* only columns[] is used */
	char order_col[DB_QUOTED_SIZE];	/* keyset column, quoted */
	char select[4096];
	const char *extra;		/* appended to WHERE */
};

static void
selection_init(struct selection *s, const struct conf_source *src, int dead_lettered)
{
	static const char *const dl_cols[COL__COUNT] = {
		[COL_ID] = "outbox_id", [COL_EVENT_ID] = "event_id",
		[COL_AGGREGATE_TYPE] = "aggregate_type", [COL_AGGREGATE_ID] = "aggregate_id",
		[COL_EVENT_TYPE] = "event_type", [COL_SCHEMA_VERSION] = "schema_version",
		[COL_PAYLOAD] = "payload", [COL_HEADERS] = "headers", [COL_CREATED_AT] = "created_at",
		[COL_PUBLISHED_AT] = "", [COL_TXID] = "",
	};

	memset(s, 0, sizeof(*s));
	s->cols = *src;
	if (!dead_lettered) {
		db_table_sql(src, "", s->table, sizeof(s->table), NULL, 0);
		db_quote_ident(src->columns[COL_ID], s->order_col, sizeof(s->order_col));
		poll_select_list(src, s->select, sizeof(s->select));
		s->extra = "";
		return;
	}
	/* checked by replay_main */
	db_table_sql(src, "_dead_letters", s->table, sizeof(s->table), NULL, 0);
	for (int c = 0; c < COL__COUNT; c++)
		s->cols.columns[c] = (char *)dl_cols[c];
	snprintf(s->order_col, sizeof(s->order_col), "id");
	/* the fetch layout (poll_event_from) with the record's own id first */
	s->cols.columns[COL_ID] = "id";
	poll_select_list(&s->cols, s->select, sizeof(s->select));
	s->cols.columns[COL_ID] = "outbox_id";
	s->extra = " AND recovered_at IS NULL";
}

struct run {
	const struct conf_source *src;
	const struct selection *sel;
	PGconn *conn;
	struct producer *prod;
	struct ackwin *win;
	struct encoder *enc;
	struct route_result route;
	char replay_id[24];
	long long selected, sent, failed_encode, acked, failed_delivery;
	long long acked_through;	/* every selected id up to here acked */
	long long ids[TAKE_MAX];
};

/* Serves delivery reports for up to ms and takes the contiguously acked head. */
/* --dead-lettered: the acked records are recovered. */
static void
mark_recovered(struct run *r, size_t n)
{
	char sql[512], *list = malloc(n * 21 + 3);
	size_t len = 0;
	const char *params[1];
	PGresult *res;

	if (!list)
		return;
	len += (size_t)sprintf(list, "{");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(list + len, "%s%lld", i ? "," : "", r->ids[i]);
	sprintf(list + len, "}");
	params[0] = list;
	snprintf(sql, sizeof(sql), "UPDATE %s SET recovered_at = now() WHERE id = ANY($1::int8[])",
		 r->sel->table);
	res = PQexecParams(r->conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fprintf(stderr, "outbox-relay replay: could not mark dead letters recovered: %s",
			PQerrorMessage(r->conn));
	PQclear(res);
	free(list);
}

static void
take(struct run *r, size_t n)
{
	r->acked += (long long)n;
	if (r->sel->extra[0])
		mark_recovered(r, n);
}

static void
serve(struct run *r, int ms)
{
	size_t n;

	produce_poll(r->prod, ms);
	while ((n = ackwin_take_acked(r->win, r->ids, TAKE_MAX)) > 0) {
		take(r, n);
		r->acked_through = r->ids[n - 1];
	}
}

static void
progress(struct run *r, long long start_ms, int final)
{
	double secs = (double)(clock_mono_ms() - start_ms) / 1000.0;
	double rate = secs > 0 ? (double)r->sent / secs : 0;

	if (isatty(STDERR_FILENO)) {
		int width = 30, done = r->selected ? (int)(r->sent * width / r->selected) : width;
		double eta = rate > 0 ? (double)(r->selected - r->sent) / rate : 0;

		fprintf(stderr, "\r[%.*s%*s] %lld/%lld %3d%% %.0f ev/s ETA %.0fs ", done,
			"##############################", width - done, "", r->sent, r->selected,
			r->selected ? (int)(r->sent * 100 / r->selected) : 100, rate, eta);
		if (final)
			fputc('\n', stderr);
	} else if (!final) {
		fprintf(stderr, "replay %s: %lld of %lld sent, %lld acked, %.0f events/s\n",
			r->replay_id, r->sent, r->selected, r->acked, rate);
	}
}

/* Routes, encodes and sends one row. Returns 0, or -1 when the producer cannot go on. */
static int
send_one(struct run *r, const struct replay_args *a, const struct outbox_event *ev)
{
	char errstr[1024];
	const void *value;
	size_t len;
	enum produce_result pr;
	uint64_t seq;

	if (route_event(a->topic ? a->topic : r->src->topic, r->src->name, ev, &r->route, errstr,
			sizeof(errstr)) != 0 ||
	    encoder_encode(r->enc, r->conn, ev, &r->route, &value, &len, errstr, sizeof(errstr)) !=
	    ENCODE_OK || route_add_header(&r->route, "replay", r->replay_id) != 0) {
		fprintf(stderr, "%soutbox-relay replay: row %lld cannot be sent: %s\n",
			isatty(STDERR_FILENO) ? "\n" : "", ev->id, errstr);
		r->failed_encode++;
		return 0;
	}
	while (!ackwin_has_room(r->win, len))
		serve(r, 10);
	seq = ackwin_push(r->win, ev->id, len);
	while ((pr = produce_send(r->prod, &r->route, ev, value, len, seq, errstr,
				  sizeof(errstr))) == PRODUCE_QUEUE_FULL)
		serve(r, 10);
	if (pr != PRODUCE_OK) {
		ackwin_settle(r->win, seq, 0);
		fprintf(stderr, "outbox-relay replay: row %lld: %s\n", ev->id, errstr);
		return pr == PRODUCE_FATAL ? -1 : 0;
	}
	r->sent++;
	return 0;
}

static void
finish_history(struct run *r, const char *status)
{
	char sql[1024], v[5][32], table[DB_QUALIFIED_SIZE];
	const char *params[7];
	PGresult *res;

	db_table_sql(r->src, "_replays", table, sizeof(table), NULL, 0);
	snprintf(sql, sizeof(sql),
		 "UPDATE %s SET finished_at = now(), status = $2, sent = $3, "
		 "acked = $4, failed = $5, acked_through_id = $6, selected = $7 WHERE id = $1",
		 table);
	snprintf(v[0], 32, "%lld", r->sent);
	snprintf(v[1], 32, "%lld", r->acked);
	snprintf(v[2], 32, "%lld", r->failed_encode + r->failed_delivery);
	snprintf(v[3], 32, "%lld", r->acked_through);
	snprintf(v[4], 32, "%lld", r->selected);
	params[0] = r->replay_id;
	params[1] = status;
	params[2] = v[0];
	params[3] = v[1];
	params[4] = v[2];
	params[5] = r->acked_through > 0 ? v[3] : NULL;
	params[6] = v[4];
	res = PQexecParams(r->conn, sql, 7, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fprintf(stderr, "outbox-relay replay: could not record the end of replay %s: %s",
			r->replay_id, PQerrorMessage(r->conn));
	PQclear(res);
}

/* The command to go on from where an unfinished replay stopped. */
static void
print_resume(const struct run *r, int argc, char **argv)
{
	fprintf(stderr, "resume with: outbox-relay");
	for (int i = 0; i < argc; i++) {
		if (r->sel->extra[0]) {
			fprintf(stderr, " %s", argv[i]);
			continue;
		}
		if (strcmp(argv[i], "--from-id") == 0 && i + 1 < argc) {
			i++;
			continue;
		}
		if (strncmp(argv[i], "--from-id=", 10) == 0)
			continue;
		fprintf(stderr, " %s", argv[i]);
	}
	/* dead letters: the recovered ones are not selected again */
	if (r->sel->extra[0])
		fprintf(stderr, "\n");
	else
		fprintf(stderr, " --from-id %lld\n", r->acked_through + 1);
}

static int
run_replay(const struct conf *cfg, const struct conf_source *src, PGconn *conn,
	   struct replay_args *a, int argc, char **argv)
{
	char where[2048], sql[8192], errstr[1024], bufs[2][32], selection[1100];
	char host[256] = "", *user = getenv("USER");
	const char *params[12];
	struct selection sel;
	int np;
	struct run r = { .src = src, .sel = &sel, .conn = conn, .acked_through = 0 };

	selection_init(&sel, src, a->dead_lettered);
	np = build_filter(&sel.cols, a, where, sizeof(where), params, bufs);
	strncat(where, sel.extra, sizeof(where) - strlen(where) - 1);
	PGresult *res;
	long long start_ms, last_progress, last_id = 0, rate_start = 0;
	int rc = 0, stop = 0;
	struct sigaction sa;

	/* how many: the confirmation and the progress need it */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s", sel.table, where);
	res = PQexecParams(conn, sql, np, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_error(conn, res, "selecting the events", errstr, sizeof(errstr));
		fprintf(stderr, "outbox-relay replay: %s\n", errstr);
		return EXIT_UNAVAILABLE;
	}
	r.selected = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	describe_selection(a, selection, sizeof(selection));
	if (a->dead_lettered)
		strncat(selection, *selection ? " --dead-lettered" : "--dead-lettered",
			sizeof(selection) - strlen(selection) - 1);
	if (r.selected == 0) {
		fprintf(stderr, "outbox-relay replay: no events of source \"%s\" match %s; nothing "
			"sent\n", src->name, selection);
		return EXIT_USAGE;
	}
	if (a->dry_run) {
		snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT 10",
			 sel.select, sel.table, where, sel.order_col);
		res = PQexecParams(conn, sql, np, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			db_error(conn, res, "selecting the events", errstr, sizeof(errstr));
			fprintf(stderr, "outbox-relay replay: %s\n", errstr);
			return EXIT_UNAVAILABLE;
		}
		printf("dry run: %lld events of source \"%s\" match %s; would send them to %s\n",
		       r.selected, src->name, selection, a->topic ? a->topic : src->topic);
		for (int i = 0; i < PQntuples(res); i++) {
			struct outbox_event ev;

			poll_event_from(res, i, &ev);
			printf("  id %lld  %s/%s  %s  v%s\n", ev.id, ev.aggregate_type,
			       ev.aggregate_id, ev.event_type ? ev.event_type : "-",
			       ev.schema_version ? ev.schema_version : "-");
		}
		if (r.selected > PQntuples(res))
			printf("  ... and %lld more\n", r.selected - PQntuples(res));
		PQclear(res);
		return 0;
	}
	if (r.selected > CONFIRM_ABOVE && !a->yes && !confirm(r.selected, src, a)) {
		fprintf(stderr, "outbox-relay replay: %lld events selected (more than %d): not sent "
			"without --yes or a yes on a terminal\n", r.selected, CONFIRM_ABOVE);
		return EXIT_USAGE;
	}

	/* the record first: a replay that runs is always in the history */
	gethostname(host, sizeof(host) - 1);
	{
		char table[DB_QUALIFIED_SIZE];

		db_table_sql(src, "_replays", table, sizeof(table), NULL, 0);
		snprintf(sql, sizeof(sql),
			 "INSERT INTO %s (os_user, host, source, selection, topic, "
			 "selected) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", table);
	}
	{
		char nsel[32];
		const char *hp[6] = { user, host, src->name, selection, a->topic, nsel };

		snprintf(nsel, sizeof(nsel), "%lld", r.selected);
		res = PQexecParams(conn, sql, 6, NULL, hp, NULL, NULL, 0);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_table_error(conn, res, src, "_replays", "recording the replay", errstr,
			       sizeof(errstr));
		fprintf(stderr, "outbox-relay replay: %s\n", errstr);
		return EXIT_UNAVAILABLE;
	}
	snprintf(r.replay_id, sizeof(r.replay_id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);

	r.win = ackwin_new((size_t)src->max_in_flight, (size_t)src->max_in_flight_bytes);
	r.enc = encoder_new(cfg, src, errstr, sizeof(errstr));
	if (r.win)
		r.prod = produce_new(cfg, src, r.win, errstr, sizeof(errstr));
	if (!r.win || !r.enc || !r.prod) {
		fprintf(stderr, "outbox-relay replay: %s\n", r.win ? errstr : "out of memory");
		rc = EXIT_UNAVAILABLE;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	fprintf(stderr, "replay %s: %lld events of source \"%s\" (%s)%s%s\n", r.replay_id,
		r.selected, src->name, selection, a->topic ? " to topic " : "",
		a->topic ? a->topic : "");
	start_ms = last_progress = clock_mono_ms();
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE %s AND %s > $%d ORDER BY %s "
		 "LIMIT %lld", sel.select, sel.table, where, sel.order_col, np + 1, sel.order_col,
		 a->batch);
	while (!stop && !interrupted) {
		char last[32];
		int rows;

		snprintf(last, sizeof(last), "%lld", last_id);
		params[np] = last;
		res = PQexecParams(conn, sql, np + 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			db_error(conn, res, "reading the events", errstr, sizeof(errstr));
			fprintf(stderr, "outbox-relay replay: %s\n", errstr);
			rc = EXIT_UNAVAILABLE;
			break;
		}
		rows = PQntuples(res);
		for (int i = 0; i < rows && !stop && !interrupted; i++) {
			struct outbox_event ev;

			poll_event_from(res, i, &ev);
			/* event k leaves no earlier than rate_start + (k - 1) / rate; the clock starts
			 * once the first event is acked, so the producer's own start-up (the broker
			 * handing out its producer id) does not bunch the first events together */
			if (a->rate > 0 && r.sent > 0) {
				long long due;

				if (!rate_start) {
					while (ackwin_in_flight(r.win) > 0 && !interrupted)
						serve(&r, 100);
					rate_start = clock_mono_ms();
				}
				due = rate_start + (r.sent - 1) * 1000 / a->rate;
				while (clock_mono_ms() < due && !interrupted)
					serve(&r, (int)(due - clock_mono_ms()));
			}
			if (send_one(&r, a, &ev) != 0)
				stop = 1;
			last_id = ev.id;
			serve(&r, 0);
			/* a delivery failed: the broker is gone or refuses; stop reading, settle */
			if (ackwin_head_failed(r.win))
				stop = 1;
			if (clock_mono_ms() - last_progress >= 1000) {
				progress(&r, start_ms, 0);
				last_progress = clock_mono_ms();
			}
		}
		PQclear(res);
		if (rows < a->batch)
			break;
	}
	/* wait for every report (the producer's message.timeout.ms bounds it) */
	while (ackwin_in_flight(r.win) > 0)
		serve(&r, 100);
	{
		size_t n;
		char first[256];

		while ((n = ackwin_take_all_acked(r.win, r.ids, TAKE_MAX)) > 0)
			take(&r, n);
		r.failed_delivery = (long long)produce_take_failures(r.prod, first, sizeof(first));
		if (r.failed_delivery)
			fprintf(stderr, "%soutbox-relay replay: %lld events were not acked (first: %s)\n",
				isatty(STDERR_FILENO) ? "\n" : "", r.failed_delivery, first);
	}
	progress(&r, start_ms, 1);
	{
		double secs = (double)(clock_mono_ms() - start_ms) / 1000.0;
		const char *status = interrupted ? "interrupted"
			: (r.failed_delivery || rc || stop) ? "failed"
			: r.failed_encode ? "failed" : "done";

		printf("replay %s %s: %lld selected, %lld sent, %lld acked, %lld failed in %.1f s "
		       "(%.0f events/s)\n", r.replay_id, status, r.selected, r.sent, r.acked,
		       r.failed_encode + r.failed_delivery, secs, secs > 0 ? r.acked / secs : 0.0);
		finish_history(&r, status);
		if (interrupted || r.failed_delivery || rc || stop)
			print_resume(&r, argc, argv);
		if (interrupted)
			rc = EXIT_INTERRUPTED;
		else if (!rc && (r.failed_delivery || stop))
			rc = EXIT_UNAVAILABLE;
		else if (!rc && r.failed_encode)
			rc = EXIT_DATAERR;
	}
out:
	produce_destroy(r.prod);
	encoder_free(r.enc);
	ackwin_destroy(r.win);
	route_result_free(&r.route);
	return rc;
}

int
replay_parse_args(int argc, char **argv, const char *default_config, struct replay_args *a,
		  char *errstr, size_t errstr_size)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "source", required_argument, NULL, 's' },
		{ "from-id", required_argument, NULL, 'f' },
		{ "to-id", required_argument, NULL, 't' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "aggregate-type", required_argument, NULL, 'A' },
		{ "aggregate-id", required_argument, NULL, 'I' },
		{ "event-type", required_argument, NULL, 'E' },
		{ "topic", required_argument, NULL, 'T' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "yes", no_argument, NULL, 'y' },
		{ "history", no_argument, NULL, 'H' },
		{ "dead-lettered", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->config = default_config;
	a->batch = 500;
	optind = 0;	/* a full restart of getopt: see cli.h */
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case 's': a->source = optarg; break;
		case 'f':
			if (parse_count("--from-id", optarg, 0, &a->from_id, errstr, errstr_size) != 0)
				return CLI_PARSE_ERROR;
			a->has_from = 1;
			break;
		case 't':
			if (parse_count("--to-id", optarg, 0, &a->to_id, errstr, errstr_size) != 0)
				return CLI_PARSE_ERROR;
			a->has_to = 1;
			break;
		case 'S': a->since = optarg; break;
		case 'U': a->until = optarg; break;
		case 'A': a->aggregate_type = optarg; break;
		case 'I': a->aggregate_id = optarg; break;
		case 'E': a->event_type = optarg; break;
		case 'T': a->topic = optarg; break;
		case 'n': a->dry_run = 1; break;
		case 'r':
			if (parse_count("--rate", optarg, 1, &a->rate, errstr, errstr_size) != 0)
				return CLI_PARSE_ERROR;
			break;
		case 'b':
			if (parse_count("--batch", optarg, 1, &a->batch, errstr, errstr_size) != 0)
				return CLI_PARSE_ERROR;
			break;
		case 'y': a->yes = 1; break;
		case 'H': a->history = 1; break;
		case 'D': a->dead_lettered = 1; break;
		case 'h': return CLI_PARSE_HELP;
		default:
			snprintf(errstr, errstr_size, "outbox-relay replay: invalid option");
			return CLI_PARSE_USAGE;
		}
	}
	if (optind < argc) {
		snprintf(errstr, errstr_size, "outbox-relay replay: unexpected argument \"%s\"",
			 argv[optind]);
		return CLI_PARSE_ERROR;
	}
	if (a->history)
		return CLI_PARSE_OK;
	if (!a->has_from && !a->has_to && !a->since && !a->until && !a->dead_lettered) {
		snprintf(errstr, errstr_size, "outbox-relay replay: no range: give --from-id/--to-id "
			 "and/or --since/--until");
		return CLI_PARSE_ERROR;
	}
	if (a->has_from && a->has_to && a->from_id > a->to_id) {
		snprintf(errstr, errstr_size, "outbox-relay replay: empty range: --from-id %lld is "
			 "above --to-id %lld", a->from_id, a->to_id);
		return CLI_PARSE_ERROR;
	}
	if (a->since && parse_time(a->since, a->since_us, sizeof(a->since_us)) != 0) {
		snprintf(errstr, errstr_size, "outbox-relay replay: --since \"%s\" is not an ISO-8601 "
			 "date or date-time (e.g. 2026-11-21T10:00:00Z)", a->since);
		return CLI_PARSE_ERROR;
	}
	if (a->until && parse_time(a->until, a->until_us, sizeof(a->until_us)) != 0) {
		snprintf(errstr, errstr_size, "outbox-relay replay: --until \"%s\" is not an ISO-8601 "
			 "date or date-time (e.g. 2026-11-21T10:00:00Z)", a->until);
		return CLI_PARSE_ERROR;
	}
	if (a->since && a->until && strtoll(a->since_us, NULL, 10) >=
	    strtoll(a->until_us, NULL, 10)) {
		snprintf(errstr, errstr_size, "outbox-relay replay: empty range: --since %s is not "
			 "before --until %s", a->since, a->until);
		return CLI_PARSE_ERROR;
	}
	return CLI_PARSE_OK;
}

int
replay_command(int argc, char **argv, struct conf *(*load)(const char *path),
	       const char *default_config)
{
	struct replay_args a;
	const struct conf_source *src = NULL;
	char errstr[1024] = "";
	struct conf *cfg;
	PGconn *conn;
	int rc;

	if ((rc = replay_parse_args(argc, argv, default_config, &a, errstr, sizeof(errstr))) !=
	    CLI_PARSE_OK)
		return cli_finish(rc, errstr, replay_usage());
	if (!(cfg = load(a.config)))
		return EXIT_CONFIG;
	if (!(conn = db_command_connect(cfg, a.source, "replay", &src, &rc))) {
		conf_destroy(cfg);
		return rc;
	}
	{
		/* the side tables' names must fit PostgreSQL's limit (conf checked the table's) */
		char table[DB_QUALIFIED_SIZE], why[256];

		if (db_table_sql(src, "_replays", table, sizeof(table), why, sizeof(why)) != 0 ||
		    (a.dead_lettered && db_table_sql(src, "_dead_letters", table, sizeof(table), why,
						     sizeof(why)) != 0)) {
			fprintf(stderr, "outbox-relay replay: source \"%s\": %s\n", src->name, why);
			PQfinish(conn);
			conf_destroy(cfg);
			return EXIT_CONFIG;
		}
	}
	log_set_level(LOG_LEVEL_WARNING);	/* the command speaks for itself on stderr */
	rc = a.history ? show_history(conn, src) : run_replay(cfg, src, conn, &a, argc, argv);
	PQfinish(conn);
	conf_destroy(cfg);
	return rc;
}
