/*
 * pgoutput — the wire format of logical replication, decoded: the CopyData frames of
 * START_REPLICATION (XLogData 'w', keepalive 'k', and the standby status update 'r' we send back)
 * and the pgoutput protocol version 1 messages inside XLogData (Begin, Commit, Origin, Relation,
 * Type, Insert, Update, Delete, Truncate, Message). It is the bottom of the logical capture
 * stage: relay/logical.c reads bytes with libpq and hands them here.
 *
 * Pure: bytes in, typed messages out; no I/O, no libpq, no logging. Integers are big-endian,
 * strings NUL-terminated. Every read is bounds-checked against the message length, so a
 * malformed or truncated message is an error with the byte offset of the problem, never a read
 * outside the buffer. Protocol v2 streaming messages (S, E, c, A) are refused: we ask for v1,
 * which only delivers whole committed transactions.
 *
 * Single-threaded: one parser per replication connection.
 */
#ifndef OUTBOX_RELAY_PGOUTPUT_H
#define OUTBOX_RELAY_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

/* Stream framing: the payloads of the CopyData messages of START_REPLICATION. */
enum pgo_frame_kind { PGO_FRAME_XLOGDATA = 'w', PGO_FRAME_KEEPALIVE = 'k' };

struct pgo_frame {
	int kind;		/* enum pgo_frame_kind */
	uint64_t wal_start;	/* 'w': dataStart (0 for Relation messages); 'k': 0 */
	uint64_t wal_end;	/* both */
	int64_t send_time;	/* µs since 2000-01-01 */
	int reply_requested;	/* 'k': 1 when the server wants a status update now; 'w': 0 */
	const char *data;	/* 'w': the pgoutput message, borrowed from buf; 'k': NULL */
	size_t len;		/* 'w': its length (may be 0); 'k': 0 */
};

#define PGO_STATUS_LEN 34	/* length of a standby status update */

/*
 * Splits one CopyData payload into a frame. Returns 0 and fills f (data borrows from buf), or -1
 * with errstr saying what is wrong: empty, unknown kind, an XLogData shorter than its 25-byte
 * header, a keepalive that is not exactly 18 bytes.
 */
int pgo_parse_frame(const char *buf, size_t len, struct pgo_frame *f, char *errstr,
		    size_t errstr_size);

/*
 * Writes a standby status update ('r', write, flush, apply, clock, reply-requested byte) into out
 * and returns its length, 34. The server takes flush_lsn as the slot's confirmed_flush_lsn.
 */
size_t pgo_build_status(char out[34], uint64_t write_lsn, uint64_t flush_lsn, uint64_t apply_lsn,
			int64_t now_us_since_2000, int reply_requested);

/* The current time as µs since 2000-01-01 00:00 UTC (the PostgreSQL epoch). */
int64_t pgo_now(void);

/* pgoutput v1 messages */
struct pgo_value {
	char kind;		/* 'n' null, 'u' unchanged toast, 't' text, 'b' binary */
	const char *data;	/* 't', 'b': borrowed from buf, NOT NUL-terminated; else NULL */
	uint32_t len;		/* 't', 'b': bytes at data; else 0 */
};

struct pgo_column {
	char *name;
	uint32_t type_oid;
	int32_t typmod;
	uint8_t flags;		/* 1 = part of the replica identity key */
};

struct pgo_relation {
	uint32_t relid;
	char *nspname;
	char *relname;
	uint8_t replident;	/* 'd' default, 'n' nothing, 'f' full, 'i' index */
	uint16_t ncols;
	struct pgo_column *cols;	/* ncols columns; NULL when ncols is 0 */
};

struct pgo_msg {
	char type;		/* 'B','C','O','R','Y','I','U','D','T','M' */
	union {
		struct { uint64_t final_lsn; int64_t commit_ts; uint32_t xid; } begin;
		struct { uint8_t flags; uint64_t commit_lsn; uint64_t end_lsn; int64_t commit_ts; } commit;
		struct { uint64_t lsn; const char *name; } origin;
		const struct pgo_relation *relation;	/* 'R': the cached copy */
		struct { uint32_t oid; const char *nspname; const char *name; } type;
		/* 'I': new tuple; 'U': new tuple; 'D': key/old tuple (ncols may be 0) */
		struct { uint32_t relid; uint16_t ncols; const struct pgo_value *values; } change;
		/* relids: pgo_truncate_relids() */
		struct { uint32_t nrels; uint8_t options; } truncate;
		struct { uint8_t flags; uint64_t lsn; const char *prefix; const char *content; uint32_t content_len; } message;
	} u;
};

struct pgo_parser;

/* A parser with an empty relation cache; NULL when out of memory. */
struct pgo_parser *pgo_parser_new(void);

/* Frees the parser, its relation cache and its scratch arrays. NULL is a no-op. */
void pgo_parser_destroy(struct pgo_parser *p);

/*
 * Parses one pgoutput message (the data of an XLogData frame) into m.
 *
 * Lifetimes: strings, 't'/'b' value bytes and 'M' content borrow from buf (valid while buf is);
 * the change values array and the truncate relids borrow from the parser (valid until the next
 * pgo_parse). 'R' messages are copied into the parser's relation cache keyed by relid, replacing
 * (and freeing) an earlier relation with the same relid; m->u.relation points at the cached copy,
 * which stays valid until another 'R' for that relid or pgo_parser_destroy.
 *
 * The parser does not check that a change's relid is in the cache or that its column count
 * matches the relation: the caller looks the relation up with pgo_relation_get.
 *
 * Returns 0, or -1 with errstr naming what is wrong and at which byte offset of buf (truncated,
 * unknown message type, unterminated string, bad tuple kind, counts larger than the message,
 * trailing bytes, out of memory); on -1 the cache is unchanged and m must not be used. Never
 * reads outside [buf, buf+len).
 */
int pgo_parse(struct pgo_parser *p, const char *buf, size_t len, struct pgo_msg *m,
	      char *errstr, size_t errstr_size);

/*
 * The relids of the last message parsed when it was a Truncate ('T'): m->u.truncate.nrels of
 * them, owned by the parser, valid until the next pgo_parse. NULL when nrels is 0 or the last
 * message was not a Truncate.
 */
const uint32_t *pgo_truncate_relids(const struct pgo_parser *p);

/* The cached relation with this relid, owned by the parser (see pgo_parse); NULL if unknown. */
const struct pgo_relation *pgo_relation_get(const struct pgo_parser *p, uint32_t relid);

/* Index of the column named `name` in rel, or -1 (also when rel or name is NULL). */
int pgo_column_index(const struct pgo_relation *rel, const char *name);

#endif
