/*
 * avenc — see avenc.h.
 *
 * Encoding an event reads its payload with jsonscan (one pass: the whole text checked, every
 * value's place recorded, nothing allocated), then walks the relay's schema model (avsc) and one
 * avro-c generic value together: the model says what the JSON may be (defaults, logical types,
 * which union branch fits), avro-c holds the result and writes the binary. avro-c keeps a
 * record's fields and a union's branches in schema order, so both are addressed by index; that
 * avro-c read the schema text the way avsc did is checked once, when the encoder is built.
 * Defaults come from the schema model as jansson values and take the same functions (struct jv
 * is either).
 *
 * Per event the generic value is not rebuilt or even reset (every field and branch is set again;
 * arrays of the same length are overwritten in place, so avro-c keeps its strings' storage), the
 * binary is written straight into the caller's buffer, and paths for error messages live on the
 * stack and are only formatted when something fails. What still allocates per event: avro-c's
 * map keys, its array items when an array's length changes, and its storage for a union branch
 * when an event takes another branch than the event before.
 */
#include "avenc.h"

#include <avro.h>
#include <float.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avlogical.h"
#include "jsonscan.h"

/* A step from a value to one inside it; a chain of them, innermost first, names a field. */
enum path_kind {
	PATH_FIELD,
	PATH_INDEX,
	PATH_KEY
};

struct path {
	const struct path *up;		/* NULL: the payload itself */
	enum path_kind kind;
	const char *name;		/* field name or map key */
	size_t index;			/* array index */
};

struct avenc {
	const struct avsc_schema *schema;
	avro_schema_t avro_schema;
	avro_value_iface_t *iface;
	avro_value_t value;
	int have_value;
	avro_writer_t writer;		/* pointed at the caller's buffer for each write */
	char no_dest[1];

	unsigned char *bytes;		/* bytes decoded from a JSON string */
	size_t bytes_cap;
	unsigned char *dec;		/* decimal conversion, then a fixed's sign-extended copy */
	size_t dec_cap;
	size_t dec_fixed_at;		/* where in dec the fixed copy goes */

	struct jsonscan *scan;		/* reads the payloads */
	char *str;			/* a payload string or key, unescaped and NUL-terminated */
	size_t str_cap;			/* at least the payload's length + 1 */
	size_t *slots;			/* records' members by field (encode_record), a stack */
	size_t n_slots, slots_cap;	/* slots_cap in bytes */
	size_t size_hint;		/* the largest encoding that did not fit the first guess */

	/* the call in progress */
	const char *json;		/* the payload */
	const struct jsonscan_tok *toks;	/* its tokens */
	char *errstr;
	size_t errstr_size;
	const struct path *default_of;	/* encoding the default of this field */
	int depth;
};

/*
 * Records inside records. A payload cannot nest deeper than jsonscan's 2048 levels anyway; this
 * stops a schema whose record defaults contain themselves ({"name": "next", "type": "Node",
 * "default": {}}) before the stack does.
 */
#define MAX_DEPTH 1024

/*
 * A JSON value being encoded: a token of the payload, or, for a default, a jansson value from the
 * schema model (avsc keeps defaults as jansson values; they are few and encoded as they are).
 */
struct jv {
	const json_t *j;		/* a default; NULL: token tok of the payload */
	size_t tok;
};

static struct jv
jv_json(const json_t *j)
{
	struct jv x = { j, 0 };

	return x;
}

static struct jv
jv_tok(size_t tok)
{
	struct jv x = { NULL, tok };

	return x;
}

static enum jsonscan_kind
jv_kind(const struct avenc *e, struct jv x)
{
	if (!x.j)
		return e->toks[x.tok].kind;
	switch (json_typeof(x.j)) {
	case JSON_OBJECT:
		return JSONSCAN_OBJECT;
	case JSON_ARRAY:
		return JSONSCAN_ARRAY;
	case JSON_STRING:
		return JSONSCAN_STRING;
	case JSON_INTEGER:
		return JSONSCAN_INTEGER;
	case JSON_REAL:
		return JSONSCAN_REAL;
	case JSON_TRUE:
		return JSONSCAN_TRUE;
	case JSON_FALSE:
		return JSONSCAN_FALSE;
	case JSON_NULL:
		break;
	}
	return JSONSCAN_NULL;
}

/* An integer's value. */
static int64_t
jv_int(const struct avenc *e, struct jv x)
{
	return x.j ? (int64_t)json_integer_value(x.j) : e->toks[x.tok].num.i;
}

/* A number's value, as a double. */
static double
jv_number(const struct avenc *e, struct jv x)
{
	if (x.j)
		return json_number_value(x.j);
	if (e->toks[x.tok].kind == JSONSCAN_INTEGER)
		return (double)e->toks[x.tok].num.i;
	return e->toks[x.tok].num.d;
}

/*
 * A string's value, NUL-terminated (it may hold NULs too), and its length. A payload string is
 * unescaped into e->str: valid until the next payload string or key is asked for.
 */
static const char *
jv_string(struct avenc *e, struct jv x, size_t *len)
{
	if (x.j) {
		*len = json_string_length(x.j);
		return json_string_value(x.j);
	}
	*len = jsonscan_unescape(e->json, &e->toks[x.tok], e->str);
	return e->str;
}

/* ---- error messages ---------------------------------------------------------------------- */

struct sbuf {
	char *s;
	size_t size, len;
};

static void
sb_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	int n;

	if (b->len + 1 >= b->size)
		return;
	n = vsnprintf(b->s + b->len, b->size - b->len, fmt, ap);
	if (n > 0)
		b->len = b->len + (size_t)n < b->size ? b->len + (size_t)n : b->size - 1;
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(b, fmt, ap);
	va_end(ap);
}

/* s as the inside of a JSON string literal, cut after about max bytes (between characters). */
static void
sb_escaped(struct sbuf *b, const char *s, size_t len, size_t max)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= max && (c & 0xc0) != 0x80) {
			sb_printf(b, "...");
			break;
		}
		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			sb_printf(b, "\\u%04x", c);
		else
			sb_printf(b, "%c", c);
	}
}

/* The path as written in messages, unquoted: order.lines[2].price, attrs["k"]. */
static void
sb_path(struct sbuf *b, const struct path *p)
{
	if (!p)
		return;
	sb_path(b, p->up);
	switch (p->kind) {
	case PATH_FIELD:
		sb_printf(b, "%s%s", p->up ? "." : "", p->name);
		break;
	case PATH_INDEX:
		sb_printf(b, "[%zu]", p->index);
		break;
	case PATH_KEY:
		sb_printf(b, "[\"");
		sb_escaped(b, p->name, strlen(p->name), 64);
		sb_printf(b, "\"]");
		break;
	}
}

/* "field \"a.b\": " or "payload: ", then the message. Returns -1. */
static int
vfail(struct avenc *e, const struct path *p, const char *fmt, va_list ap)
{
	struct sbuf b = { e->errstr, e->errstr_size, 0 };

	if (!e->errstr || e->errstr_size == 0)
		return -1;
	e->errstr[0] = '\0';
	if (p) {
		char raw[512];
		struct sbuf r = { raw, sizeof(raw), 0 };

		raw[0] = '\0';
		sb_path(&r, p);
		sb_printf(&b, "field \"");
		/* a path thousands of levels deep would push the reason out of errstr: its start,
		 * then "..." */
		sb_escaped(&b, raw, r.len, 160);
		sb_printf(&b, "\": ");
	} else {
		sb_printf(&b, "payload: ");
	}
	sb_vprintf(&b, fmt, ap);
	if (e->default_of) {
		/* the schema's fault, not the event's: avsc should have refused the default */
		char raw[512];
		struct sbuf r = { raw, sizeof(raw), 0 };

		raw[0] = '\0';
		sb_path(&r, e->default_of);
		sb_printf(&b, " (in the schema's default for \"");
		sb_escaped(&b, raw, r.len, r.len);
		sb_printf(&b, "\")");
	}
	return -1;
}

static int __attribute__((format(printf, 3, 4)))
fail(struct avenc *e, const struct path *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(e, p, fmt, ap);
	va_end(ap);
	return -1;
}

/* avro-c's error after a call returned rc (only ENOMEM once the shapes have been checked). */
static int
avro_failed(struct avenc *e, const struct path *p, int rc)
{
	const char *msg = avro_strerror();

	return fail(e, p, "avro-c: %s", msg && *msg ? msg : rc ? strerror(rc) : "failed");
}

/* The shortest text that reads back as d, with ".0" when it would look like an integer. */
static void
real_text(double d, char *buf, size_t size)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".eEni"))
		strncat(buf, ".0", size - strlen(buf) - 1);
}

/* The JSON value for a message: "abc" (shortened), 12, 1.5, true, null, an object, an array. */
static void
value_text(struct avenc *e, struct jv x, char *buf, size_t size)
{
	struct sbuf b = { buf, size, 0 };
	const char *s;
	size_t len;

	buf[0] = '\0';
	switch (jv_kind(e, x)) {
	case JSONSCAN_STRING:
		s = jv_string(e, x, &len);
		sb_printf(&b, "\"");
		sb_escaped(&b, s, len, 40);
		sb_printf(&b, "\"");
		break;
	case JSONSCAN_INTEGER:
		sb_printf(&b, "%" PRId64, jv_int(e, x));
		break;
	case JSONSCAN_REAL:
		real_text(jv_number(e, x), buf, size);
		break;
	case JSONSCAN_TRUE:
		sb_printf(&b, "true");
		break;
	case JSONSCAN_FALSE:
		sb_printf(&b, "false");
		break;
	case JSONSCAN_NULL:
		sb_printf(&b, "null");
		break;
	case JSONSCAN_OBJECT:
		sb_printf(&b, "an object");
		break;
	case JSONSCAN_ARRAY:
		sb_printf(&b, "an array");
		break;
	}
}

static const char *const logical_names[] = {
	[AVSC_LT_NONE] = NULL,
	[AVSC_LT_DECIMAL] = "decimal",
	[AVSC_LT_UUID] = "uuid",
	[AVSC_LT_DATE] = "date",
	[AVSC_LT_TIME_MILLIS] = "time-millis",
	[AVSC_LT_TIME_MICROS] = "time-micros",
	[AVSC_LT_TIMESTAMP_MILLIS] = "timestamp-millis",
	[AVSC_LT_TIMESTAMP_MICROS] = "timestamp-micros",
	[AVSC_LT_LOCAL_TIMESTAMP_MILLIS] = "local-timestamp-millis",
	[AVSC_LT_LOCAL_TIMESTAMP_MICROS] = "local-timestamp-micros",
};

/* What a schema node takes, for messages: long, timestamp-millis, record "Order", [null, string]. */
static void
sb_type(struct sbuf *b, const struct avsc_node *n)
{
	if (n->logical == AVSC_LT_DECIMAL)
		sb_printf(b, "decimal(%d,%d)", n->precision, n->scale);
	else if (n->logical != AVSC_LT_NONE)
		sb_printf(b, "%s", logical_names[n->logical]);
	else if (n->type == AVSC_RECORD || n->type == AVSC_ENUM || n->type == AVSC_FIXED)
		sb_printf(b, "%s \"%s\"", avsc_type_name(n->type), n->fullname);
	else if (n->type != AVSC_UNION)
		sb_printf(b, "%s", avsc_type_name(n->type));
	else {
		sb_printf(b, "[");
		for (size_t i = 0; i < n->n_branches; i++) {
			sb_printf(b, "%s", i ? ", " : "");
			sb_type(b, n->branches[i]);
		}
		sb_printf(b, "]");
	}
}

/* "expected long, got \"abc\"" */
static int
mismatch(struct avenc *e, const struct avsc_node *n, struct jv x, const struct path *p)
{
	char type[256], value[80];
	struct sbuf b = { type, sizeof(type), 0 };

	type[0] = '\0';
	if (n->type == AVSC_UNION)
		sb_printf(&b, "one of ");
	sb_type(&b, n);
	value_text(e, x, value, sizeof(value));
	return fail(e, p, "expected %s, got %s", type, value);
}

/* ---- encoding ---------------------------------------------------------------------------- */

static int encode(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
		  const struct path *p, int dflt);

static int
reserve(unsigned char **buf, size_t *cap, size_t n)
{
	unsigned char *nb;

	if (n <= *cap)
		return 0;
	if (!(nb = realloc(*buf, n)))
		return -1;
	*buf = nb;
	*cap = n;
	return 0;
}

static int
encode_int(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	   const struct path *p)
{
	char text[80];
	int32_t days;
	int64_t ns;

	enum jsonscan_kind k = jv_kind(e, x);
	const char *s;
	size_t len;
	int64_t i;

	if (k == JSONSCAN_INTEGER) {
		i = jv_int(e, x);
		if (i < INT32_MIN || i > INT32_MAX)
			return fail(e, p, "%" PRId64 " is out of range for int", i);
		if (n->logical == AVSC_LT_TIME_MILLIS && (i < 0 || i >= 86400000))
			return fail(e, p, "%" PRId64 " is not a time of day in "
				    "milliseconds (0..86399999)", i);
	} else if (k == JSONSCAN_STRING && n->logical == AVSC_LT_DATE) {
		s = jv_string(e, x, &len);
		if (avlogical_parse_date(s, len, &days) != 0) {
			value_text(e, x, text, sizeof(text));
			return fail(e, p, "%s is not a date (YYYY-MM-DD)", text);
		}
		i = days;
	} else if (k == JSONSCAN_STRING && n->logical == AVSC_LT_TIME_MILLIS) {
		s = jv_string(e, x, &len);
		if (avlogical_parse_time(s, len, &ns) != 0) {
			value_text(e, x, text, sizeof(text));
			return fail(e, p, "%s is not a time of day (HH:MM:SS[.fraction])", text);
		}
		i = ns / 1000000;
	} else {
		return mismatch(e, n, x, p);
	}
	if (avro_value_set_int(v, (int32_t)i) != 0)
		return avro_failed(e, p, 0);
	return 0;
}

static int
encode_long(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	    const struct path *p)
{
	char text[80];
	int64_t i, sec, ns;
	int32_t nsec;
	int has_zone, local, bad;
	enum jsonscan_kind k = jv_kind(e, x);
	const char *s;
	size_t len;

	if (k == JSONSCAN_INTEGER) {
		i = jv_int(e, x);
		if (n->logical == AVSC_LT_TIME_MICROS && (i < 0 || i >= INT64_C(86400000000)))
			return fail(e, p, "%" PRId64 " is not a time of day in microseconds "
				    "(0..86399999999)", i);
	} else if (k == JSONSCAN_STRING && n->logical == AVSC_LT_TIME_MICROS) {
		s = jv_string(e, x, &len);
		if (avlogical_parse_time(s, len, &ns) != 0) {
			value_text(e, x, text, sizeof(text));
			return fail(e, p, "%s is not a time of day (HH:MM:SS[.fraction])", text);
		}
		i = ns / 1000;
	} else if (k == JSONSCAN_STRING && n->logical != AVSC_LT_NONE) {
		local = n->logical == AVSC_LT_LOCAL_TIMESTAMP_MILLIS ||
			n->logical == AVSC_LT_LOCAL_TIMESTAMP_MICROS;
		s = jv_string(e, x, &len);
		bad = avlogical_parse_timestamp(s, len, &sec, &nsec, &has_zone) != 0;
		if (bad || has_zone == local) {
			value_text(e, x, text, sizeof(text));
			if (bad)
				return fail(e, p, "%s is not an ISO-8601 date-time "
					    "(YYYY-MM-DDTHH:MM:SS[.fraction]%s)", text,
					    local ? "" : "(Z|+HH:MM|-HH:MM)");
			if (local)
				return fail(e, p, "%s has a time zone offset; %s is a local "
					    "date-time without one", text, logical_names[n->logical]);
			return fail(e, p, "%s has no time zone offset; %s needs Z or +HH:MM", text,
				    logical_names[n->logical]);
		}
		/* finer digits than the unit are cut, towards the past, as Java's Instant does */
		if (n->logical == AVSC_LT_TIMESTAMP_MILLIS ||
		    n->logical == AVSC_LT_LOCAL_TIMESTAMP_MILLIS)
			i = sec * 1000 + nsec / 1000000;
		else
			i = sec * 1000000 + nsec / 1000;
	} else {
		return mismatch(e, n, x, p);
	}
	if (avro_value_set_long(v, i) != 0)
		return avro_failed(e, p, 0);
	return 0;
}

static int
encode_real(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	    const struct path *p)
{
	char text[80];
	double d;

	if (jv_kind(e, x) != JSONSCAN_INTEGER && jv_kind(e, x) != JSONSCAN_REAL)
		return mismatch(e, n, x, p);
	d = jv_number(e, x);
	if (n->type == AVSC_DOUBLE)
		return avro_value_set_double(v, d) != 0 ? avro_failed(e, p, 0) : 0;
	if (d > FLT_MAX || d < -FLT_MAX) {
		value_text(e, x, text, sizeof(text));
		return fail(e, p, "%s is out of range for float", text);
	}
	return avro_value_set_float(v, (float)d) != 0 ? avro_failed(e, p, 0) : 0;
}

static int
encode_string(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	      const struct path *p)
{
	char text[80];
	const char *s;
	size_t len;

	if (jv_kind(e, x) != JSONSCAN_STRING)
		return mismatch(e, n, x, p);
	s = jv_string(e, x, &len);
	if (n->logical == AVSC_LT_UUID && !avlogical_uuid_ok(s, len)) {
		value_text(e, x, text, sizeof(text));
		return fail(e, p, "%s is not a UUID (8-4-4-4-12 hexadecimal digits)", text);
	}
	/* avro-c's length counts the terminating NUL, which jv_string provides */
	if (avro_value_set_string_len(v, s, len + 1) != 0)
		return avro_failed(e, p, 0);
	return 0;
}

static int
encode_enum(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	    const struct path *p)
{
	char text[80];
	const char *s;
	size_t len;

	if (jv_kind(e, x) != JSONSCAN_STRING)
		return mismatch(e, n, x, p);
	s = jv_string(e, x, &len);
	for (size_t i = 0; i < n->n_symbols; i++) {
		if (strcmp(n->symbols[i], s) == 0)
			return avro_value_set_enum(v, (int)i) != 0 ? avro_failed(e, p, 0) : 0;
	}
	value_text(e, x, text, sizeof(text));
	return fail(e, p, "%s is not a symbol of enum \"%s\"", text, n->fullname);
}

/* Sets a bytes or fixed value, checking a fixed's size. */
static int
set_bytes(struct avenc *e, const struct avsc_node *n, avro_value_t *v, const unsigned char *b,
	  size_t len, const struct path *p)
{
	int rc;

	if (n->type == AVSC_FIXED) {
		if (len != n->size)
			return fail(e, p, "%zu bytes, but fixed \"%s\" has %zu", len, n->fullname,
				    n->size);
		rc = avro_value_set_fixed(v, (void *)b, len);
	} else {
		rc = avro_value_set_bytes(v, (void *)b, len);
	}
	return rc != 0 ? avro_failed(e, p, rc) : 0;
}

/* bytes or fixed from a JSON string whose code points U+0000..U+00FF are the bytes. */
static int
encode_bytes(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	     const struct path *p)
{
	const unsigned char *s;
	size_t len, k = 0;

	if (jv_kind(e, x) != JSONSCAN_STRING)
		return mismatch(e, n, x, p);
	s = (const unsigned char *)jv_string(e, x, &len);
	if (reserve(&e->bytes, &e->bytes_cap, len ? len : 1) != 0)
		return fail(e, p, "out of memory");
	/* jsonscan (or jansson, for a default) has checked the UTF-8: a lead byte of 0xc2 or 0xc3 is U+0080..U+00FF */
	for (size_t i = 0; i < len;) {
		if (s[i] < 0x80) {
			e->bytes[k++] = s[i++];
		} else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len) {
			e->bytes[k++] = (unsigned char)(((s[i] & 0x1f) << 6) | (s[i + 1] & 0x3f));
			i += 2;
		} else {
			unsigned cp = s[i] >= 0xf0 ? s[i] & 0x07 : s[i] >= 0xe0 ? s[i] & 0x0f :
				      s[i] & 0x1f;

			for (i++; i < len && (s[i] & 0xc0) == 0x80; i++)
				cp = (cp << 6) | (s[i] & 0x3f);
			return fail(e, p, "character U+%04X at byte %zu is not a byte (%s is "
				    "written as a string of U+0000..U+00FF)", cp, k,
				    avsc_type_name(n->type));
		}
	}
	return set_bytes(e, n, v, e->bytes, k, p);
}

/* A decimal (bytes or fixed) from a JSON number or a numeric string. */
static int
encode_decimal(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	       const struct path *p)
{
	char num[64], text[80];
	const char *s;
	size_t len, out_len;
	const unsigned char *out;
	int64_t detail;
	enum avlogical_decimal_rc rc;

	switch (jv_kind(e, x)) {
	case JSONSCAN_STRING:
		s = jv_string(e, x, &len);
		break;
	case JSONSCAN_INTEGER:
		len = (size_t)snprintf(num, sizeof(num), "%" PRId64, jv_int(e, x));
		s = num;
		break;
	case JSONSCAN_REAL:
		/* the shortest form of the double: 0.1, not 0.1000000000000000055 */
		real_text(jv_number(e, x), num, sizeof(num));
		s = num;
		len = strlen(num);
		break;
	default:
		return mismatch(e, n, x, p);
	}
	rc = avlogical_decimal(s, len, n->precision, n->scale, e->dec, e->dec_fixed_at, &out,
			       &out_len, &detail);
	if (rc != AVLOGICAL_DECIMAL_OK)
		value_text(e, x, text, sizeof(text));
	switch (rc) {
	case AVLOGICAL_DECIMAL_OK:
		break;
	case AVLOGICAL_DECIMAL_SYNTAX:
		return fail(e, p, "%s is not a decimal number", text);
	case AVLOGICAL_DECIMAL_SCALE:
		return fail(e, p, "%s has %" PRId64 " decimal places, the schema's scale is %d",
			    text, detail, n->scale);
	case AVLOGICAL_DECIMAL_PRECISION:
		return fail(e, p, "%s has %" PRId64 " digits at scale %d, the schema's precision "
			    "is %d", text, detail, n->scale, n->precision);
	case AVLOGICAL_DECIMAL_TOO_LONG:
		return fail(e, p, "%s has %" PRId64 " digits; the relay encodes decimals of at "
			    "most %d", text, detail, AVLOGICAL_DECIMAL_MAX_DIGITS);
	}
	if (n->type == AVSC_FIXED) {
		unsigned char *f = e->dec + e->dec_fixed_at;

		/* cannot happen: avsc holds a fixed's precision to what its size can take */
		if (out_len > n->size)
			return fail(e, p, "%s does not fit in fixed \"%s\" of %zu bytes", text,
				    n->fullname, n->size);
		memset(f, out[0] & 0x80 ? 0xff : 0x00, n->size - out_len);
		memcpy(f + n->size - out_len, out, out_len);
		out = f;
		out_len = n->size;
	}
	return set_bytes(e, n, v, out, out_len, p);
}

/* Encodes the default of field fp (a missing member) into fv. */
static int
encode_default(struct avenc *e, const struct avsc_field *f, avro_value_t *fv,
	       const struct path *fp)
{
	const struct path *outer = e->default_of;
	int rc;

	e->default_of = fp;
	rc = encode(e, f->type, fv, jv_json(f->default_value), fp, 1);
	e->default_of = outer;
	return rc;
}

/*
 * Which field of record n the key token kt of the payload names: its index, or n->n_fields for
 * none. A key with escapes is compared unescaped (in e->str).
 */
static size_t
field_index(struct avenc *e, const struct avsc_node *n, const struct jsonscan_tok *kt)
{
	const char *key = e->json + kt->start;
	size_t len = kt->len, i;

	if (kt->escaped)
		len = jsonscan_unescape(e->json, kt, e->str), key = e->str;
	/* keys never hold a NUL (jsonscan refuses \u0000 in them): strncmp stops at the name's.
	 * The first byte rules out most fields without a call. */
	for (i = 0; i < n->n_fields; i++)
		if ((len == 0 || n->fields[i].name[0] == key[0]) &&
		    strncmp(n->fields[i].name, key, len) == 0 && n->fields[i].name[len] == '\0')
			break;
	return i;
}

/*
 * Sorts the members of the payload's object at token tok into e->slots[base..]: the value's
 * token + 1 for each field given, 0 for the others. *unknown is the first member that is no field
 * (its key's token + 1), or 0. Fails on a key given twice (a message that avenc_encode replaces:
 * the payload is not valid JSON).
 */
static int
record_slots(struct avenc *e, const struct avsc_node *n, size_t tok, size_t base,
	     size_t *unknown, const struct path *p)
{
	size_t k = tok + 1, count = e->toks[tok].count;

	*unknown = 0;
	for (size_t m = 0; m < count; m++) {
		size_t fi = field_index(e, n, &e->toks[k]);

		if (fi == n->n_fields) {
			if (!*unknown)
				*unknown = k + 1;
		} else if (e->slots[base + fi]) {
			return fail(e, p, "has a member twice");
		} else {
			e->slots[base + fi] = k + 2;
		}
		k = e->toks[k + 1].next;
	}
	return 0;
}

/*
 * A record from an object: its fields in schema order (so that the first error is the same
 * whatever the order of the members), the default for each one missing, then any member the
 * schema does not have is an error. The payload's members are found once, into e->slots (a
 * stack: records nest); a default's with jansson.
 */
static int
encode_record(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	      const struct path *p, int dflt)
{
	size_t base = e->n_slots, unknown = 0;
	int rc = -1;

	if (jv_kind(e, x) != JSONSCAN_OBJECT)
		return mismatch(e, n, x, p);
	if (++e->depth > MAX_DEPTH) {
		fail(e, p, "records nested more than %d deep", MAX_DEPTH);
		goto out;
	}
	if (!x.j) {
		if (reserve((unsigned char **)&e->slots, &e->slots_cap,
			    (base + n->n_fields) * sizeof(*e->slots)) != 0) {
			fail(e, p, "out of memory");
			goto out;
		}
		if (n->n_fields)
			memset(e->slots + base, 0, n->n_fields * sizeof(*e->slots));
		e->n_slots = base + n->n_fields;
		if (record_slots(e, n, x.tok, base, &unknown, p) != 0)
			goto out;
	}
	for (size_t i = 0; i < n->n_fields; i++) {
		const struct avsc_field *f = &n->fields[i];
		const struct path fp = { p, PATH_FIELD, f->name, 0 };
		struct jv m = { NULL, 0 };
		int given;
		avro_value_t fv;

		if (x.j) {
			m.j = json_object_get(x.j, f->name);
			given = m.j != NULL;
		} else {
			/* e->slots moves when a nested record grows it: index it afresh */
			given = e->slots[base + i] != 0;
			m.tok = e->slots[base + i] - 1;
		}
		if (avro_value_get_by_index(v, i, &fv, NULL) != 0) {
			avro_failed(e, &fp, 0);
			goto out;
		}
		if (given) {
			if (encode(e, f->type, &fv, m, &fp, dflt) != 0)
				goto out;
		} else if (f->default_value) {
			if (encode_default(e, f, &fv, &fp) != 0)
				goto out;
		} else {
			fail(e, &fp, "missing, and the schema gives no default");
			goto out;
		}
	}
	/* a default's extra members are ignored, as avsc does when it checks them */
	if (!dflt && unknown) {
		const struct path xp = { p, PATH_FIELD, e->str, 0 };

		jsonscan_unescape(e->json, &e->toks[unknown - 1], e->str);
		fail(e, &xp, "not in the schema");
		goto out;
	}
	rc = 0;
out:
	e->depth--;
	e->n_slots = base;
	return rc;
}

/*
 * An array. avro-c's still holds the previous event's items: when there are as many, they are
 * overwritten in place (emptying it would free each item's storage, to allocate it again);
 * otherwise it is emptied and filled.
 */
static int
encode_array(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	     const struct path *p, int dflt)
{
	size_t count, k, had;
	int reuse;

	if (jv_kind(e, x) != JSONSCAN_ARRAY)
		return mismatch(e, n, x, p);
	count = x.j ? json_array_size(x.j) : e->toks[x.tok].count;
	if (avro_value_get_size(v, &had) != 0)
		return avro_failed(e, p, 0);
	reuse = had == count;
	if (!reuse && avro_value_reset(v) != 0)
		return avro_failed(e, p, 0);
	k = x.tok + 1;
	for (size_t i = 0; i < count; i++) {
		const struct path ip = { p, PATH_INDEX, NULL, i };
		struct jv item = { x.j ? json_array_get(x.j, i) : NULL, k };
		avro_value_t iv;

		if ((reuse ? avro_value_get_by_index(v, i, &iv, NULL) :
		     avro_value_append(v, &iv, NULL)) != 0)
			return avro_failed(e, &ip, 0);
		if (encode(e, n->items, &iv, item, &ip, dflt) != 0)
			return -1;
		if (!x.j)
			k = e->toks[k].next;
	}
	return 0;
}

static int
encode_map(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	   const struct path *p, int dflt)
{
	const char *key;
	json_t *m;
	size_t k, index;
	int is_new;

	if (jv_kind(e, x) != JSONSCAN_OBJECT)
		return mismatch(e, n, x, p);
	/* the previous event's entries go (avro-c has no way to rename them) */
	if (avro_value_reset(v) != 0)
		return avro_failed(e, p, 0);
	if (x.j) {
		/* keys are NUL-terminated: jansson refuses "\u0000" in them */
		json_object_foreach((json_t *)x.j, key, m) {
			const struct path kp = { p, PATH_KEY, key, 0 };
			avro_value_t mv;

			if (avro_value_add(v, key, &mv, NULL, NULL) != 0)
				return avro_failed(e, &kp, 0);
			if (encode(e, n->items, &mv, jv_json(m), &kp, dflt) != 0)
				return -1;
		}
		return 0;
	}
	k = x.tok + 1;
	for (size_t i = 0; i < e->toks[x.tok].count; i++) {
		struct path kp = { p, PATH_KEY, e->str, 0 };
		avro_value_t mv, kv;

		/* NUL-terminated: jsonscan refuses "\u0000" in keys */
		jsonscan_unescape(e->json, &e->toks[k], e->str);
		if (avro_value_add(v, e->str, &mv, &index, &is_new) != 0)
			return avro_failed(e, &kp, 0);
		if (!is_new)
			return fail(e, &kp, "given twice");
		/* the path keeps avro-c's copy of the key: e->str is reused for the value */
		if (avro_value_get_by_index(v, index, &kv, &kp.name) != 0)
			return avro_failed(e, &kp, 0);
		if (encode(e, n->items, &mv, jv_tok(k + 1), &kp, dflt) != 0)
			return -1;
		k = e->toks[k + 1].next;
	}
	return 0;
}

/* Whether a JSON value of x's kind could be of type n at all (what a union tries). */
static int
may_fit(const struct avenc *e, const struct avsc_node *n, struct jv x)
{
	switch (jv_kind(e, x)) {
	case JSONSCAN_NULL:
		return n->type == AVSC_NULL;
	case JSONSCAN_TRUE:
	case JSONSCAN_FALSE:
		return n->type == AVSC_BOOLEAN;
	case JSONSCAN_INTEGER:
		return n->type == AVSC_INT || n->type == AVSC_LONG || n->type == AVSC_FLOAT ||
		       n->type == AVSC_DOUBLE || n->logical == AVSC_LT_DECIMAL;
	case JSONSCAN_REAL:
		return n->type == AVSC_FLOAT || n->type == AVSC_DOUBLE ||
		       n->logical == AVSC_LT_DECIMAL;
	case JSONSCAN_STRING:
		return n->type == AVSC_STRING || n->type == AVSC_ENUM || n->type == AVSC_BYTES ||
		       n->type == AVSC_FIXED ||
		       ((n->type == AVSC_INT || n->type == AVSC_LONG) && n->logical != AVSC_LT_NONE);
	case JSONSCAN_OBJECT:
		return n->type == AVSC_RECORD || n->type == AVSC_MAP;
	case JSONSCAN_ARRAY:
		return n->type == AVSC_ARRAY;
	}
	return 0;
}

/*
 * Fails for a value that several branches of union n could have taken and none did: says so,
 * and why the first of them refused it (encoding it again, to learn). Kept out of encode_union
 * so that its buffers are not on the stack of every level of a deep payload.
 */
static int __attribute__((noinline))
no_branch_fits(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	       const struct path *p, size_t first)
{
	char type[256], branch[128], *why;
	struct sbuf b = { type, sizeof(type), 0 }, bb = { branch, sizeof(branch), 0 };
	avro_value_t bv;

	if (avro_value_set_branch(v, (int)first, &bv) != 0)
		return avro_failed(e, p, 0);
	encode(e, n->branches[first], &bv, x, p, 0);
	if (e->errstr_size == 0 || !(why = strdup(e->errstr)))
		return -1;
	type[0] = branch[0] = '\0';
	sb_type(&b, n);
	sb_type(&bb, n->branches[first]);
	fail(e, p, "fits no branch of the union %s; as %s: %s", type, branch, why);
	free(why);
	return -1;
}

/*
 * A plain JSON value for a union: the first branch it fits, trying each branch its kind could be
 * in schema order. A default takes the first branch, as the specification says.
 */
static int
encode_union(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
	     const struct path *p, int dflt)
{
	size_t tried = 0, first = 0;
	avro_value_t bv;

	if (dflt) {
		if (n->n_branches == 0)
			return mismatch(e, n, x, p);
		if (avro_value_set_branch(v, 0, &bv) != 0)
			return avro_failed(e, p, 0);
		return encode(e, n->branches[0], &bv, x, p, 1);
	}
	for (size_t i = 0; i < n->n_branches; i++) {
		if (!may_fit(e, n->branches[i], x))
			continue;
		if (avro_value_set_branch(v, (int)i, &bv) != 0)
			return avro_failed(e, p, 0);
		if (encode(e, n->branches[i], &bv, x, p, 0) == 0)
			return 0;
		if (tried++ == 0)
			first = i;
	}
	if (tried == 0)
		return mismatch(e, n, x, p);
	if (tried == 1)
		return -1;	/* the one branch that could have taken it has said why not */
	return no_branch_fits(e, n, v, x, p, first);
}

static int
encode(struct avenc *e, const struct avsc_node *n, avro_value_t *v, struct jv x,
       const struct path *p, int dflt)
{
	switch (n->type) {
	case AVSC_NULL:
		if (jv_kind(e, x) != JSONSCAN_NULL)
			return mismatch(e, n, x, p);
		return avro_value_set_null(v) != 0 ? avro_failed(e, p, 0) : 0;
	case AVSC_BOOLEAN:
		if (jv_kind(e, x) != JSONSCAN_TRUE && jv_kind(e, x) != JSONSCAN_FALSE)
			return mismatch(e, n, x, p);
		return avro_value_set_boolean(v, jv_kind(e, x) == JSONSCAN_TRUE) != 0 ?
		       avro_failed(e, p, 0) : 0;
	case AVSC_INT:
		return encode_int(e, n, v, x, p);
	case AVSC_LONG:
		return encode_long(e, n, v, x, p);
	case AVSC_FLOAT:
	case AVSC_DOUBLE:
		return encode_real(e, n, v, x, p);
	case AVSC_STRING:
		return encode_string(e, n, v, x, p);
	case AVSC_BYTES:
	case AVSC_FIXED:
		/* a decimal's default is its bytes, as the specification has it (and avsc checks) */
		if (n->logical == AVSC_LT_DECIMAL && !(dflt && jv_kind(e, x) == JSONSCAN_STRING))
			return encode_decimal(e, n, v, x, p);
		return encode_bytes(e, n, v, x, p);
	case AVSC_ENUM:
		return encode_enum(e, n, v, x, p);
	case AVSC_RECORD:
		return encode_record(e, n, v, x, p, dflt);
	case AVSC_ARRAY:
		return encode_array(e, n, v, x, p, dflt);
	case AVSC_MAP:
		return encode_map(e, n, v, x, p, dflt);
	case AVSC_UNION:
		return encode_union(e, n, v, x, p, dflt);
	}
	return fail(e, p, "type %d is unknown to the encoder", (int)n->type);
}

/* ---- building an encoder ----------------------------------------------------------------- */

static const avro_type_t avro_types[] = {
	[AVSC_NULL] = AVRO_NULL,
	[AVSC_BOOLEAN] = AVRO_BOOLEAN,
	[AVSC_INT] = AVRO_INT32,
	[AVSC_LONG] = AVRO_INT64,
	[AVSC_FLOAT] = AVRO_FLOAT,
	[AVSC_DOUBLE] = AVRO_DOUBLE,
	[AVSC_BYTES] = AVRO_BYTES,
	[AVSC_STRING] = AVRO_STRING,
	[AVSC_RECORD] = AVRO_RECORD,
	[AVSC_ENUM] = AVRO_ENUM,
	[AVSC_ARRAY] = AVRO_ARRAY,
	[AVSC_MAP] = AVRO_MAP,
	[AVSC_UNION] = AVRO_UNION,
	[AVSC_FIXED] = AVRO_FIXED,
};

struct shape_walk {
	const struct avsc_node **seen;	/* named types already compared */
	size_t n_seen, cap_seen;
	int max_precision;		/* of decimals, for the scratch buffer */
	size_t max_fixed;		/* size of fixed decimals */
};

/* Whether avro-c's name for a named type is fullname. */
static int
same_name(avro_schema_t a, const char *fullname)
{
	const char *ns = avro_schema_namespace(a), *name = avro_schema_name(a);
	size_t ns_len = ns ? strlen(ns) : 0;

	if (ns_len == 0)
		return strcmp(name, fullname) == 0;
	return strncmp(fullname, ns, ns_len) == 0 && fullname[ns_len] == '.' &&
	       strcmp(fullname + ns_len + 1, name) == 0;
}

/*
 * Checks that avro-c's schema a is the same tree as avsc's n: the encoder relies on that for
 * every index it uses. On a difference, fails with errstr naming where.
 */
static int
same_shape(struct avenc *e, struct shape_walk *w, const struct avsc_node *n, avro_schema_t a,
	   const struct path *p)
{
	const char *what = NULL;

	while (is_avro_link(a))
		a = avro_schema_link_target(a);
	if (avro_typeof(a) != avro_types[n->type]) {
		what = avro_schema_type_name(a);
		goto differs;
	}
	if (n->logical == AVSC_LT_DECIMAL) {
		if (n->precision > w->max_precision)
			w->max_precision = n->precision;
		if (n->type == AVSC_FIXED && n->size > w->max_fixed)
			w->max_fixed = n->size;
	}
	if (n->type == AVSC_RECORD || n->type == AVSC_ENUM || n->type == AVSC_FIXED) {
		for (size_t i = 0; i < w->n_seen; i++)
			if (w->seen[i] == n)
				return 0;
		if (w->n_seen == w->cap_seen) {
			size_t cap = w->cap_seen ? w->cap_seen * 2 : 16;
			const struct avsc_node **s = realloc(w->seen, cap * sizeof(*s));

			if (!s)
				return fail(e, p, "out of memory");
			w->seen = s;
			w->cap_seen = cap;
		}
		w->seen[w->n_seen++] = n;
		if (!same_name(a, n->fullname)) {
			what = avro_schema_name(a);
			goto differs;
		}
	}
	switch (n->type) {
	case AVSC_RECORD:
		if (avro_schema_record_size(a) != n->n_fields) {
			what = "a different number of fields";
			goto differs;
		}
		for (size_t i = 0; i < n->n_fields; i++) {
			const struct path fp = { p, PATH_FIELD, n->fields[i].name, 0 };

			if (strcmp(avro_schema_record_field_name(a, (int)i), n->fields[i].name) != 0)
				return fail(e, &fp, "avro-c reads the schema differently: field \"%s\" "
					    "at this place", avro_schema_record_field_name(a, (int)i));
			if (same_shape(e, w, n->fields[i].type,
				       avro_schema_record_field_get_by_index(a, (int)i), &fp) != 0)
				return -1;
		}
		return 0;
	case AVSC_ENUM:
		if ((size_t)avro_schema_enum_number_of_symbols(a) != n->n_symbols) {
			what = "a different number of symbols";
			goto differs;
		}
		for (size_t i = 0; i < n->n_symbols; i++)
			if (strcmp(avro_schema_enum_get(a, (int)i), n->symbols[i]) != 0) {
				what = avro_schema_enum_get(a, (int)i);
				goto differs;
			}
		return 0;
	case AVSC_FIXED:
		if (avro_schema_fixed_size(a) != (int64_t)n->size) {
			what = "a different size";
			goto differs;
		}
		return 0;
	case AVSC_ARRAY:
		return same_shape(e, w, n->items, avro_schema_array_items(a), p);
	case AVSC_MAP:
		return same_shape(e, w, n->items, avro_schema_map_values(a), p);
	case AVSC_UNION:
		if (avro_schema_union_size(a) != n->n_branches) {
			what = "a different number of branches";
			goto differs;
		}
		for (size_t i = 0; i < n->n_branches; i++)
			if (same_shape(e, w, n->branches[i], avro_schema_union_branch(a, (int)i),
				       p) != 0)
				return -1;
		return 0;
	default:
		return 0;
	}

differs:
	{
		char type[256];
		struct sbuf b = { type, sizeof(type), 0 };

		type[0] = '\0';
		sb_type(&b, n);
		return fail(e, p, "avro-c reads the schema differently: %s where the schema has %s",
			    what, type);
	}
}

/*
 * Depth-first over records and their record-typed fields alone: a record that comes back to
 * itself that way (no union, array or map on the way) has no finite value, and avro-c, which
 * builds record fields eagerly, would recurse until the stack runs out. color[i] is for
 * w->seen[i]: 0 not yet, 1 on the way, 2 done.
 */
static int
endless_record(struct shape_walk *w, unsigned char *color, const struct avsc_node *n,
	       char *errstr, size_t errstr_size)
{
	size_t at;

	for (at = 0; w->seen[at] != n; at++)
		;
	color[at] = 1;
	for (size_t i = 0; i < n->n_fields; i++) {
		const struct avsc_node *t = n->fields[i].type;
		size_t k;

		if (t->type != AVSC_RECORD)
			continue;
		for (k = 0; w->seen[k] != t; k++)
			;
		if (color[k] == 1) {
			snprintf(errstr, errstr_size, "record \"%s\" contains itself through field "
				 "\"%s\" with no union, array or map between, so it has no finite "
				 "value", t->fullname, n->fields[i].name);
			return -1;
		}
		if (color[k] == 0 && endless_record(w, color, t, errstr, errstr_size) != 0)
			return -1;
	}
	color[at] = 2;
	return 0;
}

struct avenc *
avenc_new(const struct avsc_schema *s, char *errstr, size_t errstr_size)
{
	struct avenc *e = calloc(1, sizeof(*e));
	struct shape_walk w = { NULL, 0, 0, 0, 0 };

	if (!e) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	e->schema = s;
	e->errstr = errstr;
	e->errstr_size = errstr_size;
	if (avro_schema_from_json_length(s->text, s->text_len, &e->avro_schema) != 0) {
		char msg[256];
		size_t len;

		snprintf(msg, sizeof(msg), "%s", avro_strerror());
		for (len = strlen(msg); len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' ');)
			msg[--len] = '\0';
		snprintf(errstr, errstr_size, "avro-c cannot use this schema: %s", msg);
		e->avro_schema = NULL;
		goto fail;
	}
	if (same_shape(e, &w, s->root, e->avro_schema, NULL) != 0)
		goto fail;
	if (w.n_seen > 0) {
		unsigned char *color = calloc(w.n_seen, 1);
		int rc = 0;

		if (!color) {
			snprintf(errstr, errstr_size, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < w.n_seen && rc == 0; i++)
			if (w.seen[i]->type == AVSC_RECORD && color[i] == 0)
				rc = endless_record(&w, color, w.seen[i], errstr, errstr_size);
		free(color);
		if (rc != 0)
			goto fail;
	}

	/* decimals are converted in a buffer made big enough now, not per event */
	if (w.max_precision > AVLOGICAL_DECIMAL_MAX_DIGITS)
		w.max_precision = AVLOGICAL_DECIMAL_MAX_DIGITS;
	e->dec_fixed_at = avlogical_decimal_bufsize(w.max_precision);
	if (reserve(&e->dec, &e->dec_cap, e->dec_fixed_at + w.max_fixed) != 0) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	if (!(e->iface = avro_generic_class_from_schema(e->avro_schema)) ||
	    avro_generic_value_new(e->iface, &e->value) != 0) {
		snprintf(errstr, errstr_size, "avro-c cannot make a value of this schema: %s",
			 avro_strerror());
		goto fail;
	}
	e->have_value = 1;
	if (!(e->scan = jsonscan_new()) || !(e->writer = avro_writer_memory(e->no_dest, 0))) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	free(w.seen);
	return e;

fail:
	free(w.seen);
	avenc_free(e);
	return NULL;
}

void
avenc_free(struct avenc *e)
{
	if (!e)
		return;
	if (e->writer)
		avro_writer_free(e->writer);
	if (e->have_value)
		avro_value_decref(&e->value);
	if (e->iface)
		avro_value_iface_decref(e->iface);
	if (e->avro_schema)
		avro_schema_decref(e->avro_schema);
	jsonscan_free(e->scan);
	free(e->str);
	free(e->slots);
	free(e->bytes);
	free(e->dec);
	free(e);
}

/* Room for n more bytes after b->len. */
static int
avbuf_reserve(struct avbuf *b, size_t n)
{
	size_t cap;
	unsigned char *d;

	if (b->data && n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	if (!(d = realloc(b->data, cap)))
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

int
avenc_encode(struct avenc *e, const char *json, size_t json_len, struct avbuf *out,
	     char *errstr, size_t errstr_size)
{
	char msg[256];
	size_t size;

	e->errstr = errstr;
	e->errstr_size = errstr_size;
	e->default_of = NULL;
	e->depth = 0;
	e->n_slots = 0;
	if (!json) {
		json = "";
		json_len = 0;
	}
	if (jsonscan_parse(e->scan, json, json_len, msg, sizeof(msg)) != 0) {
		snprintf(errstr, errstr_size, "payload is not valid JSON: %s", msg);
		return -1;
	}
	e->json = json;
	e->toks = jsonscan_tokens(e->scan);
	/* no string or key of the payload unescapes to more than the payload */
	if (json_len >= SIZE_MAX / 2 ||
	    reserve((unsigned char **)&e->str, &e->str_cap, json_len + 1) != 0) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	/*
	 * The value is not reset: every field and branch is set again, and arrays and maps
	 * (encode_array, encode_map) drop what they held themselves.
	 */
	if (encode(e, e->schema->root, &e->value, jv_tok(0), NULL, 0) != 0) {
		/*
		 * A key given twice makes the event fail somewhere (records and maps notice); it is
		 * the payload's fault, wherever it is, as when jansson refused such payloads whole.
		 */
		if (jsonscan_duplicate(e->scan, msg, sizeof(msg)) == 1)
			snprintf(errstr, errstr_size, "payload is not valid JSON: %s", msg);
		return -1;
	}
	/*
	 * Written straight into out, in room for the largest encoding so far or the payload's
	 * length (Avro binary is rarely longer than its JSON); only when that is too small is the
	 * size computed first, which walks the value once more.
	 */
	size = json_len + 64 > e->size_hint ? json_len + 64 : e->size_hint;
	if (avbuf_reserve(out, size) == 0) {
		avro_writer_memory_set_dest(e->writer, (const char *)out->data + out->len,
					    (int64_t)size);
		if (avro_value_write(e->writer, &e->value) == 0) {
			size = (size_t)avro_writer_tell(e->writer);
			goto written;
		}
	}
	if (avro_value_sizeof(&e->value, &size) != 0)
		return avro_failed(e, NULL, 0);
	if (avbuf_reserve(out, size) != 0) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	avro_writer_memory_set_dest(e->writer, (const char *)out->data + out->len, (int64_t)size);
	if (avro_value_write(e->writer, &e->value) != 0 ||
	    avro_writer_tell(e->writer) != (int64_t)size)
		return avro_failed(e, NULL, 0);
	if (size > e->size_hint)
		e->size_hint = size;
written:
	out->len += size;
	return 0;
}

int
avbuf_append(struct avbuf *b, const void *data, size_t n)
{
	if (avbuf_reserve(b, n) != 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

void
avbuf_free(struct avbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
