/*
 * test_compat.c: unit tests of the compat module (schema compatibility by the Avro schema
 * resolution rules)
 *
 * One table of classic evolutions, each a v1 -> v2 change with what BACKWARD (v2 reads v1),
 * FORWARD (v1 reads v2) and FULL (both) must say, and for every failure a piece of the message
 * that names the field path and the rule. Then the transitive levels (v3 fine against v2 but not
 * v1), the messages of compat_check, and the level names. Schemas are written with ' for ".
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
#include "compat.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Parses text with every ' read as "; fails the test if it does not parse. */
static struct avsc_schema *
must_parse(const char *text)
{
	char *t = strdup(text), errstr[512];
	struct avsc_schema *s;

	assert_non_null(t);
	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	if (!(s = avsc_parse(t, strlen(t), errstr, sizeof(errstr))))
		fail_msg("%s: %s", t, errstr);
	free(t);
	return s;
}

#define ORDER(fields) "{'type':'record','name':'Order','namespace':'com.x','fields':[" fields "]}"
#define F(name, type) "{'name':'" name "','type':" type "}"
#define FD(name, type, def) "{'name':'" name "','type':" type ",'default':" def "}"
#define ID F("id", "'long'")
#define STATUS(symbols) "{'type':'enum','name':'Status','symbols':[" symbols "]}"
#define STATUS_D(symbols) "{'type':'enum','name':'Status','symbols':[" symbols "],'default':'NEW'}"
#define CUSTOMER(fields) "{'type':'record','name':'Customer','fields':[" fields "]}"
#define NODE(fields) "{'type':'record','name':'Node','namespace':'com.x','fields':[" \
	F("value", "'int'") "," FD("next", "['null','Node']", "null") fields "]}"
#define DEC(p, s) "{'type':'bytes','logicalType':'decimal','precision':" #p ",'scale':" #s "}"

static const struct {
	const char *what;
	const char *v1, *v2;
	int backward, forward;
	const char *b_error, *f_error;	/* substrings of the messages when failing */
} cases[] = {
	{ "add field with default",
	  ORDER(ID), ORDER(ID "," FD("note", "'string'", "''")), 1, 1, NULL, NULL },
	{ "add field without default",
	  ORDER(ID), ORDER(ID "," F("note", "'string'")), 0, 1,
	  "field \"Order.note\": reader field has no default and the writer does not have it", NULL },
	{ "remove field with default",
	  ORDER(ID "," FD("note", "'string'", "''")), ORDER(ID), 1, 1, NULL, NULL },
	{ "remove field without default",
	  ORDER(ID "," F("note", "'string'")), ORDER(ID), 1, 0,
	  NULL, "field \"Order.note\": reader field has no default and the writer does not have it" },
	{ "rename field with alias",
	  ORDER(F("total", "'double'")),
	  ORDER("{'name':'amount','type':'double','aliases':['sum','total']}"), 1, 0,
	  NULL, "field \"Order.total\": reader field has no default" },
	{ "rename field without alias",
	  ORDER(F("total", "'double'")), ORDER(F("amount", "'double'")), 0, 0,
	  "field \"Order.amount\": reader field has no default",
	  "field \"Order.total\": reader field has no default" },
	{ "rename field with alias, old name kept by a default",
	  ORDER(FD("total", "'double'", "0")),
	  ORDER("{'name':'amount','type':'double','aliases':['total'],'default':0}"), 1, 1,
	  NULL, NULL },
	{ "widen int to long",
	  ORDER(F("qty", "'int'")), ORDER(F("qty", "'long'")), 1, 0,
	  NULL, "field \"Order.qty\": reader type int cannot read writer type long (no promotion "
		"from long to int)" },
	{ "narrow long to int",
	  ORDER(F("qty", "'long'")), ORDER(F("qty", "'int'")), 0, 1,
	  "field \"Order.qty\": reader type int cannot read writer type long", NULL },
	{ "int to float",
	  ORDER(F("x", "'int'")), ORDER(F("x", "'float'")), 1, 0,
	  NULL, "field \"Order.x\": reader type int cannot read writer type float" },
	{ "int to double",
	  ORDER(F("x", "'int'")), ORDER(F("x", "'double'")), 1, 0,
	  NULL, "field \"Order.x\": reader type int cannot read writer type double" },
	{ "long to float",
	  ORDER(F("x", "'long'")), ORDER(F("x", "'float'")), 1, 0, NULL, "writer type float" },
	{ "long to double",
	  ORDER(F("x", "'long'")), ORDER(F("x", "'double'")), 1, 0, NULL, "writer type double" },
	{ "float to double",
	  ORDER(F("x", "'float'")), ORDER(F("x", "'double'")), 1, 0,
	  NULL, "reader type float cannot read writer type double" },
	{ "double to int",
	  ORDER(F("x", "'double'")), ORDER(F("x", "'int'")), 0, 1,
	  "reader type int cannot read writer type double (no promotion from double to int)", NULL },
	{ "string to bytes",
	  ORDER(F("blob", "'string'")), ORDER(F("blob", "'bytes'")), 1, 1, NULL, NULL },
	{ "bytes to string",
	  ORDER(F("blob", "'bytes'")), ORDER(F("blob", "'string'")), 1, 1, NULL, NULL },
	{ "string to double",
	  ORDER(F("total", "'string'")), ORDER(F("total", "'double'")), 0, 0,
	  "field \"Order.total\": reader type double cannot read writer type string (no promotion "
	  "from string to double)",
	  "field \"Order.total\": reader type string cannot read writer type double" },
	{ "boolean to int",
	  ORDER(F("b", "'boolean'")), ORDER(F("b", "'int'")), 0, 0,
	  "reader type int cannot read writer type boolean", "reader type boolean cannot read" },
	{ "add enum symbol",
	  ORDER(F("status", STATUS("'NEW','PAID'"))), ORDER(F("status", STATUS("'NEW','PAID','CANCELLED'"))),
	  1, 0, NULL,
	  "field \"Order.status\": enum \"com.x.Status\": writer symbol \"CANCELLED\" is not among "
	  "the reader's symbols and the reader has no default" },
	{ "remove enum symbol",
	  ORDER(F("status", STATUS("'NEW','PAID','CANCELLED'"))), ORDER(F("status", STATUS("'NEW','PAID'"))),
	  0, 1, "field \"Order.status\": enum \"com.x.Status\": writer symbol \"CANCELLED\"", NULL },
	{ "add enum symbol, enum with default",
	  ORDER(F("status", STATUS_D("'NEW','PAID'"))),
	  ORDER(F("status", STATUS_D("'NEW','PAID','CANCELLED'"))), 1, 1, NULL, NULL },
	{ "reorder enum symbols",
	  ORDER(F("status", STATUS("'NEW','PAID'"))), ORDER(F("status", STATUS("'PAID','NEW'"))),
	  1, 1, NULL, NULL },
	{ "enum to string",
	  ORDER(F("status", STATUS("'NEW'"))), ORDER(F("status", "'string'")), 0, 0,
	  "field \"Order.status\": reader type string cannot read writer type enum \"com.x.Status\"",
	  "field \"Order.status\": reader type enum \"com.x.Status\" cannot read writer type string" },
	{ "enum renamed",
	  ORDER(F("status", STATUS("'NEW'"))),
	  ORDER(F("status", "{'type':'enum','name':'State','symbols':['NEW']}")), 0, 0,
	  "reader type enum \"com.x.State\" cannot read writer type enum \"com.x.Status\" (the names "
	  "differ and no reader alias names the writer's type)",
	  "reader type enum \"com.x.Status\" cannot read writer type enum \"com.x.State\"" },
	{ "enum renamed with alias",
	  ORDER(F("status", STATUS("'NEW'"))),
	  ORDER(F("status", "{'type':'enum','name':'State','aliases':['Status'],'symbols':['NEW']}")),
	  1, 0, NULL, "reader type enum \"com.x.Status\" cannot read writer type enum \"com.x.State\"" },
	{ "add union branch",
	  ORDER(F("u", "['null','string']")), ORDER(F("u", "['null','string','int']")), 1, 0,
	  NULL, "field \"Order.u\": no branch of the reader's union [null, string] can read writer "
		"type int" },
	{ "remove union branch",
	  ORDER(F("u", "['null','string','int']")), ORDER(F("u", "['null','string']")), 0, 1,
	  "field \"Order.u\": no branch of the reader's union [null, string] can read writer type int",
	  NULL },
	{ "reorder union branches",
	  ORDER(F("u", "['null','string']")), ORDER(F("u", "['string','null']")), 1, 1, NULL, NULL },
	{ "union branch promoted",
	  ORDER(F("u", "['null','int']")), ORDER(F("u", "['null','long']")), 1, 0,
	  NULL, "field \"Order.u\": no branch of the reader's union [null, int] can read writer "
		"type long" },
	{ "change to nullable union",
	  ORDER(F("note", "'string'")), ORDER(FD("note", "['null','string']", "null")), 1, 0,
	  NULL, "field \"Order.note\": reader type string cannot read writer type null" },
	{ "change from nullable union",
	  ORDER(FD("note", "['null','string']", "null")), ORDER(F("note", "'string'")), 0, 1,
	  "field \"Order.note\": reader type string cannot read writer type null", NULL },
	{ "union of promotable branches",
	  ORDER(F("n", "'int'")), ORDER(F("n", "['null','long','double']")), 1, 0,
	  NULL, "field \"Order.n\": reader type int cannot read writer type null" },
	{ "fixed size change",
	  ORDER(F("h", "{'type':'fixed','name':'Hash','size':16}")),
	  ORDER(F("h", "{'type':'fixed','name':'Hash','size':32}")), 0, 0,
	  "field \"Order.h\": reader fixed \"com.x.Hash\" has size 32, the writer's fixed "
	  "\"com.x.Hash\" has size 16 (fixed sizes must be equal)",
	  "field \"Order.h\": reader fixed \"com.x.Hash\" has size 16" },
	{ "fixed renamed",
	  ORDER(F("h", "{'type':'fixed','name':'Hash','size':16}")),
	  ORDER(F("h", "{'type':'fixed','name':'Digest','size':16}")), 0, 0,
	  "field \"Order.h\": reader type fixed \"com.x.Digest\" cannot read writer type fixed "
	  "\"com.x.Hash\"", "field \"Order.h\"" },
	{ "nested record, field added without default",
	  ORDER(F("customer", CUSTOMER(F("name", "'string'")))),
	  ORDER(F("customer", CUSTOMER(F("name", "'string'") "," F("email", "'string'")))), 0, 1,
	  "field \"Order.customer.email\": reader field has no default", NULL },
	{ "nested record, field added with default",
	  ORDER(F("customer", CUSTOMER(F("name", "'string'")))),
	  ORDER(F("customer", CUSTOMER(F("name", "'string'") "," FD("email", "'string'", "''")))),
	  1, 1, NULL, NULL },
	{ "nested record in a nullable union",
	  ORDER(FD("customer", "['null'," CUSTOMER(F("name", "'string'")) "]", "null")),
	  ORDER(FD("customer", "['null'," CUSTOMER(F("name", "'string'") "," F("email", "'string'"))
		   "]", "null")), 0, 1,
	  "field \"Order.customer.email\": reader field has no default", NULL },
	{ "record made nullable",
	  ORDER(F("customer", CUSTOMER(F("name", "'string'")))),
	  ORDER(FD("customer", "['null'," CUSTOMER(F("name", "'string'")) "]", "null")), 1, 0,
	  NULL, "field \"Order.customer\": reader type record \"com.x.Customer\" cannot read writer "
		"type null" },
	{ "array item promotion",
	  ORDER(F("qtys", "{'type':'array','items':'int'}")),
	  ORDER(F("qtys", "{'type':'array','items':'long'}")), 1, 0,
	  NULL, "field \"Order.qtys[]\": reader type int cannot read writer type long" },
	{ "array of records",
	  ORDER(F("lines", "{'type':'array','items':{'type':'record','name':'Line','fields':["
			   F("sku", "'string'") "]}}")),
	  ORDER(F("lines", "{'type':'array','items':{'type':'record','name':'Line','fields':["
			   F("sku", "'string'") "," F("qty", "'int'") "]}}")), 0, 1,
	  "field \"Order.lines[].qty\": reader field has no default", NULL },
	{ "map values promotion",
	  ORDER(F("prices", "{'type':'map','values':'int'}")),
	  ORDER(F("prices", "{'type':'map','values':'double'}")), 1, 0,
	  NULL, "field \"Order.prices{}\": reader type int cannot read writer type double" },
	{ "map values changed",
	  ORDER(F("prices", "{'type':'map','values':'string'}")),
	  ORDER(F("prices", "{'type':'map','values':'int'}")), 0, 0,
	  "field \"Order.prices{}\": reader type int cannot read writer type string",
	  "field \"Order.prices{}\": reader type string cannot read writer type int" },
	{ "map to array",
	  ORDER(F("m", "{'type':'map','values':'int'}")),
	  ORDER(F("m", "{'type':'array','items':'int'}")), 0, 0,
	  "field \"Order.m\": reader type array cannot read writer type map",
	  "field \"Order.m\": reader type map cannot read writer type array" },
	{ "record renamed with alias",
	  ORDER(ID),
	  "{'type':'record','name':'Purchase','namespace':'com.x','aliases':['Order'],'fields':["
	  ID "]}", 1, 0,
	  NULL, "reader type record \"com.x.Order\" cannot read writer type record \"com.x.Purchase\"" },
	{ "record renamed with alias in another namespace",
	  ORDER(ID),
	  "{'type':'record','name':'Purchase','namespace':'com.y','aliases':['com.x.Order'],"
	  "'fields':[" ID "]}", 1, 0, NULL, "cannot read writer type record \"com.y.Purchase\"" },
	{ "record renamed without alias",
	  ORDER(ID), "{'type':'record','name':'Purchase','namespace':'com.x','fields':[" ID "]}",
	  0, 0, "reader type record \"com.x.Purchase\" cannot read writer type record "
		"\"com.x.Order\" (the names differ and no reader alias names the writer's type)",
	  "reader type record \"com.x.Order\" cannot read writer type record \"com.x.Purchase\"" },
	{ "record moved to another namespace",
	  ORDER(ID), "{'type':'record','name':'Order','namespace':'com.y','fields':[" ID "]}",
	  1, 1, NULL, NULL },
	{ "decimal precision change",
	  ORDER(F("total", DEC(10, 2))), ORDER(F("total", DEC(12, 2))), 0, 0,
	  "field \"Order.total\": reader decimal(12,2) cannot read writer decimal(10,2) (decimal "
	  "precision and scale must not change)",
	  "field \"Order.total\": reader decimal(10,2) cannot read writer decimal(12,2)" },
	{ "decimal scale change",
	  ORDER(F("total", DEC(10, 2))), ORDER(F("total", DEC(10, 3))), 0, 0,
	  "reader decimal(10,3) cannot read writer decimal(10,2)",
	  "reader decimal(10,2) cannot read writer decimal(10,3)" },
	{ "decimal on fixed, precision change",
	  ORDER(F("t", "{'type':'fixed','name':'M','size':8,'logicalType':'decimal','precision':10}")),
	  ORDER(F("t", "{'type':'fixed','name':'M','size':8,'logicalType':'decimal','precision':11}")),
	  0, 0, "field \"Order.t\": reader decimal(11,0)", "field \"Order.t\": reader decimal(10,0)" },
	{ "decimal unchanged",
	  ORDER(F("total", DEC(10, 2))), ORDER(F("total", DEC(10, 2))), 1, 1, NULL, NULL },
	{ "decimal dropped to bytes",
	  ORDER(F("total", DEC(10, 2))), ORDER(F("total", "'bytes'")), 1, 1, NULL, NULL },
	{ "logical type added",
	  ORDER(F("at", "'long'")),
	  ORDER(F("at", "{'type':'long','logicalType':'timestamp-millis'}")), 1, 1, NULL, NULL },
	{ "recursive schema, field added with default",
	  NODE(""), NODE("," FD("label", "'string'", "''")), 1, 1, NULL, NULL },
	{ "recursive schema, field added without default",
	  NODE(""), NODE("," F("label", "'string'")), 0, 1,
	  "field \"Node.label\": reader field has no default", NULL },
	{ "recursive schema, type widened",
	  "{'type':'record','name':'Node','fields':[" F("v", "'int'") ","
	  F("kids", "{'type':'array','items':'Node'}") "]}",
	  "{'type':'record','name':'Node','fields':[" F("v", "'long'") ","
	  F("kids", "{'type':'array','items':'Node'}") "]}", 1, 0,
	  NULL, "field \"Node.v\": reader type int cannot read writer type long" },
	{ "mutually recursive records",
	  "{'type':'record','name':'A','fields':[" F("b", "['null',{'type':'record','name':'B',"
	  "'fields':[" F("a", "['null','A']") "]}]") "]}",
	  "{'type':'record','name':'A','fields':[" F("b", "['null',{'type':'record','name':'B',"
	  "'fields':[" F("a", "['null','A']") "," FD("n", "'int'", "0") "]}]") "]}", 1, 1,
	  NULL, NULL },
	{ "top level primitive",
	  "'int'", "'long'", 1, 0, NULL, "reader type int cannot read writer type long" },
	{ "top level union",
	  "['null','int']", "['null','int','string']", 1, 0,
	  NULL, "no branch of the reader's union [null, int] can read writer type string" },
};

static void
check_message(const char *errstr, const char *want, size_t i, const char *what)
{
	if (!want)
		fail_msg("case %zu (%s): unexpected failure: %s", i, what, errstr);
	if (!strstr(errstr, want))
		fail_msg("case %zu (%s): \"%s\" not in \"%s\"", i, what, want, errstr);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct avsc_schema *v1 = must_parse(cases[i].v1), *v2 = must_parse(cases[i].v2);
		const struct avsc_schema *existing[] = { v1 };
		const int versions[] = { 1 };
		int full = cases[i].backward && cases[i].forward;
		char errstr[1024];

		/* the rules in both directions */
		if (compat_can_read(v2, v1, errstr, sizeof(errstr)) != cases[i].backward)
			fail_msg("case %zu (%s): v2 reading v1 gives %d: %s", i, cases[i].what,
				 !cases[i].backward, errstr);
		if (!cases[i].backward)
			check_message(errstr, cases[i].b_error, i, cases[i].what);
		else
			assert_string_equal(errstr, "");
		if (compat_can_read(v1, v2, errstr, sizeof(errstr)) != cases[i].forward)
			fail_msg("case %zu (%s): v1 reading v2 gives %d: %s", i, cases[i].what,
				 !cases[i].forward, errstr);
		if (!cases[i].forward)
			check_message(errstr, cases[i].f_error, i, cases[i].what);

		/* the levels, the transitive ones being the same with a single version */
		for (int t = 0; t < 2; t++) {
			struct {
				enum compat_level level;
				int ok;
				const char *error;
			} levels[] = {
				{ t ? COMPAT_BACKWARD_TRANSITIVE : COMPAT_BACKWARD, cases[i].backward,
				  cases[i].b_error },
				{ t ? COMPAT_FORWARD_TRANSITIVE : COMPAT_FORWARD, cases[i].forward,
				  cases[i].f_error },
				{ t ? COMPAT_FULL_TRANSITIVE : COMPAT_FULL, full,
				  cases[i].backward ? cases[i].f_error : cases[i].b_error },
				{ COMPAT_NONE, 1, NULL },
			};

			for (size_t l = 0; l < ARRAY_SIZE(levels); l++) {
				int rc = compat_check(levels[l].level, v2, existing, versions, 1, errstr,
						      sizeof(errstr));

				if (rc != (levels[l].ok ? 0 : -1))
					fail_msg("case %zu (%s): %s gives %d: %s", i, cases[i].what,
						 compat_level_name(levels[l].level), rc, errstr);
				if (rc == 0)
					continue;
				check_message(errstr, levels[l].error, i, cases[i].what);
				check_message(errstr, "with version 1", i, cases[i].what);
				check_message(errstr, compat_level_name(levels[l].level), i,
					      cases[i].what);
			}
		}
		avsc_free(v1);
		avsc_free(v2);
	}
}

/* Each schema is compatible with itself in every way. */
static void test_identity(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct avsc_schema *a = must_parse(cases[i].v2), *b = must_parse(cases[i].v2);
		const struct avsc_schema *existing[] = { b };
		char errstr[512];

		assert_int_equal(compat_can_read(a, a, errstr, sizeof(errstr)), 1);
		assert_int_equal(compat_can_read(a, b, errstr, sizeof(errstr)), 1);
		assert_int_equal(compat_check(COMPAT_FULL_TRANSITIVE, a, existing, NULL, 1, errstr,
					      sizeof(errstr)), 0);
		avsc_free(a);
		avsc_free(b);
	}
}

/*
 * v3 makes a field required that v2 added with a default: v3 reads v2's data, not v1's.
 * Versions are given as 4 and 7 to show that the numbers, not the indexes, are reported.
 */
static void test_backward_transitive(void **state)
{
	struct avsc_schema *v1 = must_parse(ORDER(ID));
	struct avsc_schema *v2 = must_parse(ORDER(ID "," FD("note", "'string'", "''")));
	struct avsc_schema *v3 = must_parse(ORDER(ID "," F("note", "'string'")));
	const struct avsc_schema *existing[] = { v1, v2 };
	const int versions[] = { 4, 7 };
	char errstr[1024];

	(void)state;
	assert_int_equal(compat_check(COMPAT_BACKWARD, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), 0);
	assert_int_equal(compat_check(COMPAT_BACKWARD_TRANSITIVE, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), -1);
	assert_string_equal(errstr,
		"not BACKWARD_TRANSITIVE compatible with version 4: the new schema cannot read data "
		"written with version 4: field \"Order.note\": reader field has no default and the "
		"writer does not have it");
	/* FORWARD holds either way: old readers ignore the field */
	assert_int_equal(compat_check(COMPAT_FORWARD_TRANSITIVE, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), 0);
	assert_int_equal(compat_check(COMPAT_FULL, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), 0);
	assert_int_equal(compat_check(COMPAT_FULL_TRANSITIVE, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "version 4"));
	/* without version numbers, the index into existing */
	assert_int_equal(compat_check(COMPAT_BACKWARD_TRANSITIVE, v3, existing, NULL, 2, errstr,
				      sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "not BACKWARD_TRANSITIVE compatible with existing schema 0: "
					"the new schema cannot read data written with existing "
					"schema 0: field \"Order.note\""));
	avsc_free(v1);
	avsc_free(v2);
	avsc_free(v3);
}

/*
 * v1 requires a field, v2 gives it a default, v3 drops it: v2 readers cope with v3 data, v1
 * readers do not.
 */
static void test_forward_transitive(void **state)
{
	struct avsc_schema *v1 = must_parse(ORDER(ID "," F("note", "'string'")));
	struct avsc_schema *v2 = must_parse(ORDER(ID "," FD("note", "'string'", "''")));
	struct avsc_schema *v3 = must_parse(ORDER(ID));
	const struct avsc_schema *existing[] = { v1, v2 };
	const int versions[] = { 1, 2 };
	char errstr[1024];

	(void)state;
	assert_int_equal(compat_check(COMPAT_FORWARD, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), 0);
	assert_int_equal(compat_check(COMPAT_FULL, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), 0);
	assert_int_equal(compat_check(COMPAT_BACKWARD_TRANSITIVE, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), 0);
	assert_int_equal(compat_check(COMPAT_FORWARD_TRANSITIVE, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), -1);
	assert_string_equal(errstr,
		"not FORWARD_TRANSITIVE compatible with version 1: version 1 cannot read data written "
		"with the new schema: field \"Order.note\": reader field has no default and the "
		"writer does not have it");
	assert_int_equal(compat_check(COMPAT_FULL_TRANSITIVE, v3, existing, versions, 2, errstr,
				      sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "not FULL_TRANSITIVE compatible with version 1: version 1 "
					"cannot read data written with the new schema"));
	avsc_free(v1);
	avsc_free(v2);
	avsc_free(v3);
}

/* Only the latest version counts without _TRANSITIVE, even when an older one is worse. */
static void test_latest_only(void **state)
{
	struct avsc_schema *v1 = must_parse("'string'");
	struct avsc_schema *v2 = must_parse("'int'");
	struct avsc_schema *cand = must_parse("'long'");
	const struct avsc_schema *existing[] = { v1, v2 };
	char errstr[512];

	(void)state;
	assert_int_equal(compat_check(COMPAT_BACKWARD, cand, existing, NULL, 2, errstr,
				      sizeof(errstr)), 0);
	assert_int_equal(compat_check(COMPAT_BACKWARD_TRANSITIVE, cand, existing, NULL, 2, errstr,
				      sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "existing schema 0"));
	assert_non_null(strstr(errstr, "reader type long cannot read writer type string"));
	assert_int_equal(compat_check(COMPAT_FORWARD, cand, existing, NULL, 2, errstr,
				      sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "not FORWARD compatible with existing schema 1: existing "
					"schema 1 cannot read data written with the new schema: "
					"reader type int cannot read writer type long"));
	avsc_free(v1);
	avsc_free(v2);
	avsc_free(cand);
}

static void test_no_versions(void **state)
{
	struct avsc_schema *s = must_parse("'int'");
	char errstr[128] = "x";

	(void)state;
	for (int l = COMPAT_NONE; l <= COMPAT_FULL_TRANSITIVE; l++)
		assert_int_equal(compat_check((enum compat_level)l, s, NULL, NULL, 0, errstr,
					      sizeof(errstr)), 0);
	assert_int_equal(compat_check((enum compat_level)42, s, NULL, NULL, 0, errstr,
				      sizeof(errstr)), -1);
	assert_string_equal(errstr, "unknown compatibility level 42");
	/* no errstr at all */
	assert_int_equal(compat_check((enum compat_level)42, s, NULL, NULL, 0, NULL, 0), -1);
	assert_int_equal(compat_can_read(s, s, NULL, 0), 1);
	avsc_free(s);
}

static void test_levels(void **state)
{
	static const struct {
		const char *text;
		int level;
	} parse_cases[] = {
		{ "NONE", COMPAT_NONE },
		{ "BACKWARD", COMPAT_BACKWARD },
		{ "backward", COMPAT_BACKWARD },
		{ "Backward_Transitive", COMPAT_BACKWARD_TRANSITIVE },
		{ "FORWARD", COMPAT_FORWARD },
		{ "forward_transitive", COMPAT_FORWARD_TRANSITIVE },
		{ "full", COMPAT_FULL },
		{ "FULL_TRANSITIVE", COMPAT_FULL_TRANSITIVE },
		{ "", -1 },
		{ "full-transitive", -1 },
		{ "BACKWARDS", -1 },
		{ " FULL", -1 },
		{ NULL, -1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++)
		assert_int_equal(compat_level_parse(parse_cases[i].text), parse_cases[i].level);
	for (int l = COMPAT_NONE; l <= COMPAT_FULL_TRANSITIVE; l++)
		assert_int_equal(compat_level_parse(compat_level_name((enum compat_level)l)), l);
	assert_string_equal(compat_level_name(COMPAT_FULL_TRANSITIVE), "FULL_TRANSITIVE");
	assert_string_equal(compat_level_name((enum compat_level)-1), "UNKNOWN");
}

/*
 * A reader union tries its branches with the pairs of records it has already compared in
 * mind; a failed try must not leave a record pair behind as if it had matched.
 */
static void test_union_try_forgets(void **state)
{
	/* reader: union of two records both named Customer in different namespaces */
	struct avsc_schema *r = must_parse(
		"{'type':'record','name':'W','fields':[{'name':'c','type':["
		"{'type':'record','name':'Customer','namespace':'a','fields':["
		F("id", "'int'") "," F("email", "'string'") "]},"
		"{'type':'record','name':'Customer','namespace':'b','fields':[" F("id", "'long'") "]}]},"
		"{'name':'d','type':'a.Customer'}]}");
	struct avsc_schema *w = must_parse(
		"{'type':'record','name':'W','fields':[{'name':'c','type':"
		"{'type':'record','name':'Customer','fields':[" F("id", "'int'") "]}},"
		"{'name':'d','type':'Customer'}]}");
	char errstr[512];

	(void)state;
	/* c: a.Customer fails (email), b.Customer reads it; d: a.Customer must fail again */
	assert_int_equal(compat_can_read(r, w, errstr, sizeof(errstr)), 0);
	assert_string_equal(errstr, "field \"W.d.email\": reader field has no default and the "
				    "writer does not have it");
	avsc_free(r);
	avsc_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_backward_transitive),
		cmocka_unit_test(test_forward_transitive),
		cmocka_unit_test(test_latest_only),
		cmocka_unit_test(test_no_versions),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_union_try_forgets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
