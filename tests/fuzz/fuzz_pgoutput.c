/*
 * fuzz_pgoutput — fuzz target for relay/pgoutput.c (see tests/fuzz/README.md).
 *
 * An input is a sequence of records, each a 2-byte big-endian length and that many bytes (the
 * last record may be cut short by the end of the input), so that one input can carry a whole
 * stream and exercise the relation cache across messages. Each record is copied into a heap
 * buffer of exactly its size (so ASan sees any read past its end) and given to pgo_parse, and
 * to pgo_parse_frame, whose XLogData payload also goes to pgo_parse; all through one parser.
 * Every message parsed is walked in full, and its invariants checked: borrowed pointers lie
 * inside the record, a Relation is the one the cache returns, counts fit the record.
 *
 * Built with clang -fsanitize=fuzzer this is a libFuzzer target. Linked with driver.c (any
 * compiler, e.g. gcc -fsanitize=address,undefined) it gets a main() that replays corpus files
 * and can then run N inputs mutated from them with a seeded PRNG.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pgoutput.h"

/* for driver.c: value kinds and tuple tags to insert, message tags to put in */
const struct fuzz_hints fuzz_hints = {
	.name = "fuzz_pgoutput",
	.max_len = 4096,
	.insert_bytes = "nutbNKOR", .n_insert_bytes = 9,
	.tag_bytes = "\0BCORYIUDTMSEcAwk", .n_tag_bytes = 17,
};

static volatile size_t sink;

#define check(ok, what) FUZZ_CHECK(ok, what)

/* Whether [p, p+n) lies inside [buf, buf+len). */
static int
inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && (size_t)(p - buf) <= len && n <= len - (size_t)(p - buf);
}

static void
check_str(const char *s, const char *buf, size_t len)
{
	check(s && inside(s, 1, buf, len), "string outside the message");
	check(inside(s, strlen(s) + 1, buf, len), "string ends outside the message");
}

static void
walk_relation(const struct pgo_relation *rel)
{
	size_t n = strlen(rel->nspname) + strlen(rel->relname);

	for (uint16_t i = 0; i < rel->ncols; i++) {
		int at = pgo_column_index(rel, rel->cols[i].name);

		check(at >= 0 && at <= i, "column index");
		n += strlen(rel->cols[i].name) + rel->cols[i].type_oid + (size_t)rel->cols[i].typmod;
	}
	sink += n;
}

static void
walk(struct pgo_parser *p, const struct pgo_msg *m, const char *buf, size_t len)
{
	const struct pgo_relation *rel;
	const uint32_t *relids;
	size_t n = 0;

	switch (m->type) {
	case 'B':
	case 'C':
		break;
	case 'O':
		check_str(m->u.origin.name, buf, len);
		break;
	case 'R':
		rel = pgo_relation_get(p, m->u.relation->relid);
		check(rel == m->u.relation, "relation not the cached one");
		check((size_t)rel->ncols * 10 <= len, "relation columns larger than the message");
		walk_relation(rel);
		break;
	case 'Y':
		check_str(m->u.type.nspname, buf, len);
		check_str(m->u.type.name, buf, len);
		break;
	case 'I':
	case 'U':
	case 'D':
		check(m->u.change.ncols <= len, "more columns than bytes");
		check(m->u.change.ncols == 0 || m->u.change.values, "values missing");
		for (uint16_t i = 0; i < m->u.change.ncols; i++) {
			const struct pgo_value *v = &m->u.change.values[i];

			check(strchr("nutb", v->kind) && v->kind, "value kind");
			if (v->kind == 't' || v->kind == 'b') {
				check(inside(v->data, v->len, buf, len), "value outside the message");
				for (uint32_t j = 0; j < v->len; j++)
					n += (unsigned char)v->data[j];
			} else {
				check(!v->data && !v->len, "null value with data");
			}
		}
		if ((rel = pgo_relation_get(p, m->u.change.relid)) && rel->ncols)
			n += (size_t)pgo_column_index(rel, rel->cols[rel->ncols - 1].name);
		break;
	case 'T':
		check((uint64_t)m->u.truncate.nrels * 4 <= len, "more relids than bytes");
		relids = pgo_truncate_relids(p);
		check(m->u.truncate.nrels == 0 || relids, "relids missing");
		for (uint32_t i = 0; i < m->u.truncate.nrels; i++)
			n += pgo_relation_get(p, relids[i]) != NULL;
		break;
	case 'M':
		check_str(m->u.message.prefix, buf, len);
		check(inside(m->u.message.content, m->u.message.content_len, buf, len),
		      "content outside the message");
		for (uint32_t j = 0; j < m->u.message.content_len; j++)
			n += (unsigned char)m->u.message.content[j];
		break;
	default:
		check(0, "unknown type parsed");
	}
	sink += n;
}

static void
one_record(struct pgo_parser *p, const uint8_t *data, size_t len)
{
	char *buf = malloc(len ? len : 1);
	char err[256], status[34];
	struct pgo_frame f;
	struct pgo_msg m;

	if (!buf)
		return;
	memcpy(buf, data, len);
	err[0] = '\0';
	if (pgo_parse(p, buf, len, &m, err, sizeof(err)) == 0)
		walk(p, &m, buf, len);
	else
		check(err[0] != '\0', "error without a message");
	if (pgo_parse_frame(buf, len, &f, err, sizeof(err)) == 0) {
		if (f.kind == PGO_FRAME_XLOGDATA) {
			check(f.data == buf + 25 && f.len == len - 25, "XLogData payload");
			if (pgo_parse(p, f.data, f.len, &m, NULL, 0) == 0)
				walk(p, &m, f.data, f.len);
		} else {
			check(f.kind == PGO_FRAME_KEEPALIVE && len == 18, "keepalive");
		}
		check(pgo_build_status(status, f.wal_end, f.wal_start, f.wal_end, f.send_time,
				       f.reply_requested) == 34 && status[0] == 'r', "status");
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgo_parser *p = pgo_parser_new();
	size_t pos = 0;

	if (!p)
		return 0;
	while (pos < size) {
		size_t len = (size_t)data[pos] << 8;

		if (pos + 1 < size)
			len |= data[pos + 1];
		pos += 2;
		if (pos > size)
			pos = size;
		if (len > size - pos)
			len = size - pos;
		one_record(p, data + pos, len);
		pos += len;
	}
	pgo_parser_destroy(p);
	return 0;
}
