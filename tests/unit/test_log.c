/*
 * test_log.c: unit tests of log_flatten, which puts libpq's multi-line messages on one line in
 * place (and once wrote past the end of its buffer on a newline not followed by indentation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flatten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
