/*
 * test_avsc.c: unit tests of the avsc module (Avro schemas: model, validation, Parsing
 * Canonical Form, CRC-64-AVRO fingerprint)
 *
 * The Avro project's own canonical-form and fingerprint vectors (avsc_vectors.h) must all come
 * out exactly. Every validation rule is shown to reject what it should, with a message naming
 * the field path or type; name resolution (namespaces, inheritance, aliases), logical types
 * (valid and ignored), recursive schemas, defaults and the verbatim text are checked on the
 * model itself. Schemas are written with ' for " to keep the tables readable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "avsc.h"
#include "avsc_vectors.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* s with every ' turned into "; owned by the caller */
static char *
q(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

/* Parses q(text); fails the test with the message if it does not parse. */
static struct avsc_schema *
must_parse(const char *text)
{
	char *t = q(text), errstr[512];
	struct avsc_schema *s = avsc_parse(t, strlen(t), errstr, sizeof(errstr));

	if (!s)
		fail_msg("%s: %s", t, errstr);
	free(t);
	return s;
}

/* Parses q(text), which must fail with a message containing want. */
static void
must_fail(const char *text, const char *want, size_t i)
{
	char *t = q(text), errstr[512] = "";
	struct avsc_schema *s = avsc_parse(t, strlen(t), errstr, sizeof(errstr));

	if (s)
		fail_msg("case %zu: accepted: %s", i, t);
	if (!strstr(errstr, want))
		fail_msg("case %zu: \"%s\" not in \"%s\"", i, want, errstr);
	free(t);
}

/* ---- the Avro project's vectors ------------------------------------------------------- */

static void test_vectors(void **state)
{
	size_t with_fingerprint = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(avsc_vectors); i++) {
		const struct avsc_vector *v = &avsc_vectors[i];
		const char *in = v->rejects ? v->repaired : v->input;
		struct avsc_schema *s, *again;
		char errstr[512] = "";

		if (v->rejects) {
			s = avsc_parse(v->input, strlen(v->input), errstr, sizeof(errstr));
			assert_null(s);
			if (!strstr(errstr, v->rejects))
				fail_msg("vector %s: \"%s\" not in \"%s\"", v->id, v->rejects, errstr);
		}
		if (!(s = avsc_parse(in, strlen(in), errstr, sizeof(errstr))))
			fail_msg("vector %s: %s", v->id, errstr);
		if (strcmp(s->canonical, v->canonical) != 0)
			fail_msg("vector %s: canonical %s, want %s", v->id, s->canonical, v->canonical);
		assert_int_equal(avsc_crc64(s->canonical, strlen(s->canonical)), s->fingerprint);
		if (v->has_fingerprint) {
			if (s->fingerprint != (uint64_t)v->fingerprint)
				fail_msg("vector %s: fingerprint %lld, want %lld", v->id,
					 (long long)s->fingerprint, (long long)v->fingerprint);
			with_fingerprint++;
		}
		/* the canonical form is itself a schema with the same canonical form */
		if (!(again = avsc_parse(s->canonical, strlen(s->canonical), errstr, sizeof(errstr))))
			fail_msg("vector %s: canonical form does not parse: %s", v->id, errstr);
		assert_string_equal(again->canonical, s->canonical);
		assert_int_equal(again->fingerprint, s->fingerprint);
		avsc_free(again);
		avsc_free(s);
	}
	assert_int_equal(ARRAY_SIZE(avsc_vectors), 34);
	assert_int_equal(with_fingerprint, 26);
}

static void test_crc64(void **state)
{
	(void)state;
	/* the empty string's fingerprint is the algorithm's EMPTY constant */
	assert_int_equal(avsc_crc64("", 0), UINT64_C(0xc15d213aa4d7a795));
	assert_int_equal(avsc_crc64("\"int\"", 5), (uint64_t)INT64_C(8247732601305521295));
	assert_true(avsc_crc64("\"int\"", 5) != avsc_crc64("\"int\" ", 6));
}

/* ---- validation ----------------------------------------------------------------------- */

#define ORDER(fields) "{'type':'record','name':'Order','fields':[" fields "]}"
#define F(name, type) "{'name':'" name "','type':" type "}"
#define FD(name, type, def) "{'name':'" name "','type':" type ",'default':" def "}"

static const struct {
	const char *schema;
	const char *error;	/* substring of the message */
} error_cases[] = {
	/* JSON and shape */
	{ "{'type':", "schema is not valid JSON" },
	{ "{'type':'int','type':'long'}", "schema is not valid JSON: duplicate object key" },
	{ "5", "a schema must be a type name, an object or a union array" },
	{ "{}", "schema object has no \"type\"" },
	{ "{'type':{'type':'int'}}", "the \"type\" of a schema object must be a type name" },
	{ "'foo'", "unknown type name \"foo\"" },
	{ "'record'", "unknown type name \"record\"" },
	{ "{'type':'record','fields':[]}", "record has no \"name\" string" },
	{ "{'type':'record','name':'R'}", "type \"R\": a record needs a \"fields\" array" },
	{ "{'type':'record','name':'R','fields':{}}", "type \"R\": a record needs a \"fields\" array" },
	{ "{'type':'enum','name':'E'}", "type \"E\": an enum needs a \"symbols\" array" },
	{ ORDER("{'type':'int'}"), "type \"Order\": field 1 has no \"name\" string" },
	{ ORDER("{'name':'a'}"), "field \"Order.a\": field has no \"type\"" },
	{ ORDER(F("a", "{'type':'array'}")), "field \"Order.a\": array has no \"items\"" },
	{ ORDER(F("a", "{'type':'map'}")), "field \"Order.a\": map has no \"values\"" },
	{ ORDER(F("a", "{'type':'array','items':{'type':'map'}}")),
	  "field \"Order.a[]\": map has no \"values\"" },
	{ ORDER(F("a", "{'type':'map','values':'Nope'}")),
	  "field \"Order.a{}\": unknown type name \"Nope\"" },
	{ ORDER(F("a", "true")), "field \"Order.a\": a schema must be a type name" },
	/* names */
	{ "{'type':'record','name':'1Order','fields':[]}", "type \"1Order\": invalid name" },
	{ "{'type':'record','name':'Or-der','fields':[]}", "type \"Or-der\": invalid name" },
	{ "{'type':'record','name':'','fields':[]}", "invalid name" },
	{ "{'type':'record','name':'com..Order','fields':[]}", "type \"com..Order\": invalid name" },
	{ "{'type':'record','name':'com.x.','fields':[]}", "type \"com.x.\": invalid name" },
	{ "{'type':'record','name':'Order','namespace':'com.1x','fields':[]}",
	  "type \"com.1x.Order\": invalid name" },
	{ "{'type':'record','name':'Order','namespace':5,'fields':[]}",
	  "type \"Order\": \"namespace\" must be a string" },
	{ ORDER(F("a-b", "'int'")), "type \"Order\": invalid field name \"a-b\"" },
	{ ORDER(F("1a", "'int'")), "type \"Order\": invalid field name \"1a\"" },
	{ ORDER(F("a.b", "'int'")), "type \"Order\": invalid field name \"a.b\"" },
	{ "{'type':'enum','name':'E','symbols':['A','B-']}",
	  "type \"E\": symbol 2 is not a valid name" },
	{ "{'type':'enum','name':'E','symbols':['A',1]}", "type \"E\": symbol 2 is not a valid name" },
	{ "{'type':'record','name':'R','aliases':['x-y'],'fields':[]}", "type \"R\": invalid alias" },
	{ "{'type':'record','name':'R','aliases':'x','fields':[]}",
	  "type \"R\": \"aliases\" must be an array" },
	{ ORDER("{'name':'a','type':'int','aliases':['b.c']}"), "field \"Order.a\": invalid alias" },
	{ ORDER("{'name':'a','type':'int','aliases':'b'}"),
	  "field \"Order.a\": \"aliases\" must be an array" },
	/* redefinitions */
	{ "{'type':'record','name':'R','namespace':'com.x','fields':["
	  "{'name':'a','type':{'type':'fixed','name':'F','size':2}},"
	  "{'name':'b','type':{'type':'enum','name':'F','symbols':['A']}}]}",
	  "type \"com.x.F\": this name is already defined" },
	{ "{'type':'record','name':'R','fields':[{'name':'a','type':"
	  "{'type':'record','name':'R','fields':[]}}]}", "type \"R\": this name is already defined" },
	{ "{'type':'record','name':'R','namespace':'com.x','fields':[{'name':'a','type':"
	  "{'type':'record','name':'com.x.R','fields':[]}}]}",
	  "type \"com.x.R\": this name is already defined" },
	{ ORDER(F("a", "{'type':'fixed','name':'int','size':4}")),
	  "type \"int\": the primitive type name \"int\" cannot be redefined" },
	{ "{'type':'record','name':'string','namespace':'com.x','fields':[]}",
	  "type \"com.x.string\": the primitive type name \"string\" cannot be redefined" },
	{ "{'type':'enum','name':'a.b.null','symbols':[]}", "type \"a.b.null\": the primitive" },
	/* unknown names */
	{ ORDER(F("customer", "'Customer'")), "field \"Order.customer\": unknown type name \"Customer\"" },
	{ ORDER(F("a", "'Later'") "," F("b", "{'type':'record','name':'Later','fields':[]}")),
	  "field \"Order.a\": unknown type name \"Later\"" },
	{ "{'type':'record','name':'Order','namespace':'com.x','fields':[" F("c", "'Customer'") "]}",
	  "field \"Order.c\": unknown type name \"Customer\" (neither \"com.x.Customer\" nor "
	  "\"Customer\" is defined" },
	{ ORDER(F("c", "{'type':'com.x.Customer'}")),
	  "field \"Order.c\": unknown type name \"com.x.Customer\"" },
	/* one name in another namespace is not visible by its short name */
	{ ORDER(F("a", "{'type':'enum','name':'E','namespace':'com.y','symbols':['A']}") ","
		F("b", "'E'")), "field \"Order.b\": unknown type name \"E\"" },
	/* duplicates */
	{ ORDER(F("a", "'int'") "," F("b", "'int'") "," F("a", "'long'")),
	  "type \"Order\": duplicate field name \"a\"" },
	{ "{'type':'enum','name':'Status','namespace':'com.x','symbols':['A','B','A']}",
	  "type \"com.x.Status\": duplicate symbol \"A\"" },
	/* unions */
	{ ORDER(F("u", "['null',['int','string']]")),
	  "field \"Order.u\": union branch 2 is itself a union" },
	{ ORDER(F("u", "['null','string','string']")),
	  "field \"Order.u\": union has two branches of type string" },
	{ ORDER(F("u", "['string',{'type':'string'}]")),
	  "field \"Order.u\": union has two branches of type string" },
	{ ORDER(F("u", "['int',{'type':'int','logicalType':'date'}]")),
	  "field \"Order.u\": union has two branches of type int" },
	{ ORDER(F("u", "[{'type':'array','items':'int'},{'type':'array','items':'string'}]")),
	  "field \"Order.u\": union has two branches of type array" },
	{ ORDER(F("u", "[{'type':'map','values':'int'},{'type':'map','values':'string'}]")),
	  "field \"Order.u\": union has two branches of type map" },
	{ ORDER(F("u", "['null',{'type':'enum','name':'E','symbols':['A']},'E']")),
	  "field \"Order.u\": union has two branches named \"E\"" },
	{ "['int','int']", "union has two branches of type int" },
	{ ORDER(F("a", "{'type':'array','items':['null','null']}")),
	  "field \"Order.a[]\": union has two branches of type null" },
	/* fixed */
	{ "{'type':'fixed','name':'F'}", "type \"F\": a fixed needs a \"size\"" },
	{ "{'type':'fixed','name':'F','size':-1}", "type \"F\": a fixed needs a \"size\"" },
	{ "{'type':'fixed','name':'F','size':1.5}", "type \"F\": a fixed needs a \"size\"" },
	{ "{'type':'fixed','name':'F','size':'4'}", "type \"F\": a fixed needs a \"size\"" },
	{ "{'type':'fixed','name':'F','size':4294967296}", "type \"F\": a fixed needs a \"size\"" },
	/* defaults of every type */
	{ ORDER(FD("a", "'null'", "0")), "field \"Order.a\": invalid default: 0 is not null" },
	{ ORDER(FD("a", "'boolean'", "'true'")),
	  "field \"Order.a\": invalid default: \"true\" is not true or false" },
	{ ORDER(FD("a", "'int'", "'x'")), "field \"Order.a\": invalid default: \"x\" is not an integer" },
	{ ORDER(FD("a", "'int'", "1.5")), "field \"Order.a\": invalid default: 1.5 is not an integer" },
	{ ORDER(FD("a", "'int'", "1.0")), "field \"Order.a\": invalid default: 1.0 is not an integer" },
	{ ORDER(FD("a", "'int'", "2147483648")),
	  "field \"Order.a\": invalid default: 2147483648 is out of the range of int" },
	{ ORDER(FD("a", "'int'", "-2147483649")), "is out of the range of int" },
	{ ORDER(FD("a", "'long'", "1.0")), "field \"Order.a\": invalid default: 1.0 is not an integer" },
	{ ORDER(FD("a", "'float'", "'1'")), "field \"Order.a\": invalid default: \"1\" is not a number" },
	{ ORDER(FD("a", "'double'", "null")), "invalid default: null is not a number (for double)" },
	{ ORDER(FD("a", "'string'", "1")), "field \"Order.a\": invalid default: 1 is not a string" },
	{ ORDER(FD("a", "'bytes'", "5")), "field \"Order.a\": invalid default: 5 is not a string" },
	{ ORDER(FD("a", "'bytes'", "'\\u0100'")),
	  "field \"Order.a\": invalid default: \"\xc4\x80\" has a character above U+00FF" },
	{ ORDER(FD("a", "{'type':'fixed','name':'F','size':2}", "'abc'")),
	  "field \"Order.a\": invalid default: \"abc\" has 3 bytes, fixed \"F\" has 2" },
	{ ORDER(FD("a", "{'type':'fixed','name':'F','size':2}", "[1,2]")),
	  "field \"Order.a\": invalid default: [1,2] is not a string" },
	{ ORDER(FD("a", "{'type':'enum','name':'E','symbols':['A','B']}", "'Z'")),
	  "field \"Order.a\": invalid default: \"Z\" is not a symbol of enum \"E\"" },
	{ ORDER(FD("a", "{'type':'array','items':'int'}", "[1,'x']")),
	  "field \"Order.a\": invalid default: \"x\" is not an integer (for int) (at [1])" },
	{ ORDER(FD("a", "{'type':'array','items':'int'}", "{}")), "{} is not an array" },
	{ ORDER(FD("a", "{'type':'map','values':'int'}", "{'k':'x'}")),
	  "field \"Order.a\": invalid default: \"x\" is not an integer (for int) (at [\"k\"])" },
	{ ORDER(FD("a", "{'type':'map','values':'int'}", "[]")), "[] is not an object (for map)" },
	{ ORDER(FD("u", "['null','string']", "'x'")),
	  "field \"Order.u\": invalid default: \"x\" is not null (a union's default must fit its "
	  "first branch, null)" },
	{ ORDER(FD("u", "['string','null']", "null")),
	  "field \"Order.u\": invalid default: null is not a string (a union's default must fit its "
	  "first branch, string)" },
	{ ORDER(FD("u", "[]", "null")), "the union has no branches" },
	{ ORDER(FD("addr", "{'type':'record','name':'Addr','fields':[" F("street", "'string'") ","
		   FD("zip", "'string'", "''") "]}", "{}")),
	  "field \"Order.addr\": invalid default: {} has no member \"street\", and field \"street\" "
	  "of record \"Addr\" has no default" },
	{ ORDER(FD("addr", "{'type':'record','name':'Addr','fields':[" F("street", "'string'") "]}",
		   "{'street':5}")),
	  "field \"Order.addr\": invalid default: 5 is not a string (at street)" },
	{ ORDER(FD("addr", "{'type':'record','name':'Addr','fields':[" F("street", "'string'") "]}",
		   "'x'")), "\"x\" is not an object (for record \"Addr\")" },
	/* a default deep in the schema, named by its whole path */
	{ ORDER(F("customer", "{'type':'record','name':'Customer','fields':["
		  FD("address", "'string'", "7") "]}")),
	  "field \"Order.customer.address\": invalid default: 7 is not a string" },
	{ ORDER(F("lines", "{'type':'array','items':{'type':'record','name':'Line','fields':["
		  FD("price", "'double'", "'x'") "]}}")),
	  "field \"Order.lines[].price\": invalid default" },
	{ ORDER(F("u", "['null',{'type':'record','name':'Customer','fields':["
		  "{'name':'name','type':['string','int','string']}]}]")),
	  "field \"Order.u.name\": union has two branches of type string" },
	/* the enum's own default */
	{ "{'type':'enum','name':'E','symbols':['A'],'default':'B'}",
	  "type \"E\": default \"B\" is not one of the symbols" },
	{ "{'type':'enum','name':'E','symbols':['A'],'default':null}",
	  "type \"E\": \"default\" must be one of the symbols" },
	/* a NUL inside a name is not hidden by C strings */
	{ "'int\\u0000x'", "type name contains a NUL character" },
	{ "{'type':'record','name':'R\\u0000','fields':[]}", "record has no \"name\" string" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++)
		must_fail(error_cases[i].schema, error_cases[i].error, i);
}

/* Schemas at the edges of the rules that must be accepted. */
static const char *const valid_cases[] = {
	ORDER(FD("a", "'int'", "-2147483648") "," FD("b", "'int'", "2147483647")),
	ORDER(FD("a", "'long'", "9007199254740993") "," FD("b", "'long'", "-9223372036854775808")),
	ORDER(FD("a", "'double'", "1") "," FD("b", "'float'", "1.5") "," FD("c", "'double'", "-1e300")),
	ORDER(FD("a", "'null'", "null") "," FD("b", "'boolean'", "false")),
	ORDER(FD("a", "'bytes'", "'\\u00ff\\u0000a'") "," FD("b", "'string'", "'\\u20ac'")),
	ORDER(FD("a", "{'type':'fixed','name':'F','size':2}", "'\\u00e9a'") ","
	      FD("b", "{'type':'fixed','name':'Z','size':0}", "''")),
	ORDER(FD("a", "['null','string']", "null") "," FD("b", "['string','null']", "'x'")),
	ORDER(FD("a", "[{'type':'enum','name':'E','symbols':['A','B']},'null']", "'B'")),
	ORDER(FD("a", "{'type':'array','items':'int'}", "[]") ","
	      FD("b", "{'type':'map','values':['null','int']}", "{'x':null}")),
	ORDER(FD("addr", "{'type':'record','name':'Addr','fields':[" F("street", "'string'") ","
		 FD("zip", "'string'", "''") "]}", "{'street':'Main'}") ","
	      FD("addr2", "'Addr'", "{'street':'x','zip':'1','extra':true}")),
	ORDER(F("u", "[]")),
	ORDER(F("a", "{'type':'enum','name':'E','namespace':'com.y','symbols':['A']}") ","
	      F("b", "'com.y.E'") "," F("c", "{'type':'com.y.E'}")),
	"{'type':'error','name':'Failure','fields':[" F("message", "'string'") "]}",
	"{'type':'record','name':'R','namespace':null,'fields':[]}",
	"{'type':'enum','name':'E','symbols':[]}",
	"{'type':'record','name':'R','doc':'x','fields':[{'name':'a','type':'int','order':'ignore',"
	"'doc':'y','x-custom':{'anything':[1,2]}}],'x-custom':1}",
	"{'type':'record','name':'_R1','fields':[" F("_a_1", "'int'") "]}",
	/* the same short name in two namespaces */
	ORDER(F("a", "{'type':'enum','name':'E','namespace':'com.a','symbols':['A']}") ","
	      F("b", "{'type':'enum','name':'E','namespace':'com.b','symbols':['B']}")),
};

static void test_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(valid_cases); i++)
		avsc_free(must_parse(valid_cases[i]));
}

/* A missing errstr is allowed; the result is the same. */
static void test_no_errstr(void **state)
{
	char small[8];

	(void)state;
	assert_null(avsc_parse("{", 1, NULL, 0));
	assert_null(avsc_parse("'x'", 3, small, sizeof(small)));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_null(avsc_parse("", 0, small, 0));
}

/* ---- the model ------------------------------------------------------------------------ */

static const struct avsc_field *
field(const struct avsc_node *rec, const char *name)
{
	for (size_t i = 0; i < rec->n_fields; i++)
		if (strcmp(rec->fields[i].name, name) == 0)
			return &rec->fields[i];
	fail_msg("no field %s", name);
	return NULL;
}

static void test_names(void **state)
{
	struct avsc_schema *s = must_parse(
		"{'type':'record','name':'Order','namespace':'com.shop',"
		" 'aliases':['OldOrder','legacy.Order'],'fields':["
		"  {'name':'plain','type':{'type':'record','name':'Plain','namespace':'','fields':[]}},"
		"  {'name':'customer','type':{'type':'record','name':'Customer','fields':["
		"     {'name':'id','type':'long'}]}},"
		"  {'name':'billing','type':'Customer'},"
		"  {'name':'shipping','type':'com.shop.Customer'},"
		"  {'name':'plain2','type':'Plain'},"
		"  {'name':'status','type':{'type':'enum','name':'Status','namespace':'com.shop.types',"
		"     'aliases':['State','old.Status'],'symbols':['NEW','PAID'],'default':'NEW'}},"
		"  {'name':'money','type':{'type':'fixed','name':'com.money.Cents',"
		"     'namespace':'ignored.ns','size':8}},"
		"  {'name':'inner','type':{'type':'record','name':'Inner','namespace':'com.other',"
		"     'fields':[{'name':'deep','type':{'type':'record','name':'Deep','fields':[]}},"
		"               {'name':'st','type':'com.shop.types.Status'},"
		"               {'name':'cents','type':{'type':'fixed','name':'Cents','size':2}}]}},"
		"  {'name':'total','type':'double','aliases':['amount','sum'],'default':0}"
		"]}");
	const struct avsc_node *r = s->root, *inner;

	(void)state;
	assert_int_equal(r->type, AVSC_RECORD);
	assert_string_equal(r->fullname, "com.shop.Order");
	assert_string_equal(r->name, "Order");
	assert_int_equal(r->n_aliases, 2);
	assert_string_equal(r->aliases[0], "com.shop.OldOrder");
	assert_string_equal(r->aliases[1], "legacy.Order");
	/* "namespace":"" puts a type in the null namespace; a short name then finds it there */
	assert_string_equal(field(r, "plain")->type->fullname, "Plain");
	assert_ptr_equal(field(r, "plain2")->type, field(r, "plain")->type);
	/* a nested definition inherits the namespace; references by short and full name */
	assert_string_equal(field(r, "customer")->type->fullname, "com.shop.Customer");
	assert_string_equal(field(r, "customer")->type->name, "Customer");
	assert_ptr_equal(field(r, "billing")->type, field(r, "customer")->type);
	assert_ptr_equal(field(r, "shipping")->type, field(r, "customer")->type);
	/* an explicit namespace; aliases resolved against it */
	assert_string_equal(field(r, "status")->type->fullname, "com.shop.types.Status");
	assert_string_equal(field(r, "status")->type->aliases[0], "com.shop.types.State");
	assert_string_equal(field(r, "status")->type->aliases[1], "old.Status");
	assert_string_equal(field(r, "status")->type->enum_default, "NEW");
	assert_ptr_equal(field(r, "status")->type->enum_default, field(r, "status")->type->symbols[0]);
	/* a dotted name wins over the namespace attribute */
	assert_string_equal(field(r, "money")->type->fullname, "com.money.Cents");
	assert_string_equal(field(r, "money")->type->name, "Cents");
	assert_int_equal(field(r, "money")->type->size, 8);
	/* namespaces nest: Inner's namespace is inherited by Deep */
	inner = field(r, "inner")->type;
	assert_string_equal(inner->fullname, "com.other.Inner");
	assert_string_equal(field(inner, "deep")->type->fullname, "com.other.Deep");
	assert_ptr_equal(field(inner, "st")->type, field(r, "status")->type);
	/* one short name, two namespaces, two types */
	assert_string_equal(field(inner, "cents")->type->fullname, "com.other.Cents");
	assert_true(field(inner, "cents")->type != field(r, "money")->type);
	/* field aliases as written, defaults kept */
	assert_int_equal(field(r, "total")->n_aliases, 2);
	assert_string_equal(field(r, "total")->aliases[0], "amount");
	assert_string_equal(field(r, "total")->aliases[1], "sum");
	assert_true(json_is_integer(field(r, "total")->default_value));
	assert_null(field(r, "customer")->default_value);

	assert_string_equal(s->canonical,
		"{\"name\":\"com.shop.Order\",\"type\":\"record\",\"fields\":["
		"{\"name\":\"plain\",\"type\":{\"name\":\"Plain\",\"type\":\"record\",\"fields\":[]}},"
		"{\"name\":\"customer\",\"type\":{\"name\":\"com.shop.Customer\",\"type\":\"record\","
		"\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}},"
		"{\"name\":\"billing\",\"type\":\"com.shop.Customer\"},"
		"{\"name\":\"shipping\",\"type\":\"com.shop.Customer\"},"
		"{\"name\":\"plain2\",\"type\":\"Plain\"},"
		"{\"name\":\"status\",\"type\":{\"name\":\"com.shop.types.Status\",\"type\":\"enum\","
		"\"symbols\":[\"NEW\",\"PAID\"]}},"
		"{\"name\":\"money\",\"type\":{\"name\":\"com.money.Cents\",\"type\":\"fixed\",\"size\":8}},"
		"{\"name\":\"inner\",\"type\":{\"name\":\"com.other.Inner\",\"type\":\"record\",\"fields\":["
		"{\"name\":\"deep\",\"type\":{\"name\":\"com.other.Deep\",\"type\":\"record\",\"fields\":[]}},"
		"{\"name\":\"st\",\"type\":\"com.shop.types.Status\"},"
		"{\"name\":\"cents\",\"type\":{\"name\":\"com.other.Cents\",\"type\":\"fixed\",\"size\":2}}]}},"
		"{\"name\":\"total\",\"type\":\"double\"}]}");
	avsc_free(s);
}

/* Defaults are owned copies of the JSON values as written. */
static void test_defaults_kept(void **state)
{
	struct avsc_schema *s = must_parse(ORDER(
		FD("a", "{'type':'map','values':{'type':'array','items':'long'}}", "{'x':[1,2],'y':[]}") ","
		FD("b", "['null','string']", "null") ","
		F("c", "'string'")));
	json_t *want = json_loads("{\"x\":[1,2],\"y\":[]}", 0, NULL);

	(void)state;
	assert_true(json_equal(field(s->root, "a")->default_value, want));
	assert_true(json_is_null(field(s->root, "b")->default_value));
	assert_null(field(s->root, "c")->default_value);
	json_decref(want);
	avsc_free(s);
}

static const struct {
	const char *schema;
	enum avsc_type type;
	enum avsc_logical logical;
	int precision, scale;
} logical_cases[] = {
	{ "{'type':'bytes','logicalType':'decimal','precision':10,'scale':2}", AVSC_BYTES,
	  AVSC_LT_DECIMAL, 10, 2 },
	{ "{'type':'bytes','logicalType':'decimal','precision':10}", AVSC_BYTES, AVSC_LT_DECIMAL,
	  10, 0 },
	{ "{'type':'bytes','logicalType':'decimal','precision':5,'scale':5}", AVSC_BYTES,
	  AVSC_LT_DECIMAL, 5, 5 },
	{ "{'type':'fixed','name':'D','size':4,'logicalType':'decimal','precision':9}", AVSC_FIXED,
	  AVSC_LT_DECIMAL, 9, 0 },
	{ "{'type':'fixed','name':'D','size':16,'logicalType':'decimal','precision':38,'scale':9}",
	  AVSC_FIXED, AVSC_LT_DECIMAL, 38, 9 },
	{ "{'type':'string','logicalType':'uuid'}", AVSC_STRING, AVSC_LT_UUID, 0, 0 },
	{ "{'type':'int','logicalType':'date'}", AVSC_INT, AVSC_LT_DATE, 0, 0 },
	{ "{'type':'int','logicalType':'time-millis'}", AVSC_INT, AVSC_LT_TIME_MILLIS, 0, 0 },
	{ "{'type':'long','logicalType':'time-micros'}", AVSC_LONG, AVSC_LT_TIME_MICROS, 0, 0 },
	{ "{'type':'long','logicalType':'timestamp-millis'}", AVSC_LONG, AVSC_LT_TIMESTAMP_MILLIS,
	  0, 0 },
	{ "{'type':'long','logicalType':'timestamp-micros'}", AVSC_LONG, AVSC_LT_TIMESTAMP_MICROS,
	  0, 0 },
	{ "{'type':'long','logicalType':'local-timestamp-millis'}", AVSC_LONG,
	  AVSC_LT_LOCAL_TIMESTAMP_MILLIS, 0, 0 },
	{ "{'type':'long','logicalType':'local-timestamp-micros'}", AVSC_LONG,
	  AVSC_LT_LOCAL_TIMESTAMP_MICROS, 0, 0 },
	/* invalid: ignored, the node is its plain type */
	{ "{'type':'fixed','name':'D','size':4,'logicalType':'decimal','precision':10}", AVSC_FIXED,
	  AVSC_LT_NONE, 0, 0 },
	{ "{'type':'fixed','name':'D','size':16,'logicalType':'decimal','precision':39}", AVSC_FIXED,
	  AVSC_LT_NONE, 0, 0 },
	{ "{'type':'fixed','name':'D','size':0,'logicalType':'decimal','precision':1}", AVSC_FIXED,
	  AVSC_LT_NONE, 0, 0 },
	{ "{'type':'bytes','logicalType':'decimal','precision':2,'scale':3}", AVSC_BYTES,
	  AVSC_LT_NONE, 0, 0 },
	{ "{'type':'bytes','logicalType':'decimal','precision':4,'scale':-1}", AVSC_BYTES,
	  AVSC_LT_NONE, 0, 0 },
	{ "{'type':'bytes','logicalType':'decimal','precision':4,'scale':'1'}", AVSC_BYTES,
	  AVSC_LT_NONE, 0, 0 },
	{ "{'type':'bytes','logicalType':'decimal'}", AVSC_BYTES, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'bytes','logicalType':'decimal','precision':0}", AVSC_BYTES, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'bytes','logicalType':'decimal','precision':'10'}", AVSC_BYTES, AVSC_LT_NONE,
	  0, 0 },
	{ "{'type':'bytes','logicalType':'decimal','precision':10.5}", AVSC_BYTES, AVSC_LT_NONE,
	  0, 0 },
	{ "{'type':'bytes','logicalType':'decimal','precision':4294967296}", AVSC_BYTES,
	  AVSC_LT_NONE, 0, 0 },
	{ "{'type':'string','logicalType':'decimal','precision':4}", AVSC_STRING, AVSC_LT_NONE,
	  0, 0 },
	{ "{'type':'int','logicalType':'decimal','precision':4}", AVSC_INT, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'bytes','logicalType':'uuid'}", AVSC_BYTES, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'long','logicalType':'date'}", AVSC_LONG, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'long','logicalType':'time-millis'}", AVSC_LONG, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'int','logicalType':'time-micros'}", AVSC_INT, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'int','logicalType':'timestamp-millis'}", AVSC_INT, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'string','logicalType':'timestamp-micros'}", AVSC_STRING, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'int','logicalType':'local-timestamp-millis'}", AVSC_INT, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'long','logicalType':'timestamp-nanos-or-other'}", AVSC_LONG, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'int','logicalType':5}", AVSC_INT, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'int','logicalType':'DATE'}", AVSC_INT, AVSC_LT_NONE, 0, 0 },
	{ "{'type':'record','name':'R','logicalType':'date','fields':[]}", AVSC_RECORD,
	  AVSC_LT_NONE, 0, 0 },
};

static void test_logical(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(logical_cases); i++) {
		struct avsc_schema *s = must_parse(logical_cases[i].schema);

		if (s->root->type != logical_cases[i].type ||
		    s->root->logical != logical_cases[i].logical ||
		    s->root->precision != logical_cases[i].precision ||
		    s->root->scale != logical_cases[i].scale)
			fail_msg("case %zu (%s): type %d logical %d precision %d scale %d", i,
				 logical_cases[i].schema, s->root->type, s->root->logical,
				 s->root->precision, s->root->scale);
		/* [STRIP]: logical types are not part of the canonical form */
		assert_null(strstr(s->canonical, "logical"));
		assert_null(strstr(s->canonical, "precision"));
		avsc_free(s);
	}
}

/* Logical types inside a record, and what the canonical form keeps of them. */
static void test_logical_in_record(void **state)
{
	struct avsc_schema *s = must_parse(ORDER(
		F("at", "{'type':'long','logicalType':'timestamp-millis'}") ","
		F("total", "{'type':'fixed','name':'Money','size':8,'logicalType':'decimal',"
			   "'precision':12,'scale':2}") ","
		F("tax", "'Money'") ","
		F("id", "['null',{'type':'string','logicalType':'uuid'}]")));

	(void)state;
	assert_int_equal(field(s->root, "at")->type->logical, AVSC_LT_TIMESTAMP_MILLIS);
	assert_int_equal(field(s->root, "total")->type->logical, AVSC_LT_DECIMAL);
	assert_int_equal(field(s->root, "total")->type->precision, 12);
	assert_int_equal(field(s->root, "tax")->type->scale, 2);
	assert_int_equal(field(s->root, "id")->type->branches[1]->logical, AVSC_LT_UUID);
	assert_string_equal(s->canonical,
		"{\"name\":\"Order\",\"type\":\"record\",\"fields\":["
		"{\"name\":\"at\",\"type\":\"long\"},"
		"{\"name\":\"total\",\"type\":{\"name\":\"Money\",\"type\":\"fixed\",\"size\":8}},"
		"{\"name\":\"tax\",\"type\":\"Money\"},"
		"{\"name\":\"id\",\"type\":[\"null\",\"string\"]}]}");
	avsc_free(s);
}

static void test_recursive(void **state)
{
	struct avsc_schema *s;
	const struct avsc_node *a, *b;

	(void)state;
	/* a linked list */
	s = must_parse("{'type':'record','name':'Node','namespace':'com.x','fields':["
		       F("value", "'int'") "," FD("next", "['null','Node']", "null") "]}");
	assert_ptr_equal(field(s->root, "next")->type->branches[1], s->root);
	assert_string_equal(s->canonical,
		"{\"name\":\"com.x.Node\",\"type\":\"record\",\"fields\":[{\"name\":\"value\","
		"\"type\":\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"com.x.Node\"]}]}");
	avsc_free(s);

	/* mutual recursion through a nested record, and a tree through an array */
	s = must_parse("{'type':'record','name':'A','fields':["
		       F("b", "{'type':'record','name':'B','fields':[" F("a", "['null','A']") ","
			   F("kids", "{'type':'array','items':'B'}") "]}") "]}");
	a = s->root;
	b = field(a, "b")->type;
	assert_ptr_equal(field(b, "a")->type->branches[1], a);
	assert_ptr_equal(field(b, "kids")->type->items, b);
	assert_string_equal(s->canonical,
		"{\"name\":\"A\",\"type\":\"record\",\"fields\":[{\"name\":\"b\",\"type\":"
		"{\"name\":\"B\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":"
		"[\"null\",\"A\"]},{\"name\":\"kids\",\"type\":{\"type\":\"array\",\"items\":"
		"\"B\"}}]}}]}");
	avsc_free(s);

	/* defaults of a recursive type are checked to their (finite) depth */
	s = must_parse("{'type':'record','name':'W','fields':["
		       F("t", "{'type':'record','name':'Tree','fields':[" F("label", "'string'") ","
			   FD("kids", "{'type':'array','items':'Tree'}", "[]") "]}") ","
		       FD("t2", "'Tree'", "{'label':'x','kids':[{'label':'y'},{'label':'z','kids':[]}]}")
		       "]}");
	avsc_free(s);
	must_fail("{'type':'record','name':'W','fields':["
		  F("t", "{'type':'record','name':'Tree','fields':[" F("label", "'string'") ","
		      FD("kids", "{'type':'array','items':'Tree'}", "[]") "]}") ","
		  FD("t2", "'Tree'", "{'label':'x','kids':[{'label':'y','kids':[{}]}]}") "]}",
		  "field \"W.t2\": invalid default: {} has no member \"label\", and field \"label\" of "
		  "record \"Tree\" has no default (at kids[0].kids[0])", 0);
}

static void test_recursive_default_message(void **state)
{
	(void)state;
	/* the vpath of a nested default, written out */
	must_fail("{'type':'record','name':'W','fields':["
		  F("t", "{'type':'record','name':'Tree','fields':[" F("label", "'string'") ","
		      FD("kids", "{'type':'array','items':'Tree'}", "[]") "]}") ","
		  FD("t2", "'Tree'", "{'label':'x','kids':[{'label':7}]}") "]}",
		  "field \"W.t2\": invalid default: 7 is not a string (at kids[0].label)", 0);
}

/* The text is kept byte for byte, and only len bytes of it are read. */
static void test_text_verbatim(void **state)
{
	static const char text[] =
		"  {\"type\": \"record\",\n\t\"name\" : \"R\", \"doc\": \"caf\xc3\xa9 \\u00e9\",\n"
		"   \"fields\": [ ]   }\n";
	static const char buf[] = "\"int\"GARBAGE";
	char errstr[256];
	struct avsc_schema *s = avsc_parse(text, strlen(text), errstr, sizeof(errstr));

	(void)state;
	assert_non_null(s);
	assert_int_equal(s->text_len, strlen(text));
	assert_memory_equal(s->text, text, sizeof(text));
	assert_string_equal(s->canonical, "{\"name\":\"R\",\"type\":\"record\",\"fields\":[]}");
	avsc_free(s);

	s = avsc_parse(buf, 5, errstr, sizeof(errstr));
	assert_non_null(s);
	assert_string_equal(s->text, "\"int\"");
	assert_int_equal(s->text_len, 5);
	avsc_free(s);
	avsc_free(NULL);
}

static void test_default_fits(void **state)
{
	struct avsc_schema *s = must_parse(ORDER(
		F("e", "{'type':'enum','name':'E','symbols':['A','B']}") ","
		F("u", "['int','null']") ","
		F("n", "[]") ","
		F("f", "{'type':'fixed','name':'Two','size':2}")));
	static const struct {
		const char *field, *value;
		int fits;
		const char *error;
	} cases[] = {
		{ "e", "\"A\"", 1, NULL },
		{ "e", "\"C\"", 0, "\"C\" is not a symbol of enum \"E\"" },
		{ "e", "1", 0, "1 is not a symbol of enum \"E\"" },
		{ "u", "3", 1, NULL },
		{ "u", "null", 0, "null is not an integer (for int) (a union's default must fit its "
				  "first branch, int)" },
		{ "n", "null", 0, "null cannot be a default: the union has no branches" },
		{ "f", "\"\\u00ff\\u0000\"", 1, NULL },
		{ "f", "\"\\u00ff\"", 0, "has 1 bytes, fixed \"Two\" has 2" },
		{ "f", "\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\"", 0,
		  "\"abcdefghijklmnopqrstuvwxyzabcdefghij... has 52 bytes" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *v = json_loads(cases[i].value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		char errstr[256] = "x";
		int fits;

		assert_non_null(v);
		fits = avsc_default_fits(field(s->root, cases[i].field)->type, v, errstr,
					 sizeof(errstr));
		assert_int_equal(fits, cases[i].fits);
		if (fits)
			assert_string_equal(errstr, "");
		else if (!strstr(errstr, cases[i].error))
			fail_msg("case %zu: \"%s\" not in \"%s\"", i, cases[i].error, errstr);
		assert_int_equal(avsc_default_fits(field(s->root, cases[i].field)->type, v, NULL, 0),
				 cases[i].fits);
		json_decref(v);
	}
	avsc_free(s);
}

static void test_type_names(void **state)
{
	static const char *const want[] = {
		"null", "boolean", "int", "long", "float", "double", "bytes", "string", "record",
		"enum", "array", "map", "union", "fixed"
	};

	(void)state;
	for (int t = AVSC_NULL; t <= AVSC_FIXED; t++)
		assert_string_equal(avsc_type_name((enum avsc_type)t), want[t]);
	assert_string_equal(avsc_type_name((enum avsc_type)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_crc64),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_no_errstr),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_defaults_kept),
		cmocka_unit_test(test_logical),
		cmocka_unit_test(test_logical_in_record),
		cmocka_unit_test(test_recursive),
		cmocka_unit_test(test_recursive_default_message),
		cmocka_unit_test(test_text_verbatim),
		cmocka_unit_test(test_default_fits),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
