/*
 * test_db — unit tests of the db module's number helpers (no server): db_int8 must read every
 * text exactly as strtoll(text, NULL, 10) does, and db_format_int8 write every value as "%lld".
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void
test_int8(void **state)
{
	static const char *const texts[] = {
		"0", "-0", "1", "-1", "42", "1234567", "999999999999999999", "-999999999999999999",
		"1000000000000000000", "-1000000000000000000", "9223372036854775807",
		"-9223372036854775808", "9223372036854775808", "-9223372036854775809",
		"99999999999999999999999", "", "-", "+5", " 7", "\t-7", "12abc", "12 ", "0012",
		"-0012", "1.5", "1e3", "abc", "--1", "0x10", "000000000000000000000000001",
	};
	char buf[64];
	unsigned seed = 7;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++)
		if (db_int8(texts[i]) != strtoll(texts[i], NULL, 10))
			fail_msg("\"%s\": %lld, strtoll %lld", texts[i], db_int8(texts[i]),
				 strtoll(texts[i], NULL, 10));
	for (int k = 0; k < 100000; k++) {
		long long v;

		seed = seed * 1103515245 + 12345;
		v = (long long)(((uint64_t)seed << 32) ^ ((uint64_t)seed * 2654435761u)) >> (seed % 63);
		snprintf(buf, sizeof(buf), "%lld", v);
		assert_true(db_int8(buf) == v);
	}
}

static void
test_format_int8(void **state)
{
	static const long long values[] = {
		0, 1, -1, 9, 10, -10, 99, 100, 123456789, -123456789, 999999999999999999LL,
		LLONG_MAX, LLONG_MIN, LLONG_MIN + 1,
	};
	char out[DB_INT8_SIZE + 1], want[32];
	unsigned seed = 11;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(values) + 100000; i++) {
		long long v;
		size_t n;

		if (i < ARRAY_SIZE(values)) {
			v = values[i];
		} else {
			seed = seed * 1103515245 + 12345;
			v = (long long)(((uint64_t)seed << 32) ^ ((uint64_t)seed * 2654435761u)) >>
			    (seed % 63);
		}
		n = db_format_int8(out, v);
		out[n] = '\0';
		snprintf(want, sizeof(want), "%lld", v);
		assert_string_equal(out, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int8),
		cmocka_unit_test(test_format_int8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
