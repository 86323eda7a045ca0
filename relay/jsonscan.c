/*
 * jsonscan — see jsonscan.h.
 *
 * One iterative pass over the text with a stack of the open arrays and objects (so a deep text
 * costs no C stack). What is refused, and the words for it, follow jansson, which read the
 * payloads before: leading zeros, integers beyond int64_t, reals that overflow a double, raw
 * control characters, bad escapes and lone surrogates, invalid or overlong UTF-8, \u0000 in a
 * key, anything after the value, and values nested deeper than JSONSCAN_MAX_DEPTH. A position is
 * reported as jansson does: the line, and the characters of it read up to the end of the token
 * at fault.
 */
#include "jsonscan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keyref {
	size_t off, len;	/* the unescaped key in keys */
	size_t tok;		/* its token: the order in the text */
};

struct jsonscan {
	struct jsonscan_tok *toks;
	size_t n_toks, cap_toks;
	size_t stack[JSONSCAN_MAX_DEPTH];	/* open arrays and objects, as token indices */
	const char *text;
	size_t len;

	char *num;			/* a real's text, NUL-terminated for strtod */
	size_t num_cap;
	char *keys;			/* jsonscan_duplicate: one object's keys, unescaped */
	size_t keys_cap;
	struct keyref *refs;
	size_t refs_cap;
};

struct jsonscan *
jsonscan_new(void)
{
	return calloc(1, sizeof(struct jsonscan));
}

void
jsonscan_free(struct jsonscan *js)
{
	if (!js)
		return;
	free(js->toks);
	free(js->num);
	free(js->keys);
	free(js->refs);
	free(js);
}

const struct jsonscan_tok *
jsonscan_tokens(const struct jsonscan *js)
{
	return js->toks;
}

static int
grow(void **p, size_t *cap, size_t want, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *np;

	if (want <= *cap)
		return 0;
	while (n < want)
		n *= 2;
	if (!(np = realloc(*p, n * elem)))
		return -1;
	*p = np;
	*cap = n;
	return 0;
}

/*
 * "<what> near '<text[from, to)>' at line L column C", or "near end of file" when from is the
 * end; the position is that of text[to - 1], or of the end.
 */
static int
scan_error(const struct jsonscan *js, char *errstr, size_t errstr_size, const char *what,
	   size_t from, size_t to)
{
	const unsigned char *s = (const unsigned char *)js->text;
	int line = 1, column = 0;

	for (size_t i = 0; i < to && i < js->len; i++) {
		if (s[i] == '\n') {
			line++;
			column = 0;
		} else if ((s[i] & 0xc0) != 0x80) {
			column++;
		}
	}
	if (from >= js->len)
		snprintf(errstr, errstr_size, "%s near end of file at line %d column %d", what,
			 line, column);
	else
		snprintf(errstr, errstr_size, "%s near '%.*s' at line %d column %d", what,
			 (int)(to - from > 40 ? 40 : to - from), js->text + from, line, column);
	return -1;
}

static size_t
skip_ws(const unsigned char *s, size_t len, size_t i)
{
	while (i < len && s[i] <= ' ' &&
	       (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
		i++;
	return i;
}

static int
hex4(const unsigned char *s, size_t len, size_t i, unsigned *v)
{
	*v = 0;
	if (len - i < 4)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		unsigned char c = s[i + k];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? c - 'a' + 10U :
			     c >= 'A' && c <= 'F' ? c - 'A' + 10U : 16U;

		if (d == 16)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* The length of the valid UTF-8 sequence at s[i] (a byte >= 0x80), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t len, size_t i)
{
	unsigned char c = s[i];
	size_t n;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len - i < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i + k] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * The end of the run of plain bytes at s[i] (printable ASCII other than '"' and '\\'): the bytes
 * a string is mostly made of. Eight bytes at a time, then byte by byte. Each test below flags
 * every special byte of a word; it may also flag a plain byte, but only above a special one (a
 * borrow carries upwards), so the lowest flag is the first special byte: on a little-endian
 * machine the word says where it is, elsewhere the byte loop finds it.
 */
static size_t
plain_run(const unsigned char *s, size_t len, size_t i)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;

	while (len - i >= 8) {
		uint64_t w, quote, bslash, special;

		memcpy(&w, s + i, 8);
		quote = w ^ (ones * '"');
		bslash = w ^ (ones * '\\');
		/* a zero byte in quote or bslash, a byte below 0x20, a byte from 0x80 */
		special = (((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) |
			   ((w - ones * 0x20) & ~w) | w) & high;
		if (special) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return i + (size_t)(__builtin_ctzll(special) >> 3);
#else
			break;
#endif
		}
		i += 8;
	}
	while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
		i++;
	return i;
}

/* The string whose opening quote is at *pos, into t; *pos ends past its closing quote. */
static int
scan_string(struct jsonscan *js, struct jsonscan_tok *t, size_t *pos, char *errstr,
	    size_t errstr_size)
{
	const unsigned char *s = (const unsigned char *)js->text;
	size_t len = js->len, q = *pos, i = q + 1, n;
	char what[64];
	unsigned u, u2;

	t->kind = JSONSCAN_STRING;
	t->escaped = t->has_nul = 0;
	for (;;) {
		/* the common case: plain ASCII */
		i = plain_run(s, len, i);
		if (i >= len)
			return scan_error(js, errstr, errstr_size, "premature end of input", q, len);
		if (s[i] == '"')
			break;
		if (s[i] < 0x20) {
			snprintf(what, sizeof(what), "control character 0x%x", s[i]);
			return scan_error(js, errstr, errstr_size, what, q, i);
		}
		if (s[i] >= 0x80) {
			if (!(n = utf8_seq(s, len, i))) {
				snprintf(what, sizeof(what), "unable to decode byte 0x%x", s[i]);
				return scan_error(js, errstr, errstr_size, what, q, i);
			}
			i += n;
			continue;
		}
		/* a backslash */
		t->escaped = 1;
		if (++i >= len)
			return scan_error(js, errstr, errstr_size, "premature end of input", q, len);
		if (strchr("\"\\/bfnrt", s[i]) && s[i]) {
			i++;
			continue;
		}
		if (s[i] != 'u' || hex4(s, len, i + 1, &u) != 0)
			return scan_error(js, errstr, errstr_size, "invalid escape", q, i + 1);
		i += 5;
		if (u == 0) {
			t->has_nul = 1;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			snprintf(what, sizeof(what), "invalid Unicode '\\u%04X'", u);
			return scan_error(js, errstr, errstr_size, what, q, i);
		} else if (u >= 0xd800 && u <= 0xdbff) {
			if (len - i < 2 || s[i] != '\\' || s[i + 1] != 'u') {
				snprintf(what, sizeof(what), "invalid Unicode '\\u%04X'", u);
				return scan_error(js, errstr, errstr_size, what, q, i);
			}
			if (hex4(s, len, i + 2, &u2) != 0)
				return scan_error(js, errstr, errstr_size, "invalid escape", q, i + 2);
			i += 6;
			if (u2 < 0xdc00 || u2 > 0xdfff) {
				snprintf(what, sizeof(what), "invalid Unicode '\\u%04X\\u%04X'", u, u2);
				return scan_error(js, errstr, errstr_size, what, q, i);
			}
		}
	}
	t->start = q + 1;
	t->len = i - t->start;
	*pos = i + 1;
	return 0;
}

/* The number at *pos, into t: an integer when it has no fraction and no exponent. */
static int
scan_number(struct jsonscan *js, struct jsonscan_tok *t, size_t *pos, char *errstr,
	    size_t errstr_size)
{
	const unsigned char *s = (const unsigned char *)js->text;
	size_t len = js->len, b = *pos, i = b;
	int neg = 0, real = 0;

#define DIGIT(k) ((k) < len && s[k] >= '0' && s[k] <= '9')
	if (s[i] == '-') {
		neg = 1;
		i++;
	}
	if (DIGIT(i) && s[i] == '0') {
		if (DIGIT(i + 1))
			return scan_error(js, errstr, errstr_size, "invalid token", b, i + 2);
		i++;
	} else if (DIGIT(i)) {
		while (DIGIT(i))
			i++;
	} else {
		return scan_error(js, errstr, errstr_size, "invalid token", b, i + (i < len));
	}
	if (i < len && s[i] == '.') {
		real = 1;
		if (!DIGIT(i + 1))
			return scan_error(js, errstr, errstr_size, "invalid token", b, i + 1);
		for (i++; DIGIT(i); i++)
			;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		real = 1;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!DIGIT(i))
			return scan_error(js, errstr, errstr_size, "invalid token", b, i);
		while (DIGIT(i))
			i++;
	}
#undef DIGIT
	t->start = b;
	t->len = i - b;
	*pos = i;
	if (!real) {
		/* as strtoll: up to 2^63 - 1, or 2^63 negated */
		uint64_t v = 0, max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

		for (size_t k = b + neg; k < i; k++) {
			unsigned d = s[k] - '0';

			if (v > (max - d) / 10)
				return scan_error(js, errstr, errstr_size, neg ?
						  "too big negative integer" : "too big integer", b, i);
			v = v * 10 + d;
		}
		t->kind = JSONSCAN_INTEGER;
		t->num.i = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) :
			   (int64_t)v;
		return 0;
	}
	if (grow((void **)&js->num, &js->num_cap, t->len + 1, 1) != 0)
		return scan_error(js, errstr, errstr_size, "out of memory", b, i);
	memcpy(js->num, js->text + b, t->len);
	js->num[t->len] = '\0';
	errno = 0;
	t->num.d = strtod(js->num, NULL);
	if ((t->num.d == HUGE_VAL || t->num.d == -HUGE_VAL) && errno == ERANGE)
		return scan_error(js, errstr, errstr_size, "real number overflow", b, i);
	t->kind = JSONSCAN_REAL;
	return 0;
}

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int
jsonscan_parse(struct jsonscan *js, const char *text, size_t len, char *errstr,
	       size_t errstr_size)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t pos = 0, depth = 0, at, b;
	struct jsonscan_tok *t;

	js->text = text;
	js->len = len;
	js->n_toks = 0;

value:
	pos = skip_ws(s, len, pos);
	if (js->n_toks == js->cap_toks &&
	    grow((void **)&js->toks, &js->cap_toks, js->n_toks + 1, sizeof(*t)) != 0)
		return scan_error(js, errstr, errstr_size, "out of memory", pos, pos);
	at = js->n_toks++;
	t = &js->toks[at];
	t->escaped = t->has_nul = 0;
	t->count = 0;
	t->start = pos;
	t->len = 1;
	t->next = at + 1;
	if (depth + 1 > JSONSCAN_MAX_DEPTH)
		return scan_error(js, errstr, errstr_size, "maximum parsing depth reached", pos,
				  pos + 1);
	if (pos >= len)
		return scan_error(js, errstr, errstr_size, "unexpected token", pos, pos);
	switch (s[pos]) {
	case '{':
		t->kind = JSONSCAN_OBJECT;
		js->stack[depth++] = at;
		pos = skip_ws(s, len, pos + 1);
		if (pos < len && s[pos] == '}')
			goto close;
		goto key;
	case '[':
		t->kind = JSONSCAN_ARRAY;
		js->stack[depth++] = at;
		pos = skip_ws(s, len, pos + 1);
		if (pos < len && s[pos] == ']')
			goto close;
		goto value;
	case '"':
		if (scan_string(js, t, &pos, errstr, errstr_size) != 0)
			return -1;
		break;
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		if (scan_number(js, t, &pos, errstr, errstr_size) != 0)
			return -1;
		break;
	case '}':
	case ']':
	case ':':
	case ',':
		return scan_error(js, errstr, errstr_size, "unexpected token", pos, pos + 1);
	default:
		b = pos;
		if (!is_alpha(s[pos])) {
			/* the whole character, for a readable message */
			for (pos++; pos < len && (s[pos] & 0xc0) == 0x80; pos++)
				;
			return scan_error(js, errstr, errstr_size, "invalid token", b, pos);
		}
		while (pos < len && is_alpha(s[pos]))
			pos++;
		if (pos - b == 4 && memcmp(s + b, "true", 4) == 0)
			t->kind = JSONSCAN_TRUE;
		else if (pos - b == 5 && memcmp(s + b, "false", 5) == 0)
			t->kind = JSONSCAN_FALSE;
		else if (pos - b == 4 && memcmp(s + b, "null", 4) == 0)
			t->kind = JSONSCAN_NULL;
		else
			return scan_error(js, errstr, errstr_size, "invalid token", b, pos);
		t->len = pos - b;
		break;
	}

after:
	/* a value is complete: the end, or what follows it in its array or object */
	pos = skip_ws(s, len, pos);
	if (depth == 0) {
		if (pos < len)
			return scan_error(js, errstr, errstr_size, "end of file expected", pos,
					  pos + 1);
		return 0;
	}
	t = &js->toks[js->stack[depth - 1]];
	t->count++;
	if (pos < len && s[pos] == ',') {
		pos = skip_ws(s, len, pos + 1);
		if (t->kind == JSONSCAN_OBJECT)
			goto key;
		goto value;
	}
	if (pos < len && s[pos] == (t->kind == JSONSCAN_OBJECT ? '}' : ']'))
		goto close;
	return scan_error(js, errstr, errstr_size, t->kind == JSONSCAN_OBJECT ? "'}' expected" :
			  "']' expected", pos, pos + 1);

close:
	/* s[pos] closes the innermost open array or object */
	t = &js->toks[js->stack[--depth]];
	t->next = js->n_toks;
	t->len = pos + 1 - t->start;
	pos++;
	goto after;

key:
	if (pos >= len || s[pos] != '"')
		return scan_error(js, errstr, errstr_size, "string or '}' expected", pos, pos + 1);
	if (js->n_toks == js->cap_toks &&
	    grow((void **)&js->toks, &js->cap_toks, js->n_toks + 1, sizeof(*t)) != 0)
		return scan_error(js, errstr, errstr_size, "out of memory", pos, pos);
	at = js->n_toks++;
	t = &js->toks[at];
	t->count = 0;
	t->next = at + 1;
	b = pos;
	if (scan_string(js, t, &pos, errstr, errstr_size) != 0)
		return -1;
	if (t->has_nul)
		return scan_error(js, errstr, errstr_size, "NUL byte in object key not supported",
				  b, pos);
	pos = skip_ws(s, len, pos);
	if (pos >= len || s[pos] != ':')
		return scan_error(js, errstr, errstr_size, "':' expected", pos, pos + 1);
	pos++;
	goto value;
}

/* Appends code point cp to out as UTF-8; returns the bytes written. */
static size_t
put_utf8(char *out, uint32_t cp)
{
	unsigned char *o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t
jsonscan_unescape(const char *text, const struct jsonscan_tok *t, char *out)
{
	const unsigned char *s = (const unsigned char *)text + t->start;
	size_t len = t->len, k = 0;
	unsigned u, u2;

	if (!t->escaped) {
		memcpy(out, s, len);
		out[len] = '\0';
		return len;
	}
	/* jsonscan_parse has checked every escape: no bounds or digits to check again */
	for (size_t i = 0; i < len;) {
		if (s[i] != '\\') {
			out[k++] = (char)s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 'b': out[k++] = '\b'; break;
		case 'f': out[k++] = '\f'; break;
		case 'n': out[k++] = '\n'; break;
		case 'r': out[k++] = '\r'; break;
		case 't': out[k++] = '\t'; break;
		case 'u':
			hex4(s, len, i + 2, &u);
			if (u >= 0xd800 && u <= 0xdbff) {
				hex4(s, len, i + 8, &u2);
				u = 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00);
				i += 6;
			}
			k += put_utf8(out + k, u);
			i += 6;
			continue;
		default: out[k++] = (char)s[i + 1]; break;
		}
		i += 2;
	}
	out[k] = '\0';
	return k;
}

static int
keyref_cmp(const void *a, const void *b, void *arg)
{
	const struct keyref *x = a, *y = b;
	const char *keys = arg;
	int c = memcmp(keys + x->off, keys + y->off, x->len < y->len ? x->len : y->len);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->tok < y->tok ? -1 : x->tok > y->tok;
}

int
jsonscan_duplicate(struct jsonscan *js, char *errstr, size_t errstr_size)
{
	size_t first = SIZE_MAX;

	/*
	 * Per object: its keys unescaped and sorted (then by place), so that a key's repeats are
	 * neighbours; jansson stops at the repeat it reads first, the one earliest in the text.
	 */
	for (size_t o = 0; o < js->n_toks; o++) {
		const struct jsonscan_tok *ot = &js->toks[o];
		size_t used = 0, k = o + 1;

		if (ot->kind != JSONSCAN_OBJECT || ot->count < 2)
			continue;
		if (grow((void **)&js->refs, &js->refs_cap, ot->count, sizeof(*js->refs)) != 0)
			return -1;
		for (size_t m = 0; m < ot->count; m++) {
			const struct jsonscan_tok *kt = &js->toks[k];

			if (grow((void **)&js->keys, &js->keys_cap, used + kt->len + 1, 1) != 0)
				return -1;
			js->refs[m].off = used;
			js->refs[m].len = jsonscan_unescape(js->text, kt, js->keys + used);
			js->refs[m].tok = k;
			used += js->refs[m].len + 1;
			k = js->toks[k + 1].next;
		}
		qsort_r(js->refs, ot->count, sizeof(*js->refs), keyref_cmp, js->keys);
		for (size_t m = 1; m < ot->count; m++) {
			const struct keyref *x = &js->refs[m - 1], *y = &js->refs[m];

			/* a group's second is the smallest repeat in it */
			if (x->len == y->len && y->tok < first &&
			    memcmp(js->keys + x->off, js->keys + y->off, x->len) == 0)
				first = y->tok;
		}
	}
	if (first == SIZE_MAX)
		return 0;
	scan_error(js, errstr, errstr_size, "duplicate object key", js->toks[first].start - 1,
		   js->toks[first].start + js->toks[first].len + 1);
	return 1;
}
