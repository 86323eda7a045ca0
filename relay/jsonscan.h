/*
 * jsonscan — reads a JSON text (RFC 8259, as strictly as jansson reads it with JSON_DECODE_ANY |
 * JSON_ALLOW_NUL) into a flat array of tokens over the text, without allocating per text.
 *
 * The encoder (avenc) reads each event's payload with it: one pass checks the whole text (UTF-8,
 * escapes and surrogate pairs, numbers, nesting depth) and records where every value is, so that
 * encoding can walk the values in schema order, skip a value in one step and try a union's
 * branches again, all without a tree of allocated nodes. Strings stay escaped in the text; the
 * caller unescapes the ones it needs with jsonscan_unescape.
 *
 * Duplicate keys are not checked by jsonscan_parse (it would cost every event a comparison of
 * every key): a caller that looks members up notices them itself, and jsonscan_duplicate finds
 * the first one when it matters.
 */
#ifndef OUTBOX_RELAY_JSONSCAN_H
#define OUTBOX_RELAY_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

/* jansson's limit: a value inside more than 2047 arrays or objects is refused */
#define JSONSCAN_MAX_DEPTH 2048

enum jsonscan_kind {
	JSONSCAN_NULL = 0,
	JSONSCAN_TRUE,
	JSONSCAN_FALSE,
	JSONSCAN_INTEGER,	/* fits int64_t */
	JSONSCAN_REAL,		/* has a fraction or exponent; finite */
	JSONSCAN_STRING,
	JSONSCAN_OBJECT,	/* followed by count (key string, value) pairs */
	JSONSCAN_ARRAY		/* followed by count values */
};

struct jsonscan_tok {
	enum jsonscan_kind kind;
	unsigned escaped : 1;	/* string: has a backslash escape */
	unsigned has_nul : 1;	/* string: has \u0000 */
	size_t start, len;	/* string: between the quotes; number: its text; else the token */
	size_t next;		/* index of the token after this value and all it contains */
	size_t count;		/* object: members; array: items */
	union {
		int64_t i;	/* integer */
		double d;	/* real */
	} num;
};

struct jsonscan;

/* A reader whose token storage grows as texts need it. NULL when out of memory. */
struct jsonscan *jsonscan_new(void);

void jsonscan_free(struct jsonscan *js);

/*
 * Reads text (len bytes; it need not be NUL-terminated). Returns 0 with the tokens available
 * from jsonscan_tokens (token 0 is the whole value), or -1 with errstr saying what is wrong and
 * where ("invalid token near 'tru' at line 1 column 9"). The tokens of the previous text are
 * gone either way.
 */
int jsonscan_parse(struct jsonscan *js, const char *text, size_t len, char *errstr,
		   size_t errstr_size);

/* The tokens of the last text read; valid until the next jsonscan_parse. */
const struct jsonscan_tok *jsonscan_tokens(const struct jsonscan *js);

/*
 * Unescapes string token t of text into out, which must have room for t->len + 1 bytes (the
 * result is never longer than its escaped form); out is NUL-terminated. Returns the length.
 */
size_t jsonscan_unescape(const char *text, const struct jsonscan_tok *t, char *out);

/*
 * Whether an object of the last text read has a key twice (keys compared unescaped). Returns 0
 * when none does, 1 with errstr naming the first repeat in the text as jansson would ("duplicate
 * object key near '\"v\"' at line 3 column 3"), or -1 when out of memory.
 */
int jsonscan_duplicate(struct jsonscan *js, char *errstr, size_t errstr_size);

#endif
