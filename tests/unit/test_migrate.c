/*
 * test_migrate — unit tests of the migrate module (no database)
 *
 * Covers the embedded migration table (sorted, contiguous, checksummed),
 * token substitution quoted for where each token stands (identifier, string,
 * comment, $$ body), the name limits, unknown tokens, and that a failing connection never echoes
 * the DSN. Applying against a real server is tested in
 * tests/integration/test_migrate.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migrate.h"

/* Render into a malloc'd string; *out is set even on failure. */
static int
render(const char *schema, const char *table, int version,
       char **out, char *errstr, size_t errstr_size)
{
	size_t len = 0;
	FILE *mem = open_memstream(out, &len);
	int rc;

	assert_non_null(mem);
	rc = migrate_render(schema, table, version, mem, errstr, errstr_size);
	assert_int_equal(fclose(mem), 0);
	return rc;
}

static int
render_sql(const char *sql, char **out,
	   char *errstr, size_t errstr_size)
{
	size_t len = 0;
	FILE *mem = open_memstream(out, &len);
	int rc;

	assert_non_null(mem);
	rc = migrate_render_sql("test", sql, "s", "t", mem, errstr, errstr_size);
	assert_int_equal(fclose(mem), 0);
	return rc;
}

static void
test_versions_sorted_and_contiguous(void **state)
{
	size_t i, j;
	char prefix[8];

	(void)state;
	assert_true(migrate_sql_count >= 2);
	for (i = 0; i < migrate_sql_count; i++) {
		const struct migrate_sql *m = &migrate_sqls[i];

		assert_int_equal(m->version, (int)i + 1);
		snprintf(prefix, sizeof(prefix), "%04d_", m->version);
		assert_memory_equal(m->name, prefix, 5);
		assert_true(strlen(m->name) > 5);
		assert_non_null(m->sql);
		assert_true(strlen(m->sql) > 0);
		assert_int_equal(strlen(m->checksum), 64);
		for (j = 0; j < 64; j++)
			assert_non_null(strchr("0123456789abcdef", m->checksum[j]));
		/* outbox-relay wraps each migration in its own transaction. */
		assert_null(strstr(m->sql, "\nBEGIN;"));
		assert_null(strstr(m->sql, "\nCOMMIT;"));
		assert_null(strstr(m->sql, "\nSTART TRANSACTION"));
	}
	assert_string_equal(migrate_sqls[0].name, "0001_outbox_table");
	assert_string_equal(migrate_sqls[1].name, "0002_outbox_emit");
}

/* Each case: a rendering must contain every one of want. */
static const struct {
	const char *schema, *table;
	int version;
	const char *want[4];
} render_cases[] = {
	{ "public", "outbox", 1, {
		"CREATE TABLE IF NOT EXISTS \"public\".\"outbox\" (",
		"CREATE INDEX IF NOT EXISTS \"outbox_unpublished_idx\"",
		"txid           xid8        NOT NULL DEFAULT pg_current_xact_id()",
		"WHERE nspname = 'public'" } },
	{ "public", "outbox", 2, {
		"CREATE OR REPLACE FUNCTION \"public\".\"outbox_emit\"(",
		"INSERT INTO \"public\".\"outbox\"",
		"RETURNS uuid", NULL } },
	{ "app_events", "orders_outbox", 0, {
		"CREATE TABLE IF NOT EXISTS \"app_events\".\"orders_outbox\" (",
		"\"orders_outbox_unpublished_idx\"",
		"\"app_events\".\"orders_outbox_emit\"(",
		"CREATE SCHEMA \"app_events\"" } },
	/* A keyword is fine: the templates quote every name. */
	{ "user", "select", 0, {
		"\"user\".\"select\"", "\"select_emit\"", NULL, NULL } },
};

static void
test_render_substitutes_tokens(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		char errstr[256] = "", *out = NULL;
		int rc = render(render_cases[i].schema, render_cases[i].table,
				render_cases[i].version, &out,
				errstr, sizeof(errstr));

		if (rc != 0)
			fail_msg("case %zu: %s", i, errstr);
		assert_null(strstr(out, "{{"));
		assert_null(strstr(out, "}}"));
		for (j = 0; j < 4 && render_cases[i].want[j] != NULL; j++)
			if (strstr(out, render_cases[i].want[j]) == NULL)
				fail_msg("case %zu: \"%s\" not in output", i,
					 render_cases[i].want[j]);
		free(out);
	}
}

static void
test_render_all_is_every_version_in_order(void **state)
{
	char errstr[256] = "", *all = NULL, *one = NULL;
	const char *at;
	size_t i;

	(void)state;
	assert_int_equal(render("public", "outbox", 0, &all,
				errstr, sizeof(errstr)), 0);
	at = all;
	for (i = 0; i < migrate_sql_count; i++) {
		assert_int_equal(render("public", "outbox", migrate_sqls[i].version,
					&one, errstr, sizeof(errstr)), 0);
		at = strstr(at, one);
		assert_non_null(at);
		at += strlen(one);
		free(one);
		one = NULL;
	}
	free(all);
}

static void
test_render_rejects_unknown_version(void **state)
{
	static const int bad[] = { -1, 99999 };
	char errstr[256], *out = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int version = bad[i] == 99999 ? (int)migrate_sql_count + 1 : bad[i];

		errstr[0] = '\0';
		assert_int_equal(render("public", "outbox", version, &out,
					errstr, sizeof(errstr)), MIGRATE_EINVAL);
		assert_non_null(strstr(errstr, "no migration"));
		assert_string_equal(out, "");
		free(out);
		out = NULL;
	}
}

/* Names: 63 bytes of schema and 41 of table are the longest allowed. */
#define S63 "s23456789012345678901234567890123456789012345678901234567890123"
#define T41 "t2345678901234567890123456789012345678901"

static const struct {
	const char *schema, *table;
	int ok;
	const char *error; /* substring of the message when not ok */
} name_cases[] = {
	{ "public", "outbox", 1, NULL },
	{ "_x", "t_1", 1, NULL },
	{ "a1", "b2_", 1, NULL },
	{ S63, T41, 1, NULL },
	/* Any name PostgreSQL takes quoted: taken as written, quoted when
	 * rendered (see test_quoting). Upper case is not folded. */
	{ "Sales Dept", "Out\"box", 1, NULL },
	{ "x; drop", "outbox; drop table x", 1, NULL },
	{ "Public", "Outbox", 1, NULL },
	{ "1abc", "9", 1, NULL },
	{ "caf\xc3\xa9", "outbox", 1, NULL },
	{ "it's", "a'b", 1, NULL },
	{ S63 "4", "outbox", 0, "schema name \"" S63 "4\" is too long: 64 bytes" },
	{ "public", T41 "2", 0, "table name \"" T41 "2\" is too long: 42 bytes" },
	{ "", "outbox", 0, "schema name must not be empty" },
	{ "public", "", 0, "table name must not be empty" },
	{ NULL, "outbox", 0, "schema name must not be empty" },
	{ "public", NULL, 0, "table name must not be empty" },
	{ "public", "outbox\n", 0, "invalid table name: it contains a control character" },
	{ "pub\tlic", "outbox", 0, "invalid schema name: it contains a control character" },
	{ "public", "public.outbox", 0, "give the schema separately" },
	/* would end the $$ body of the functions */
	{ "public", "a$$b", 0, "the name \"a$$b\" cannot be used: it holds \"$$\"" },
};

static void
test_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		char errstr[256] = "", *out = NULL;
		int rc = render(name_cases[i].schema, name_cases[i].table, 0, &out,
				errstr, sizeof(errstr));

		if (name_cases[i].ok) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, errstr);
			assert_int_equal(migrate_check_names(name_cases[i].schema,
							     name_cases[i].table,
							     errstr, sizeof(errstr)), 0);
		} else {
			if (rc != MIGRATE_EINVAL)
				fail_msg("case %zu: accepted", i);
			if (strstr(errstr, name_cases[i].error) == NULL)
				fail_msg("case %zu: \"%s\" not in \"%s\"", i,
					 name_cases[i].error, errstr);
			/* Nothing is written when the names are bad. */
			assert_string_equal(out, "");
			/* Applying checks the names before connecting. */
			errstr[0] = '\0';
			assert_int_equal(migrate_apply("host=/nonexistent",
						       name_cases[i].schema,
						       name_cases[i].table, 0, stdout,
						       errstr, sizeof(errstr)),
					 MIGRATE_EINVAL);
			assert_non_null(strstr(errstr, name_cases[i].error));
		}
		free(out);
	}
}

static const struct {
	const char *sql;
	int ok;
	const char *result; /* the rendering, or a substring of the error */
} token_cases[] = {
	{ "a \"{{schema}}\".\"{{table}}\" b", 1, "a \"s\".\"t\" b" },
	{ "-- {{table}}{{table}}_x", 1, "-- tt_x" },
	{ "a {{schema}}.x", 0, "token outside quotes at line 1" },
	{ "no tokens", 1, "no tokens" },
	{ "", 1, "" },
	{ "'{\"a\": {\"b\": 1}}'::jsonb", 1, "'{\"a\": {\"b\": 1}}'::jsonb" },
	{ "x {{nope}} y", 0, "unknown token \"{{nope}}\" at line 1" },
	{ "x\n\n{{Schema}}", 0, "unknown token \"{{Schema}}\" at line 3" },
	{ "{{ schema }}", 0, "unknown token \"{{ schema }}\"" },
	{ "{{}}", 0, "unknown token \"{{}}\"" },
	{ "-- {{schema}} {{table", 0, "unterminated \"{{\" at line 1" },
	{ "'{{1,2},{3,4}}'", 0, "unknown token \"{{1,2},{3,4}}\"" },
	{ "{{a\nb}}", 0, "unknown token \"{{a\"" },
};

static void
test_tokens(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(token_cases) / sizeof(token_cases[0]); i++) {
		char errstr[256] = "", *out = NULL;
		int rc = render_sql(token_cases[i].sql, &out, errstr, sizeof(errstr));

		if (token_cases[i].ok) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, errstr);
			assert_string_equal(out, token_cases[i].result);
		} else {
			assert_int_equal(rc, MIGRATE_EINVAL);
			if (strstr(errstr, token_cases[i].result) == NULL)
				fail_msg("case %zu: \"%s\" not in \"%s\"", i,
					 token_cases[i].result, errstr);
			assert_non_null(strstr(errstr, "migration \"test\""));
			/* Checked before writing: a bad template writes nothing. */
			assert_string_equal(out, "");
		}
		free(out);
	}
}

/* Each token is quoted for where it stands in the template's SQL. */
static const struct {
	const char *sql, *schema, *table;
	int ok;
	const char *result; /* the rendering, or a substring of the error */
} quoting_cases[] = {
	{ "\"{{schema}}\".\"{{table}}\"", "Sales Dept", "Out\"box", 1,
	  "\"Sales Dept\".\"Out\"\"box\"" },
	{ "WHERE nspname = '{{schema}}'", "it's", "t", 1, "WHERE nspname = 'it''s'" },
	{ "-- {{schema}}.{{table}} it's\n'{{schema}}'", "a'b", "x\"y", 1,
	  "-- a'b.x\"y it's\n'a''b'" },
	{ "/* {{table}} ' */ \"{{table}}\"", "s", "q\"", 1, "/* q\" ' */ \"q\"\"\"" },
	{ "'a''{{schema}}' \"x\"\"{{table}}\"", "'", "\"", 1, "'a''''' \"x\"\"\"\"\"" },
	{ "$$ INSERT INTO \"{{schema}}\".\"{{table}}\" $$; '{{table}}'", "S", "O\"'", 1,
	  "$$ INSERT INTO \"S\".\"O\"\"'\" $$; 'O\"'''" },
	{ "\"{{table}}_emit\"", "s", "a$b", 1, "\"a$b_emit\"" },
	{ "\"{{table}}\" $$ x $$", "s", "a$$b", 1, "\"a$$b\" $$ x $$" },
	{ "$$ \"{{table}}\" $$", "s", "a$$b", 0, "holds \"$$\", which would end the function body" },
	{ "/* {{table}} */", "s", "a*/b", 0, "holds \"*/\", which would end the comment" },
};

static void
test_quoting(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(quoting_cases) / sizeof(quoting_cases[0]); i++) {
		char errstr[256] = "", *out = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&out, &len);
		int rc;

		assert_non_null(mem);
		rc = migrate_render_sql("test", quoting_cases[i].sql, quoting_cases[i].schema,
					quoting_cases[i].table, mem, errstr, sizeof(errstr));
		assert_int_equal(fclose(mem), 0);
		if (quoting_cases[i].ok) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, errstr);
			assert_string_equal(out, quoting_cases[i].result);
		} else {
			assert_int_equal(rc, MIGRATE_EINVAL);
			if (strstr(errstr, quoting_cases[i].result) == NULL)
				fail_msg("case %zu: \"%s\" not in \"%s\"", i,
					 quoting_cases[i].result, errstr);
			assert_string_equal(out, "");
		}
		free(out);
	}
}

static void
test_long_errors_are_truncated_safely(void **state)
{
	char errstr[8];

	(void)state;
	memset(errstr, 'x', sizeof(errstr));
	assert_int_equal(migrate_check_names("x\ndrop", "outbox",
					     errstr, sizeof(errstr)),
			 MIGRATE_EINVAL);
	assert_int_equal(strlen(errstr), sizeof(errstr) - 1);
	/* A zero-sized buffer is never written. */
	assert_int_equal(migrate_check_names("", "outbox", NULL, 0),
			 MIGRATE_EINVAL);
}

/* The DSN may hold a password: no failure message may repeat it. */
static void
test_apply_never_prints_dsn(void **state)
{
	static const char *const dsns[] = {
		/* Connection refused (nothing listens on port 1). */
		"host=127.0.0.1 port=1 connect_timeout=2 password=hunter2secret",
		"postgresql://app:hunter2secret@127.0.0.1:1/app?connect_timeout=2",
		/* Malformed: libpq's own messages would quote these. */
		"host=127.0.0.1 password hunter2secret",
		"postgresql://app:hunter2secret@127.0.0.1:1/app?bogus%zz=1",
		"postgresql://app:hunter2secret@[::1/app",
		"nosuchoption=1 password=hunter2secret",
	};
	char errstr[512], *report = NULL;
	size_t i, len = 0;
	FILE *mem;

	(void)state;
	for (i = 0; i < sizeof(dsns) / sizeof(dsns[0]); i++) {
		errstr[0] = '\0';
		mem = open_memstream(&report, &len);
		assert_non_null(mem);
		assert_int_equal(migrate_apply(dsns[i], "public", "outbox", 0, mem,
					       errstr, sizeof(errstr)),
				 MIGRATE_EDB);
		assert_int_equal(fclose(mem), 0);
		if (strstr(errstr, "hunter2secret") != NULL)
			fail_msg("case %zu leaks the DSN: %s", i, errstr);
		assert_null(strstr(report, "hunter2secret"));
		assert_true(strstr(errstr, "could not connect to database") != NULL ||
			    strstr(errstr, "invalid connection string") != NULL);
		/* One line, libpq's trailing newline trimmed. */
		assert_null(strchr(errstr, '\n'));
		assert_true(errstr[strlen(errstr) - 1] != ' ');
		free(report);
		report = NULL;
	}
}

static void
test_usage(void **state)
{
	const char *usage = migrate_usage();

	(void)state;
	assert_non_null(strstr(usage, "--dsn DSN"));
	assert_non_null(strstr(usage, "--schema"));
	assert_non_null(strstr(usage, "--table"));
	assert_non_null(strstr(usage, "--print"));
	assert_non_null(strstr(usage, "--dry-run"));
	assert_int_equal(usage[strlen(usage) - 1], '\n');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions_sorted_and_contiguous),
		cmocka_unit_test(test_render_substitutes_tokens),
		cmocka_unit_test(test_render_all_is_every_version_in_order),
		cmocka_unit_test(test_render_rejects_unknown_version),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_long_errors_are_truncated_safely),
		cmocka_unit_test(test_apply_never_prints_dsn),
		cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}
