/*
 * avsc — see avsc.h.
 *
 * Parsing walks the jansson tree once, depth first, in the order the text is written. A named
 * type is registered as soon as its name is read, before its fields: that is what lets a record
 * refer to itself, and what makes a reference to a type defined only later an unknown name, as
 * the specification wants. Field defaults are checked in a second pass, once every node is
 * complete, because a default may be of a record whose fields are still being read when the
 * default is met.
 *
 * Error locations: "field \"Order.customer.address\"" is the path of field names from the
 * outermost record (named by its short name), with "[]" for array items and "{}" for map values;
 * "type \"com.x.Status\"" names the named type whose own definition is wrong.
 */
#include "avsc.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A default waiting for the second pass; path is owned. */
struct pending_default {
	const struct avsc_field *field;
	char *path;
};

struct avsc_impl {
	struct avsc_node **nodes;	/* every node, owned */
	size_t n_nodes, cap_nodes;
};

struct parser {
	struct avsc_impl *impl;
	struct pending_default *pending;
	size_t n_pending, cap_pending;
	char *errstr;
	size_t errstr_size;
};

static const char *const type_names[] = {
	[AVSC_NULL] = "null",
	[AVSC_BOOLEAN] = "boolean",
	[AVSC_INT] = "int",
	[AVSC_LONG] = "long",
	[AVSC_FLOAT] = "float",
	[AVSC_DOUBLE] = "double",
	[AVSC_BYTES] = "bytes",
	[AVSC_STRING] = "string",
	[AVSC_RECORD] = "record",
	[AVSC_ENUM] = "enum",
	[AVSC_ARRAY] = "array",
	[AVSC_MAP] = "map",
	[AVSC_UNION] = "union",
	[AVSC_FIXED] = "fixed",
};

#define NAME_RULE "each dot-separated part must match [A-Za-z_][A-Za-z0-9_]*"

const char *
avsc_type_name(enum avsc_type t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "unknown";
	return type_names[t];
}

/* The primitive type called s, or -1. */
static int
primitive_type(const char *s)
{
	for (int t = AVSC_NULL; t <= AVSC_STRING; t++)
		if (strcmp(s, type_names[t]) == 0)
			return t;
	return -1;
}

static int
is_named(const struct avsc_node *n)
{
	return n->type == AVSC_RECORD || n->type == AVSC_ENUM || n->type == AVSC_FIXED;
}

/* Doubles *cap (from 8) when n has reached it. Returns 0, or -1 when out of memory. */
static int
grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	if (!(p = realloc(*arr, ncap * elem)))
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* The string of a JSON string, or NULL when j is not one or holds a NUL character. */
static const char *
cstr(const json_t *j)
{
	const char *s;

	if (!json_is_string(j))
		return NULL;
	s = json_string_value(j);
	return strlen(s) == json_string_length(j) ? s : NULL;
}

/* [A-Za-z_][A-Za-z0-9_]* over n bytes */
static int
valid_name(const char *s, size_t n)
{
	if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* A full name or namespace: valid names joined by dots. An empty namespace is checked apart. */
static int
valid_dotted(const char *s)
{
	for (;;) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);

		if (!valid_name(s, n))
			return 0;
		if (!dot)
			return 1;
		s = dot + 1;
	}
}

/* "a" "." "b" -> "a.b", owned by the caller; NULL when out of memory. */
static char *
join(const char *a, const char *sep, const char *b)
{
	size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
	char *s = malloc(la + ls + lb + 1);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, sep, ls);
	memcpy(s + la + ls, b, lb + 1);
	return s;
}

/*
 * Fills errstr with `what "where": message`, or only the message when where is empty (the
 * schema's top level).
 */
static void __attribute__((format(printf, 4, 5)))
fail(struct parser *p, const char *what, const char *where, const char *fmt, ...)
{
	size_t off = 0;
	va_list ap;

	if (!p->errstr || p->errstr_size == 0)
		return;
	if (what && where && *where) {
		int n = snprintf(p->errstr, p->errstr_size, "%s \"%s\": ", what, where);

		off = n < 0 ? 0 : (size_t)n;
		if (off >= p->errstr_size)
			return;
	}
	va_start(ap, fmt);
	vsnprintf(p->errstr + off, p->errstr_size - off, fmt, ap);
	va_end(ap);
}

static void
oom(struct parser *p)
{
	fail(p, NULL, NULL, "out of memory while parsing the schema");
}

static struct avsc_node *
node_new(struct parser *p, enum avsc_type t)
{
	struct avsc_impl *im = p->impl;
	struct avsc_node *n;

	if (grow((void **)&im->nodes, &im->cap_nodes, im->n_nodes, sizeof(*im->nodes)) != 0 ||
	    !(n = calloc(1, sizeof(*n)))) {
		oom(p);
		return NULL;
	}
	n->type = t;
	im->nodes[im->n_nodes++] = n;
	return n;
}

static void
strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
node_free(struct avsc_node *n)
{
	free(n->fullname);
	strings_free(n->aliases, n->n_aliases);
	for (size_t i = 0; i < n->n_fields; i++) {
		free(n->fields[i].name);
		json_decref(n->fields[i].default_value);
		strings_free(n->fields[i].aliases, n->fields[i].n_aliases);
	}
	free(n->fields);
	strings_free(n->symbols, n->n_symbols);
	free(n->branches);
	free(n);
}

static struct avsc_node *
lookup(const struct avsc_impl *im, const char *fullname)
{
	for (size_t i = 0; i < im->n_nodes; i++)
		if (im->nodes[i]->fullname && strcmp(im->nodes[i]->fullname, fullname) == 0)
			return im->nodes[i];
	return NULL;
}

/*
 * A reference to a named type defined earlier: a dotted name is a full name; a simple name is
 * looked up in the enclosing namespace ns, then (as Java does) in the null namespace.
 */
static struct avsc_node *
parse_reference(struct parser *p, const char *ref, const char *ns, const char *path)
{
	struct avsc_node *n = NULL;

	if (!strchr(ref, '.') && *ns) {
		char *full = join(ns, ".", ref);

		if (!full) {
			oom(p);
			return NULL;
		}
		n = lookup(p->impl, full);
		free(full);
	}
	if (!n)
		n = lookup(p->impl, ref);
	if (!n) {
		if (!strchr(ref, '.') && *ns)
			fail(p, "field", path,
			     "unknown type name \"%s\" (neither \"%s.%s\" nor \"%s\" is defined before "
			     "this point)", ref, ns, ref, ref);
		else
			fail(p, "field", path, "unknown type name \"%s\"", ref);
	}
	return n;
}

/* Decimal digits that always fit in a two's-complement number of size bytes. */
static long long
fixed_max_precision(size_t size)
{
	if (size == 0)
		return 0;
	/* floor(log10(2^(8*size-1) - 1)), computed as Java does */
	return (long long)(0.30102999566398119521 * ((double)size * 8.0 - 1.0));
}

/*
 * Reads a logicalType attribute of obj onto the primitive or fixed node n. One that is unknown
 * or does not fit is ignored, as the specification says, leaving n its plain type.
 */
static void
parse_logical(struct avsc_node *n, const json_t *obj)
{
	static const struct {
		const char *name;
		enum avsc_logical lt;
		enum avsc_type on;
	} simple[] = {
		{ "uuid", AVSC_LT_UUID, AVSC_STRING },
		{ "date", AVSC_LT_DATE, AVSC_INT },
		{ "time-millis", AVSC_LT_TIME_MILLIS, AVSC_INT },
		{ "time-micros", AVSC_LT_TIME_MICROS, AVSC_LONG },
		{ "timestamp-millis", AVSC_LT_TIMESTAMP_MILLIS, AVSC_LONG },
		{ "timestamp-micros", AVSC_LT_TIMESTAMP_MICROS, AVSC_LONG },
		{ "local-timestamp-millis", AVSC_LT_LOCAL_TIMESTAMP_MILLIS, AVSC_LONG },
		{ "local-timestamp-micros", AVSC_LT_LOCAL_TIMESTAMP_MICROS, AVSC_LONG },
	};
	const char *lt = cstr(json_object_get(obj, "logicalType"));
	const json_t *jp, *js;
	json_int_t precision, scale = 0;

	if (!lt)
		return;
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (strcmp(lt, simple[i].name) == 0) {
			if (n->type == simple[i].on)
				n->logical = simple[i].lt;
			return;
		}
	if (strcmp(lt, "decimal") != 0 || (n->type != AVSC_BYTES && n->type != AVSC_FIXED))
		return;
	jp = json_object_get(obj, "precision");
	js = json_object_get(obj, "scale");
	if (!json_is_integer(jp) || (precision = json_integer_value(jp)) <= 0 || precision > INT_MAX)
		return;
	if (js && (!json_is_integer(js) || (scale = json_integer_value(js)) < 0 ||
		   scale > precision))
		return;
	if (n->type == AVSC_FIXED && precision > fixed_max_precision(n->size))
		return;
	n->logical = AVSC_LT_DECIMAL;
	n->precision = (int)precision;
	n->scale = (int)scale;
}

static struct avsc_node *parse_type(struct parser *p, const json_t *j, const char *ns,
				    const char *path);

/*
 * The name, namespace and aliases of a record, enum or fixed: makes and registers its node.
 * *inner_ns receives the namespace its nested definitions inherit (owned by the caller).
 */
static struct avsc_node *
parse_named(struct parser *p, const json_t *j, enum avsc_type kind, const char *ns,
	    const char *path, char **inner_ns)
{
	const char *name = cstr(json_object_get(j, "name"));
	const json_t *jns = json_object_get(j, "namespace");
	const json_t *jal = json_object_get(j, "aliases");
	const char *dot;
	char *fullname;
	struct avsc_node *n;

	if (!name) {
		fail(p, "field", path, "%s has no \"name\" string", type_names[kind]);
		return NULL;
	}
	if (strchr(name, '.')) {
		fullname = strdup(name);	/* the namespace attribute is then ignored */
	} else {
		if (jns && !json_is_null(jns)) {
			if (!(ns = cstr(jns))) {
				fail(p, "type", name, "\"namespace\" must be a string");
				return NULL;
			}
		}
		fullname = *ns ? join(ns, ".", name) : strdup(name);
	}
	if (!fullname) {
		oom(p);
		return NULL;
	}
	dot = strrchr(fullname, '.');
	if (!valid_dotted(fullname)) {
		fail(p, "type", fullname, "invalid name; " NAME_RULE);
		goto fail;
	}
	if (primitive_type(dot ? dot + 1 : fullname) >= 0) {
		fail(p, "type", fullname, "the primitive type name \"%s\" cannot be redefined",
		     dot ? dot + 1 : fullname);
		goto fail;
	}
	if (lookup(p->impl, fullname)) {
		fail(p, "type", fullname, "this name is already defined");
		goto fail;
	}
	if (!(n = node_new(p, kind)))
		goto fail;
	n->fullname = fullname;
	n->name = dot ? dot + 1 : fullname;
	if (!(*inner_ns = dot ? strndup(fullname, (size_t)(dot - fullname)) : strdup(""))) {
		oom(p);
		return NULL;
	}

	if (jal) {
		if (!json_is_array(jal)) {
			fail(p, "type", fullname, "\"aliases\" must be an array of names");
			return NULL;
		}
		if (!(n->aliases = calloc(json_array_size(jal) + 1, sizeof(char *)))) {
			oom(p);
			return NULL;
		}
		for (size_t i = 0; i < json_array_size(jal); i++) {
			const char *a = cstr(json_array_get(jal, i));
			char *full;

			if (!a || !valid_dotted(a)) {
				fail(p, "type", fullname, "invalid alias; " NAME_RULE);
				return NULL;
			}
			full = strchr(a, '.') || !**inner_ns ? strdup(a) : join(*inner_ns, ".", a);
			if (!full) {
				oom(p);
				return NULL;
			}
			n->aliases[n->n_aliases++] = full;
		}
	}
	return n;
fail:
	free(fullname);
	return NULL;
}

static int
add_pending(struct parser *p, const struct avsc_field *f, const char *path)
{
	char *copy;

	if (grow((void **)&p->pending, &p->cap_pending, p->n_pending, sizeof(*p->pending)) != 0 ||
	    !(copy = strdup(path))) {
		oom(p);
		return -1;
	}
	p->pending[p->n_pending].field = f;
	p->pending[p->n_pending++].path = copy;
	return 0;
}

/* One field of record n, whose definitions nest in namespace ns; fpath is its path. */
static int
parse_field(struct parser *p, struct avsc_node *n, const json_t *jf, const char *ns,
	    const char *fpath)
{
	struct avsc_field *f = &n->fields[n->n_fields - 1];
	const json_t *jtype = json_object_get(jf, "type");
	const json_t *jdef = json_object_get(jf, "default");
	const json_t *jal = json_object_get(jf, "aliases");

	if (!jtype) {
		fail(p, "field", fpath, "field has no \"type\"");
		return -1;
	}
	if (!(f->type = parse_type(p, jtype, ns, fpath)))
		return -1;
	if (jdef) {
		f->default_value = json_incref((json_t *)jdef);
		if (add_pending(p, f, fpath) != 0)
			return -1;
	}
	if (jal) {
		if (!json_is_array(jal)) {
			fail(p, "field", fpath, "\"aliases\" must be an array of names");
			return -1;
		}
		if (!(f->aliases = calloc(json_array_size(jal) + 1, sizeof(char *)))) {
			oom(p);
			return -1;
		}
		for (size_t i = 0; i < json_array_size(jal); i++) {
			const char *a = cstr(json_array_get(jal, i));

			if (!a || !valid_name(a, strlen(a))) {
				fail(p, "field", fpath,
				     "invalid alias; it must match [A-Za-z_][A-Za-z0-9_]*");
				return -1;
			}
			if (!(f->aliases[f->n_aliases] = strdup(a))) {
				oom(p);
				return -1;
			}
			f->n_aliases++;
		}
	}
	return 0;
}

static struct avsc_node *
parse_record(struct parser *p, const json_t *j, const char *ns, const char *path)
{
	const json_t *jfields = json_object_get(j, "fields");
	char *inner_ns = NULL;
	struct avsc_node *n = parse_named(p, j, AVSC_RECORD, ns, path, &inner_ns);
	const char *base;

	if (!n)
		goto out;
	base = *path ? path : n->name;
	if (!json_is_array(jfields)) {
		fail(p, "type", n->fullname, "a record needs a \"fields\" array");
		n = NULL;
		goto out;
	}
	if (!(n->fields = calloc(json_array_size(jfields) + 1, sizeof(*n->fields)))) {
		oom(p);
		n = NULL;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(jfields); i++) {
		const json_t *jf = json_array_get(jfields, i);
		const char *name = cstr(json_object_get(jf, "name"));
		char *fpath;
		int rc;

		if (!name) {
			fail(p, "type", n->fullname, "field %zu has no \"name\" string", i + 1);
			n = NULL;
			goto out;
		}
		if (!valid_name(name, strlen(name))) {
			fail(p, "type", n->fullname,
			     "invalid field name \"%s\"; it must match [A-Za-z_][A-Za-z0-9_]*", name);
			n = NULL;
			goto out;
		}
		for (size_t k = 0; k < n->n_fields; k++)
			if (strcmp(n->fields[k].name, name) == 0) {
				fail(p, "type", n->fullname, "duplicate field name \"%s\"", name);
				n = NULL;
				goto out;
			}
		if (!(n->fields[n->n_fields].name = strdup(name)) ||
		    !(fpath = join(base, ".", name))) {
			oom(p);
			n = NULL;
			goto out;
		}
		n->n_fields++;
		rc = parse_field(p, n, jf, inner_ns, fpath);
		free(fpath);
		if (rc != 0) {
			n = NULL;
			goto out;
		}
	}
out:
	free(inner_ns);
	return n;
}

static struct avsc_node *
parse_enum(struct parser *p, const json_t *j, const char *ns, const char *path)
{
	const json_t *jsym = json_object_get(j, "symbols");
	const json_t *jdef = json_object_get(j, "default");
	char *inner_ns = NULL;
	struct avsc_node *n = parse_named(p, j, AVSC_ENUM, ns, path, &inner_ns);

	free(inner_ns);
	if (!n)
		return NULL;
	if (!json_is_array(jsym)) {
		fail(p, "type", n->fullname, "an enum needs a \"symbols\" array");
		return NULL;
	}
	if (!(n->symbols = calloc(json_array_size(jsym) + 1, sizeof(char *)))) {
		oom(p);
		return NULL;
	}
	for (size_t i = 0; i < json_array_size(jsym); i++) {
		const char *s = cstr(json_array_get(jsym, i));

		if (!s || !valid_name(s, strlen(s))) {
			fail(p, "type", n->fullname,
			     "symbol %zu is not a valid name; it must match [A-Za-z_][A-Za-z0-9_]*", i + 1);
			return NULL;
		}
		for (size_t k = 0; k < n->n_symbols; k++)
			if (strcmp(n->symbols[k], s) == 0) {
				fail(p, "type", n->fullname, "duplicate symbol \"%s\"", s);
				return NULL;
			}
		if (!(n->symbols[n->n_symbols] = strdup(s))) {
			oom(p);
			return NULL;
		}
		n->n_symbols++;
	}
	if (jdef) {
		const char *d = cstr(jdef);

		for (size_t k = 0; d && k < n->n_symbols; k++)
			if (strcmp(n->symbols[k], d) == 0)
				n->enum_default = n->symbols[k];
		if (!n->enum_default) {
			if (d)
				fail(p, "type", n->fullname, "default \"%s\" is not one of the symbols", d);
			else
				fail(p, "type", n->fullname, "\"default\" must be one of the symbols");
			return NULL;
		}
	}
	return n;
}

static struct avsc_node *
parse_fixed(struct parser *p, const json_t *j, const char *ns, const char *path)
{
	const json_t *jsize = json_object_get(j, "size");
	char *inner_ns = NULL;
	struct avsc_node *n = parse_named(p, j, AVSC_FIXED, ns, path, &inner_ns);

	free(inner_ns);
	if (!n)
		return NULL;
	if (!json_is_integer(jsize) || json_integer_value(jsize) < 0 ||
	    json_integer_value(jsize) > INT_MAX) {
		fail(p, "type", n->fullname, "a fixed needs a \"size\" that is an integer from 0 to %d",
		     INT_MAX);
		return NULL;
	}
	n->size = (size_t)json_integer_value(jsize);
	parse_logical(n, j);
	return n;
}

/* array (items) or map (values); the element's path gets suffix */
static struct avsc_node *
parse_container(struct parser *p, const json_t *j, enum avsc_type kind, const char *ns,
		const char *path)
{
	const char *attr = kind == AVSC_ARRAY ? "items" : "values";
	const json_t *je = json_object_get(j, attr);
	struct avsc_node *n;
	char *epath;

	if (!je) {
		fail(p, "field", path, "%s has no \"%s\"", type_names[kind], attr);
		return NULL;
	}
	if (!(n = node_new(p, kind)))
		return NULL;
	if (!(epath = join(path, kind == AVSC_ARRAY ? "[]" : "{}", ""))) {
		oom(p);
		return NULL;
	}
	n->items = parse_type(p, je, ns, epath);
	free(epath);
	return n->items ? n : NULL;
}

static struct avsc_node *
parse_union(struct parser *p, const json_t *j, const char *ns, const char *path)
{
	struct avsc_node *n = node_new(p, AVSC_UNION);

	if (!n)
		return NULL;
	if (!(n->branches = calloc(json_array_size(j) + 1, sizeof(*n->branches)))) {
		oom(p);
		return NULL;
	}
	for (size_t i = 0; i < json_array_size(j); i++) {
		const json_t *jb = json_array_get(j, i);
		struct avsc_node *b;

		if (json_is_array(jb)) {
			fail(p, "field", path, "union branch %zu is itself a union; unions may not be "
			     "nested", i + 1);
			return NULL;
		}
		if (!(b = parse_type(p, jb, ns, path)))
			return NULL;
		for (size_t k = 0; k < n->n_branches; k++) {
			const struct avsc_node *o = n->branches[k];

			if (is_named(b) && is_named(o) && strcmp(b->fullname, o->fullname) == 0) {
				fail(p, "field", path, "union has two branches named \"%s\"", b->fullname);
				return NULL;
			}
			if (!is_named(b) && b->type == o->type) {
				fail(p, "field", path, "union has two branches of type %s",
				     type_names[b->type]);
				return NULL;
			}
		}
		n->branches[n->n_branches++] = b;
	}
	return n;
}

static struct avsc_node *
parse_object(struct parser *p, const json_t *j, const char *ns, const char *path)
{
	const json_t *jt = json_object_get(j, "type");
	const char *t = cstr(jt);
	int prim;

	if (!jt) {
		fail(p, "field", path, "schema object has no \"type\"");
		return NULL;
	}
	if (!t) {
		fail(p, "field", path, "the \"type\" of a schema object must be a type name");
		return NULL;
	}
	if ((prim = primitive_type(t)) >= 0) {
		struct avsc_node *n = node_new(p, (enum avsc_type)prim);

		if (n)
			parse_logical(n, j);
		return n;
	}
	if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0)
		return parse_record(p, j, ns, path);
	if (strcmp(t, "enum") == 0)
		return parse_enum(p, j, ns, path);
	if (strcmp(t, "fixed") == 0)
		return parse_fixed(p, j, ns, path);
	if (strcmp(t, "array") == 0)
		return parse_container(p, j, AVSC_ARRAY, ns, path);
	if (strcmp(t, "map") == 0)
		return parse_container(p, j, AVSC_MAP, ns, path);
	return parse_reference(p, t, ns, path);
}

/* Any schema: ns is the enclosing namespace ("" = null), path where it is (see the top). */
static struct avsc_node *
parse_type(struct parser *p, const json_t *j, const char *ns, const char *path)
{
	if (json_is_string(j)) {
		const char *s = cstr(j);
		int prim;

		if (!s) {
			fail(p, "field", path, "type name contains a NUL character");
			return NULL;
		}
		if ((prim = primitive_type(s)) >= 0)
			return node_new(p, (enum avsc_type)prim);
		return parse_reference(p, s, ns, path);
	}
	if (json_is_array(j))
		return parse_union(p, j, ns, path);
	if (json_is_object(j))
		return parse_object(p, j, ns, path);
	fail(p, "field", path, "a schema must be a type name, an object or a union array");
	return NULL;
}

/* ---- defaults ------------------------------------------------------------------------- */

/* Where in a default value a check is; segments are appended and cut back, quietly truncated. */
struct vpath {
	char s[256];
	size_t len;
};

static size_t
vpath_push(struct vpath *vp, const char *fmt, ...)
{
	size_t old = vp->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(vp->s + vp->len, sizeof(vp->s) - vp->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		vp->len += (size_t)n < sizeof(vp->s) - vp->len ? (size_t)n : sizeof(vp->s) - 1 - vp->len;
	return old;
}

static void
vpath_pop(struct vpath *vp, size_t old)
{
	vp->len = old;
	vp->s[old] = '\0';
}

/* The value as compact JSON, shortened for messages. */
static void
describe_json(const json_t *v, char *buf, size_t size)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!s) {
		snprintf(buf, size, "(value)");
		return;
	}
	if (strlen(s) > 40)
		snprintf(buf, size, "%.37s...", s);
	else
		snprintf(buf, size, "%s", s);
	free(s);
}

static int __attribute__((format(printf, 5, 6)))
misfit(const struct vpath *vp, const json_t *v, char *errstr, size_t errstr_size,
       const char *fmt, ...)
{
	char what[64], why[192];
	va_list ap;

	describe_json(v, what, sizeof(what));
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (vp->len)
		snprintf(errstr, errstr_size, "%s %s (at %s)", what, why, vp->s);
	else
		snprintf(errstr, errstr_size, "%s %s", what, why);
	return 0;
}

/*
 * The code points of a JSON string as Avro bytes (each must be U+0000..U+00FF, that is one byte
 * below 0x80 or a UTF-8 pair led by 0xc2 or 0xc3). Returns the number of bytes, or -1.
 */
static long long
json_bytes_len(const json_t *v)
{
	const unsigned char *s = (const unsigned char *)json_string_value(v);
	size_t len = json_string_length(v);
	long long n = 0;

	for (size_t i = 0; i < len; n++) {
		if (s[i] < 0x80)
			i++;
		else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len)
			i += 2;
		else
			return -1;
	}
	return n;
}

static int
fits(const struct avsc_node *t, const json_t *v, struct vpath *vp, char *errstr,
     size_t errstr_size)
{
	long long nbytes;

	switch (t->type) {
	case AVSC_NULL:
		return json_is_null(v) ? 1 : misfit(vp, v, errstr, errstr_size, "is not null");
	case AVSC_BOOLEAN:
		return json_is_boolean(v) ? 1 :
		       misfit(vp, v, errstr, errstr_size, "is not true or false");
	case AVSC_INT:
		if (!json_is_integer(v))
			return misfit(vp, v, errstr, errstr_size, "is not an integer (for int)");
		if (json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
			return misfit(vp, v, errstr, errstr_size, "is out of the range of int");
		return 1;
	case AVSC_LONG:
		return json_is_integer(v) ? 1 :
		       misfit(vp, v, errstr, errstr_size, "is not an integer (for long)");
	case AVSC_FLOAT:
	case AVSC_DOUBLE:
		return json_is_number(v) ? 1 :
		       misfit(vp, v, errstr, errstr_size, "is not a number (for %s)",
			      type_names[t->type]);
	case AVSC_STRING:
		return json_is_string(v) ? 1 : misfit(vp, v, errstr, errstr_size, "is not a string");
	case AVSC_BYTES:
	case AVSC_FIXED:
		if (!json_is_string(v))
			return misfit(vp, v, errstr, errstr_size,
				      "is not a string (%s defaults are strings of U+0000..U+00FF)",
				      type_names[t->type]);
		if ((nbytes = json_bytes_len(v)) < 0)
			return misfit(vp, v, errstr, errstr_size,
				      "has a character above U+00FF (%s defaults are strings of "
				      "U+0000..U+00FF, one per byte)", type_names[t->type]);
		if (t->type == AVSC_FIXED && (size_t)nbytes != t->size)
			return misfit(vp, v, errstr, errstr_size, "has %lld bytes, fixed \"%s\" has %zu",
				      nbytes, t->fullname, t->size);
		return 1;
	case AVSC_ENUM:
		if (json_is_string(v))
			for (size_t i = 0; i < t->n_symbols; i++)
				if (strcmp(json_string_value(v), t->symbols[i]) == 0)
					return 1;
		return misfit(vp, v, errstr, errstr_size, "is not a symbol of enum \"%s\"",
			      t->fullname);
	case AVSC_ARRAY:
		if (!json_is_array(v))
			return misfit(vp, v, errstr, errstr_size, "is not an array");
		for (size_t i = 0; i < json_array_size(v); i++) {
			size_t mark = vpath_push(vp, "[%zu]", i);

			if (!fits(t->items, json_array_get(v, i), vp, errstr, errstr_size))
				return 0;
			vpath_pop(vp, mark);
		}
		return 1;
	case AVSC_MAP: {
		const char *key;
		json_t *mv;

		if (!json_is_object(v))
			return misfit(vp, v, errstr, errstr_size, "is not an object (for map)");
		json_object_foreach((json_t *)v, key, mv) {
			size_t mark = vpath_push(vp, "[\"%s\"]", key);

			if (!fits(t->items, mv, vp, errstr, errstr_size))
				return 0;
			vpath_pop(vp, mark);
		}
		return 1;
	}
	case AVSC_UNION:
		if (t->n_branches == 0)
			return misfit(vp, v, errstr, errstr_size,
				      "cannot be a default: the union has no branches");
		if (!fits(t->branches[0], v, vp, errstr, errstr_size)) {
			size_t len = strlen(errstr);

			if (len < errstr_size)
				snprintf(errstr + len, errstr_size - len,
					 " (a union's default must fit its first branch, %s)",
					 t->branches[0]->fullname ? t->branches[0]->fullname :
					 type_names[t->branches[0]->type]);
			return 0;
		}
		return 1;
	case AVSC_RECORD:
		if (!json_is_object(v))
			return misfit(vp, v, errstr, errstr_size, "is not an object (for record \"%s\")",
				      t->fullname);
		for (size_t i = 0; i < t->n_fields; i++) {
			const struct avsc_field *f = &t->fields[i];
			const json_t *fv = json_object_get(v, f->name);
			size_t mark;

			if (!fv) {
				if (f->default_value)
					continue;
				return misfit(vp, v, errstr, errstr_size,
					      "has no member \"%s\", and field \"%s\" of record \"%s\" "
					      "has no default", f->name, f->name, t->fullname);
			}
			mark = vpath_push(vp, vp->len ? ".%s" : "%s", f->name);
			if (!fits(f->type, fv, vp, errstr, errstr_size))
				return 0;
			vpath_pop(vp, mark);
		}
		return 1;
	}
	return misfit(vp, v, errstr, errstr_size, "has a type the relay does not know");
}

int
avsc_default_fits(const struct avsc_node *t, const json_t *v, char *errstr, size_t errstr_size)
{
	struct vpath vp = { .s = "", .len = 0 };
	char tmp[1];

	if (!errstr || errstr_size == 0) {
		errstr = tmp;
		errstr_size = sizeof(tmp);
	}
	errstr[0] = '\0';
	return fits(t, v, &vp, errstr, errstr_size);
}

/* ---- Parsing Canonical Form and fingerprint ------------------------------------------- */

struct sbuf {
	char *d;
	size_t len, cap;
	int oom;
	const struct avsc_node **seen;	/* named types written in full so far */
	size_t n_seen, cap_seen;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(d = realloc(b->d, cap))) {
			b->oom = 1;
			return;
		}
		b->d = d;
		b->cap = cap;
	}
	memcpy(b->d + b->len, s, n);
	b->len += n;
	b->d[b->len] = '\0';
}

static void
sb_lit(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/*
 * A JSON string. Names and symbols are plain ASCII once validated, so the escapes only guard
 * against what cannot reach here; [STRINGS] wants no other escaping.
 */
static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	for (; *s; s++) {
		char esc[8];

		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)*s);
			sb_lit(b, esc);
		} else {
			sb_add(b, s, 1);
		}
	}
	sb_add(b, "\"", 1);
}

/*
 * [PRIMITIVES] [FULLNAMES] [STRIP] [ORDER] [STRINGS] [INTEGERS] [WHITESPACE]: primitives as bare
 * names, named types with their full name the first time and as that name alone afterwards,
 * only name, type, fields, symbols, items, values and size, in that order, without whitespace.
 */
static void
canon(struct sbuf *b, const struct avsc_node *n)
{
	char num[32];

	if (is_named(n)) {
		for (size_t i = 0; i < b->n_seen; i++)
			if (b->seen[i] == n) {
				sb_str(b, n->fullname);
				return;
			}
		if (grow((void **)&b->seen, &b->cap_seen, b->n_seen, sizeof(*b->seen)) != 0) {
			b->oom = 1;
			return;
		}
		b->seen[b->n_seen++] = n;
		sb_lit(b, "{\"name\":");
		sb_str(b, n->fullname);
		sb_lit(b, ",\"type\":");
		sb_str(b, type_names[n->type]);
	}
	switch (n->type) {
	case AVSC_RECORD:
		sb_lit(b, ",\"fields\":[");
		for (size_t i = 0; i < n->n_fields; i++) {
			sb_lit(b, i ? ",{\"name\":" : "{\"name\":");
			sb_str(b, n->fields[i].name);
			sb_lit(b, ",\"type\":");
			canon(b, n->fields[i].type);
			sb_lit(b, "}");
		}
		sb_lit(b, "]}");
		break;
	case AVSC_ENUM:
		sb_lit(b, ",\"symbols\":[");
		for (size_t i = 0; i < n->n_symbols; i++) {
			if (i)
				sb_lit(b, ",");
			sb_str(b, n->symbols[i]);
		}
		sb_lit(b, "]}");
		break;
	case AVSC_FIXED:
		snprintf(num, sizeof(num), ",\"size\":%zu}", n->size);
		sb_lit(b, num);
		break;
	case AVSC_ARRAY:
	case AVSC_MAP:
		sb_lit(b, n->type == AVSC_ARRAY ? "{\"type\":\"array\",\"items\":" :
						  "{\"type\":\"map\",\"values\":");
		canon(b, n->items);
		sb_lit(b, "}");
		break;
	case AVSC_UNION:
		sb_lit(b, "[");
		for (size_t i = 0; i < n->n_branches; i++) {
			if (i)
				sb_lit(b, ",");
			canon(b, n->branches[i]);
		}
		sb_lit(b, "]");
		break;
	default:
		sb_str(b, type_names[n->type]);
		break;
	}
}

static uint64_t crc64_table[256];

static void
crc64_init(void)
{
	const uint64_t empty = UINT64_C(0xc15d213aa4d7a795);

	for (int i = 0; i < 256; i++) {
		uint64_t fp = (uint64_t)i;

		for (int j = 0; j < 8; j++)
			fp = (fp >> 1) ^ (empty & (0 - (fp & 1)));
		crc64_table[i] = fp;
	}
}

uint64_t
avsc_crc64(const void *data, size_t len)
{
	/* The table is a pure function of a constant; filling it twice from two threads is benign
	 * in effect, but pthread_once keeps it a defined one. */
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const unsigned char *p = data;
	uint64_t fp = UINT64_C(0xc15d213aa4d7a795);

	pthread_once(&once, crc64_init);
	for (size_t i = 0; i < len; i++)
		fp = (fp >> 8) ^ crc64_table[(fp ^ p[i]) & 0xff];
	return fp;
}

/* ---- the schema ----------------------------------------------------------------------- */

static void
impl_free(struct avsc_impl *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->n_nodes; i++)
		node_free(im->nodes[i]);
	free(im->nodes);
	free(im);
}

void
avsc_free(struct avsc_schema *s)
{
	if (!s)
		return;
	impl_free(s->impl);
	free(s->text);
	free(s->canonical);
	free(s);
}

struct avsc_schema *
avsc_parse(const char *text, size_t len, char *errstr, size_t errstr_size)
{
	struct parser p = { .errstr = errstr, .errstr_size = errstr_size };
	struct avsc_schema *s = NULL;
	struct sbuf b = { 0 };
	json_error_t jerr;
	json_t *j;

	if (errstr && errstr_size)
		errstr[0] = '\0';
	j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!j) {
		fail(&p, NULL, NULL, "schema is not valid JSON: %s (line %d, column %d)", jerr.text,
		     jerr.line, jerr.column);
		return NULL;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->impl = p.impl = calloc(1, sizeof(*p.impl))) ||
	    !(s->text = malloc(len + 1))) {
		oom(&p);
		goto fail;
	}
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->text_len = len;
	if (!(s->root = parse_type(&p, j, "", "")))
		goto fail;

	for (size_t i = 0; i < p.n_pending; i++) {
		const struct avsc_field *f = p.pending[i].field;
		char why[512];

		if (!avsc_default_fits(f->type, f->default_value, why, sizeof(why))) {
			fail(&p, "field", p.pending[i].path, "invalid default: %s", why);
			goto fail;
		}
	}

	canon(&b, s->root);
	free(b.seen);
	if (b.oom) {
		free(b.d);
		oom(&p);
		goto fail;
	}
	s->canonical = b.d;
	s->fingerprint = avsc_crc64(b.d, b.len);
	goto out;
fail:
	avsc_free(s);
	s = NULL;
out:
	for (size_t i = 0; i < p.n_pending; i++)
		free(p.pending[i].path);
	free(p.pending);
	json_decref(j);
	return s;
}
