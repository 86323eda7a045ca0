/*
 * avenc — encodes an event's JSON payload as Avro binary against one schema version, with
 * avro-c's generic values and writer.
 *
 * The payload is plain JSON, as services write it: a union's value is written as the value itself
 * (null, or the value of one branch), not wrapped in {"type": value}. A field missing from the
 * payload takes the schema's default; a field without a default must be present. A member the
 * schema does not have is an error (the event does not fit its schema; nothing is dropped).
 *
 * Logical types accept what services naturally write: timestamp-millis/micros and
 * local-timestamp-* as ISO-8601 strings ("2026-11-21T10:15:30.123Z", "+02:00" offsets) or epoch
 * numbers; date as "YYYY-MM-DD" or days; time-* as "HH:MM:SS[.ffffff]" or numbers; uuid as its
 * text form (checked); decimal as a JSON number or numeric string, at most `scale` fractional
 * digits and `precision` digits in all. bytes and fixed take the Avro JSON convention: a string
 * whose code points U+0000..U+00FF are the bytes.
 *
 * In detail: a union takes the first branch, in schema order, that the value fits (5 goes to
 * "double" in ["null", "double", "long"]); a default takes the first branch, as the specification
 * says. A decimal given as a string is exact; given as a JSON number it has passed through a
 * double, so it is exact to about 15 significant digits, and an integer beyond 64 bits is not a
 * valid payload at all: write such decimals as strings. Digits past the scale are accepted only
 * when they are zeros (nothing is rounded). A decimal's default in the schema is its bytes, as
 * the specification has it. timestamp-* strings must carry "Z" or an offset and local-timestamp-*
 * strings must not; digits finer than the unit are cut towards the past.
 *
 * An encoder is built once per schema version and reused for every event of it; it is not
 * thread-safe (one per pipeline thread).
 */
#ifndef OUTBOX_RELAY_AVENC_H
#define OUTBOX_RELAY_AVENC_H

#include <stddef.h>

#include "avsc.h"

/* A growable byte buffer; encoding appends to it. */
struct avbuf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

struct avenc;

/*
 * An encoder for schema s (which must outlive it). NULL with errstr if avro-c refuses the schema
 * text.
 * Also NULL, with errstr saying why, for a schema avro-c reads differently from avsc, and for a
 * record that contains itself through record fields alone (it has no finite value, and avro-c
 * would recurse building one).
 */
struct avenc *avenc_new(const struct avsc_schema *s, char *errstr, size_t errstr_size);

void avenc_free(struct avenc *e);

/*
 * Appends the Avro binary encoding of the JSON text json (json_len bytes) to out. Returns 0, or
 * -1 with errstr naming the field path and what is wrong, for example:
 *   field "order.lines[2].price": 12.345 has 3 decimal places, the schema's scale is 2
 *   field "customer": missing, and the schema gives no default
 * out keeps whatever it held before the call either way (a failed call leaves out->len as it was).
 */
int avenc_encode(struct avenc *e, const char *json, size_t json_len, struct avbuf *out,
		 char *errstr, size_t errstr_size);

/* Appends n bytes to b. Returns 0, or -1 when out of memory. */
int avbuf_append(struct avbuf *b, const void *data, size_t n);

void avbuf_free(struct avbuf *b);

#endif
