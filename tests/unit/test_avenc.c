/*
 * test_avenc — unit tests of the avenc module (JSON payloads to Avro binary) and of the text
 * forms of logical types it takes (avlogical)
 *
 * Every case is a round trip: the payload is encoded, the binary is read back with avro-c's own
 * reader into a generic value of the same schema, and that value (as avro-c prints it, or its
 * bytes for bytes, fixed and decimals) is compared with what the payload meant; the read must use
 * up exactly the bytes written. Cases cover every primitive, records nested in records and
 * arrays, enums, maps, unions (first branch that fits, two records, null-or-string), defaults
 * (plain, record, union, nested), every logical type from strings and from numbers, and one
 * message per failure class with the path of the field in it. A failed call must leave the
 * output buffer as it was, and one encoder must carry nothing from one event to the next.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cmocka.h>
#include <jansson.h>

#include "avenc.h"
#include "avlogical.h"
#include "avsc.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A record R with one field "v" of the given type (JSON text). */
#define R1(type) "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"v\",\"type\":" type "}]}"
#define DEC_BYTES(p, s) \
	"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":" #p ",\"scale\":" #s "}"
#define DEC_FIXED(size, p, s) \
	"{\"type\":\"fixed\",\"name\":\"F" #size "\",\"size\":" #size \
	",\"logicalType\":\"decimal\",\"precision\":" #p ",\"scale\":" #s "}"
#define LOGICAL(type, lt) "{\"type\":\"" type "\",\"logicalType\":\"" lt "\"}"

/* ---- helpers ----------------------------------------------------------------------------- */

struct enc {
	struct avsc_schema *schema;
	struct avenc *enc;
	avro_schema_t avro_schema;	/* for reading back */
	avro_value_iface_t *iface;
};

static void
enc_open(struct enc *t, const char *schema)
{
	char errstr[512];

	t->schema = avsc_parse(schema, strlen(schema), errstr, sizeof(errstr));
	if (!t->schema)
		fail_msg("avsc_parse(%s): %s", schema, errstr);
	t->enc = avenc_new(t->schema, errstr, sizeof(errstr));
	if (!t->enc)
		fail_msg("avenc_new(%s): %s", schema, errstr);
	assert_int_equal(avro_schema_from_json_length(schema, strlen(schema), &t->avro_schema), 0);
	t->iface = avro_generic_class_from_schema(t->avro_schema);
	assert_non_null(t->iface);
}

static void
enc_close(struct enc *t)
{
	avenc_free(t->enc);
	avsc_free(t->schema);
	avro_value_iface_decref(t->iface);
	avro_schema_decref(t->avro_schema);
}

/* Reads data (exactly len bytes) into a new value *v of the schema; the caller decrefs it. */
static void
decode(struct enc *t, const unsigned char *data, size_t len, avro_value_t *v)
{
	avro_reader_t r = avro_reader_memory((const char *)data, (int64_t)len);
	size_t size;

	assert_non_null(r);
	assert_int_equal(avro_generic_value_new(t->iface, v), 0);
	if (avro_value_read(r, v) != 0)
		fail_msg("avro-c cannot read what was written: %s", avro_strerror());
	avro_reader_free(r);
	assert_int_equal(avro_value_sizeof(v, &size), 0);
	assert_int_equal(size, len);
}

/* Whether avro-c's JSON text of v means the same JSON as want. */
static void
check_json(avro_value_t *v, const char *want, const char *what)
{
	char *got_text;
	json_t *got, *exp;
	json_error_t jerr;

	assert_int_equal(avro_value_to_json(v, 1, &got_text), 0);
	got = json_loads(got_text, JSON_DECODE_ANY, &jerr);
	exp = json_loads(want, JSON_DECODE_ANY, &jerr);
	if (!exp)
		fail_msg("%s: bad expected JSON %s: %s", what, want, jerr.text);
	if (!got || !json_equal(got, exp))
		fail_msg("%s: decoded %s, want %s", what, got_text, want);
	json_decref(got);
	json_decref(exp);
	free(got_text);
}

/* Encodes payload into a fresh buffer; fails the test with the error if it does not encode. */
static void
encode_ok(struct enc *t, const char *payload, struct avbuf *out)
{
	char errstr[512] = "";

	if (avenc_encode(t->enc, payload, strlen(payload), out, errstr, sizeof(errstr)) != 0)
		fail_msg("%s: %s", payload, errstr);
}

/* schema + payload must decode to what avro-c prints as want. */
static void
round_trip(const char *schema, const char *payload, const char *want)
{
	struct enc t;
	struct avbuf out = { 0 };
	avro_value_t v;

	enc_open(&t, schema);
	encode_ok(&t, payload, &out);
	decode(&t, out.data, out.len, &v);
	check_json(&v, want, payload);
	avro_value_decref(&v);
	avbuf_free(&out);
	enc_close(&t);
}

/* schema + payload must fail with exactly the message want, appending nothing. */
static void
encode_fails(const char *schema, const char *payload, const char *want)
{
	struct enc t;
	struct avbuf out = { 0 };
	char errstr[512] = "";

	enc_open(&t, schema);
	if (avenc_encode(t.enc, payload, strlen(payload), &out, errstr, sizeof(errstr)) == 0)
		fail_msg("%s: encoded, want \"%s\"", payload, want);
	if (strcmp(errstr, want) != 0)
		fail_msg("%s:\n   got %s\n  want %s", payload, errstr, want);
	assert_int_equal(out.len, 0);
	avbuf_free(&out);
	enc_close(&t);
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

/* ---- one value of each type -------------------------------------------------------------- */

/* R1(type) with {"v": value} decodes to {"v": want} (want NULL: value itself). */
static const struct {
	const char *type, *value, *want;
} value_cases[] = {
	{ "\"null\"", "null", NULL },
	{ "\"boolean\"", "true", NULL },
	{ "\"boolean\"", "false", NULL },
	{ "\"int\"", "0", NULL },
	{ "\"int\"", "-2147483648", NULL },
	{ "\"int\"", "2147483647", NULL },
	{ "\"long\"", "9223372036854775807", NULL },
	{ "\"long\"", "-9223372036854775808", NULL },
	{ "\"float\"", "1.5", NULL },
	{ "\"float\"", "-3", "-3.0" },
	{ "\"float\"", "3.4e38", "3.3999999521443642e38" },
	{ "\"double\"", "0.1", NULL },
	{ "\"double\"", "12", "12.0" },
	{ "\"double\"", "-1e-300", NULL },
	{ "\"string\"", "\"\"", NULL },
	{ "\"string\"", "\"h\\u00e9llo \\u4e16\\ud83d\\ude00 \\\"q\\\"\"", NULL },
	{ "\"bytes\"", "\"ab\\u00ff\"", NULL },
	{ "\"bytes\"", "\"\"", NULL },
	{ "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}", "\"C\"", NULL },
	{ "{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}", "\"x\\u0080y\"", NULL },
	{ "{\"type\":\"array\",\"items\":\"long\"}", "[1, -2, 3]", NULL },
	{ "{\"type\":\"array\",\"items\":\"long\"}", "[]", NULL },
	{ "{\"type\":\"map\",\"values\":\"int\"}", "{\"a\": 1, \"\": 2, \"c d\": 3}", NULL },
	{ "{\"type\":\"map\",\"values\":\"int\"}", "{}", NULL },
	{ "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"string\"}}",
	  "{\"a\": [\"x\", \"y\"], \"b\": []}", NULL },
	{ "{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":\"boolean\"}}",
	  "[[true], [], [false, true]]", NULL },
	/* unions: the value itself, the first branch it fits */
	{ "[\"null\",\"string\"]", "null", NULL },
	{ "[\"null\",\"string\"]", "\"x\"", "{\"string\": \"x\"}" },
	{ "[\"string\",\"null\"]", "null", NULL },
	{ "[\"int\",\"long\"]", "7", "{\"int\": 7}" },
	{ "[\"int\",\"long\"]", "2147483648", "{\"long\": 2147483648}" },
	{ "[\"null\",\"double\",\"long\"]", "5", "{\"double\": 5.0}" },
	{ "[\"null\",\"long\",\"double\"]", "5", "{\"long\": 5}" },
	{ "[\"null\",\"long\",\"double\"]", "5.5", "{\"double\": 5.5}" },
	{ "[\"boolean\",\"string\"]", "false", "{\"boolean\": false}" },
	{ "[{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]},\"string\"]", "\"A\"",
	  "{\"E\": \"A\"}" },
	{ "[{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]},\"string\"]", "\"B\"",
	  "{\"string\": \"B\"}" },
	{ "[\"null\"," LOGICAL("long", "timestamp-millis") ",\"string\"]", "\"not a time\"",
	  "{\"string\": \"not a time\"}" },
	{ "[\"null\"," LOGICAL("long", "timestamp-millis") ",\"string\"]",
	  "\"1970-01-01T00:00:01Z\"", "{\"long\": 1000}" },
	{ "[\"null\",{\"type\":\"map\",\"values\":\"int\"}]", "{\"k\": 1}",
	  "{\"map\": {\"k\": 1}}" },
	{ "[\"null\",{\"type\":\"array\",\"items\":[\"null\",\"int\"]}]", "[1, null]",
	  "{\"array\": [{\"int\": 1}, null]}" },
	{ "[\"null\"," DEC_BYTES(4, 1) ",\"double\"]", "1.5", "{\"bytes\": \"\\u000f\"}" },
	{ "[\"null\"," DEC_BYTES(4, 1) ",\"double\"]", "1.25", "{\"double\": 1.25}" },
};

static void
test_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(value_cases); i++) {
		char schema[1024], payload[512], want[512];

		snprintf(schema, sizeof(schema), R1("%s"), value_cases[i].type);
		snprintf(payload, sizeof(payload), "{\"v\": %s}", value_cases[i].value);
		snprintf(want, sizeof(want), "{\"v\": %s}",
			 value_cases[i].want ? value_cases[i].want : value_cases[i].value);
		round_trip(schema, payload, want);
	}
}

/* The exact bytes, where avro-c's JSON printer would hide them (it stops at a NUL). */
static void
test_binary(void **state)
{
	static const struct {
		const char *schema, *payload, *hex;
	} cases[] = {
		{ R1("\"int\""), "{\"v\": -1}", "01" },
		{ R1("\"long\""), "{\"v\": 64}", "8001" },
		{ R1("\"bytes\""), "{\"v\": \"\\u0000\\u00ff\\u0001\"}", "0600ff01" },
		{ R1("{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}"), "{\"v\": \"\\u0000\\u0000\"}",
		  "0000" },
		{ R1("\"string\""), "{\"v\": \"a\\u0000b\"}", "06610062" },
		{ R1("[\"null\",\"string\"]"), "{\"v\": \"\"}", "0200" },
		{ "\"string\"", "\"root\"", "08726f6f74" },
		{ "{\"type\":\"array\",\"items\":\"int\"}", "[1,2]", "04020400" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct enc t;
		struct avbuf out = { 0 };
		avro_value_t v;
		char got[256];

		enc_open(&t, cases[i].schema);
		encode_ok(&t, cases[i].payload, &out);
		hex(out.data, out.len, got);
		if (strcmp(got, cases[i].hex) != 0)
			fail_msg("%s: %s, want %s", cases[i].payload, got, cases[i].hex);
		decode(&t, out.data, out.len, &v);
		avro_value_decref(&v);
		avbuf_free(&out);
		enc_close(&t);
	}
}

/* ---- records, nesting, unions of records ------------------------------------------------- */

#define ORDER_SCHEMA \
	"{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop\",\"aliases\":[\"Ord\"]," \
	"\"doc\":\"an order\",\"fields\":[" \
	"{\"name\":\"id\",\"type\":\"long\",\"doc\":\"the id\",\"aliases\":[\"order_id\"]}," \
	"{\"name\":\"customer\",\"type\":{\"type\":\"record\",\"name\":\"Customer\",\"fields\":[" \
	"  {\"name\":\"name\",\"type\":\"string\"}," \
	"  {\"name\":\"address\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Address\"," \
	"    \"fields\":[{\"name\":\"city\",\"type\":\"string\"}," \
	"                {\"name\":\"zip\",\"type\":[\"null\",\"string\"],\"default\":null}]}]}]}}," \
	"{\"name\":\"lines\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\"," \
	"  \"name\":\"Line\",\"fields\":[{\"name\":\"sku\",\"type\":\"string\"}," \
	"  {\"name\":\"qty\",\"type\":\"int\"}," \
	"  {\"name\":\"price\",\"type\":" DEC_BYTES(10, 2) "}]}}}," \
	"{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"Status\"," \
	"  \"symbols\":[\"NEW\",\"PAID\",\"SHIPPED\"],\"default\":\"NEW\"}}," \
	"{\"name\":\"attrs\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{}}," \
	"{\"name\":\"billing\",\"type\":[\"null\",\"Address\"],\"default\":null}]}"

static void
test_nested_records(void **state)
{
	(void)state;
	round_trip(ORDER_SCHEMA,
		   "{\"id\": 7, \"customer\": {\"name\": \"Ann\", \"address\": {\"city\": \"Oslo\","
		   " \"zip\": \"0150\"}}, \"lines\": [{\"sku\": \"a\", \"qty\": 2, \"price\": \"0.99\"},"
		   " {\"sku\": \"b\", \"qty\": 1, \"price\": 1}], \"status\": \"PAID\","
		   " \"attrs\": {\"gift\": \"yes\"}, \"billing\": {\"city\": \"Bergen\"}}",
		   "{\"id\": 7, \"customer\": {\"name\": \"Ann\", \"address\": {\"Address\":"
		   " {\"city\": \"Oslo\", \"zip\": {\"string\": \"0150\"}}}},"
		   " \"lines\": [{\"sku\": \"a\", \"qty\": 2, \"price\": \"c\"},"
		   " {\"sku\": \"b\", \"qty\": 1, \"price\": \"d\"}], \"status\": \"PAID\","
		   " \"attrs\": {\"gift\": \"yes\"}, \"billing\": {\"Address\": {\"city\": \"Bergen\","
		   " \"zip\": null}}}");
	/* members in any order; defaults for attrs and billing */
	round_trip(ORDER_SCHEMA,
		   "{\"status\": \"NEW\", \"lines\": [], \"customer\": {\"address\": null,"
		   " \"name\": \"\"}, \"id\": -1}",
		   "{\"id\": -1, \"customer\": {\"name\": \"\", \"address\": null}, \"lines\": [],"
		   " \"status\": \"NEW\", \"attrs\": {}, \"billing\": null}");
}

#define TWO_RECORDS \
	R1("[\"null\"," \
	   "{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}," \
	   "  {\"name\":\"opt\",\"type\":\"string\",\"default\":\"-\"}]}," \
	   "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}," \
	   "  {\"name\":\"c\",\"type\":\"int\"}]}," \
	   "{\"type\":\"map\",\"values\":\"string\"}]")

static void
test_union_of_records(void **state)
{
	(void)state;
	round_trip(TWO_RECORDS, "{\"v\": {\"a\": 1}}",
		   "{\"v\": {\"A\": {\"a\": 1, \"opt\": \"-\"}}}");
	round_trip(TWO_RECORDS, "{\"v\": {\"a\": 1, \"opt\": \"x\"}}",
		   "{\"v\": {\"A\": {\"a\": 1, \"opt\": \"x\"}}}");
	/* A has no "c": B takes it */
	round_trip(TWO_RECORDS, "{\"v\": {\"a\": 1, \"c\": 2}}",
		   "{\"v\": {\"B\": {\"a\": 1, \"c\": 2}}}");
	/* neither record: the map */
	round_trip(TWO_RECORDS, "{\"v\": {\"x\": \"y\"}}", "{\"v\": {\"map\": {\"x\": \"y\"}}}");
	round_trip(TWO_RECORDS, "{\"v\": null}", "{\"v\": null}");
}

/* A record that refers to itself: avro-c's link values. */
static void
test_recursive(void **state)
{
	(void)state;
	round_trip("{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},"
		   "{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null}]}",
		   "{\"v\": 1, \"next\": {\"v\": 2, \"next\": {\"v\": 3}}}",
		   "{\"v\": 1, \"next\": {\"Node\": {\"v\": 2, \"next\": {\"Node\": {\"v\": 3,"
		   " \"next\": null}}}}}");
}

/*
 * Deep payloads: refused with a message, never by running out of stack. 10,000 levels of JSON
 * (jsonb takes that many) stop at the scanner's JSONSCAN_MAX_DEPTH; records nested deeper than
 * the encoder's limit of 1024 stop there; 1,000 records deep encode.
 */
static char *
nested_nodes(size_t depth)
{
	size_t n = depth * 22 + 16, len = 0;
	char *p = malloc(n);

	assert_non_null(p);
	for (size_t i = 0; i < depth; i++)
		len += (size_t)snprintf(p + len, n - len, "{\"v\": 1, \"next\": ");
	len += (size_t)snprintf(p + len, n - len, "null");
	for (size_t i = 0; i < depth; i++)
		p[len++] = '}';
	p[len] = '\0';
	return p;
}

static void
test_deep_payload(void **state)
{
	static const char *const node =
		"{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},"
		"{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null}]}";
	static const struct {
		size_t depth;
		const char *error;	/* NULL: encodes */
	} cases[] = {
		{ 1000, NULL },
		{ 1100, "records nested more than 1024 deep" },
		{ 10000, "maximum parsing depth reached" },
	};
	struct enc t;

	(void)state;
	enc_open(&t, node);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *payload = nested_nodes(cases[i].depth), errstr[512] = "";
		struct avbuf out = { 0 };
		int rc = avenc_encode(t.enc, payload, strlen(payload), &out, errstr, sizeof(errstr));

		if (!cases[i].error && rc != 0)
			fail_msg("%zu deep: %s", cases[i].depth, errstr);
		if (cases[i].error && (rc == 0 || !strstr(errstr, cases[i].error)))
			fail_msg("%zu deep: \"%s\", want \"%s\"", cases[i].depth, errstr, cases[i].error);
		avbuf_free(&out);
		free(payload);
	}
	/* 10,000 arrays deep against an array schema: the scanner's limit as well */
	{
		size_t depth = 10000;
		char *payload = malloc(2 * depth + 1), errstr[512] = "";
		struct avbuf out = { 0 };
		struct enc a;

		assert_non_null(payload);
		memset(payload, '[', depth);
		memset(payload + depth, ']', depth);
		payload[2 * depth] = '\0';
		enc_open(&a, "{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":\"string\"}}");
		assert_int_not_equal(avenc_encode(a.enc, payload, 2 * depth, &out, errstr, sizeof(errstr)), 0);
		assert_non_null(strstr(errstr, "maximum parsing depth reached"));
		avbuf_free(&out);
		enc_close(&a);
		free(payload);
	}
	enc_close(&t);
}

/* ---- defaults ---------------------------------------------------------------------------- */

#define DEFAULTS_SCHEMA \
	"{\"type\":\"record\",\"name\":\"D\",\"fields\":[" \
	"{\"name\":\"id\",\"type\":\"int\"}," \
	"{\"name\":\"n\",\"type\":\"long\",\"default\":42}," \
	"{\"name\":\"s\",\"type\":\"string\",\"default\":\"x\\u00e9\"}," \
	"{\"name\":\"f\",\"type\":\"double\",\"default\":1}," \
	"{\"name\":\"b\",\"type\":\"bytes\",\"default\":\"\\u00ff\"}," \
	"{\"name\":\"u1\",\"type\":[\"null\",\"string\"],\"default\":null}," \
	"{\"name\":\"u2\",\"type\":[\"string\",\"null\"],\"default\":\"dflt\"}," \
	"{\"name\":\"u3\",\"type\":[\"long\",\"string\"],\"default\":5}," \
	"{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]}," \
	"  \"default\":\"Y\"}," \
	"{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"},\"default\":[1,2]}," \
	"{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":[\"null\",\"int\"]}," \
	"  \"default\":{\"k\":null}}," \
	"{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":[" \
	"  {\"name\":\"p\",\"type\":\"int\"},{\"name\":\"q\",\"type\":\"string\",\"default\":\"qq\"}]}," \
	"  \"default\":{\"p\":9}}," \
	"{\"name\":\"ru\",\"type\":[\"In\",\"null\"],\"default\":{\"p\":8,\"q\":\"z\",\"extra\":1}}," \
	"{\"name\":\"ts\",\"type\":" LOGICAL("long", "timestamp-millis") ",\"default\":0}," \
	"{\"name\":\"d\",\"type\":" LOGICAL("int", "date") ",\"default\":1}]}"

static void
test_defaults(void **state)
{
	(void)state;
	round_trip(DEFAULTS_SCHEMA, "{\"id\": 1}",
		   "{\"id\": 1, \"n\": 42, \"s\": \"x\\u00e9\", \"f\": 1.0, \"b\": \"\\u00ff\","
		   " \"u1\": null, \"u2\": {\"string\": \"dflt\"}, \"u3\": {\"long\": 5},"
		   " \"e\": \"Y\", \"a\": [1, 2], \"m\": {\"k\": null},"
		   " \"r\": {\"p\": 9, \"q\": \"qq\"}, \"ru\": {\"In\": {\"p\": 8, \"q\": \"z\"}},"
		   " \"ts\": 0, \"d\": 1}");
	/* given members win over defaults; null is a value, not a missing member */
	round_trip(DEFAULTS_SCHEMA,
		   "{\"id\": 1, \"n\": 1, \"u2\": null, \"u3\": \"s\", \"a\": [], \"r\": {\"p\": 0},"
		   " \"ru\": null}",
		   "{\"id\": 1, \"n\": 1, \"s\": \"x\\u00e9\", \"f\": 1.0, \"b\": \"\\u00ff\","
		   " \"u1\": null, \"u2\": null, \"u3\": {\"string\": \"s\"},"
		   " \"e\": \"Y\", \"a\": [], \"m\": {\"k\": null},"
		   " \"r\": {\"p\": 0, \"q\": \"qq\"}, \"ru\": null, \"ts\": 0, \"d\": 1}");
}

/* A decimal's default is its bytes (the Avro JSON convention), a payload's is its number. */
static void
test_decimal_default(void **state)
{
	static const char schema[] =
		"{\"type\":\"record\",\"name\":\"R\",\"fields\":["
		"{\"name\":\"b\",\"type\":" DEC_BYTES(6, 2) ",\"default\":\"\\u0004\\u00ce\"},"
		"{\"name\":\"f\",\"type\":" DEC_FIXED(2, 4, 2) ",\"default\":\"\\u00fb2\"}]}";
	struct enc t;
	struct avbuf out = { 0 };
	char got[64];

	(void)state;
	enc_open(&t, schema);
	encode_ok(&t, "{}", &out);
	hex(out.data, out.len, got);
	assert_string_equal(got, "0404ce" "fb32");	/* 12.30, -12.30 */
	out.len = 0;
	encode_ok(&t, "{\"b\": \"12.3\", \"f\": \"-12.3\"}", &out);
	hex(out.data, out.len, got);
	assert_string_equal(got, "0404ce" "fb32");
	avbuf_free(&out);
	enc_close(&t);
}

/* ---- logical types ----------------------------------------------------------------------- */

#define TS_MS LOGICAL("long", "timestamp-millis")
#define TS_US LOGICAL("long", "timestamp-micros")
#define LTS_MS LOGICAL("long", "local-timestamp-millis")
#define LTS_US LOGICAL("long", "local-timestamp-micros")
#define DATE LOGICAL("int", "date")
#define TIME_MS LOGICAL("int", "time-millis")
#define TIME_US LOGICAL("long", "time-micros")
#define UUID LOGICAL("string", "uuid")

static const struct {
	const char *type, *value, *want;
} logical_cases[] = {
	{ TS_MS, "\"2026-11-21T10:15:30.123Z\"", "1795256130123" },
	{ TS_MS, "\"2026-11-21T10:15:30.123+02:00\"", "1795248930123" },
	{ TS_MS, "\"2026-11-21T10:15:30.123-0530\"", "1795275930123" },
	{ TS_MS, "\"2026-11-21 10:15:30.123+00:00\"", "1795256130123" },
	{ TS_MS, "\"2026-11-21t10:15:30.1230z\"", "1795256130123" },
	{ TS_MS, "\"2026-11-21T10:15:30Z\"", "1795256130000" },
	{ TS_MS, "\"2026-11-21T10:15:30.123456789Z\"", "1795256130123" },
	{ TS_MS, "\"1970-01-01T00:00:00Z\"", "0" },
	{ TS_MS, "\"1970-01-01T01:00:00+01:00\"", "0" },
	{ TS_MS, "\"1969-12-31T23:59:59.9995Z\"", "-1" },	/* cut towards the past */
	{ TS_MS, "\"2024-02-29T00:00:00Z\"", "1709164800000" },
	{ TS_MS, "\"0001-01-01T00:00:00Z\"", "-62135596800000" },
	{ TS_MS, "\"9999-12-31T23:59:59.999999Z\"", "253402300799999" },
	{ TS_MS, "1795256130123", NULL },
	{ TS_MS, "-5", NULL },
	{ TS_US, "\"2026-11-21T10:15:30.123456789+02:00\"", "1795248930123456" },
	{ TS_US, "\"9999-12-31T23:59:59.999999Z\"", "253402300799999999" },
	{ TS_US, "\"1969-12-31T23:59:59.9999995Z\"", "-1" },
	{ TS_US, "1795256130123000", NULL },
	{ LTS_MS, "\"2026-11-21T10:15:30.5\"", "1795256130500" },
	{ LTS_MS, "\"2026-11-21 10:15:30\"", "1795256130000" },
	{ LTS_US, "\"2026-11-21T10:15:30.000001\"", "1795256130000001" },
	{ LTS_US, "12", NULL },
	{ DATE, "\"2026-11-21\"", "20778" },
	{ DATE, "\"1970-01-01\"", "0" },
	{ DATE, "\"1969-12-31\"", "-1" },
	{ DATE, "\"2000-02-29\"", "11016" },
	{ DATE, "20778", NULL },
	{ DATE, "-2147483648", NULL },
	{ TIME_MS, "\"10:15:30.5\"", "36930500" },
	{ TIME_MS, "\"00:00:00\"", "0" },
	{ TIME_MS, "\"23:59:59.999999\"", "86399999" },
	{ TIME_MS, "86399999", NULL },
	{ TIME_US, "\"23:59:59.999999\"", "86399999999" },
	{ TIME_US, "\"12:00:00.000000001\"", "43200000000" },
	{ TIME_US, "0", NULL },
	{ UUID, "\"0b9c2f4e-3f7a-4c55-9a55-6a1d1e0d9b01\"", NULL },
	{ UUID, "\"0B9C2F4E-3F7A-4C55-9A55-6A1D1E0D9B01\"", NULL },
	{ "[\"null\"," TS_MS "]", "\"1970-01-01T00:00:00.001Z\"", "{\"long\": 1}" },
	{ "[\"null\"," DATE "]", "\"1970-01-02\"", "{\"int\": 1}" },
	{ "[\"null\"," UUID "]", "\"00000000-0000-0000-0000-000000000000\"",
	  "{\"string\": \"00000000-0000-0000-0000-000000000000\"}" },
};

static void
test_logical(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(logical_cases); i++) {
		char schema[512], payload[256], want[256];

		snprintf(schema, sizeof(schema), R1("%s"), logical_cases[i].type);
		snprintf(payload, sizeof(payload), "{\"v\": %s}", logical_cases[i].value);
		snprintf(want, sizeof(want), "{\"v\": %s}",
			 logical_cases[i].want ? logical_cases[i].want : logical_cases[i].value);
		round_trip(schema, payload, want);
	}
}

/* R1(type) with {"v": value}: the decimal's bytes (bytes or fixed) in hexadecimal. */
static const struct {
	const char *type, *value, *hex;
} decimal_cases[] = {
	{ DEC_BYTES(10, 2), "\"12.30\"", "04ce" },
	{ DEC_BYTES(10, 2), "\"-12.30\"", "fb32" },
	{ DEC_BYTES(10, 2), "\"12.3\"", "04ce" },
	{ DEC_BYTES(10, 2), "12.3", "04ce" },
	{ DEC_BYTES(10, 2), "-12.3", "fb32" },
	{ DEC_BYTES(10, 2), "5", "01f4" },
	{ DEC_BYTES(10, 2), "0", "00" },
	{ DEC_BYTES(10, 2), "\"-0.00\"", "00" },
	{ DEC_BYTES(10, 2), "0.0", "00" },
	{ DEC_BYTES(10, 2), "\"1.27\"", "7f" },
	{ DEC_BYTES(10, 2), "\"1.28\"", "0080" },
	{ DEC_BYTES(10, 2), "\"-1.28\"", "80" },
	{ DEC_BYTES(10, 2), "\"-1.29\"", "ff7f" },
	{ DEC_BYTES(10, 2), "\"1e3\"", "0186a0" },
	{ DEC_BYTES(10, 2), "\"1.5E-1\"", "0f" },
	{ DEC_BYTES(10, 2), "\"12.300\"", "04ce" },	/* zeros past the scale lose nothing */
	{ DEC_BYTES(10, 2), "\".5\"", "32" },
	{ DEC_BYTES(10, 2), "\"+7\"", "02bc" },
	{ DEC_BYTES(10, 2), "\"5.\"", "01f4" },
	{ DEC_BYTES(10, 2), "0.1", "0a" },
	{ DEC_BYTES(10, 2), "99999999.99", "02540be3ff" },
	{ DEC_BYTES(10, 0), "1e9", "3b9aca00" },
	{ DEC_BYTES(3, 3), "\"0.999\"", "03e7" },
	{ DEC_BYTES(38, 0), "\"99999999999999999999999999999999999999\"",
	  "4b3b4ca85a86c47a098a223fffffffff" },
	{ DEC_BYTES(38, 0), "\"-99999999999999999999999999999999999999\"",
	  "b4c4b357a5793b85f675ddc000000001" },
	{ DEC_BYTES(38, 10), "\"-0.0000000001\"", "ff" },
	{ DEC_FIXED(4, 6, 2), "\"1.5\"", "00000096" },
	{ DEC_FIXED(4, 6, 2), "\"-0.01\"", "ffffffff" },
	{ DEC_FIXED(4, 6, 2), "\"-1.28\"", "ffffff80" },
	{ DEC_FIXED(4, 6, 2), "\"9999.99\"", "000f423f" },
	{ DEC_FIXED(4, 6, 2), "-9999.99", "fff0bdc1" },
	{ DEC_FIXED(4, 6, 2), "0", "00000000" },
	{ DEC_FIXED(16, 38, 0), "-1", "ffffffffffffffffffffffffffffffff" },
	{ DEC_FIXED(16, 38, 0), "\"99999999999999999999999999999999999999\"",
	  "4b3b4ca85a86c47a098a223fffffffff" },
};

static void
test_decimal(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(decimal_cases); i++) {
		char schema[512], payload[256], got[128];
		struct enc t;
		struct avbuf out = { 0 };
		avro_value_t v, field;
		const void *b;
		size_t n;

		snprintf(schema, sizeof(schema), R1("%s"), decimal_cases[i].type);
		snprintf(payload, sizeof(payload), "{\"v\": %s}", decimal_cases[i].value);
		enc_open(&t, schema);
		encode_ok(&t, payload, &out);
		decode(&t, out.data, out.len, &v);
		assert_int_equal(avro_value_get_by_index(&v, 0, &field, NULL), 0);
		if (strstr(decimal_cases[i].type, "fixed"))
			assert_int_equal(avro_value_get_fixed(&field, &b, &n), 0);
		else
			assert_int_equal(avro_value_get_bytes(&field, &b, &n), 0);
		hex(b, n, got);
		if (strcmp(got, decimal_cases[i].hex) != 0)
			fail_msg("%s as %s: %s, want %s", decimal_cases[i].value,
				 decimal_cases[i].type, got, decimal_cases[i].hex);
		avro_value_decref(&v);
		avbuf_free(&out);
		enc_close(&t);
	}
}

/* ---- errors ------------------------------------------------------------------------------ */

/* R1(type) with {"v": value} fails with exactly this message. */
static const struct {
	const char *type, *value, *error;
} error_cases[] = {
	/* wrong JSON kind */
	{ "\"null\"", "0", "field \"v\": expected null, got 0" },
	{ "\"boolean\"", "\"true\"", "field \"v\": expected boolean, got \"true\"" },
	{ "\"int\"", "1.0", "field \"v\": expected int, got 1.0" },
	{ "\"int\"", "\"1\"", "field \"v\": expected int, got \"1\"" },
	{ "\"long\"", "1.5", "field \"v\": expected long, got 1.5" },
	{ "\"long\"", "null", "field \"v\": expected long, got null" },
	{ "\"double\"", "\"1\"", "field \"v\": expected double, got \"1\"" },
	{ "\"string\"", "12", "field \"v\": expected string, got 12" },
	{ "\"string\"", "[]", "field \"v\": expected string, got an array" },
	{ "\"bytes\"", "{}", "field \"v\": expected bytes, got an object" },
	{ "{\"type\":\"array\",\"items\":\"int\"}", "{}",
	  "field \"v\": expected array, got an object" },
	{ "{\"type\":\"map\",\"values\":\"int\"}", "[]", "field \"v\": expected map, got an array" },
	{ "{\"type\":\"record\",\"name\":\"In\",\"fields\":[]}", "\"x\"",
	  "field \"v\": expected record \"In\", got \"x\"" },
	{ "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", "0",
	  "field \"v\": expected enum \"E\", got 0" },
	{ "\"int\"", "\"0123456789012345678901234567890123456789-and-more\"",
	  "field \"v\": expected int, got \"0123456789012345678901234567890123456789...\"" },
	{ "\"int\"", "\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	  "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"",
	  "field \"v\": expected int, got \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	  "\xc3\xa9\xc3\xa9...\"" },	/* cut between characters */
	{ "\"string\"", "{\"a\\nb\": 1}", "field \"v\": expected string, got an object" },
	/* ranges */
	{ "\"int\"", "2147483648", "field \"v\": 2147483648 is out of range for int" },
	{ "\"int\"", "-2147483649", "field \"v\": -2147483649 is out of range for int" },
	{ "\"float\"", "3.5e38", "field \"v\": 3.5e+38 is out of range for float" },
	/* enum, fixed, bytes */
	{ "{\"type\":\"enum\",\"name\":\"n.E\",\"symbols\":[\"A\",\"B\"]}", "\"a\"",
	  "field \"v\": \"a\" is not a symbol of enum \"n.E\"" },
	{ "{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}", "\"abc\"",
	  "field \"v\": 3 bytes, but fixed \"F\" has 4" },
	{ "{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}", "\"\\u00ff\\u00ff\\u00ff\"",
	  "field \"v\": 3 bytes, but fixed \"F\" has 2" },
	{ "\"bytes\"", "\"ab\\u0100\"",
	  "field \"v\": character U+0100 at byte 2 is not a byte (bytes is written as a string "
	  "of U+0000..U+00FF)" },
	{ "{\"type\":\"fixed\",\"name\":\"F\",\"size\":1}", "\"\\ud83d\\ude00\"",
	  "field \"v\": character U+1F600 at byte 0 is not a byte (fixed is written as a string "
	  "of U+0000..U+00FF)" },
	/* logical types */
	{ TS_MS, "\"2026-11-21T10:15:30\"",
	  "field \"v\": \"2026-11-21T10:15:30\" has no time zone offset; timestamp-millis needs Z "
	  "or +HH:MM" },
	{ LTS_US, "\"2026-11-21T10:15:30Z\"",
	  "field \"v\": \"2026-11-21T10:15:30Z\" has a time zone offset; local-timestamp-micros is "
	  "a local date-time without one" },
	{ TS_US, "\"2026-02-29T00:00:00Z\"",
	  "field \"v\": \"2026-02-29T00:00:00Z\" is not an ISO-8601 date-time "
	  "(YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM))" },
	{ TS_MS, "\"2026-11-21T24:00:00Z\"",
	  "field \"v\": \"2026-11-21T24:00:00Z\" is not an ISO-8601 date-time "
	  "(YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM))" },
	{ TS_MS, "\"2026-11-21T10:15:30.1234567890Z\"",
	  "field \"v\": \"2026-11-21T10:15:30.1234567890Z\" is not an ISO-8601 date-time "
	  "(YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM))" },
	{ LTS_MS, "\"2026-11-21\"",
	  "field \"v\": \"2026-11-21\" is not an ISO-8601 date-time "
	  "(YYYY-MM-DDTHH:MM:SS[.fraction])" },
	{ TS_MS, "1.5", "field \"v\": expected timestamp-millis, got 1.5" },
	{ DATE, "\"2026-13-01\"", "field \"v\": \"2026-13-01\" is not a date (YYYY-MM-DD)" },
	{ DATE, "\"2026-11-21T00:00:00Z\"",
	  "field \"v\": \"2026-11-21T00:00:00Z\" is not a date (YYYY-MM-DD)" },
	{ DATE, "2147483648", "field \"v\": 2147483648 is out of range for int" },
	{ TIME_MS, "\"10:15\"",
	  "field \"v\": \"10:15\" is not a time of day (HH:MM:SS[.fraction])" },
	{ TIME_MS, "\"10:15:60\"",
	  "field \"v\": \"10:15:60\" is not a time of day (HH:MM:SS[.fraction])" },
	{ TIME_MS, "86400000",
	  "field \"v\": 86400000 is not a time of day in milliseconds (0..86399999)" },
	{ TIME_US, "-1",
	  "field \"v\": -1 is not a time of day in microseconds (0..86399999999)" },
	{ TIME_US, "\"10:15:00+01:00\"",
	  "field \"v\": \"10:15:00+01:00\" is not a time of day (HH:MM:SS[.fraction])" },
	{ UUID, "\"0b9c2f4e3f7a4c559a556a1d1e0d9b01\"",
	  "field \"v\": \"0b9c2f4e3f7a4c559a556a1d1e0d9b01\" is not a UUID (8-4-4-4-12 "
	  "hexadecimal digits)" },
	{ UUID, "\"0b9c2f4e-3f7a-4c55-9a55-6a1d1e0d9b0g\"",
	  "field \"v\": \"0b9c2f4e-3f7a-4c55-9a55-6a1d1e0d9b0g\" is not a UUID (8-4-4-4-12 "
	  "hexadecimal digits)" },
	/* decimals */
	{ DEC_BYTES(10, 2), "12.345",
	  "field \"v\": 12.345 has 3 decimal places, the schema's scale is 2" },
	{ DEC_BYTES(10, 2), "\"-12.345\"",
	  "field \"v\": \"-12.345\" has 3 decimal places, the schema's scale is 2" },
	{ DEC_BYTES(10, 2), "\"1.2e-5\"",
	  "field \"v\": \"1.2e-5\" has 6 decimal places, the schema's scale is 2" },
	{ DEC_BYTES(10, 0), "0.5", "field \"v\": 0.5 has 1 decimal places, the schema's scale is 0" },
	{ DEC_BYTES(4, 2), "\"123.45\"",
	  "field \"v\": \"123.45\" has 5 digits at scale 2, the schema's precision is 4" },
	{ DEC_BYTES(4, 2), "100",
	  "field \"v\": 100 has 5 digits at scale 2, the schema's precision is 4" },
	{ DEC_BYTES(4, 2), "\"1e3\"",
	  "field \"v\": \"1e3\" has 6 digits at scale 2, the schema's precision is 4" },
	{ DEC_FIXED(4, 6, 2), "1.005",
	  "field \"v\": 1.005 has 3 decimal places, the schema's scale is 2" },
	{ DEC_FIXED(4, 6, 2), "\"-0.001\"",
	  "field \"v\": \"-0.001\" has 3 decimal places, the schema's scale is 2" },
	{ DEC_FIXED(4, 6, 2), "\"10000\"",
	  "field \"v\": \"10000\" has 7 digits at scale 2, the schema's precision is 6" },
	{ DEC_BYTES(10, 2), "\"abc\"", "field \"v\": \"abc\" is not a decimal number" },
	{ DEC_BYTES(10, 2), "\"\"", "field \"v\": \"\" is not a decimal number" },
	{ DEC_BYTES(10, 2), "\"1.2.3\"", "field \"v\": \"1.2.3\" is not a decimal number" },
	{ DEC_BYTES(10, 2), "\"1e\"", "field \"v\": \"1e\" is not a decimal number" },
	{ DEC_BYTES(10, 2), "\"--1\"", "field \"v\": \"--1\" is not a decimal number" },
	{ DEC_BYTES(10, 2), "\" 1\"", "field \"v\": \" 1\" is not a decimal number" },
	{ DEC_BYTES(10, 2), "\"0x10\"", "field \"v\": \"0x10\" is not a decimal number" },
	{ DEC_BYTES(10, 2), "\".\"", "field \"v\": \".\" is not a decimal number" },
	{ DEC_BYTES(10, 2), "true", "field \"v\": expected decimal(10,2), got true" },
	{ DEC_FIXED(4, 6, 2), "[]", "field \"v\": expected decimal(6,2), got an array" },
	/* unions */
	{ "[\"null\",\"string\"]", "5", "field \"v\": expected one of [null, string], got 5" },
	{ "[\"null\",{\"type\":\"record\",\"name\":\"A\",\"fields\":[]},\"long\"]", "true",
	  "field \"v\": expected one of [null, record \"A\", long], got true" },
	{ "[\"null\",\"int\"]", "3000000000", "field \"v\": 3000000000 is out of range for int" },
	{ "[\"null\"," TS_MS "]", "\"yesterday\"",
	  "field \"v\": \"yesterday\" is not an ISO-8601 date-time "
	  "(YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM))" },
	{ "[\"null\",{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]},"
	  "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"b\",\"type\":\"int\"}]}]",
	  "{\"c\": 1}",
	  "field \"v\": fits no branch of the union [null, record \"A\", record \"B\"]; as record "
	  "\"A\": field \"v.a\": missing, and the schema gives no default" },
	{ "[{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]},"
	  "{\"type\":\"fixed\",\"name\":\"F\",\"size\":1}]", "\"xy\"",
	  "field \"v\": fits no branch of the union [enum \"E\", fixed \"F\"]; as enum \"E\": "
	  "field \"v\": \"xy\" is not a symbol of enum \"E\"" },
};

static void
test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		char schema[1024], payload[256];

		snprintf(schema, sizeof(schema), R1("%s"), error_cases[i].type);
		snprintf(payload, sizeof(payload), "{\"v\": %s}", error_cases[i].value);
		encode_fails(schema, payload, error_cases[i].error);
	}
}

/* Paths through records, arrays and maps; the payload itself; what is missing or extra. */
static void
test_error_paths(void **state)
{
	static const struct {
		const char *schema, *payload, *error;
	} cases[] = {
		{ ORDER_SCHEMA,
		  "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null}, \"status\": \"NEW\","
		  " \"lines\": [{\"sku\": \"a\", \"qty\": 1, \"price\": 1},"
		  " {\"sku\": \"b\", \"qty\": 1, \"price\": 2}, {\"sku\": \"c\", \"qty\": 1,"
		  " \"price\": 12.345}]}",
		  "field \"lines[2].price\": 12.345 has 3 decimal places, the schema's scale is 2" },
		{ ORDER_SCHEMA, "{\"id\": 1, \"lines\": [], \"status\": \"NEW\"}",
		  "field \"customer\": missing, and the schema gives no default" },
		{ ORDER_SCHEMA,
		  "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": {\"zip\": null}},"
		  " \"lines\": [], \"status\": \"NEW\"}",
		  "field \"customer.address.city\": missing, and the schema gives no default" },
		{ ORDER_SCHEMA,
		  "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null}, \"lines\": [],"
		  " \"status\": \"NEW\", \"note\": \"hi\"}",
		  "field \"note\": not in the schema" },
		{ ORDER_SCHEMA,
		  "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null, \"age\": 3},"
		  " \"lines\": [], \"status\": \"NEW\"}",
		  "field \"customer.age\": not in the schema" },
		{ ORDER_SCHEMA,
		  "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null}, \"lines\": [],"
		  " \"status\": \"NEW\", \"attrs\": {\"ok\": \"1\", \"k\": 2}}",
		  "field \"attrs[\\\"k\\\"]\": expected string, got 2" },
		{ ORDER_SCHEMA,
		  "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null}, \"lines\": [],"
		  " \"status\": \"NEW\", \"attrs\": {\"a\\\"b\": null}}",
		  "field \"attrs[\\\"a\\\\\\\"b\\\"]\": expected string, got null" },
		{ ORDER_SCHEMA, "[]", "payload: expected record \"shop.Order\", got an array" },
		{ ORDER_SCHEMA, "null", "payload: expected record \"shop.Order\", got null" },
		{ "{\"type\":\"array\",\"items\":\"int\"}", "[1, \"2\"]",
		  "field \"[1]\": expected int, got \"2\"" },
		{ "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"int\"}}",
		  "{\"m\": [1, 2, null]}", "field \"[\\\"m\\\"][2]\": expected int, got null" },
		{ "\"long\"", "\"x\"", "payload: expected long, got \"x\"" },
		{ "[\"null\",\"long\"]", "\"x\"", "payload: expected one of [null, long], got \"x\"" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		encode_fails(cases[i].schema, cases[i].payload, cases[i].error);
}

/* Not JSON, or JSON the relay will not guess about. */
static void
test_invalid_json(void **state)
{
	static const struct {
		const char *payload, *error;
	} cases[] = {
		{ "", "payload is not valid JSON: " },
		{ "{\"v\": 1", "payload is not valid JSON: " },
		{ "{\"v\": 1}}", "payload is not valid JSON: " },
		{ "{\"v\": tru}", "at line 1 column" },
		{ "{\n\"v\": 1,\n\"v\": 2}", "duplicate object key" },
		{ "{\"v\": 1e999999}", "payload is not valid JSON: " },
		{ "{\"v\": 99999999999999999999}", "payload is not valid JSON: " },
		{ "{\"a\\u0000b\": 1}", "NUL byte in object key" },
	};
	struct enc t;
	char errstr[512];
	struct avbuf out = { 0 };

	(void)state;
	enc_open(&t, R1("\"double\""));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		errstr[0] = '\0';
		assert_int_equal(avenc_encode(t.enc, cases[i].payload, strlen(cases[i].payload),
					      &out, errstr, sizeof(errstr)), -1);
		if (!strstr(errstr, cases[i].error) || strncmp(errstr, "payload is not valid JSON: ",
							       27) != 0)
			fail_msg("%s: \"%s\" not in \"%s\"", cases[i].payload, cases[i].error, errstr);
	}
	/* no payload at all */
	assert_int_equal(avenc_encode(t.enc, NULL, 0, &out, errstr, sizeof(errstr)), -1);
	assert_memory_equal(errstr, "payload is not valid JSON: ", 27);
	assert_int_equal(out.len, 0);
	/* json_len is the end, not a NUL */
	assert_int_equal(avenc_encode(t.enc, "{\"v\": 1}garbage", 8, &out, errstr, sizeof(errstr)), 0);
	assert_int_equal(out.len, 8);
	avbuf_free(&out);
	enc_close(&t);
}

/*
 * A key given twice anywhere makes the payload invalid JSON, even where the schema would have
 * failed first; keys are compared unescaped, for fields and for map keys alike.
 */
static void
test_duplicates_and_escaped_keys(void **state)
{
	static const struct {
		const char *payload, *error;	/* error NULL: must encode */
	} cases[] = {
		{ "{\"id\": \"x\", \"customer\": {\"name\": \"A\", \"name\": \"B\", \"address\": null},"
		  " \"lines\": [], \"status\": \"NEW\"}", "duplicate object key near '\"name\"'" },
		{ "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null}, \"lines\": [],"
		  " \"status\": \"LOST\", \"attrs\": {\"k\": \"1\", \"\\u006b\": \"2\"}}",
		  "duplicate object key near '\"\\u006b\"'" },
		{ "{\"id\": 1, \"note\": 1, \"note\": 2}", "duplicate object key" },
		{ "{\"\\u0069d\": 1, \"customer\": {\"n\\u0061me\": \"A\", \"address\": null},"
		  " \"lines\": [], \"st\\u0061tus\": \"NEW\", \"attrs\": {\"\\u00e9\\n\": \"x\"}}", NULL },
		{ "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null}, \"lines\": [],"
		  " \"status\": \"NEW\", \"n\\u00f8te\": 1}", "field \"n\xc3\xb8te\": not in the schema" },
	};
	struct enc t;
	struct avbuf out = { 0 };
	char errstr[512];

	(void)state;
	enc_open(&t, ORDER_SCHEMA);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = avenc_encode(t.enc, cases[i].payload, strlen(cases[i].payload), &out,
				      errstr, sizeof(errstr));

		if (!cases[i].error) {
			if (rc != 0)
				fail_msg("%s: %s", cases[i].payload, errstr);
			continue;
		}
		assert_int_equal(rc, -1);
		if (!strstr(errstr, cases[i].error))
			fail_msg("%s: \"%s\" not in \"%s\"", cases[i].payload, cases[i].error, errstr);
	}
	avbuf_free(&out);
	enc_close(&t);
}

/* A default that does not fit is avsc's to refuse; the encoder still says whose it was. */
static void
test_error_in_default(void **state)
{
	(void)state;
	encode_fails(R1("{\"type\":\"record\",\"name\":\"In\",\"fields\":["
			"{\"name\":\"ts\",\"type\":" TS_MS ",\"default\":-1},"
			"{\"name\":\"t\",\"type\":" TIME_MS ",\"default\":86400000}]}"),
		     "{\"v\": {}}",
		     "field \"v.t\": 86400000 is not a time of day in milliseconds (0..86399999) "
		     "(in the schema's default for \"v.t\")");
}

/* A record whose default holds itself would recurse for ever: it stops, with a message. */
static void
test_runaway_default(void **state)
{
	static const char schema[] =
		"{\"type\":\"record\",\"name\":\"N\",\"fields\":["
		"{\"name\":\"next\",\"type\":[\"N\",\"null\"],\"default\":{}}]}";
	struct enc t;
	struct avbuf out = { 0 };
	char errstr[2048];

	(void)state;
	enc_open(&t, schema);
	assert_int_equal(avenc_encode(t.enc, "{\"next\": null}", 14, &out, errstr, sizeof(errstr)),
			 0);
	out.len = 0;
	assert_int_equal(avenc_encode(t.enc, "{}", 2, &out, errstr, sizeof(errstr)), -1);
	assert_memory_equal(errstr, "field \"next.next.next.", 22);
	assert_non_null(strstr(errstr, "\": records nested more than 1024 deep (in the schema's "
				"default for \"next"));
	assert_int_equal(out.len, 0);
	avbuf_free(&out);
	enc_close(&t);
}

/* ---- buffers and reuse ------------------------------------------------------------------- */

static void
test_out_unchanged_on_failure(void **state)
{
	struct enc t;
	struct avbuf out = { 0 };
	char errstr[256];
	unsigned char before[300];
	avro_value_t v;
	const char *late = "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null},"
			   " \"lines\": [{\"sku\": \"a\", \"qty\": 1, \"price\": 1}],"
			   " \"status\": \"LOST\"}";

	(void)state;
	enc_open(&t, ORDER_SCHEMA);
	for (size_t i = 0; i < sizeof(before); i++)
		before[i] = (unsigned char)(i * 7);
	assert_int_equal(avbuf_append(&out, before, sizeof(before)), 0);
	/* not JSON: the payload without its last "}" */
	assert_int_equal(avenc_encode(t.enc, late, strlen(late) - 1, &out, errstr, sizeof(errstr)),
			 -1);
	assert_memory_equal(errstr, "payload is not valid JSON: ", 27);
	assert_int_equal(out.len, sizeof(before));
	/* failing late: the lines are in the avro value already when status fails */
	assert_int_equal(avenc_encode(t.enc, late, strlen(late), &out, errstr, sizeof(errstr)), -1);
	assert_string_equal(errstr, "field \"status\": \"LOST\" is not a symbol of enum "
			    "\"shop.Status\"");
	assert_int_equal(out.len, sizeof(before));
	assert_memory_equal(out.data, before, sizeof(before));

	/* a success appends after what was there */
	encode_ok(&t, "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null}, \"lines\": [],"
		  " \"status\": \"NEW\"}", &out);
	assert_true(out.len > sizeof(before));
	assert_memory_equal(out.data, before, sizeof(before));
	decode(&t, out.data + sizeof(before), out.len - sizeof(before), &v);
	avro_value_decref(&v);
	avbuf_free(&out);
	avbuf_free(&out);	/* twice is harmless */
	enc_close(&t);
}

static void
test_avbuf(void **state)
{
	struct avbuf b = { 0 };
	unsigned char chunk[1000];

	(void)state;
	memset(chunk, 0xab, sizeof(chunk));
	assert_int_equal(avbuf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(avbuf_append(&b, chunk, (size_t)i * 7 % sizeof(chunk)), 0);
	assert_true(b.cap >= b.len);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], 0xab);
	avbuf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

/*
 * One encoder, many events: arrays, maps, strings, unions and bytes of one event must not show
 * in the next, including after an event that failed half-way through.
 */
static void
test_reuse(void **state)
{
	static const char schema[] =
		"{\"type\":\"record\",\"name\":\"R\",\"fields\":["
		"{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
		"{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"long\"},\"default\":{}},"
		"{\"name\":\"u\",\"type\":[\"null\",\"string\",{\"type\":\"array\",\"items\":\"int\"}],"
		"  \"default\":null},"
		"{\"name\":\"s\",\"type\":\"string\"},"
		"{\"name\":\"b\",\"type\":\"bytes\",\"default\":\"\"}]}";
	static const struct {
		const char *payload, *want;	/* want NULL: must fail */
	} events[] = {
		{ "{\"a\": [\"x\", \"y\", \"z\"], \"m\": {\"k1\": 1, \"k2\": 2}, \"u\": [1, 2, 3],"
		  " \"s\": \"a long string value\", \"b\": \"abcdef\"}",
		  "{\"a\": [\"x\", \"y\", \"z\"], \"m\": {\"k1\": 1, \"k2\": 2},"
		  " \"u\": {\"array\": [1, 2, 3]}, \"s\": \"a long string value\", \"b\": \"abcdef\"}" },
		{ "{\"a\": [\"q\"], \"u\": [4], \"s\": \"s\"}",
		  "{\"a\": [\"q\"], \"m\": {}, \"u\": {\"array\": [4]}, \"s\": \"s\", \"b\": \"\"}" },
		{ "{\"a\": [\"1\", \"2\", \"3\", \"4\"], \"m\": {\"x\": 1, \"y\": 2}, \"u\": [5, 6, \"7\"],"
		  " \"s\": \"never\"}", NULL },
		{ "{\"a\": [], \"m\": {\"k2\": 5}, \"s\": \"\"}",
		  "{\"a\": [], \"m\": {\"k2\": 5}, \"u\": null, \"s\": \"\", \"b\": \"\"}" },
		{ "{\"a\": [\"x\", \"y\", \"z\", \"w\", \"v\"], \"m\": {\"zz\": 3}, \"u\": \"str\","
		  " \"s\": \"v\", \"b\": \"B\"}",
		  "{\"a\": [\"x\", \"y\", \"z\", \"w\", \"v\"], \"m\": {\"zz\": 3},"
		  " \"u\": {\"string\": \"str\"}, \"s\": \"v\", \"b\": \"B\"}" },
		{ "{\"a\": [\"x\"], \"u\": \"str\", \"s\": \"t\", \"b\": \"\\u0100\"}", NULL },
		{ "{\"a\": [\"r\"], \"u\": \"str2\", \"s\": \"t\"}",
		  "{\"a\": [\"r\"], \"m\": {}, \"u\": {\"string\": \"str2\"}, \"s\": \"t\", \"b\": \"\"}" },
	};
	struct enc t;
	struct avbuf out = { 0 };
	char errstr[256];

	(void)state;
	enc_open(&t, schema);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
			avro_value_t v;
			size_t before = out.len;
			int rc = avenc_encode(t.enc, events[i].payload, strlen(events[i].payload), &out,
					      errstr, sizeof(errstr));

			if (!events[i].want) {
				assert_int_equal(rc, -1);
				assert_int_equal(out.len, before);
				continue;
			}
			if (rc != 0)
				fail_msg("%s: %s", events[i].payload, errstr);
			decode(&t, out.data + before, out.len - before, &v);
			check_json(&v, events[i].want, events[i].payload);
			avro_value_decref(&v);
		}
	}
	avbuf_free(&out);
	enc_close(&t);
}

/* ---- schemas and avro-c ------------------------------------------------------------------ */

/* What avro-c must accept, and what it refuses although the schema is valid. */
static void
test_schemas(void **state)
{
	static const struct {
		const char *schema, *payload, *error;	/* error NULL: must encode */
	} cases[] = {
		/* logical types, defaults, aliases, docs, order, namespaces, references */
		{ ORDER_SCHEMA, "{\"id\": 1, \"customer\": {\"name\": \"A\", \"address\": null},"
		  " \"lines\": [], \"status\": \"NEW\"}", NULL },
		{ DEFAULTS_SCHEMA, "{\"id\": 1}", NULL },
		{ "{\"type\":\"record\",\"name\":\"a.b.R\",\"fields\":["
		  "{\"name\":\"x\",\"type\":{\"type\":\"record\",\"name\":\"S\",\"namespace\":\"c\","
		  "  \"fields\":[]},\"order\":\"descending\"},"
		  "{\"name\":\"y\",\"type\":\"c.S\"},"
		  "{\"name\":\"z\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],"
		  "  \"aliases\":[\"OldE\"]}},"
		  "{\"name\":\"w\",\"type\":\"a.b.E\"}]}",
		  "{\"x\": {}, \"y\": {}, \"z\": \"A\", \"w\": \"A\"}", NULL },
		{ "{\"type\":\"string\",\"logicalType\":\"no-such-type\"}", "\"x\"", NULL },
		{ "{\"type\":\"int\",\"logicalType\":\"timestamp-millis\"}", "5", NULL },
		{ "[\"null\",\"string\"]", "\"x\"", NULL },
		{ "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}", "{}", NULL },
		/* a record that must contain itself has no value to encode (avro-c would recurse) */
		{ "{\"type\":\"record\",\"name\":\"a.N\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},"
		  "{\"name\":\"m\",\"type\":{\"type\":\"record\",\"name\":\"M\",\"fields\":["
		  "  {\"name\":\"back\",\"type\":\"N\"}]}}]}", NULL,
		  "record \"a.N\" contains itself through field \"back\" with no union, array or map "
		  "between, so it has no finite value" },
		{ "{\"type\":\"record\",\"name\":\"N\",\"fields\":["
		  "{\"name\":\"l\",\"type\":{\"type\":\"array\",\"items\":\"N\"}},"
		  "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"N\"}},"
		  "{\"name\":\"u\",\"type\":[\"null\",\"N\"]}]}",
		  "{\"l\": [{\"l\": [], \"m\": {}, \"u\": null}], \"m\": {}, \"u\": {\"l\": [], \"m\": {},"
		  " \"u\": null}}", NULL },
		/* valid Avro that avro-c 1.11 refuses */
		{ "{\"type\":\"record\",\"name\":\"a.R\",\"fields\":["
		  "{\"name\":\"s\",\"type\":{\"type\":\"record\",\"name\":\"S\",\"namespace\":\"\","
		  "  \"fields\":[]}},{\"name\":\"t\",\"type\":\"S\"}]}", NULL,
		  "avro-c cannot use this schema: Unknown Avro \"type\": S" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char errstr[512] = "";
		struct avsc_schema *s = avsc_parse(cases[i].schema, strlen(cases[i].schema), errstr,
						   sizeof(errstr));
		struct avenc *e;
		struct avbuf out = { 0 };

		if (!s)
			fail_msg("avsc_parse(%s): %s", cases[i].schema, errstr);
		e = avenc_new(s, errstr, sizeof(errstr));
		if (cases[i].error) {
			assert_null(e);
			assert_string_equal(errstr, cases[i].error);
		} else {
			if (!e)
				fail_msg("avenc_new(%s): %s", cases[i].schema, errstr);
			if (avenc_encode(e, cases[i].payload, strlen(cases[i].payload), &out, errstr,
					 sizeof(errstr)) != 0)
				fail_msg("%s: %s", cases[i].payload, errstr);
		}
		avbuf_free(&out);
		avenc_free(e);
		avsc_free(s);
	}
	avenc_free(NULL);
}

/* An empty record writes nothing, into an empty buffer. */
static void
test_empty_encoding(void **state)
{
	struct enc t;
	struct avbuf out = { 0 };

	(void)state;
	enc_open(&t, "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}");
	encode_ok(&t, "{}", &out);
	assert_int_equal(out.len, 0);
	encode_ok(&t, " { } ", &out);
	assert_int_equal(out.len, 0);
	avbuf_free(&out);
	enc_close(&t);
}

/* ---- avlogical directly ------------------------------------------------------------------ */

static void
test_days_from_civil(void **state)
{
	int64_t days = avlogical_days_from_civil(1, 1, 1);

	(void)state;
	assert_int_equal(avlogical_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(avlogical_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(avlogical_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(avlogical_days_from_civil(1600, 1, 1), -135140);
	/* every day from 0001-01-01 to 9999-12-31 follows the one before */
	for (int64_t y = 1; y <= 9999; y++)
		for (unsigned m = 1; m <= 12; m++) {
			unsigned n = m == 2 ? ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28) :
				     m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31;

			for (unsigned d = 1; d <= n; d++)
				if (avlogical_days_from_civil(y, m, d) != days++)
					fail_msg("%04d-%02u-%02u", (int)y, m, d);
		}
	assert_int_equal(days - 1, avlogical_days_from_civil(9999, 12, 31));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_nested_records),
		cmocka_unit_test(test_union_of_records),
		cmocka_unit_test(test_recursive),
		cmocka_unit_test(test_deep_payload),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_decimal_default),
		cmocka_unit_test(test_logical),
		cmocka_unit_test(test_decimal),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_paths),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_duplicates_and_escaped_keys),
		cmocka_unit_test(test_error_in_default),
		cmocka_unit_test(test_runaway_default),
		cmocka_unit_test(test_out_unchanged_on_failure),
		cmocka_unit_test(test_avbuf),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_schemas),
		cmocka_unit_test(test_empty_encoding),
		cmocka_unit_test(test_days_from_civil),
	};

	return cmocka_run_group_tests_name("avenc", tests, NULL, NULL);
}
