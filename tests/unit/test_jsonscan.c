/*
 * test_jsonscan — unit tests of the jsonscan module (the payload reader behind avenc)
 *
 * Well-formed texts must give the right tokens (kinds, numbers, spans, skips, unescaped strings);
 * malformed ones (truncated, bad escapes, lone surrogates, invalid UTF-8, leading zeros, numbers
 * out of range, nesting too deep, trailing garbage) must give an error with a position, never a
 * crash. Every text is also read by jansson with the flags avenc used before: the two must agree
 * on what is JSON, duplicate keys included (jsonscan_duplicate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonscan.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Whether jansson, as avenc called it before jsonscan, takes text. */
static int
jansson_ok(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
			       JSON_ALLOW_NUL, &jerr);

	json_decref(j);
	return j != NULL;
}

/* jsonscan_parse, then jsonscan_duplicate: 0 when text is JSON, else -1 with errstr. */
static int
scan(struct jsonscan *js, const char *text, size_t len, char *errstr, size_t errstr_size)
{
	if (jsonscan_parse(js, text, len, errstr, errstr_size) != 0)
		return -1;
	return jsonscan_duplicate(js, errstr, errstr_size) == 0 ? 0 : -1;
}

static const struct {
	const char *text, *error;	/* error: a part of the message; NULL: valid */
} cases[] = {
	{ "0", NULL },
	{ "-0", NULL },
	{ " \t\r\n[1, -2.5e3, \"x\", true, false, null, {}, []]\n", NULL },
	{ "{\"a\": {\"b\": [1, {\"c\": null}]}, \"d\": \"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
	  NULL },
	{ "\"\\u0000\"", NULL },
	{ "9223372036854775807", NULL },
	{ "-9223372036854775808", NULL },
	{ "1e-400", NULL },		/* underflows to 0: fine, as strtod */
	{ "\"h\xc3\xa9llo \xe4\xb8\x96 \xf0\x9f\x98\x80\"", NULL },
	{ "{\"a\": 1, \"b\": 2, \"A\": 3}", NULL },
	/* truncated */
	{ "", "unexpected token near end of file at line 1 column 0" },
	{ "   ", "unexpected token near end of file" },
	{ "{", "string or '}' expected near end of file" },
	{ "{\"v\": 1", "'}' expected near end of file at line 1 column 7" },
	{ "[1, 2", "']' expected near end of file" },
	{ "{\"v\"", "':' expected near end of file" },
	{ "{\"v\":", "unexpected token near end of file" },
	{ "\"abc", "premature end of input near '\"abc'" },
	{ "\"abc\\", "premature end of input" },
	{ "[\"a\", \"b", "premature end of input" },
	{ "tr", "invalid token near 'tr'" },
	{ "-", "invalid token near '-'" },
	/* literals and stray characters */
	{ "{\"v\": tru}", "invalid token near 'tru' at line 1 column 9" },
	{ "truex", "invalid token near 'truex'" },
	{ "True", "invalid token near 'True'" },
	{ "nul", "invalid token" },
	{ "@", "invalid token near '@'" },
	{ "[1,]", "unexpected token near ']'" },
	{ "[,1]", "unexpected token near ','" },
	{ "{\"a\":1,}", "string or '}' expected near '}'" },
	{ "{1:2}", "string or '}' expected near '1'" },
	{ "{'a':1}", "string or '}' expected" },
	{ "{\"a\" 1}", "':' expected near '1'" },
	{ "[1 2]", "']' expected near '2'" },
	{ "{\"a\":1]", "'}' expected near ']'" },
	{ "[1}", "']' expected near '}'" },
	/* trailing garbage */
	{ "{\"v\": 1}}", "end of file expected near '}' at line 1 column 9" },
	{ "1 x", "end of file expected near 'x'" },
	{ "{} {}", "end of file expected" },
	{ "\"a\"\"b\"", "end of file expected" },
	{ "\xef\xbb\xbf{}", "invalid token" },		/* a BOM is not JSON */
	/* numbers */
	{ "01", "invalid token" },
	{ "-01", "invalid token" },
	{ "00", "invalid token" },
	{ "1.", "invalid token near '1.'" },
	{ ".5", "invalid token" },
	{ "1e", "invalid token near '1e'" },
	{ "1e+", "invalid token" },
	{ "1.e5", "invalid token" },
	{ "+1", "invalid token" },
	{ "0x10", "end of file expected" },
	{ "NaN", "invalid token" },
	{ "-Infinity", "invalid token" },
	{ "9223372036854775808", "too big integer" },
	{ "-9223372036854775809", "too big negative integer" },
	{ "99999999999999999999", "too big integer" },
	{ "{\"v\": 1e999999}", "real number overflow near '1e999999'" },
	{ "-1e400", "real number overflow" },
	{ "1.7976931348623159e308", "real number overflow" },
	/* strings: control characters and escapes */
	{ "\"a\tb\"", "control character 0x9" },
	{ "\"a\nb\"", "control character 0xa" },
	{ "\"\\x\"", "invalid escape" },
	{ "\"\\U0041\"", "invalid escape" },
	{ "\"\\u12\"", "invalid escape" },
	{ "\"\\u12g4\"", "invalid escape" },
	{ "\"\\u", "invalid escape" },
	{ "\"\\'\"", "invalid escape" },
	/* lone and broken surrogates */
	{ "\"\\ud800\"", "invalid Unicode '\\uD800'" },
	{ "\"\\udc00\"", "invalid Unicode '\\uDC00'" },
	{ "\"\\ude00\\ud83d\"", "invalid Unicode '\\uDE00'" },
	{ "\"\\ud800\\u0041\"", "invalid Unicode '\\uD800\\u0041'" },
	{ "\"\\ud800\\ud800\"", "invalid Unicode '\\uD800\\uD800'" },
	{ "\"\\ud800x\"", "invalid Unicode '\\uD800'" },
	{ "\"\\ud800\\x\"", "invalid Unicode '\\uD800'" },
	{ "\"\\ud800\\u00\"", "invalid escape" },
	/* invalid UTF-8 */
	{ "\"\xc3\"", "unable to decode byte 0xc3" },
	{ "\"\xc3x\"", "unable to decode byte 0xc3" },
	{ "\"\x80\"", "unable to decode byte 0x80" },
	{ "\"\xc0\x80\"", "unable to decode byte 0xc0" },		/* overlong NUL */
	{ "\"\xc1\xbf\"", "unable to decode byte 0xc1" },
	{ "\"\xe0\x80\x80\"", "unable to decode byte 0xe0" },		/* overlong */
	{ "\"\xf0\x80\x80\x80\"", "unable to decode byte 0xf0" },	/* overlong */
	{ "\"\xed\xa0\x80\"", "unable to decode byte 0xed" },		/* a surrogate */
	{ "\"\xf4\x90\x80\x80\"", "unable to decode byte 0xf4" },	/* past U+10FFFF */
	{ "\"\xf5\x80\x80\x80\"", "unable to decode byte 0xf5" },
	{ "\"\xff\"", "unable to decode byte 0xff" },
	{ "\"\xe4\xb8\"", "unable to decode byte 0xe4" },		/* cut short */
	{ "\xc3\xa9", "invalid token" },
	/* keys */
	{ "{\"a\\u0000b\": 1}", "NUL byte in object key not supported" },
	{ "{\n\"v\": 1,\n\"v\": 2}", "duplicate object key near '\"v\"' at line 3 column 3" },
	{ "{\"\\u0061\": 1, \"a\": 2}", "duplicate object key near '\"a\"'" },
	{ "{\"a\": {\"b\": 1, \"b\": 2}, \"a\": 3}", "duplicate object key near '\"b\"' at line 1 column 18" },
	{ "[{\"x\": 1}, {\"k\": 1, \"j\": 2, \"k\": 3}]", "duplicate object key near '\"k\"'" },
	{ "{\"a\": 1, \"b\": 2, \"a\": 3, \"b\": 4}", "duplicate object key near '\"a\"' at line 1 column 20" },
	{ "{\"a\": 1, \"b\": 2, \"b\": 3, \"a\": 4}", "duplicate object key near '\"b\"' at line 1 column 20" },
};

static void
test_cases(void **state)
{
	struct jsonscan *js = jsonscan_new();
	char errstr[256];

	(void)state;
	assert_non_null(js);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len = strlen(cases[i].text);
		int rc;

		errstr[0] = '\0';
		rc = scan(js, cases[i].text, len, errstr, sizeof(errstr));
		if (!cases[i].error && rc != 0)
			fail_msg("%s: %s", cases[i].text, errstr);
		if (cases[i].error && (rc == 0 || !strstr(errstr, cases[i].error)))
			fail_msg("%s: \"%s\", want \"%s\"", cases[i].text, rc ? errstr : "valid",
				 cases[i].error);
		if (jansson_ok(cases[i].text, len) != (rc == 0))
			fail_msg("%s: jansson does not agree", cases[i].text);
	}
	jsonscan_free(js);
	jsonscan_free(NULL);
}

/* The length is the end: a NUL inside is a byte like another, and nothing past len is read. */
static void
test_length(void **state)
{
	struct jsonscan *js = jsonscan_new();
	char errstr[256];
	char *heap;

	(void)state;
	assert_int_equal(jsonscan_parse(js, "[1]garbage", 3, errstr, sizeof(errstr)), 0);
	assert_int_equal(jsonscan_parse(js, "\"a\0b\"", 5, errstr, sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "control character 0x0"));
	assert_int_equal(jsonscan_parse(js, "[1]\0", 4, errstr, sizeof(errstr)), -1);
	/* a number and a literal that end the buffer (ASan checks nothing past it is read) */
	heap = malloc(3);
	memcpy(heap, "1.5", 3);
	assert_int_equal(jsonscan_parse(js, heap, 3, errstr, sizeof(errstr)), 0);
	assert_true(jsonscan_tokens(js)[0].num.d == 1.5);
	memcpy(heap, "tru", 3);
	assert_int_equal(jsonscan_parse(js, heap, 3, errstr, sizeof(errstr)), -1);
	memcpy(heap, "\"\\u", 3);
	assert_int_equal(jsonscan_parse(js, heap, 3, errstr, sizeof(errstr)), -1);
	free(heap);
	jsonscan_free(js);
}

/* Nesting: jansson's limit, with no C recursion either way. */
static void
test_depth(void **state)
{
	struct jsonscan *js = jsonscan_new();
	size_t n = 6 * JSONSCAN_MAX_DEPTH + 10;
	char *text = malloc(n), errstr[256];

	(void)state;
	for (size_t depth = JSONSCAN_MAX_DEPTH - 1; depth <= JSONSCAN_MAX_DEPTH + 1; depth++) {
		for (int scalar = 0; scalar <= 1; scalar++) {
			size_t k = 0;
			int rc;

			for (size_t i = 0; i < depth; i++)
				text[k++] = '[';
			if (scalar)
				text[k++] = '1';
			for (size_t i = 0; i < depth; i++)
				text[k++] = ']';
			rc = jsonscan_parse(js, text, k, errstr, sizeof(errstr));
			assert_int_equal(rc == 0, jansson_ok(text, k));
			if (rc != 0)
				assert_non_null(strstr(errstr, "maximum parsing depth reached"));
		}
	}
	/* objects count too, and a text far deeper stops at the limit */
	for (size_t i = 0; i < JSONSCAN_MAX_DEPTH; i++)
		memcpy(text + 6 * i, "{\"a\": ", 6);
	assert_int_equal(jsonscan_parse(js, text, 6 * JSONSCAN_MAX_DEPTH, errstr,
					sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "maximum parsing depth reached"));
	free(text);
	jsonscan_free(js);
}

/* Tokens: kinds, values, counts and skips, and strings unescaped. */
static void
test_tokens(void **state)
{
	static const char text[] =
		"{\"a\": [1, -2, 3.5e1], \"b\\u0062\": {\"c\": \"x\\ty\\u00e9\\ud83d\\ude00\"},"
		" \"d\": null, \"e\": true, \"f\": false, \"g\": -9223372036854775808}";
	struct jsonscan *js = jsonscan_new();
	const struct jsonscan_tok *t;
	char errstr[256], out[sizeof(text)];

	(void)state;
	assert_int_equal(jsonscan_parse(js, text, strlen(text), errstr, sizeof(errstr)), 0);
	t = jsonscan_tokens(js);
	assert_int_equal(t[0].kind, JSONSCAN_OBJECT);
	assert_int_equal(t[0].count, 6);
	assert_int_equal(t[1].kind, JSONSCAN_STRING);		/* "a" */
	assert_int_equal(t[2].kind, JSONSCAN_ARRAY);
	assert_int_equal(t[2].count, 3);
	assert_int_equal(t[2].next, 6);
	assert_int_equal(t[3].num.i, 1);
	assert_int_equal(t[4].num.i, -2);
	assert_int_equal(t[5].kind, JSONSCAN_REAL);
	assert_true(t[5].num.d == 35.0);
	assert_memory_equal(text + t[5].start, "3.5e1", t[5].len);
	assert_true(t[6].escaped);				/* "b\u0062" */
	assert_int_equal(jsonscan_unescape(text, &t[6], out), 2);
	assert_string_equal(out, "bb");
	assert_int_equal(t[7].kind, JSONSCAN_OBJECT);
	assert_int_equal(t[7].next, 10);
	assert_int_equal(jsonscan_unescape(text, &t[9], out), 9);
	assert_string_equal(out, "x\ty\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(t[11].kind, JSONSCAN_NULL);
	assert_int_equal(t[13].kind, JSONSCAN_TRUE);
	assert_int_equal(t[15].kind, JSONSCAN_FALSE);
	assert_true(t[17].num.i == INT64_MIN);
	assert_int_equal(t[0].next, 18);
	assert_int_equal(jsonscan_duplicate(js, errstr, sizeof(errstr)), 0);
	jsonscan_free(js);
}

/*
 * Mutations of valid texts (bytes flipped, cut, inserted): jsonscan never crashes and agrees
 * with jansson on every one.
 */
static void
test_mutations(void **state)
{
	static const char *const seeds[] = {
		"{\"a\": [1, -2.5e3, \"x\\u00e9\\ud83d\\ude00\"], \"b\": {\"c\": null, \"d\": true}}",
		"[\"h\xc3\xa9llo\", 0, 1e-5, {\"k\": \"\\\"\\n\"}, false]",
		"{\"seq\": 123457, \"tags\": [\"t7\", \"bench\"], \"note\": null, \"amount\": \"1.5\"}",
	};
	static const char alphabet[] = "{}[]\",:\\u0123456789abcdefeE.-+ \ntrufalsn\x80\xc3\xed\xf0";
	struct jsonscan *js = jsonscan_new();
	char text[256], errstr[256];
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		const char *s = seeds[round % ARRAY_SIZE(seeds)];
		size_t len = strlen(s);
		int edits = 1 + round % 3;

		memcpy(text, s, len);
		for (int k = 0; k < edits; k++) {
			size_t at;

			seed = seed * 1103515245 + 12345;
			at = (seed >> 8) % len;
			switch ((seed >> 20) % 3) {
			case 0:
				text[at] = alphabet[(seed >> 4) % (sizeof(alphabet) - 1)];
				break;
			case 1:
				len = at;
				break;
			default:
				if (len + 1 < sizeof(text)) {
					memmove(text + at + 1, text + at, len - at);
					text[at] = alphabet[(seed >> 4) % (sizeof(alphabet) - 1)];
					len++;
				}
				break;
			}
			if (len == 0)
				break;
		}
		if ((scan(js, text, len, errstr, sizeof(errstr)) == 0) != jansson_ok(text, len))
			fail_msg("%.*s: jsonscan %s, jansson does not agree", (int)len, text,
				 errstr);
	}
	jsonscan_free(js);
}

/*
 * Long strings, read eight bytes at a time while they are plain: a byte that needs attention
 * (quote, backslash, control character, byte from 0x80, escape) at every offset of a word, and
 * every string length around a word's, must be found as byte by byte; jansson must agree, and a
 * valid string's token must span exactly its bytes.
 */
static void
test_long_strings(void **state)
{
	static const char *const specials[] = {
		"\"", "\\", "\\n", "\\u00e9", "\x01", "\x1f", "\x7f", "\x80", "\xc3\xa9", "\xff",
		"\xe4\xb8\x96", "\xf0\x9f\x98\x80", "\xed\xa0\x80", " ", "~", "!", "#", "[", "]",
	};
	struct jsonscan *js = jsonscan_new();
	char text[128], errstr[256];

	(void)state;
	for (size_t sp = 0; sp < ARRAY_SIZE(specials); sp++) {
		size_t sl = strlen(specials[sp]);

		for (size_t n = 0; n <= 40; n++) {
			for (size_t at = 0; at <= n; at++) {
				size_t len = 0;
				int ok;

				text[len++] = '"';
				memset(text + len, 'x', at);
				len += at;
				memcpy(text + len, specials[sp], sl);
				len += sl;
				memset(text + len, 'y', n - at);
				len += n - at;
				text[len++] = '"';
				ok = jsonscan_parse(js, text, len, errstr, sizeof(errstr)) == 0;
				if (ok != jansson_ok(text, len))
					fail_msg("%.*s: jsonscan %s, jansson does not agree", (int)len,
						 text, ok ? "accepts" : errstr);
				if (ok && (jsonscan_tokens(js)[0].kind != JSONSCAN_STRING ||
					   jsonscan_tokens(js)[0].start != 1 ||
					   jsonscan_tokens(js)[0].len != len - 2))
					fail_msg("%.*s: wrong token", (int)len, text);
			}
			/* no special byte: plain strings of every length, and one left open */
			memset(text, 'z', sizeof(text));
			text[0] = '"';
			text[n + 1] = '"';
			assert_int_equal(jsonscan_parse(js, text, n + 2, errstr, sizeof(errstr)), 0);
			assert_int_equal(jsonscan_tokens(js)[0].len, n);
			assert_int_equal(jsonscan_parse(js, text, n + 1, errstr, sizeof(errstr)), -1);
		}
	}
	jsonscan_free(js);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_long_strings),
	};

	return cmocka_run_group_tests_name("jsonscan", tests, NULL, NULL);
}
