/*
 * test_log.c: unit tests of log_flatten, which puts libpq's multi-line messages on one line in
 * place (and once wrote past the end of its buffer on a newline not followed by indentation), and
 * the JSON lines format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

static void
flat(const char *in, const char *want)
{
	size_t n = strlen(in);
	char *buf = malloc(n + 1);	/* exactly the input: a longer result would overflow */

	assert_non_null(buf);
	memcpy(buf, in, n + 1);
	log_flatten(buf);
	assert_string_equal(buf, want);
	free(buf);
}

static void
test_flatten(void **state)
{
	(void)state;
	flat("plain", "plain");
	flat("", "");
	flat("trailing\n\n", "trailing");
	flat("failed: Connection refused\n\tIs the server running on that host?\n",
	     "failed: Connection refused; Is the server running on that host?");
	flat("FATAL:  the database system is not yet accepting connections\nDETAIL:  Consistent "
	     "recovery state has not been yet reached.\n",
	     "FATAL:  the database system is not yet accepting connections DETAIL:  Consistent "
	     "recovery state has not been yet reached.");
	flat("a\nb\nc\nd", "a b c d");
	flat("a\n\n\nb", "a; b");
	flat("tab\there", "tab here");
	flat("\nx", " x");
}

/* Runs one log_info with stderr sent to a file; returns what was written (static buffer). */
static const char *
captured(const char *msg)
{
	static char buf[8192];
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(f);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	log_info("%s", msg);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
test_json_lines(void **state)
{
	const char *msg = "source \"orders\": a \\ b\tc\nd \x01 caf\xc3\xa9";
	json_error_t err;
	json_t *obj;
	const char *out;

	(void)state;
	log_set_json(1);
	out = captured(msg);
	log_set_json(0);
	assert_int_equal(out[strlen(out) - 1], '\n');
	assert_null(strchr(out, '\n') == out + strlen(out) - 1 ? NULL : "more than one line");
	obj = json_loads(out, 0, &err);
	if (!obj)
		fail_msg("not one JSON object: %s: %s", err.text, out);
	assert_string_equal(json_string_value(json_object_get(obj, "level")), "info");
	assert_true(json_integer_value(json_object_get(obj, "pid")) == getpid());
	assert_int_equal(strlen(json_string_value(json_object_get(obj, "time"))), 24);
	/* the message comes back exactly: escaped, so the line stays one line */
	assert_string_equal(json_string_value(json_object_get(obj, "message")),
			    "source \"orders\": a \\ b\tc\nd \x01 caf\xc3\xa9");
	json_decref(obj);

	out = captured("plain");
	assert_non_null(strstr(out, " LOG:  plain\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flatten),
		cmocka_unit_test(test_json_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
