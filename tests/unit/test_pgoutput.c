/*
 * test_pgoutput — unit tests of the pgoutput module (replication framing and pgoutput v1)
 *
 * Hand-built byte vectors following the documented layouts (PostgreSQL "Logical Replication
 * Message Formats"): every message type with its fields checked, tuples with n/u/t/b columns,
 * Update with and without an old tuple, relation replacement and a cache of many arbitrary
 * relids, malformed messages with the error text they must give, every truncation of every
 * valid message and frame (each parsed from an exact-size heap copy, so valgrind and ASan see
 * any read past the end), the 34 bytes of a status update, and pgo_now against time().
 *
 * With PGO_SEED_DIR set in the environment, main() also writes the fuzzing seed corpus
 * (tests/fuzz/corpus/pgoutput, in the record format of tests/fuzz/fuzz_pgoutput.c) from the
 * same vectors before running the tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pgoutput.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* a byte vector from concatenated string literals (escapes end where each literal ends) */
#define V(s) s, sizeof(s) - 1

/* Common pieces */
#define RELID "\x00\x00\x40\x00"	/* 16384 */
#define LSN1 "\x00\x00\x00\x00\x01\xa2\xb3\xc4"
#define LSN2 "\x00\x00\x00\x00\x01\xa2\xb3\xf0"
#define TS1 "\x00\x02\xc4\xd5\xe6\xf7\x08\x12"	/* 779,879,386,777,618 µs */
#define TS_NEG "\xff\xff\xff\xff\xff\xff\xff\xfe"	/* -2: before 2000 */

struct vec {
	const char *name;
	const char *bytes;
	size_t len;
	char type;
};

static const struct vec valid[] = {
	{ "begin", V("B" LSN1 TS1 "\x00\x00\x02\xee"), 'B' },
	{ "commit", V("C" "\x00" LSN1 LSN2 TS1), 'C' },
	{ "origin", V("O" LSN1 "node_a\0"), 'O' },
	{ "relation", V("R" RELID "public\0" "outbox\0" "d" "\x00\x04"
			"\x01" "id\0" "\x00\x00\x00\x14" "\xff\xff\xff\xff"
			"\x00" "payload\0" "\x00\x00\x0e\xda" "\xff\xff\xff\xff"
			"\x00" "topic\0" "\x00\x00\x04\x13" "\x00\x00\x00\x44"
			"\x00" "blob\0" "\x00\x00\x00\x11" "\xff\xff\xff\xff"), 'R' },
	{ "relation no columns, empty names", V("R" "\xff\xff\xff\xff" "\0" "\0" "n" "\x00\x00"), 'R' },
	{ "type", V("Y" "\x00\x00\x30\x39" "public\0" "mood\0"), 'Y' },
	{ "insert n/u/t/b", V("I" RELID "N" "\x00\x04" "n" "u" "t" "\x00\x00\x00\x02" "42"
			      "b" "\x00\x00\x00\x03" "\x01\x00\xff"), 'I' },
	{ "insert no columns", V("I" RELID "N" "\x00\x00"), 'I' },
	{ "insert empty text", V("I" RELID "N" "\x00\x01" "t" "\x00\x00\x00\x00"), 'I' },
	{ "update new only", V("U" RELID "N" "\x00\x02" "t" "\x00\x00\x00\x01" "7" "n"), 'U' },
	{ "update key", V("U" RELID "K" "\x00\x01" "t" "\x00\x00\x00\x02" "41"
			  "N" "\x00\x02" "t" "\x00\x00\x00\x02" "42" "u"), 'U' },
	{ "update old", V("U" RELID "O" "\x00\x03" "t" "\x00\x00\x00\x01" "1" "n" "n"
			  "N" "\x00\x02" "t" "\x00\x00\x00\x02" "42" "u"), 'U' },
	{ "delete key", V("D" RELID "K" "\x00\x01" "t" "\x00\x00\x00\x01" "7"), 'D' },
	{ "delete old no columns", V("D" RELID "O" "\x00\x00"), 'D' },
	{ "truncate", V("T" "\x00\x00\x00\x02" "\x03" RELID "\x00\x00\x40\x01"), 'T' },
	{ "truncate none", V("T" "\x00\x00\x00\x00" "\x00"), 'T' },
	{ "message", V("M" "\x01" LSN1 "outbox\0" "\x00\x00\x00\x05" "hello"), 'M' },
	{ "message binary content", V("M" "\x00" LSN1 "p\0" "\x00\x00\x00\x03" "a\0b"), 'M' },
	{ "message empty", V("M" "\x00" LSN1 "\0" "\x00\x00\x00\x00"), 'M' },
};

struct bad {
	const char *name;
	const char *bytes;
	size_t len;
	const char *error;	/* a substring of errstr */
};

static const struct bad invalid[] = {
	{ "empty", V(""), "truncated at offset 0: message type needs 1 bytes, 0 left" },
	{ "stream start", V("S" "\x00\x00\x00\x01" "\x01"), "unsupported message type 'S' at offset 0" },
	{ "stream stop", V("E"), "protocol v2 streaming" },
	{ "stream commit", V("c" "\x00\x00\x00\x01"), "protocol v2 streaming" },
	{ "stream abort", V("A" "\x00\x00\x00\x01" "\x00\x00\x00\x01"), "protocol v2 streaming" },
	{ "unknown", V("x"), "unknown message type 0x78 at offset 0" },
	{ "NUL type", V("\0" "B"), "unknown message type 0x00" },
	{ "begin trailing", V("B" LSN1 TS1 "\x00\x00\x02\xee" "!"), "Begin message: 1 trailing bytes at offset 21" },
	{ "begin short", V("B" LSN1 TS1 "\x00\x00"), "Begin message: truncated at offset 17: xid needs 4 bytes, 2 left" },
	{ "origin unterminated", V("O" LSN1 "node_a"), "Origin message: unterminated string origin name at offset 9" },
	{ "type unterminated", V("Y" "\x00\x00\x30\x39" "public\0" "mood"), "unterminated string type name at offset 12" },
	{ "relation too many columns", V("R" RELID "public\0" "t\0" "d" "\x00\x02"
					 "\x01" "id\0" "\x00\x00\x00\x14" "\xff\xff\xff\xff"),
	  "Relation message: 2 columns at offset 15 larger than the 12 bytes left" },
	{ "relation column unterminated", V("R" RELID "\0" "t\0" "d" "\x00\x01"
					    "\x01" "idxxxxxxxxxxxxx"),
	  "unterminated string column name at offset 12" },
	{ "insert bad kind", V("I" RELID "N" "\x00\x02" "n" "x"), "Insert message: bad tuple kind 0x78 for column 2 at offset 9" },
	{ "insert old tuple", V("I" RELID "K" "\x00\x00"), "Insert message: bad tuple tag 0x4b at offset 5" },
	{ "insert huge count", V("I" RELID "N" "\xff\xff" "n" "n"), "tuple of 65535 columns at offset 6 larger than the 2 bytes left" },
	{ "insert huge length", V("I" RELID "N" "\x00\x01" "t" "\xff\xff\xff\xff" "ab"),
	  "column 1 length 4294967295 at offset 9 larger than the 2 bytes left" },
	{ "insert length past end", V("I" RELID "N" "\x00\x01" "b" "\x00\x00\x00\x03" "ab"),
	  "column 1 length 3 at offset 9 larger than the 2 bytes left" },
	{ "insert trailing", V("I" RELID "N" "\x00\x01" "n" "n"), "1 trailing bytes at offset 9" },
	{ "update two old tuples", V("U" RELID "K" "\x00\x00" "O" "\x00\x00"), "Update message: bad tuple tag 0x4f at offset 8" },
	{ "update no tuple tag", V("U" RELID "X"), "bad tuple tag 0x58 at offset 5" },
	{ "delete new tuple", V("D" RELID "N" "\x00\x00"), "Delete message: bad tuple tag 0x4e at offset 5" },
	{ "truncate huge count", V("T" "\xff\xff\xff\xff" "\x00" RELID),
	  "Truncate message: 4294967295 relids at offset 6 larger than the 4 bytes left" },
	{ "message content past end", V("M" "\x01" LSN1 "p\0" "\x00\x00\x01\x00" "abc"),
	  "Message message: content length 256 at offset 12 larger than the 3 bytes left" },
};

/*
 * A real stream: CopyData payloads of START_REPLICATION ... (proto_version '1', messages 'true')
 * captured from PostgreSQL 15.20, in stream order (a selection). The session:
 *   CREATE TYPE mood AS ENUM ('ok', 'sad');
 *   CREATE TABLE outbox (id bigserial PRIMARY KEY, topic text NOT NULL, payload jsonb,
 *       blob bytea, big text, m mood, created timestamptz DEFAULT '2026-11-21 05:01:18.102449+00');
 *   CREATE TABLE audit (k int, v text); ALTER TABLE audit REPLICA IDENTITY FULL;
 *   BEGIN; INSERT INTO outbox (topic, payload) VALUES ('orders', NULL);
 *   SELECT pg_logical_emit_message(true, 'outbox', 'hello'); ... COMMIT;
 *   UPDATE outbox SET id = 10 WHERE id = 2; DELETE FROM outbox WHERE id = 10;
 *   INSERT INTO audit VALUES (1, 'one'); UPDATE audit SET v = 'uno'; DELETE FROM audit;
 *   SELECT pg_logical_emit_message(false, 'nontx', '\x00ff'::bytea); TRUNCATE audit;
 *   ALTER TABLE outbox ADD COLUMN extra int (a new Relation message for outbox);
 *   and an UPDATE of topic on a row whose big value is stored out of line (unchanged TOAST).
 */
struct real {
	const char *name;
	char type;		/* 'k' for a keepalive, else the pgoutput message type */
	const char *bytes;
	size_t len;
};

static const struct real real_stream[] = {
	{ "keepalive", 'k', V(
		"k\x00\x00\x00\x00\x01TQ\xb8\x00\x03\x03\xc2" "5q\xbf\xeb\x00")
	},
	{ "begin", 'B', V(
		"w\x00\x00\x00\x00\x01TR \x00\x00\x00\x00\x01TR \x00\x03\x03\xc2" "5q\xc1\xb1" "B"
		"\x00\x00\x00\x00\x01TS\x88\x00\x03\x03\xc2" "54\xe6" "7\x00\x00\x02\xd9")
	},
	{ "type mood", 'Y', V(
		"w\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x03\xc2"
		"5q\xc2\x12Y\x00\x00@\x01public\x00mood\x00")
	},
	{ "relation outbox", 'R', V(
		"w\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x03\xc2"
		"5q\xc2oR\x00\x00@\x06public\x00outbox\x00" "d\x00\x07\x01id\x00\x00\x00\x00\x14\xff"
		"\xff\xff\xff\x00topic\x00\x00\x00\x00\x19\xff\xff\xff\xff\x00payload\x00\x00\x00"
		"\x0e\xda\xff\xff\xff\xff\x00" "blob\x00\x00\x00\x00\x11\xff\xff\xff\xff\x00" "bi"
		"g\x00\x00\x00\x00\x19\xff\xff\xff\xff\x00m\x00\x00\x00@\x01\xff\xff\xff\xff\x00" "c"
		"reated\x00\x00\x00\x04\xa0\xff\xff\xff\xff")
	},
	{ "insert with nulls", 'I', V(
		"w\x00\x00\x00\x00\x01TS\xb8\x00\x00\x00\x00\x01TS\xb8\x00\x03\x03\xc2" "5q\xc3" "B"
		"I\x00\x00@\x06N\x00\x07t\x00\x00\x00\x01" "2t\x00\x00\x00\x06ordersnnnnt\x00\x00"
		"\x00\x1d" "2026-11-21 05:01:18.102449+00")
	},
	{ "transactional message", 'M', V(
		"w\x00\x00\x00\x00\x01TT\x88\x00\x00\x00\x00\x01TT\x88\x00\x03\x03\xc2" "5q\xc3" "D"
		"M\x01\x00\x00\x00\x00\x01TT\x88outbox\x00\x00\x00\x00\x05hello")
	},
	{ "commit", 'C', V(
		"w\x00\x00\x00\x00\x01TU\x90\x00\x00\x00\x00\x01TU\x90\x00\x03\x03\xc2" "5q\xc3UC"
		"\x00\x00\x00\x00\x00\x01TU`\x00\x00\x00\x00\x01TU\x90\x00\x03\x03\xc2" "54\xe9" "B")
	},
	{ "update of the key", 'U', V(
		"w\x00\x00\x00\x00\x01TU\x90\x00\x00\x00\x00\x01TU\x90\x00\x03\x03\xc2" "5q\xc3`U"
		"\x00\x00@\x06K\x00\x07t\x00\x00\x00\x01" "2nnnnnnN\x00\x07t\x00\x00\x00\x02" "10"
		"t\x00\x00\x00\x06ordersnnnnt\x00\x00\x00\x1d" "2026-11-21 05:01:18.102449+00")
	},
	{ "delete by key", 'D', V(
		"w\x00\x00\x00\x00\x01TVh\x00\x00\x00\x00\x01TVh\x00\x03\x03\xc2" "5q\xc3hD\x00\x00"
		"@\x06K\x00\x07t\x00\x00\x00\x02" "10nnnnnn")
	},
	{ "relation audit, identity full", 'R', V(
		"w\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x03\xc2"
		"5q\xc3\x92R\x00\x00@\x0fpublic\x00" "audit\x00" "f\x00\x02\x01k\x00\x00\x00\x00\x17"
		"\xff\xff\xff\xff\x01v\x00\x00\x00\x00\x19\xff\xff\xff\xff")
	},
	{ "insert audit", 'I', V(
		"w\x00\x00\x00\x00\x01TV\xe0\x00\x00\x00\x00\x01TV\xe0\x00\x03\x03\xc2" "5q\xc3\x97"
		"I\x00\x00@\x0fN\x00\x02t\x00\x00\x00\x01" "1t\x00\x00\x00\x03one")
	},
	{ "update, old row", 'U', V(
		"w\x00\x00\x00\x00\x01TWP\x00\x00\x00\x00\x01TWP\x00\x03\x03\xc2" "5q\xc3\xa0U\x00"
		"\x00@\x0fO\x00\x02t\x00\x00\x00\x01" "1t\x00\x00\x00\x03oneN\x00\x02t\x00\x00\x00"
		"\x01" "1t\x00\x00\x00\x03uno")
	},
	{ "delete, old row", 'D', V(
		"w\x00\x00\x00\x00\x01TW\xd8\x00\x00\x00\x00\x01TW\xd8\x00\x03\x03\xc2" "5q\xc3\xa8"
		"D\x00\x00@\x0fO\x00\x02t\x00\x00\x00\x01" "1t\x00\x00\x00\x03uno")
	},
	{ "non-transactional message", 'M', V(
		"w\x00\x00\x00\x00\x01TX\x90\x00\x00\x00\x00\x01TX\x90\x00\x03\x03\xc2" "5q\xc3\xad"
		"M\x00\x00\x00\x00\x00\x01TX\x90nontx\x00\x00\x00\x00\x02\x00\xff")
	},
	{ "truncate audit", 'T', V(
		"w\x00\x00\x00\x00\x01T`\xd8\x00\x00\x00\x00\x01T`\xd8\x00\x03\x03\xc2" "5q\xc3\xe1"
		"T\x00\x00\x00\x01\x00\x00\x00@\x0f")
	},
	{ "relation outbox after add column", 'R', V(
		"w\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x03\xc2"
		"5q\xc4\x19R\x00\x00@\x06public\x00outbox\x00" "d\x00\x08\x01id\x00\x00\x00\x00\x14"
		"\xff\xff\xff\xff\x00topic\x00\x00\x00\x00\x19\xff\xff\xff\xff\x00payload\x00\x00"
		"\x00\x0e\xda\xff\xff\xff\xff\x00" "blob\x00\x00\x00\x00\x11\xff\xff\xff\xff\x00" "b"
		"ig\x00\x00\x00\x00\x19\xff\xff\xff\xff\x00m\x00\x00\x00@\x01\xff\xff\xff\xff\x00"
		"created\x00\x00\x00\x04\xa0\xff\xff\xff\xff\x00" "extra\x00\x00\x00\x00\x17\xff\xff"
		"\xff\xff")
	},
	{ "update, unchanged toast", 'U', V(
		"w\x00\x00\x00\x00\x01T\x90`\x00\x00\x00\x00\x01T\x90`\x00\x03\x03\xc2" "64$6U\x00"
		"\x00@\x06N\x00\x08t\x00\x00\x00\x03" "100t\x00\x00\x00\x0ftoast-unchangednnunt\x00"
		"\x00\x00\x1d" "2026-11-21 05:01:18.102449+00n")
	},
};

/* Parses from an exact-size heap copy so that any read past len is caught by valgrind/ASan. */
static int
parse_copy(struct pgo_parser *p, const char *bytes, size_t len, struct pgo_msg *m, char *err,
	   size_t errsz)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, bytes, len);
	rc = pgo_parse(p, copy, len, m, err, errsz);
	free(copy);
	return rc;
}

static struct pgo_parser *
parse_ok(const char *bytes, size_t len, struct pgo_msg *m)
{
	struct pgo_parser *p = pgo_parser_new();
	char err[256] = "";

	assert_non_null(p);
	if (pgo_parse(p, bytes, len, m, err, sizeof(err)) != 0)
		fail_msg("unexpected error: %s", err);
	return p;
}

static void
test_valid_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(valid); i++) {
		struct pgo_parser *p = pgo_parser_new();
		struct pgo_msg m;
		char err[256] = "";

		assert_non_null(p);
		if (parse_copy(p, valid[i].bytes, valid[i].len, &m, err, sizeof(err)) != 0)
			fail_msg("%s: %s", valid[i].name, err);
		assert_int_equal(m.type, valid[i].type);
		pgo_parser_destroy(p);
	}
}

static void
test_invalid_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(invalid); i++) {
		struct pgo_parser *p = pgo_parser_new();
		struct pgo_msg m;
		char err[256] = "";

		assert_non_null(p);
		assert_int_equal(parse_copy(p, invalid[i].bytes, invalid[i].len, &m, err, sizeof(err)), -1);
		if (!strstr(err, invalid[i].error))
			fail_msg("%s: got \"%s\", want \"%s\"", invalid[i].name, err, invalid[i].error);
		/* a NULL or zero-size errstr is fine too */
		assert_int_equal(pgo_parse(p, invalid[i].bytes, invalid[i].len, &m, NULL, 0), -1);
		assert_null(pgo_relation_get(p, 16384));
		pgo_parser_destroy(p);
	}
}

/* Every strict prefix of a valid message is an error, and leaves the cache as it was. */
static void
test_truncations(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(valid); i++) {
		for (size_t n = 0; n < valid[i].len; n++) {
			struct pgo_parser *p = pgo_parser_new();
			struct pgo_msg m;
			char err[256] = "";

			assert_non_null(p);
			if (parse_copy(p, valid[i].bytes, n, &m, err, sizeof(err)) != -1)
				fail_msg("%s cut to %zu of %zu bytes parsed", valid[i].name, n, valid[i].len);
			assert_true(err[0] != '\0');
			assert_null(pgo_relation_get(p, 16384));
			assert_null(pgo_relation_get(p, UINT32_MAX));
			pgo_parser_destroy(p);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(real_stream); i++) {
		struct pgo_parser *p = pgo_parser_new();
		struct pgo_frame f;
		struct pgo_msg m;

		assert_non_null(p);
		for (size_t n = 0; n < real_stream[i].len; n++) {
			char *copy = malloc(n ? n : 1);

			assert_non_null(copy);
			memcpy(copy, real_stream[i].bytes, n);
			if (pgo_parse_frame(copy, n, &f, NULL, 0) == 0) {
				/* a cut XLogData frame is a shorter payload, which must not parse */
				assert_int_equal(f.kind, PGO_FRAME_XLOGDATA);
				assert_int_equal(pgo_parse(p, f.data, f.len, &m, NULL, 0), -1);
			}
			free(copy);
		}
		pgo_parser_destroy(p);
	}
}

static void
test_begin_commit_origin(void **state)
{
	struct pgo_parser *p;
	struct pgo_msg m;

	(void)state;
	p = parse_ok(valid[0].bytes, valid[0].len, &m);
	assert_int_equal(m.u.begin.final_lsn, 0x1a2b3c4);
	assert_int_equal(m.u.begin.commit_ts, 0x0002c4d5e6f70812LL);
	assert_int_equal(m.u.begin.xid, 750);
	pgo_parser_destroy(p);

	p = parse_ok(V("C" "\x00" LSN1 LSN2 TS_NEG), &m);
	assert_int_equal(m.u.commit.flags, 0);
	assert_int_equal(m.u.commit.commit_lsn, 0x1a2b3c4);
	assert_int_equal(m.u.commit.end_lsn, 0x1a2b3f0);
	assert_true(m.u.commit.commit_ts == -2);
	pgo_parser_destroy(p);

	p = parse_ok(valid[2].bytes, valid[2].len, &m);
	assert_int_equal(m.u.origin.lsn, 0x1a2b3c4);
	assert_string_equal(m.u.origin.name, "node_a");
	assert_ptr_equal(m.u.origin.name, valid[2].bytes + 9);
	pgo_parser_destroy(p);
}

static void
test_type_truncate_message(void **state)
{
	struct pgo_parser *p;
	struct pgo_msg m;
	const uint32_t *relids;

	(void)state;
	p = parse_ok(V("Y" "\x00\x00\x30\x39" "public\0" "mood\0"), &m);
	assert_int_equal(m.u.type.oid, 12345);
	assert_string_equal(m.u.type.nspname, "public");
	assert_string_equal(m.u.type.name, "mood");

	assert_int_equal(pgo_parse(p, V("T" "\x00\x00\x00\x02" "\x03" RELID "\xff\xff\xff\xfe"), &m,
				   NULL, 0), 0);
	assert_int_equal(m.u.truncate.nrels, 2);
	assert_int_equal(m.u.truncate.options, 3);
	relids = pgo_truncate_relids(p);
	assert_non_null(relids);
	assert_int_equal(relids[0], 16384);
	assert_int_equal(relids[1], 0xfffffffe);

	assert_int_equal(pgo_parse(p, V("M" "\x00" LSN1 "p\0" "\x00\x00\x00\x03" "a\0b"), &m, NULL, 0), 0);
	assert_null(pgo_truncate_relids(p));
	assert_int_equal(m.u.message.flags, 0);
	assert_int_equal(m.u.message.lsn, 0x1a2b3c4);
	assert_string_equal(m.u.message.prefix, "p");
	assert_int_equal(m.u.message.content_len, 3);
	assert_memory_equal(m.u.message.content, "a\0b", 3);

	assert_int_equal(pgo_parse(p, V("M" "\x01" LSN1 "\0" "\x00\x00\x00\x00"), &m, NULL, 0), 0);
	assert_int_equal(m.u.message.flags, 1);
	assert_string_equal(m.u.message.prefix, "");
	assert_int_equal(m.u.message.content_len, 0);
	pgo_parser_destroy(p);
}

static void
check_value(const struct pgo_value *v, char kind, const char *data, uint32_t len)
{
	assert_int_equal(v->kind, kind);
	assert_int_equal(v->len, len);
	if (data)
		assert_memory_equal(v->data, data, len);
	else
		assert_null(v->data);
}

static void
test_changes(void **state)
{
	struct pgo_parser *p;
	struct pgo_msg m;
	const struct vec *v = &valid[6];

	(void)state;
	p = parse_ok(v->bytes, v->len, &m);
	assert_int_equal(m.type, 'I');
	assert_int_equal(m.u.change.relid, 16384);
	assert_int_equal(m.u.change.ncols, 4);
	check_value(&m.u.change.values[0], 'n', NULL, 0);
	check_value(&m.u.change.values[1], 'u', NULL, 0);
	check_value(&m.u.change.values[2], 't', "42", 2);
	check_value(&m.u.change.values[3], 'b', "\x01\x00\xff", 3);
	assert_ptr_equal(m.u.change.values[2].data, v->bytes + 15);

	/* Update: the old tuple ('K' or 'O') is skipped, the new one returned */
	for (size_t i = 9; i <= 11; i++) {
		assert_int_equal(pgo_parse(p, valid[i].bytes, valid[i].len, &m, NULL, 0), 0);
		assert_int_equal(m.type, 'U');
		assert_int_equal(m.u.change.relid, 16384);
		assert_int_equal(m.u.change.ncols, 2);
		if (i == 9) {
			check_value(&m.u.change.values[0], 't', "7", 1);
			check_value(&m.u.change.values[1], 'n', NULL, 0);
		} else {
			check_value(&m.u.change.values[0], 't', "42", 2);
			check_value(&m.u.change.values[1], 'u', NULL, 0);
		}
	}

	/* Delete: the key or old tuple is the one returned, possibly empty */
	assert_int_equal(pgo_parse(p, valid[12].bytes, valid[12].len, &m, NULL, 0), 0);
	assert_int_equal(m.type, 'D');
	assert_int_equal(m.u.change.ncols, 1);
	check_value(&m.u.change.values[0], 't', "7", 1);
	assert_int_equal(pgo_parse(p, valid[13].bytes, valid[13].len, &m, NULL, 0), 0);
	assert_int_equal(m.u.change.ncols, 0);
	assert_null(m.u.change.values);

	/* a wide tuple grows the parser's value array */
	{
		static char wide[8 + 3000];

		memcpy(wide, "I" RELID "N" "\x0b\xb8", 8);
		memset(wide + 8, 'n', 2999);
		wide[8 + 2999 - 1] = 'u';
		assert_int_equal(pgo_parse(p, wide, 8 + 2999, &m, NULL, 0), -1);
		memset(wide + 8, 'n', 3000);
		wide[8 + 2999] = 'u';
		assert_int_equal(pgo_parse(p, wide, 8 + 3000, &m, NULL, 0), 0);
		assert_int_equal(m.u.change.ncols, 3000);
		assert_int_equal(m.u.change.values[2999].kind, 'u');
	}
	pgo_parser_destroy(p);
}

/* A Relation message built from parts: relid, relname, then ncols column names. */
static size_t
build_relation(char *out, uint32_t relid, const char *relname, int ncols, const char *const *names)
{
	size_t n = 0;

	out[n++] = 'R';
	for (int s = 24; s >= 0; s -= 8)
		out[n++] = (char)(relid >> s);
	memcpy(out + n, "public", 7);
	n += 7;
	memcpy(out + n, relname, strlen(relname) + 1);
	n += strlen(relname) + 1;
	out[n++] = 'f';
	out[n++] = 0;
	out[n++] = (char)ncols;
	for (int i = 0; i < ncols; i++) {
		out[n++] = i == 0;
		memcpy(out + n, names[i], strlen(names[i]) + 1);
		n += strlen(names[i]) + 1;
		memcpy(out + n, "\x00\x00\x00\x19" "\x00\x00\x00\x00", 8);	/* text, typmod 0 */
		n += 8;
	}
	return n;
}

static void
test_relation(void **state)
{
	static const char *const cols3[] = { "id", "payload", "topic" };
	static const char *const cols2[] = { "event_id", "body" };
	struct pgo_parser *p;
	const struct pgo_relation *rel;
	struct pgo_msg m;
	char buf[256], err[256];
	size_t n;

	(void)state;
	p = parse_ok(valid[3].bytes, valid[3].len, &m);
	rel = m.u.relation;
	assert_ptr_equal(rel, pgo_relation_get(p, 16384));
	assert_int_equal(rel->relid, 16384);
	assert_string_equal(rel->nspname, "public");
	assert_string_equal(rel->relname, "outbox");
	assert_int_equal(rel->replident, 'd');
	assert_int_equal(rel->ncols, 4);
	assert_string_equal(rel->cols[0].name, "id");
	assert_int_equal(rel->cols[0].flags, 1);
	assert_int_equal(rel->cols[0].type_oid, 20);
	assert_int_equal(rel->cols[0].typmod, -1);
	assert_string_equal(rel->cols[1].name, "payload");
	assert_int_equal(rel->cols[1].type_oid, 3802);
	assert_int_equal(rel->cols[2].typmod, 68);
	assert_int_equal(rel->cols[3].flags, 0);
	assert_int_equal(pgo_column_index(rel, "id"), 0);
	assert_int_equal(pgo_column_index(rel, "blob"), 3);
	assert_int_equal(pgo_column_index(rel, "missing"), -1);
	assert_int_equal(pgo_column_index(rel, NULL), -1);
	assert_int_equal(pgo_column_index(NULL, "id"), -1);
	assert_null(pgo_relation_get(p, 16385));

	/* the copy does not borrow from the message */
	n = build_relation(buf, 7, "outbox", 3, cols3);
	assert_int_equal(pgo_parse(p, buf, n, &m, err, sizeof(err)), 0);
	memset(buf, 'x', sizeof(buf));
	rel = pgo_relation_get(p, 7);
	assert_non_null(rel);
	assert_string_equal(rel->relname, "outbox");
	assert_string_equal(rel->cols[2].name, "topic");

	/* replacement after DDL: same relid, new shape */
	n = build_relation(buf, 7, "outbox2", 2, cols2);
	assert_int_equal(pgo_parse(p, buf, n, &m, err, sizeof(err)), 0);
	rel = pgo_relation_get(p, 7);
	assert_ptr_equal(rel, m.u.relation);
	assert_string_equal(rel->relname, "outbox2");
	assert_int_equal(rel->ncols, 2);
	assert_int_equal(rel->replident, 'f');
	assert_int_equal(pgo_column_index(rel, "body"), 1);
	assert_int_equal(pgo_column_index(rel, "payload"), -1);
	assert_non_null(pgo_relation_get(p, 16384));

	/* a bad Relation message leaves the cached one in place */
	n = build_relation(buf, 7, "outbox3", 3, cols3);
	assert_int_equal(pgo_parse(p, buf, n - 1, &m, err, sizeof(err)), -1);
	assert_ptr_equal(pgo_relation_get(p, 7), rel);
	assert_string_equal(pgo_relation_get(p, 7)->relname, "outbox2");
	pgo_parser_destroy(p);
	pgo_parser_destroy(NULL);
}

/* Many arbitrary relids, inserted in scrambled order and replaced, all found again. */
static void
test_relation_cache(void **state)
{
	enum { N = 1500 };
	static const char *const cols[] = { "id" };
	struct pgo_parser *p = pgo_parser_new();
	static uint32_t relids[N];
	char buf[128], name[32];
	struct pgo_msg m;
	uint32_t x = 12345;

	(void)state;
	assert_non_null(p);
	relids[0] = 0;
	relids[1] = UINT32_MAX;
	for (int i = 2; i < N; i++) {
		x = x * 1664525u + 1013904223u;
		relids[i] = x;
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			snprintf(name, sizeof(name), "r%d_%u", round, relids[i]);
			assert_int_equal(pgo_parse(p, buf, build_relation(buf, relids[i], name, 1, cols),
						   &m, NULL, 0), 0);
		}
	}
	for (int i = 0; i < N; i++) {
		const struct pgo_relation *rel = pgo_relation_get(p, relids[i]);

		snprintf(name, sizeof(name), "r1_%u", relids[i]);
		assert_non_null(rel);
		assert_string_equal(rel->relname, name);
	}
	assert_null(pgo_relation_get(p, 1));
	pgo_parser_destroy(p);
}

/* The captured stream through one parser, with the values the session wrote. */
static void
test_real_stream(void **state)
{
	struct pgo_parser *p = pgo_parser_new();
	const struct pgo_relation *rel;
	const struct pgo_value *v;
	struct pgo_frame f;
	struct pgo_msg m;
	char err[256];

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < ARRAY_SIZE(real_stream); i++) {
		const struct real *r = &real_stream[i];
		const char *name = r->name;

		if (pgo_parse_frame(r->bytes, r->len, &f, err, sizeof(err)) != 0)
			fail_msg("%s: %s", name, err);
		if (r->type == 'k') {
			assert_int_equal(f.kind, PGO_FRAME_KEEPALIVE);
			assert_int_equal(f.wal_end, 0x15451b8);
			assert_int_equal(f.reply_requested, 0);
			continue;
		}
		assert_int_equal(f.kind, PGO_FRAME_XLOGDATA);
		if (pgo_parse(p, f.data, f.len, &m, err, sizeof(err)) != 0)
			fail_msg("%s: %s", name, err);
		assert_int_equal(m.type, r->type);
		/* Type and Relation messages have no WAL position of their own */
		assert_true((f.wal_start == 0) == (m.type == 'R' || m.type == 'Y'));
		v = m.u.change.values;
		if (strcmp(name, "begin") == 0) {
			assert_int_equal(m.u.begin.xid, 729);
			assert_int_equal(m.u.begin.final_lsn, 0x1545388);
			assert_true(m.u.begin.commit_ts > 800000000LL * 1000000);
		} else if (strcmp(name, "type mood") == 0) {
			assert_int_equal(m.u.type.oid, 16385);
			assert_string_equal(m.u.type.name, "mood");
		} else if (strcmp(name, "relation outbox") == 0) {
			rel = pgo_relation_get(p, 16390);
			assert_ptr_equal(rel, m.u.relation);
			assert_string_equal(rel->relname, "outbox");
			assert_int_equal(rel->ncols, 7);
			assert_int_equal(pgo_column_index(rel, "payload"), 2);
			assert_int_equal(rel->cols[2].type_oid, 3802);
			assert_int_equal(rel->cols[5].type_oid, 16385);
			assert_int_equal(rel->cols[0].flags, 1);
		} else if (strcmp(name, "insert with nulls") == 0) {
			assert_int_equal(m.u.change.relid, 16390);
			assert_int_equal(m.u.change.ncols, 7);
			check_value(&v[0], 't', "2", 1);
			check_value(&v[1], 't', "orders", 6);
			check_value(&v[2], 'n', NULL, 0);
			check_value(&v[6], 't', "2026-11-21 05:01:18.102449+00", 29);
		} else if (strcmp(name, "transactional message") == 0) {
			assert_int_equal(m.u.message.flags, 1);
			assert_string_equal(m.u.message.prefix, "outbox");
			assert_memory_equal(m.u.message.content, "hello", 5);
		} else if (strcmp(name, "commit") == 0) {
			assert_int_equal(m.u.commit.commit_lsn, 0x1545560);
			assert_int_equal(m.u.commit.end_lsn, 0x1545590);
			assert_int_equal(m.u.commit.end_lsn, f.wal_end);
		} else if (strcmp(name, "update of the key") == 0) {
			check_value(&v[0], 't', "10", 2);
			check_value(&v[1], 't', "orders", 6);
		} else if (strcmp(name, "delete by key") == 0) {
			assert_int_equal(m.u.change.ncols, 7);
			check_value(&v[0], 't', "10", 2);
			check_value(&v[6], 'n', NULL, 0);
		} else if (strcmp(name, "relation audit, identity full") == 0) {
			assert_int_equal(m.u.relation->replident, 'f');
			assert_int_equal(m.u.relation->relid, 16399);
			assert_non_null(pgo_relation_get(p, 16390));
		} else if (strcmp(name, "update, old row") == 0 ||
			   strcmp(name, "delete, old row") == 0) {
			check_value(&v[0], 't', "1", 1);
			check_value(&v[1], 't', "uno", 3);
		} else if (strcmp(name, "non-transactional message") == 0) {
			assert_int_equal(m.u.message.flags, 0);
			assert_int_equal(m.u.message.content_len, 2);
			assert_memory_equal(m.u.message.content, "\x00\xff", 2);
		} else if (strcmp(name, "truncate audit") == 0) {
			assert_int_equal(m.u.truncate.nrels, 1);
			assert_int_equal(pgo_truncate_relids(p)[0], 16399);
		} else if (strcmp(name, "relation outbox after add column") == 0) {
			rel = pgo_relation_get(p, 16390);
			assert_ptr_equal(rel, m.u.relation);
			assert_int_equal(rel->ncols, 8);
			assert_int_equal(pgo_column_index(rel, "extra"), 7);
		} else if (strcmp(name, "update, unchanged toast") == 0) {
			assert_int_equal(m.u.change.ncols, pgo_relation_get(p, 16390)->ncols);
			check_value(&v[1], 't', "toast-unchanged", 15);
			check_value(&v[4], 'u', NULL, 0);
		}
	}
	pgo_parser_destroy(p);
}

static void
test_frames(void **state)
{
	static const char w[] = "w" LSN1 LSN2 TS1 "B" LSN1 TS1 "\x00\x00\x02\xee";
	static const char k[] = "k" LSN2 TS_NEG "\x01";
	static const struct {
		const char *bytes;
		size_t len;
		const char *error;
	} bad[] = {
		{ V(""), "truncated at offset 0" },
		{ V("r" LSN1 LSN1 LSN1 TS1 "\x00"), "unknown frame kind 0x72" },
		{ V("k" LSN2 TS1 "\x00" "\x00"), "keepalive message: 1 trailing bytes at offset 18" },
		{ V("w" LSN1 LSN2 "\x00\x00"), "XLogData message: truncated at offset 17: send time needs 8 bytes, 2 left" },
	};
	struct pgo_frame f;
	char err[256];

	(void)state;
	assert_int_equal(pgo_parse_frame(w, sizeof(w) - 1, &f, err, sizeof(err)), 0);
	assert_int_equal(f.kind, PGO_FRAME_XLOGDATA);
	assert_int_equal(f.wal_start, 0x1a2b3c4);
	assert_int_equal(f.wal_end, 0x1a2b3f0);
	assert_int_equal(f.send_time, 0x0002c4d5e6f70812LL);
	assert_int_equal(f.reply_requested, 0);
	assert_ptr_equal(f.data, w + 25);
	assert_int_equal(f.len, 21);

	assert_int_equal(pgo_parse_frame(w, 25, &f, err, sizeof(err)), 0);
	assert_int_equal(f.len, 0);

	assert_int_equal(pgo_parse_frame(k, sizeof(k) - 1, &f, err, sizeof(err)), 0);
	assert_int_equal(f.kind, PGO_FRAME_KEEPALIVE);
	assert_int_equal(f.wal_start, 0);
	assert_int_equal(f.wal_end, 0x1a2b3f0);
	assert_true(f.send_time == -2);
	assert_int_equal(f.reply_requested, 1);
	assert_null(f.data);
	assert_int_equal(f.len, 0);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(pgo_parse_frame(bad[i].bytes, bad[i].len, &f, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].error))
			fail_msg("frame %zu: got \"%s\", want \"%s\"", i, err, bad[i].error);
	}

	/* every truncation of a keepalive, and of an XLogData header */
	for (size_t n = 0; n < sizeof(k) - 1; n++) {
		char *copy = malloc(n ? n : 1);

		assert_non_null(copy);
		memcpy(copy, k, n);
		assert_int_equal(pgo_parse_frame(copy, n, &f, NULL, 0), -1);
		memcpy(copy, w, n);
		assert_int_equal(pgo_parse_frame(copy, n, &f, err, sizeof(err)), -1);
		free(copy);
	}
}

static void
test_build_status(void **state)
{
	static const char want[34] = "r"
		"\x01\x02\x03\x04\x05\x06\x07\x08"
		"\x11\x12\x13\x14\x15\x16\x17\x18"
		"\x00\x00\x00\x00\x00\x00\x00\x00"
		"\xff\xff\xff\xff\xff\xff\xff\xfe"
		"\x01";
	char out[34];

	(void)state;
	memset(out, 0x55, sizeof(out));
	assert_int_equal(pgo_build_status(out, 0x0102030405060708ULL, 0x1112131415161718ULL, 0, -2, 7),
			 34);
	assert_memory_equal(out, want, 34);

	assert_int_equal(pgo_build_status(out, 0, UINT64_MAX, 1, 0x0002c4d5e6f70812LL, 0), 34);
	assert_memory_equal(out, "r" "\0\0\0\0\0\0\0\0" "\xff\xff\xff\xff\xff\xff\xff\xff"
			    "\0\0\0\0\0\0\0\x01" TS1 "\0", 34);
}

static void
test_now(void **state)
{
	long long now_s, pg_s;

	(void)state;
	pg_s = pgo_now() / 1000000;
	now_s = (long long)time(NULL) - 946684800LL;
	assert_true(pg_s >= now_s - 2 && pg_s <= now_s + 2);
	assert_true(pgo_now() > 800000000LL * 1000000);	/* after 2025-05 */
}

static void
put_record(FILE *f, const char *bytes, size_t len)
{
	fputc((int)(len >> 8), f);
	fputc((int)(len & 0xff), f);
	fwrite(bytes, 1, len, f);
}

static FILE *
seed_open(const char *dir, const char *name, int i)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-%02d", dir, name, i);
	if (!(f = fopen(path, "wb")))
		fail_msg("cannot write %s", path);
	return f;
}

/*
 * Writes the fuzzing seeds in the record format of tests/fuzz/fuzz_pgoutput.c: each vector
 * alone, some wrapped in XLogData frames, keepalives, and whole streams through the cache.
 */
static void
write_seeds(const char *dir)
{
	static const char *const cols[] = { "id", "payload" };
	char buf[256];
	FILE *f;
	int n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(valid); i++, n++) {
		put_record(f = seed_open(dir, "valid", (int)i), valid[i].bytes, valid[i].len);
		fclose(f);
	}
	for (size_t i = 0; i < ARRAY_SIZE(invalid); i += 2, n++) {
		put_record(f = seed_open(dir, "invalid", (int)i), invalid[i].bytes, invalid[i].len);
		fclose(f);
	}
	for (size_t i = 0; i < ARRAY_SIZE(valid); i += 3, n++) {
		memcpy(buf, "w" LSN1 LSN2 TS1, 25);
		memcpy(buf + 25, valid[i].bytes, valid[i].len);
		put_record(f = seed_open(dir, "frame", (int)i), buf, 25 + valid[i].len);
		fclose(f);
	}
	put_record(f = seed_open(dir, "keepalive", 0), V("k" LSN2 TS1 "\x01"));
	put_record(f, V("k" LSN2 TS_NEG "\x00"));
	fclose(f);
	n++;

	/* a transaction: Relation, Begin, Insert, Update, Delete, Truncate, Message, Commit */
	f = seed_open(dir, "stream", 0);
	for (size_t i = 0; i < ARRAY_SIZE(valid); i++)
		if (strchr("RBIUDTMC", valid[i].type))
			put_record(f, valid[i].bytes, valid[i].len);
	fclose(f);
	/* a relation replaced between changes, and a cache of several relids */
	f = seed_open(dir, "stream", 1);
	put_record(f, buf, build_relation(buf, 16384, "outbox", 2, cols));
	put_record(f, valid[6].bytes, valid[6].len);
	put_record(f, buf, build_relation(buf, 16384, "outbox", 1, cols));
	put_record(f, buf, build_relation(buf, 1, "a", 2, cols));
	put_record(f, buf, build_relation(buf, UINT32_MAX, "b", 0, cols));
	put_record(f, valid[12].bytes, valid[12].len);
	put_record(f, valid[14].bytes, valid[14].len);
	fclose(f);
	n += 2;
	for (size_t i = 0; i < ARRAY_SIZE(real_stream); i++, n++) {
		put_record(f = seed_open(dir, "real", (int)i), real_stream[i].bytes, real_stream[i].len);
		fclose(f);
	}
	f = seed_open(dir, "real-stream", 0);
	for (size_t i = 0; i < ARRAY_SIZE(real_stream); i++)
		put_record(f, real_stream[i].bytes, real_stream[i].len);
	fclose(f);
	n++;
	printf("wrote %d seeds to %s\n", n, dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_messages),
		cmocka_unit_test(test_invalid_messages),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_begin_commit_origin),
		cmocka_unit_test(test_type_truncate_message),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_relation),
		cmocka_unit_test(test_relation_cache),
		cmocka_unit_test(test_real_stream),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_build_status),
		cmocka_unit_test(test_now),
	};

	if (getenv("PGO_SEED_DIR"))
		write_seeds(getenv("PGO_SEED_DIR"));
	return cmocka_run_group_tests_name("pgoutput", tests, NULL, NULL);
}
