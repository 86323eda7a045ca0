/*
 * fuzz_avenc — fuzz target for the JSON-to-Avro encoder: relay/avenc.c with the modules it
 * stands on, jsonscan.c (the payload), avlogical.c (logical types) and avsc.c (schemas), and
 * compat.c for schemas read from the input (see tests/fuzz/README.md).
 *
 * The first byte of an input picks the mode:
 *   0x00..0xbf  payload mode: the rest is a JSON payload, encoded against embedded schema
 *               (byte % N_SCHEMAS) below, which between them cover every Avro type, nested
 *               records, recursion, unions, every logical type and defaults;
 *   0xc0..0xff  schema mode: the rest is schema text, up to a NUL byte; after the NUL, if
 *               there is one, a payload for that schema.
 * Invariants checked (a broken one aborts):
 *   - an encoding that succeeds appends bytes that avro-c's own reader decodes with the same
 *     schema, using up exactly those bytes; encoding the same payload again gives the same bytes
 *     (an encoder carries nothing from one event to the next);
 *   - a failure says why (a non-empty message) and leaves the buffer as it was;
 *   - a schema that parses has a canonical form whose fingerprint is avsc_crc64 of it, which
 *     parses again into the same canonical form (unless it defines a type in the null
 *     namespace inside a namespaced one, which that form cannot express, see
 *     canonical_form_ambiguous), and is compatible with itself;
 *   - nothing leaks (LeakSanitizer, under libFuzzer and driver.c alike).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "avenc.h"
#include "avsc.h"
#include "compat.h"
#include "fuzz.h"

/* for driver.c: JSON and Avro schema text */
static const char *const tokens[] = {
	"null", "true", "false", "\"\"", "{}", "[]", "\":", "\",\"", "\\u0000", "\\ud83d\\ude00",
	"\\u00ff", "-0", "1e308", "-9223372036854775808", "9223372036854775808", "0.5", "1E-5",
	"\"2026-11-21T10:15:30.123Z\"", "\"2026-02-29\"", "\"23:59:60\"", "+14:00",
	"\"123e4567-e89b-12d3-a456-426614174000\"", "\"type\"", "\"name\"", "\"fields\"",
	"\"record\"", "\"enum\"", "\"array\"", "\"map\"", "\"fixed\"", "\"bytes\"", "\"string\"",
	"\"long\"", "\"int\"", "\"double\"", "\"float\"", "\"boolean\"", "\"items\"", "\"values\"",
	"\"symbols\"", "\"size\"", "\"default\"", "\"aliases\"", "\"namespace\"",
	"\"logicalType\"", "\"decimal\"", "\"precision\"", "\"scale\"", "\"uuid\"", "\"date\"",
	"\"time-millis\"", "\"time-micros\"", "\"timestamp-millis\"", "\"timestamp-micros\"",
	"\"local-timestamp-millis\"", "\"local-timestamp-micros\"", NULL
};

const struct fuzz_hints fuzz_hints = {
	.name = "fuzz_avenc",
	.max_len = 8192,
	.insert_bytes = "{}[]\",:\\0123456789-.eE ", .n_insert_bytes = 24,
	.tag_bytes = "{}[]\",:\\\x00\xc0\xff", .n_tag_bytes = 12,
	.tokens = tokens,
};

#define SCHEMA_MODE 0xc0

static const char *const schemas[] = {
	/* 0: every primitive */
	"{\"type\":\"record\",\"name\":\"Prims\",\"namespace\":\"fuzz\",\"fields\":[{\"nam"
	"e\":\"n\",\"type\":\"null\"},{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"i\",\"t"
	"ype\":\"int\"},{\"name\":\"l\",\"type\":\"long\"},{\"name\":\"f\",\"type\":\"float\"}"
	",{\"name\":\"d\",\"type\":\"double\"},{\"name\":\"s\",\"type\":\"string\"},{\"name\""
	":\"by\",\"type\":\"bytes\"}]}",
	/* 1: nested records, arrays, maps */
	"{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop\",\"fields\":[{\"nam"
	"e\":\"id\",\"type\":\"long\"},{\"name\":\"customer\",\"type\":{\"type\":\"record\","
	"\"name\":\"Customer\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"},{\"name"
	"\":\"address\",\"type\":{\"type\":\"record\",\"name\":\"Address\",\"fields\":[{\"n"
	"ame\":\"city\",\"type\":\"string\"},{\"name\":\"zip\",\"type\":[\"null\",\"string\""
	"],\"default\":null}]}}]}},{\"name\":\"lines\",\"type\":{\"type\":\"array\",\"it"
	"ems\":{\"type\":\"record\",\"name\":\"Line\",\"fields\":[{\"name\":\"sku\",\"type\""
	":\"string\"},{\"name\":\"qty\",\"type\":\"int\"}]}}},{\"name\":\"tags\",\"type\":{"
	"\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"string\"}}},{\"name\":"
	"\"matrix\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":\"d"
	"ouble\"}}},{\"name\":\"ship_to\",\"type\":[\"null\",\"Address\"],\"default\":nu"
	"ll}]}",
	/* 2: unions, enums, fixed */
	"{\"type\":\"record\",\"name\":\"U\",\"fields\":[{\"name\":\"opt\",\"type\":[\"null\""
	",\"string\"]},{\"name\":\"num\",\"type\":[\"null\",\"double\",\"long\"]},{\"name\""
	":\"either\",\"type\":[{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"a"
	"\",\"type\":\"int\"}]},{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"b"
	"\",\"type\":\"string\"}]}]},{\"name\":\"coll\",\"type\":[\"null\",{\"type\":\"arra"
	"y\",\"items\":\"int\"},{\"type\":\"map\",\"values\":\"boolean\"}]},{\"name\":\"col"
	"or\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\",\"GREEN\","
	"\"BLUE\"],\"default\":\"RED\"}},{\"name\":\"hash\",\"type\":{\"type\":\"fixed\",\"n"
	"ame\":\"Hash\",\"size\":4}},{\"name\":\"many\",\"type\":[\"boolean\",\"int\",\"str"
	"ing\",\"bytes\",\"Color\"]}]}",
	/* 3: every logical type */
	"{\"type\":\"record\",\"name\":\"Logical\",\"fields\":[{\"name\":\"price\",\"type\""
	":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,\"scale\":2}"
	"},{\"name\":\"big\",\"type\":{\"type\":\"fixed\",\"name\":\"Dec16\",\"size\":16,\"l"
	"ogicalType\":\"decimal\",\"precision\":38,\"scale\":9}},{\"name\":\"small\",\""
	"type\":{\"type\":\"fixed\",\"name\":\"Dec2\",\"size\":2,\"logicalType\":\"decima"
	"l\",\"precision\":4,\"scale\":0}},{\"name\":\"id\",\"type\":{\"type\":\"string\","
	"\"logicalType\":\"uuid\"}},{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logical"
	"Type\":\"date\"}},{\"name\":\"tm\",\"type\":{\"type\":\"int\",\"logicalType\":\"ti"
	"me-millis\"}},{\"name\":\"tu\",\"type\":{\"type\":\"long\",\"logicalType\":\"tim"
	"e-micros\"}},{\"name\":\"tsm\",\"type\":{\"type\":\"long\",\"logicalType\":\"tim"
	"estamp-millis\"}},{\"name\":\"tsu\",\"type\":{\"type\":\"long\",\"logicalType\""
	":\"timestamp-micros\"}},{\"name\":\"ltm\",\"type\":{\"type\":\"long\",\"logical"
	"Type\":\"local-timestamp-millis\"}},{\"name\":\"ltu\",\"type\":{\"type\":\"lon"
	"g\",\"logicalType\":\"local-timestamp-micros\"}},{\"name\":\"maybe_ts\",\"ty"
	"pe\":[\"null\",{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"},\"stri"
	"ng\"]},{\"name\":\"unknown_lt\",\"type\":{\"type\":\"string\",\"logicalType\":\""
	"no-such-type\"}}]}",
	/* 4: defaults */
	"{\"type\":\"record\",\"name\":\"D\",\"fields\":[{\"name\":\"n\",\"type\":\"long\",\"d"
	"efault\":42},{\"name\":\"s\",\"type\":\"string\",\"default\":\"x\\u00e9\"},{\"nam"
	"e\":\"f\",\"type\":\"double\",\"default\":1},{\"name\":\"fl\",\"type\":\"float\",\"d"
	"efault\":0.5},{\"name\":\"bo\",\"type\":\"boolean\",\"default\":false},{\"name"
	"\":\"b\",\"type\":\"bytes\",\"default\":\"\\u00ff\"},{\"name\":\"u1\",\"type\":[\"nul"
	"l\",\"string\"],\"default\":null},{\"name\":\"u2\",\"type\":[\"string\",\"null\"]"
	",\"default\":\"dflt\"},{\"name\":\"u3\",\"type\":[\"long\",\"string\"],\"default\""
	":5},{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y"
	"\"]},\"default\":\"Y\"},{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int"
	"\"},\"default\":[1,2]},{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":[\"nu"
	"ll\",\"int\"]},\"default\":{\"k\":null}},{\"name\":\"r\",\"type\":{\"type\":\"reco"
	"rd\",\"name\":\"In\",\"fields\":[{\"name\":\"p\",\"type\":\"int\"},{\"name\":\"q\",\"t"
	"ype\":\"string\",\"default\":\"qq\"}]},\"default\":{\"p\":9}},{\"name\":\"ru\",\"t"
	"ype\":[\"In\",\"null\"],\"default\":{\"p\":8,\"q\":\"z\"}},{\"name\":\"fx\",\"type\":"
	"{\"type\":\"fixed\",\"name\":\"F2\",\"size\":2},\"default\":\"\\u0001\\u0002\"},{\""
	"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precis"
	"ion\":6,\"scale\":2},\"default\":\"\\u0004\\u00ce\"},{\"name\":\"ts\",\"type\":{\""
	"type\":\"long\",\"logicalType\":\"timestamp-millis\"},\"default\":0},{\"name"
	"\":\"d\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"},\"default\":1}]}",
	/* 5: recursive record */
	"{\"type\":\"record\",\"name\":\"Node\",\"namespace\":\"list\",\"fields\":[{\"name"
	"\":\"value\",\"type\":\"int\"},{\"name\":\"children\",\"type\":{\"type\":\"array\","
	"\"items\":\"Node\"},\"default\":[]},{\"name\":\"next\",\"type\":[\"null\",\"Node\""
	"],\"default\":null}]}",
	/* 6: top-level array of a union */
	"{\"type\":\"array\",\"items\":[\"null\",\"long\",\"string\",{\"type\":\"record\",\""
	"name\":\"P\",\"fields\":[{\"name\":\"x\",\"type\":\"float\"}]},{\"type\":\"map\",\"v"
	"alues\":\"long\"}]}",
	/* 7: top-level union */
	"[\"null\",\"boolean\",\"int\",\"double\",\"string\",{\"type\":\"enum\",\"name\":\"S"
	"uit\",\"symbols\":[\"S\",\"H\",\"D\",\"C\"]},{\"type\":\"fixed\",\"name\":\"Two\",\"si"
	"ze\":2}]",
	/* 8: top-level map, namespaces, aliases */
	"{\"type\":\"map\",\"values\":{\"type\":\"record\",\"name\":\"a.b.R\",\"aliases\":["
	"\"Old\"],\"fields\":[{\"name\":\"x\",\"type\":{\"type\":\"record\",\"name\":\"S\",\"n"
	"amespace\":\"c\",\"fields\":[{\"name\":\"y\",\"type\":[\"null\",\"a.b.R\"]}]},\"al"
	"iases\":[\"xx\"]},{\"name\":\"z\",\"type\":{\"type\":\"enum\",\"name\":\"Z\",\"symbo"
	"ls\":[\"A\"]}}]}}",
	/* 9: top-level decimal */
	"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":20,\"scale\":5}",
};

#define N_SCHEMAS (sizeof(schemas) / sizeof(*schemas))

/* An encoder with what it takes to read its output back. */
struct target {
	struct avsc_schema *schema;
	struct avenc *enc;
	avro_schema_t avro_schema;
	avro_value_iface_t *iface;
};

static void
target_close(struct target *t)
{
	avenc_free(t->enc);
	avsc_free(t->schema);
	if (t->iface)
		avro_value_iface_decref(t->iface);
	if (t->avro_schema)
		avro_schema_decref(t->avro_schema);
	memset(t, 0, sizeof(*t));
}

/*
 * Opens schema text: 0, or -1 when avsc or avenc refuses it (with a message). A schema avenc
 * takes must be one avro-c reads too: that is avenc_new's promise.
 */
static int
target_open(struct target *t, const char *text, size_t len)
{
	char errstr[512] = "";

	memset(t, 0, sizeof(*t));
	if (!(t->schema = avsc_parse(text, len, errstr, sizeof(errstr)))) {
		FUZZ_CHECK(errstr[0], "avsc_parse failed without a message");
		return -1;
	}
	errstr[0] = '\0';
	if (!(t->enc = avenc_new(t->schema, errstr, sizeof(errstr)))) {
		FUZZ_CHECK(errstr[0], "avenc_new failed without a message");
		target_close(t);
		return -1;
	}
	FUZZ_CHECK(avro_schema_from_json_length(t->schema->text, t->schema->text_len,
						&t->avro_schema) == 0,
		   "avenc took a schema avro-c cannot read");
	FUZZ_CHECK((t->iface = avro_generic_class_from_schema(t->avro_schema)) != NULL,
		   "avro-c has no value class for the schema");
	return 0;
}

/* Whether avro-c reads exactly data[0..len) as one value of t's schema. */
static void
check_decodes(struct target *t, const unsigned char *data, size_t len)
{
	avro_reader_t r = avro_reader_memory((const char *)data, (int64_t)len);
	avro_value_t v;
	size_t size;

	FUZZ_CHECK(r != NULL, "avro_reader_memory");
	FUZZ_CHECK(avro_generic_value_new(t->iface, &v) == 0, "avro_generic_value_new");
	FUZZ_CHECK(avro_value_read(r, &v) == 0, "avro-c cannot read what was encoded");
	FUZZ_CHECK(avro_value_sizeof(&v, &size) == 0 && size == len,
		   "avro-c reads a value of another size than was encoded");
	avro_value_decref(&v);
	avro_reader_free(r);
}

static void
encode(struct target *t, const char *json, size_t len)
{
	static const unsigned char prefix[] = "pre";
	struct avbuf out = { 0 }, again = { 0 };
	char errstr[512] = "";

	/* encoding appends: what the buffer held stays, and a failure leaves it as it was */
	FUZZ_CHECK(avbuf_append(&out, prefix, 3) == 0, "avbuf_append");
	if (avenc_encode(t->enc, json, len, &out, errstr, sizeof(errstr)) != 0) {
		FUZZ_CHECK(errstr[0], "avenc_encode failed without a message");
		FUZZ_CHECK(out.len == 3 && memcmp(out.data, prefix, 3) == 0,
			   "a failed encoding changed the buffer");
		avbuf_free(&out);
		return;
	}
	FUZZ_CHECK(out.len >= 3 && memcmp(out.data, prefix, 3) == 0,
		   "encoding changed what the buffer held");
	check_decodes(t, out.data + 3, out.len - 3);
	FUZZ_CHECK(avenc_encode(t->enc, json, len, &again, errstr, sizeof(errstr)) == 0 &&
		   again.len == out.len - 3 && memcmp(again.data, out.data + 3, again.len) == 0,
		   "the same payload encoded twice gives different bytes");
	avbuf_free(&again);
	avbuf_free(&out);
}

/*
 * Whether the schema defines a named type in the null namespace inside a type with a namespace:
 * {"name":"a.b.R", ... {"type":"record","name":"S","namespace":""}}. Parsing Canonical Form
 * writes full names and drops "namespace", so S comes out as "name":"S", which read again
 * inherits the enclosing "a.b" and becomes a.b.S: the specification's canonical form is not a
 * fixed point for such schemas, and may not even parse (a null-namespace R inside a.b.R reads
 * back as a second a.b.R). Other implementations give the same form and fingerprint, which is
 * what matters for registries. SEEN holds the types already defined (later uses are
 * references, which define nothing).
 */
struct seen {
	const struct avsc_node **nodes;
	size_t n, cap;
};

static int
null_ns_nested(const struct avsc_node *n, int in_namespace, struct seen *seen)
{
	size_t i;

	if (n->fullname) {
		for (i = 0; i < seen->n; i++)
			if (seen->nodes[i] == n)
				return 0;
		if (seen->n == seen->cap) {
			seen->cap = seen->cap ? 2 * seen->cap : 16;
			seen->nodes = realloc(seen->nodes, seen->cap * sizeof(*seen->nodes));
			FUZZ_CHECK(seen->nodes != NULL, "out of memory");
		}
		seen->nodes[seen->n++] = n;
		if (in_namespace && !strchr(n->fullname, '.'))
			return 1;
		in_namespace = strchr(n->fullname, '.') != NULL;
	}
	for (i = 0; i < n->n_fields; i++)
		if (null_ns_nested(n->fields[i].type, in_namespace, seen))
			return 1;
	for (i = 0; i < n->n_branches; i++)
		if (null_ns_nested(n->branches[i], in_namespace, seen))
			return 1;
	return n->items && null_ns_nested(n->items, in_namespace, seen);
}

static int
canonical_form_ambiguous(const struct avsc_schema *s)
{
	struct seen seen = { NULL, 0, 0 };
	int r = null_ns_nested(s->root, 0, &seen);

	free(seen.nodes);
	return r;
}

/* Schema text from the input: its canonical form, fingerprint and compatibility with itself. */
static void
schema_mode(const char *text, size_t len, const char *payload, size_t payload_len, int has_payload)
{
	struct avsc_schema *s, *again;
	struct target t;
	char errstr[512] = "";

	if (!(s = avsc_parse(text, len, errstr, sizeof(errstr)))) {
		FUZZ_CHECK(errstr[0], "avsc_parse failed without a message");
		return;
	}
	FUZZ_CHECK(s->text_len == len && memcmp(s->text, text, len) == 0 && s->text[len] == '\0',
		   "schema text not kept verbatim");
	FUZZ_CHECK(s->canonical && s->canonical[0], "no canonical form");
	FUZZ_CHECK(s->fingerprint == avsc_crc64(s->canonical, strlen(s->canonical)),
		   "fingerprint is not the CRC-64-AVRO of the canonical form");
	again = avsc_parse(s->canonical, strlen(s->canonical), errstr, sizeof(errstr));
	if (!canonical_form_ambiguous(s)) {
		if (!again)
			fprintf(stderr, "fuzz_avenc: canonical form %s does not parse: %s\n",
				s->canonical, errstr);
		FUZZ_CHECK(again != NULL, "the canonical form does not parse");
		FUZZ_CHECK(strcmp(again->canonical, s->canonical) == 0,
			   "the canonical form of the canonical form differs");
	}
	if (again)
		avsc_free(again);
	errstr[0] = '\0';
	if (compat_can_read(s, s, errstr, sizeof(errstr)) != 1)
		fprintf(stderr, "fuzz_avenc: %s cannot read itself: %s\n", s->text, errstr);
	FUZZ_CHECK(compat_can_read(s, s, errstr, sizeof(errstr)) == 1,
		   "a schema is not compatible with itself");
	avsc_free(s);

	if (target_open(&t, text, len) != 0)
		return;
	if (has_payload)
		encode(&t, payload, payload_len);
	target_close(&t);
}

/* The embedded schemas, opened at the first input and closed at exit. */
static struct target targets[N_SCHEMAS];

/*
 * At exit, before LeakSanitizer looks: avro-c keeps pointers to what it allocates where LSan
 * does not see them, so an encoder still open at exit would be reported as a leak.
 */
static void
close_targets(void)
{
	for (size_t i = 0; i < N_SCHEMAS; i++)
		target_close(&targets[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int opened;
	const char *text = (const char *)data + 1, *nul;
	size_t len = size ? size - 1 : 0;

	if (size == 0)
		return 0;
	if (data[0] >= SCHEMA_MODE) {
		/* a heap copy of exactly the schema's size, so ASan sees a read past its end */
		size_t slen = (nul = memchr(text, '\0', len)) ? (size_t)(nul - text) : len;
		char *copy = malloc(len ? len : 1);

		if (!copy)
			return 0;
		memcpy(copy, text, len);
		schema_mode(copy, slen, copy + slen + (nul != NULL), len - slen - (nul != NULL),
			    nul != NULL);
		free(copy);
		return 0;
	}
	if (!opened) {
		for (size_t i = 0; i < N_SCHEMAS; i++)
			if (target_open(&targets[i], schemas[i], strlen(schemas[i])) != 0) {
				fprintf(stderr, "fuzz_avenc: embedded schema %zu refused\n", i);
				abort();
			}
		opened = 1;
		atexit(close_targets);
	}
	{
		char *copy = malloc(len ? len : 1);

		if (!copy)
			return 0;
		memcpy(copy, text, len);
		encode(&targets[data[0] % N_SCHEMAS], copy, len);
		free(copy);
	}
	return 0;
}
