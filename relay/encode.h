/*
 * encode — the pipeline stage between routing and producing: turns a routed event into the
 * record value the source's format asks for, and checks what every event must carry.
 *
 *   format "json":  the payload as written (the row's JSON text);
 *   format "avro":  the payload encoded as Avro binary against the schema of the event's
 *                   (event_type, schema_version) from the source's schema catalog, framed as
 *                   - "confluent": 0x00, the 4-byte big-endian schema id the Schema Registry
 *                     gave for the schema under the subject of the source's strategy, the body;
 *                   - "single-object": C3 01, the 8-byte little-endian CRC-64-AVRO fingerprint
 *                     of the schema's Parsing Canonical Form, the body.
 *
 * Either way a "content-type" header tells consumers the framing: "application/json",
 * "avro/binary; framing=confluent" or "avro/binary; framing=single-object". A tombstone (no
 * payload) stays a tombstone.
 *
 * Schemas, their encoders and registry ids are cached per pipeline for its lifetime: catalog
 * rows are never changed once events use them. An unknown (event_type, version) is not cached,
 * so a version added after the relay started is found.
 */
#ifndef OUTBOX_RELAY_ENCODE_H
#define OUTBOX_RELAY_ENCODE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "conf.h"
#include "event.h"
#include "route.h"

enum encode_result {
	ENCODE_OK = 0,
	ENCODE_POISON,	/* this event cannot be published: the source's on_error applies */
	ENCODE_RETRY	/* something it depends on is unavailable (registry, catalog): end the
			 * session, back off and read the event again */
};

struct encoder;

/* The encoder of source src. NULL with errstr on failure (out of memory, bad registry conf). */
struct encoder *encoder_new(const struct conf *cfg, const struct conf_source *src, char *errstr,
			    size_t errstr_size);

void encoder_free(struct encoder *e);

/*
 * Encodes ev, routed as route (the content-type header is appended to it). conn is the source's
 * database, for catalog reads. On ENCODE_OK *value and *value_len are the record value (NULL for
 * a tombstone), valid until the next call. Otherwise errstr says why, naming the field.
 */
enum encode_result encoder_encode(struct encoder *e, PGconn *conn, const struct outbox_event *ev,
				  struct route_result *route, const void **value,
				  size_t *value_len, char *errstr, size_t errstr_size);

#endif
