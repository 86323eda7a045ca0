/*
 * event — one outbox event as captured from the source, before routing.
 *
 * Strings are borrowed from whatever the capture holds (a PGresult in poll mode); an event is
 * only valid until the capture's next batch. NULL means the column is absent or SQL NULL.
 */
#ifndef OUTBOX_RELAY_EVENT_H
#define OUTBOX_RELAY_EVENT_H

#include <stddef.h>

struct outbox_event {
	long long id;
	const char *event_id;
	const char *aggregate_type;
	const char *aggregate_id;
	const char *event_type;
	const char *schema_version;
	const char *payload;		/* NULL = tombstone (Kafka null value) */
	size_t payload_len;
	const char *headers;		/* JSON text of the row's extra headers */
	long long created_at_ms;	/* 0 = unknown: the broker stamps the record */
	unsigned long long lsn;		/* logical mode: where the event is in the WAL; poll: 0 */
	const char *invalid;		/* why the capture could not read the event (a bad message
					 * envelope): routing refuses it with this reason */
};

#endif
