/*
 * pgoutput — see pgoutput.h. Every field is read through a small cursor (struct rd) that checks
 * the bytes left before each read and records the first error with its offset; later reads on a
 * failed cursor return zeroes and do not move, so a parse function may read a few fields and
 * check once. Counts (columns, relids, value lengths) are checked against the bytes left before
 * anything is allocated or looped over, so a hostile count costs nothing.
 *
 * The relation cache is an array of pointers sorted by relid (binary search): a session sees few
 * relations, relids are arbitrary 32-bit values, and each relation is one allocation (struct,
 * columns and strings together) so that a replaced relation is freed in one call.
 */
#include "pgoutput.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds from 1970-01-01 (Unix) to 2000-01-01 (PostgreSQL) */
#define PG_EPOCH_OFFSET 946684800LL

/* Smallest encodings, used to bound counts before looping: */
#define MIN_COLUMN_DEF 10	/* Relation column: flags, "" name, type oid, typmod */
#define MIN_TUPLE_COL 1		/* TupleData column: 'n' or 'u' */

struct pgo_parser {
	struct pgo_relation **rels;	/* sorted by relid, each owned */
	size_t nrels;
	size_t cap_rels;
	struct pgo_value *values;	/* scratch for the last change */
	size_t cap_values;
	uint32_t *relids;		/* scratch for the last truncate */
	size_t nrelids;
	size_t cap_relids;
};

struct rd {
	const unsigned char *buf;
	size_t len;
	size_t pos;
	const char *what;	/* message name, for errors */
	int failed;
	char *errstr;
	size_t errstr_size;
};

static void
rd_fail(struct rd *r, const char *fmt, ...)
{
	char detail[200];
	va_list ap;

	if (r->failed)
		return;
	r->failed = 1;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (r->errstr && r->errstr_size > 0)
		snprintf(r->errstr, r->errstr_size, "%s message: %s", r->what, detail);
}

static size_t
rd_left(const struct rd *r)
{
	return r->len - r->pos;
}

/* rd_need when the bytes are not there, or the cursor failed before: out of line. */
static int __attribute__((noinline))
rd_need_failed(struct rd *r, size_t n, const char *field)
{
	if (r->failed)
		return 0;
	rd_fail(r, "truncated at offset %zu: %s needs %zu bytes, %zu left", r->pos, field, n,
		rd_left(r));
	return 0;
}

/*
 * Whether n more bytes are there; on failure names the field. Every field of every message
 * passes here, so the test is inline and the message out of line.
 */
static inline int
rd_need(struct rd *r, size_t n, const char *field)
{
	if (!r->failed && rd_left(r) >= n)
		return 1;
	return rd_need_failed(r, n, field);
}

/* Inline, so that n is a constant and the loop unrolls into a few loads and shifts. */
static inline uint64_t
get_be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Two's complement reading of the low `bits` bits of u, defined for every value (a cast is not). */
static int64_t
to_signed(uint64_t u, unsigned bits)
{
	uint64_t sign = (uint64_t)1 << (bits - 1);

	if (bits < 64)
		u &= (sign << 1) - 1;
	if (u < sign)
		return (int64_t)u;
	return -(int64_t)((~u & (sign - 1))) - 1;
}

static inline uint64_t
rd_int(struct rd *r, size_t n, const char *field)
{
	uint64_t v;

	if (!rd_need(r, n, field))
		return 0;
	v = get_be(r->buf + r->pos, n);
	r->pos += n;
	return v;
}

#define rd_u8(r, f) ((uint8_t)rd_int((r), 1, (f)))
#define rd_u16(r, f) ((uint16_t)rd_int((r), 2, (f)))
#define rd_u32(r, f) ((uint32_t)rd_int((r), 4, (f)))
#define rd_u64(r, f) (rd_int((r), 8, (f)))
#define rd_i32(r, f) ((int32_t)to_signed(rd_u32((r), (f)), 32))
#define rd_i64(r, f) (to_signed(rd_u64((r), (f)), 64))

static void
rd_skip(struct rd *r, size_t n, const char *field)
{
	if (rd_need(r, n, field))
		r->pos += n;
}

/* A NUL-terminated string that must end inside the message; NULL on failure. */
static const char *
rd_str(struct rd *r, const char *field)
{
	const unsigned char *nul;
	const char *s;

	if (!rd_need(r, 1, field))
		return NULL;
	nul = memchr(r->buf + r->pos, '\0', rd_left(r));
	if (!nul) {
		rd_fail(r, "unterminated string %s at offset %zu", field, r->pos);
		return NULL;
	}
	s = (const char *)r->buf + r->pos;
	r->pos = (size_t)(nul - r->buf) + 1;
	return s;
}

/* Fails unless the whole message was read. */
static int
rd_done(struct rd *r)
{
	if (!r->failed && r->pos != r->len)
		rd_fail(r, "%zu trailing bytes at offset %zu", rd_left(r), r->pos);
	return r->failed ? -1 : 0;
}

/* Grows a scratch array to hold n elements of size sz; 0 or -1 (out of memory). */
static int
grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap = *cap ? *cap : 16;
	void *a;

	if (n <= *cap)
		return 0;
	while (ncap < n)
		ncap *= 2;
	if (ncap > SIZE_MAX / sz || !(a = realloc(*arr, ncap * sz)))
		return -1;
	*arr = a;
	*cap = ncap;
	return 0;
}

/*
 * TupleData into p->values: Int16 ncols, then per column 'n' | 'u' | 't' Int32 len Byte[len] |
 * 'b' Int32 len Byte[len].
 */
static int
read_tuple(struct pgo_parser *p, struct rd *r, struct pgo_msg *m)
{
	uint16_t ncols = rd_u16(r, "column count");

	if (r->failed)
		return -1;
	if ((size_t)ncols * MIN_TUPLE_COL > rd_left(r)) {
		rd_fail(r, "tuple of %u columns at offset %zu larger than the %zu bytes left",
			(unsigned)ncols, r->pos - 2, rd_left(r));
		return -1;
	}
	if (grow((void **)&p->values, &p->cap_values, ncols, sizeof(*p->values)) != 0) {
		rd_fail(r, "out of memory");
		return -1;
	}
	for (uint16_t i = 0; i < ncols; i++) {
		struct pgo_value *v = &p->values[i];
		size_t at = r->pos;

		v->kind = (char)rd_u8(r, "column kind");
		v->data = NULL;
		v->len = 0;
		if (r->failed)
			return -1;
		switch (v->kind) {
		case 'n':
		case 'u':
			break;
		case 't':
		case 'b':
			v->len = rd_u32(r, "column length");
			if (r->failed)
				return -1;
			if (v->len > rd_left(r)) {
				rd_fail(r, "column %u length %u at offset %zu larger than the %zu bytes left",
					(unsigned)i + 1, (unsigned)v->len, r->pos - 4, rd_left(r));
				return -1;
			}
			v->data = (const char *)r->buf + r->pos;
			r->pos += v->len;
			break;
		default:
			rd_fail(r, "bad tuple kind 0x%02x for column %u at offset %zu",
				(unsigned)(unsigned char)v->kind, (unsigned)i + 1, at);
			return -1;
		}
	}
	m->u.change.ncols = ncols;
	m->u.change.values = ncols ? p->values : NULL;
	return 0;
}

/* The index at which relid is or would be inserted. */
static size_t
cache_find(const struct pgo_parser *p, uint32_t relid)
{
	size_t lo = 0, hi = p->nrels;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->rels[mid]->relid < relid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Takes ownership of rel, replacing a relation with the same relid; -1 when out of memory. */
static int
cache_put(struct pgo_parser *p, struct pgo_relation *rel)
{
	size_t i = cache_find(p, rel->relid);

	if (i < p->nrels && p->rels[i]->relid == rel->relid) {
		free(p->rels[i]);
		p->rels[i] = rel;
		return 0;
	}
	if (grow((void **)&p->rels, &p->cap_rels, p->nrels + 1, sizeof(*p->rels)) != 0)
		return -1;
	memmove(&p->rels[i + 1], &p->rels[i], (p->nrels - i) * sizeof(*p->rels));
	p->rels[i] = rel;
	p->nrels++;
	return 0;
}

static char *
copy_str(const char *s, char **dst)
{
	size_t n = strlen(s) + 1;
	char *d = *dst;

	memcpy(d, s, n);
	*dst += n;
	return d;
}

/*
 * Relation: Int32 relid, String namespace, String relname, Int8 replica identity, Int16 ncols,
 * then per column Int8 flags, String name, Int32 type oid, Int32 typmod. Read twice: once to
 * check it and size the copy, once (from the same, now known-good bytes) to fill the copy.
 */
static int
parse_relation(struct pgo_parser *p, struct rd *r, struct pgo_msg *m)
{
	size_t start = r->pos, strbytes = 0;
	struct pgo_relation *rel;
	const char *s;
	char *dst;
	uint16_t ncols;

	rd_skip(r, 4, "relid");
	if ((s = rd_str(r, "namespace")))
		strbytes += strlen(s) + 1;
	if ((s = rd_str(r, "relation name")))
		strbytes += strlen(s) + 1;
	rd_skip(r, 1, "replica identity");
	ncols = rd_u16(r, "column count");
	if (!r->failed && (size_t)ncols * MIN_COLUMN_DEF > rd_left(r))
		rd_fail(r, "%u columns at offset %zu larger than the %zu bytes left", (unsigned)ncols,
			r->pos - 2, rd_left(r));
	for (uint16_t i = 0; i < ncols && !r->failed; i++) {
		rd_skip(r, 1, "column flags");
		if ((s = rd_str(r, "column name")))
			strbytes += strlen(s) + 1;
		rd_skip(r, 4, "column type");
		rd_skip(r, 4, "column typmod");
	}
	if (rd_done(r) != 0)
		return -1;

	rel = malloc(sizeof(*rel) + ncols * sizeof(*rel->cols) + strbytes);
	if (!rel) {
		rd_fail(r, "out of memory");
		return -1;
	}
	rel->cols = ncols ? (struct pgo_column *)(rel + 1) : NULL;
	dst = (char *)(rel + 1) + ncols * sizeof(*rel->cols);
	r->pos = start;
	rel->relid = rd_u32(r, "relid");
	rel->nspname = copy_str(rd_str(r, "namespace"), &dst);
	rel->relname = copy_str(rd_str(r, "relation name"), &dst);
	rel->replident = rd_u8(r, "replica identity");
	rel->ncols = rd_u16(r, "column count");
	for (uint16_t i = 0; i < ncols; i++) {
		rel->cols[i].flags = rd_u8(r, "column flags");
		rel->cols[i].name = copy_str(rd_str(r, "column name"), &dst);
		rel->cols[i].type_oid = rd_u32(r, "column type");
		rel->cols[i].typmod = rd_i32(r, "column typmod");
	}
	if (cache_put(p, rel) != 0) {
		free(rel);
		rd_fail(r, "out of memory");
		return -1;
	}
	m->u.relation = rel;
	return 0;
}

static int
parse_change(struct pgo_parser *p, struct rd *r, struct pgo_msg *m)
{
	uint8_t tag;
	size_t at;

	m->u.change.relid = rd_u32(r, "relid");
	at = r->pos;
	tag = rd_u8(r, "tuple tag");
	if (r->failed)
		return -1;
	switch (m->type) {
	case 'I':
		if (tag != 'N')
			break;
		return read_tuple(p, r, m);
	case 'U':
		/* an optional old tuple ('K' key or 'O' whole row), skipped, then the new one */
		if (tag == 'K' || tag == 'O') {
			if (read_tuple(p, r, m) != 0)
				return -1;
			at = r->pos;
			tag = rd_u8(r, "tuple tag");
			if (r->failed)
				return -1;
		}
		if (tag != 'N')
			break;
		return read_tuple(p, r, m);
	case 'D':
		if (tag != 'K' && tag != 'O')
			break;
		return read_tuple(p, r, m);
	}
	rd_fail(r, "bad tuple tag 0x%02x at offset %zu", (unsigned)tag, at);
	return -1;
}

static int
parse_truncate(struct pgo_parser *p, struct rd *r, struct pgo_msg *m)
{
	uint32_t n = rd_u32(r, "relation count");

	m->u.truncate.nrels = n;
	m->u.truncate.options = rd_u8(r, "options");
	if (r->failed)
		return -1;
	if ((uint64_t)n * 4 > rd_left(r)) {
		rd_fail(r, "%u relids at offset %zu larger than the %zu bytes left", (unsigned)n,
			r->pos, rd_left(r));
		return -1;
	}
	if (grow((void **)&p->relids, &p->cap_relids, n, sizeof(*p->relids)) != 0) {
		rd_fail(r, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		p->relids[i] = rd_u32(r, "relid");
	p->nrelids = n;
	return 0;
}

static const char *
msg_name(char type)
{
	switch (type) {
	case 'B': return "Begin";
	case 'C': return "Commit";
	case 'O': return "Origin";
	case 'R': return "Relation";
	case 'Y': return "Type";
	case 'I': return "Insert";
	case 'U': return "Update";
	case 'D': return "Delete";
	case 'T': return "Truncate";
	case 'M': return "Message";
	default: return NULL;
	}
}

int
pgo_parse(struct pgo_parser *p, const char *buf, size_t len, struct pgo_msg *m,
	  char *errstr, size_t errstr_size)
{
	struct rd r = { (const unsigned char *)buf, len, 0, "pgoutput", 0, errstr, errstr_size };
	int rc = 0;

	memset(m, 0, sizeof(*m));
	p->nrelids = 0;
	m->type = (char)rd_u8(&r, "message type");
	if (r.failed)
		return -1;
	if (!(r.what = msg_name(m->type))) {
		r.what = "pgoutput";
		if (m->type && strchr("SEcA", m->type))
			rd_fail(&r, "unsupported message type '%c' at offset 0 (protocol v2 streaming)",
				m->type);
		else
			rd_fail(&r, "unknown message type 0x%02x at offset 0",
				(unsigned)(unsigned char)m->type);
		return -1;
	}
	switch (m->type) {
	case 'B':
		m->u.begin.final_lsn = rd_u64(&r, "final LSN");
		m->u.begin.commit_ts = rd_i64(&r, "commit timestamp");
		m->u.begin.xid = rd_u32(&r, "xid");
		break;
	case 'C':
		m->u.commit.flags = rd_u8(&r, "flags");
		m->u.commit.commit_lsn = rd_u64(&r, "commit LSN");
		m->u.commit.end_lsn = rd_u64(&r, "end LSN");
		m->u.commit.commit_ts = rd_i64(&r, "commit timestamp");
		break;
	case 'O':
		m->u.origin.lsn = rd_u64(&r, "origin LSN");
		m->u.origin.name = rd_str(&r, "origin name");
		break;
	case 'R':
		rc = parse_relation(p, &r, m);
		break;
	case 'Y':
		m->u.type.oid = rd_u32(&r, "type oid");
		m->u.type.nspname = rd_str(&r, "namespace");
		m->u.type.name = rd_str(&r, "type name");
		break;
	case 'I':
	case 'U':
	case 'D':
		rc = parse_change(p, &r, m);
		break;
	case 'T':
		rc = parse_truncate(p, &r, m);
		break;
	case 'M':
		m->u.message.flags = rd_u8(&r, "flags");
		m->u.message.lsn = rd_u64(&r, "LSN");
		m->u.message.prefix = rd_str(&r, "prefix");
		m->u.message.content_len = rd_u32(&r, "content length");
		if (!r.failed && m->u.message.content_len > rd_left(&r))
			rd_fail(&r, "content length %u at offset %zu larger than the %zu bytes left",
				(unsigned)m->u.message.content_len, r.pos - 4, rd_left(&r));
		if (!r.failed) {
			m->u.message.content = buf + r.pos;
			r.pos += m->u.message.content_len;
		}
		break;
	}
	if (rc != 0 || rd_done(&r) != 0)
		return -1;
	return 0;
}

int
pgo_parse_frame(const char *buf, size_t len, struct pgo_frame *f, char *errstr,
		size_t errstr_size)
{
	struct rd r = { (const unsigned char *)buf, len, 0, "replication", 0, errstr, errstr_size };

	memset(f, 0, sizeof(*f));
	f->kind = rd_u8(&r, "frame kind");
	if (r.failed)
		return -1;
	switch (f->kind) {
	case PGO_FRAME_XLOGDATA:
		r.what = "XLogData";
		f->wal_start = rd_u64(&r, "WAL start");
		f->wal_end = rd_u64(&r, "WAL end");
		f->send_time = rd_i64(&r, "send time");
		if (r.failed)
			return -1;
		f->data = buf + r.pos;
		f->len = rd_left(&r);
		return 0;
	case PGO_FRAME_KEEPALIVE:
		r.what = "keepalive";
		f->wal_end = rd_u64(&r, "WAL end");
		f->send_time = rd_i64(&r, "send time");
		f->reply_requested = rd_u8(&r, "reply flag") != 0;
		return rd_done(&r);
	default:
		rd_fail(&r, "unknown frame kind 0x%02x at offset 0", (unsigned)(unsigned char)f->kind);
		return -1;
	}
}

static void
put_be(char *out, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(unsigned char)(v >> (8 * (n - 1 - i)));
}

size_t
pgo_build_status(char out[34], uint64_t write_lsn, uint64_t flush_lsn, uint64_t apply_lsn,
		 int64_t now_us_since_2000, int reply_requested)
{
	out[0] = 'r';
	put_be(out + 1, write_lsn, 8);
	put_be(out + 9, flush_lsn, 8);
	put_be(out + 17, apply_lsn, 8);
	put_be(out + 25, (uint64_t)now_us_since_2000, 8);
	out[33] = reply_requested ? 1 : 0;
	return PGO_STATUS_LEN;
}

int64_t
pgo_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec - PG_EPOCH_OFFSET) * 1000000 + ts.tv_nsec / 1000;
}

struct pgo_parser *
pgo_parser_new(void)
{
	return calloc(1, sizeof(struct pgo_parser));
}

void
pgo_parser_destroy(struct pgo_parser *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrels; i++)
		free(p->rels[i]);
	free(p->rels);
	free(p->values);
	free(p->relids);
	free(p);
}

const uint32_t *
pgo_truncate_relids(const struct pgo_parser *p)
{
	return p->nrelids ? p->relids : NULL;
}

const struct pgo_relation *
pgo_relation_get(const struct pgo_parser *p, uint32_t relid)
{
	size_t i = cache_find(p, relid);

	return i < p->nrels && p->rels[i]->relid == relid ? p->rels[i] : NULL;
}

int
pgo_column_index(const struct pgo_relation *rel, const char *name)
{
	if (!rel || !name)
		return -1;
	for (int i = 0; i < rel->ncols; i++)
		if (strcmp(rel->cols[i].name, name) == 0)
			return i;
	return -1;
}
