/*
 * avsc — Avro schemas as outbox-relay understands them: parsed from their .avsc text into a
 * complete model (names and namespaces, aliases, field defaults, logical types), with the
 * Parsing Canonical Form and its CRC-64-AVRO fingerprint.
 *
 * avro-c parses schemas too, but it drops defaults, aliases and logical types and has no
 * canonical form; the relay needs all of them (defaults when encoding, all of them for the
 * compatibility rules, the canonical form for single-object framing). The original text is kept
 * verbatim: it is what gets registered with a schema registry.
 *
 * A parsed schema is a graph: a reference to a named type points at that type's node, so a
 * recursive record refers to itself. Nodes live as long as their schema.
 */
#ifndef OUTBOX_RELAY_AVSC_H
#define OUTBOX_RELAY_AVSC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum avsc_type {
	AVSC_NULL = 0,
	AVSC_BOOLEAN,
	AVSC_INT,
	AVSC_LONG,
	AVSC_FLOAT,
	AVSC_DOUBLE,
	AVSC_BYTES,
	AVSC_STRING,
	AVSC_RECORD,
	AVSC_ENUM,
	AVSC_ARRAY,
	AVSC_MAP,
	AVSC_UNION,
	AVSC_FIXED
};

/*
 * Logical types the relay knows. A logicalType attribute that is unknown, or does not fit its
 * underlying type (a "date" on a string, a "decimal" whose precision is missing), is ignored as
 * the Avro specification says: the node is then its plain underlying type (AVSC_LT_NONE).
 */
enum avsc_logical {
	AVSC_LT_NONE = 0,
	AVSC_LT_DECIMAL,		/* bytes or fixed; precision, scale */
	AVSC_LT_UUID,			/* string */
	AVSC_LT_DATE,			/* int: days since 1970-01-01 */
	AVSC_LT_TIME_MILLIS,		/* int: ms after midnight */
	AVSC_LT_TIME_MICROS,		/* long: us after midnight */
	AVSC_LT_TIMESTAMP_MILLIS,	/* long: ms since the epoch, UTC */
	AVSC_LT_TIMESTAMP_MICROS,	/* long: us since the epoch, UTC */
	AVSC_LT_LOCAL_TIMESTAMP_MILLIS,	/* long: ms, local time (no zone) */
	AVSC_LT_LOCAL_TIMESTAMP_MICROS	/* long: us, local time (no zone) */
};

struct avsc_node;

struct avsc_field {
	char *name;
	struct avsc_node *type;
	json_t *default_value;		/* the "default" JSON value, owned; NULL = none */
	char **aliases;			/* as written */
	size_t n_aliases;
};

struct avsc_node {
	enum avsc_type type;
	enum avsc_logical logical;
	int precision, scale;		/* decimal */

	/* record, enum, fixed */
	char *fullname;			/* "namespace.name", or "name" in the null namespace */
	const char *name;		/* the part of fullname after its last dot */
	char **aliases;			/* full names (resolved against the type's namespace) */
	size_t n_aliases;

	struct avsc_field *fields;	/* record */
	size_t n_fields;
	char **symbols;			/* enum */
	size_t n_symbols;
	const char *enum_default;	/* enum "default" symbol, one of symbols; NULL = none */
	size_t size;			/* fixed */
	struct avsc_node *items;	/* array items, map values */
	struct avsc_node **branches;	/* union */
	size_t n_branches;
};

struct avsc_schema {
	struct avsc_node *root;
	char *text;			/* the original schema text, verbatim, NUL-terminated */
	size_t text_len;
	char *canonical;		/* Parsing Canonical Form, NUL-terminated */
	uint64_t fingerprint;		/* CRC-64-AVRO of canonical */
	void *impl;			/* owns every node */
};

/*
 * Parses and validates schema text (JSON: a type name string, an object or a union array).
 * Returns the schema, or NULL with errstr naming what is wrong and where in the schema
 * (for example: field "customer.address": union has two branches of type string).
 * Checks what the Avro specification requires: valid names, no redefined names, no unknown
 * type names, no duplicate field names or enum symbols, unions without nested unions or two
 * branches of one unnamed type / one name, fixed sizes, and defaults that fit their field's type
 * (for a union, its first branch).
 */
struct avsc_schema *avsc_parse(const char *text, size_t len, char *errstr, size_t errstr_size);

void avsc_free(struct avsc_schema *s);

/* The Avro primitive or complex type's name: "null", "record", ... */
const char *avsc_type_name(enum avsc_type t);

/* CRC-64-AVRO (the Avro specification's Rabin fingerprint) of data. */
uint64_t avsc_crc64(const void *data, size_t len);

/*
 * Whether the JSON value v is a valid default for a field of type t (unions: its first branch).
 * On 0, errstr says why.
 */
int avsc_default_fits(const struct avsc_node *t, const json_t *v, char *errstr, size_t errstr_size);

#endif
