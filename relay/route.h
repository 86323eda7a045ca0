/*
 * route — the second stage of the pipeline: decides where an event goes and what travels with
 * it. From a captured event it derives the topic (from the source's template), the key (the
 * aggregate id, so one aggregate lands in one partition and stays ordered) and the headers
 * (event_id, event_type, aggregate_type, schema_version, then the row's own headers object).
 *
 * Pure: no I/O, no librdkafka. A row that cannot be routed (empty aggregate id, headers that are
 * not a flat JSON object, a topic name Kafka would refuse) is reported with a message naming the
 * problem; the pipeline applies the source's on_error policy to it.
 */
#ifndef OUTBOX_RELAY_ROUTE_H
#define OUTBOX_RELAY_ROUTE_H

#include <stddef.h>

#include "event.h"

#define ROUTE_TOPIC_MAX 249	/* Kafka's limit on topic names */

struct route_header {
	const char *name;	/* borrowed from the event, a literal, or the parsed headers */
	const char *value;	/* NULL = header with a null value */
	size_t value_len;
	char num[40];		/* storage for numbers and booleans from the headers object */
};

struct route_topic_cache;

/*
 * The routed form of one event. Zeroed before its first use, then reused from event to event (route_result_clear between uses
 * keeps its memory); route_result_free releases it.
 */
struct route_result {
	char topic[ROUTE_TOPIC_MAX + 1];
	struct route_header *headers;
	size_t n_headers;
	size_t cap_headers;
	void *json;		/* parsed headers object (jansson), owned */
	struct route_topic_cache *last;	/* the last topic route_event expanded, and from what:
					 * the next event's are mostly the same; owned */
};

/*
 * Expands a topic template: {aggregate_type}, {event_type}, {source}. Returns 0 and writes the
 * topic into out (ROUTE_TOPIC_MAX + 1 bytes), or -1 with errstr saying what is wrong (an empty
 * placeholder value, an unknown placeholder, a character Kafka does not allow, too long).
 * ev may be NULL when the template only uses {source}.
 */
int route_topic(const char *tmpl, const char *source, const struct outbox_event *ev, char *out,
		char *errstr, size_t errstr_size);

/*
 * Routes ev with the source's topic template. Returns 0 and fills res (whose header strings
 * borrow from ev and from res itself), or -1 with errstr naming the problem.
 */
int route_event(const char *tmpl, const char *source, const struct outbox_event *ev,
		struct route_result *res, char *errstr, size_t errstr_size);

/* Appends a header whose strings outlive res's next clear. Returns 0, or -1 out of memory. */
int route_add_header(struct route_result *res, const char *name, const char *value);

/* The value of header name (NULL when absent or null). */
const char *route_header_value(const struct route_result *res, const char *name);

void route_result_clear(struct route_result *res);
void route_result_free(struct route_result *res);

#endif
