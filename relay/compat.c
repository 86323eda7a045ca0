/*
 * compat — see compat.h.
 *
 * The check is a depth-first walk over a (reader node, writer node) pair. Recursion can only
 * come back through a record, so record pairs are remembered while (and after) they are
 * compared: meeting a remembered pair again answers "compatible", which is right for a pair
 * still being compared (any real difference is found on the way down, where the walk stops) and
 * for one already found compatible. Trying the branches of a reader union is the one place where
 * a failure is not final; the pairs remembered during a failed try are forgotten again.
 */
#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const level_names[] = {
	[COMPAT_NONE] = "NONE",
	[COMPAT_BACKWARD] = "BACKWARD",
	[COMPAT_BACKWARD_TRANSITIVE] = "BACKWARD_TRANSITIVE",
	[COMPAT_FORWARD] = "FORWARD",
	[COMPAT_FORWARD_TRANSITIVE] = "FORWARD_TRANSITIVE",
	[COMPAT_FULL] = "FULL",
	[COMPAT_FULL_TRANSITIVE] = "FULL_TRANSITIVE",
};

#define N_LEVELS (sizeof(level_names) / sizeof(level_names[0]))

int
compat_level_parse(const char *s)
{
	for (size_t i = 0; s && i < N_LEVELS; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
compat_level_name(enum compat_level l)
{
	return (unsigned)l < N_LEVELS ? level_names[l] : "UNKNOWN";
}

struct pair {
	const struct avsc_node *r, *w;
};

struct resolver {
	struct pair *pairs;
	size_t n, cap;
	int oom;
};

/* Fills err with `field "path": message`, or the message alone at the top level. Returns 0. */
static int __attribute__((format(printf, 4, 5)))
incompatible(char *err, size_t errsz, const char *path, const char *fmt, ...)
{
	size_t off = 0;
	va_list ap;

	if (errsz == 0)
		return 0;
	if (*path) {
		int n = snprintf(err, errsz, "field \"%s\": ", path);

		off = n < 0 ? 0 : (size_t)n;
		if (off >= errsz)
			return 0;
	}
	va_start(ap, fmt);
	vsnprintf(err + off, errsz - off, fmt, ap);
	va_end(ap);
	return 0;
}

static int
is_named(const struct avsc_node *n)
{
	return n->type == AVSC_RECORD || n->type == AVSC_ENUM || n->type == AVSC_FIXED;
}

static int
is_primitive(const struct avsc_node *n)
{
	return n->type <= AVSC_STRING;
}

/* A node's type for messages: int, array, record "com.x.Order", ... */
static void
describe(const struct avsc_node *n, char *buf, size_t size)
{
	if (is_named(n))
		snprintf(buf, size, "%s \"%s\"", avsc_type_name(n->type), n->fullname);
	else
		snprintf(buf, size, "%s", avsc_type_name(n->type));
}

static int
promotes(enum avsc_type w, enum avsc_type r)
{
	switch (w) {
	case AVSC_INT:
		return r == AVSC_LONG || r == AVSC_FLOAT || r == AVSC_DOUBLE;
	case AVSC_LONG:
		return r == AVSC_FLOAT || r == AVSC_DOUBLE;
	case AVSC_FLOAT:
		return r == AVSC_DOUBLE;
	case AVSC_STRING:
		return r == AVSC_BYTES;
	case AVSC_BYTES:
		return r == AVSC_STRING;
	default:
		return 0;
	}
}

static const char *
short_name(const char *full)
{
	const char *dot = strrchr(full, '.');

	return dot ? dot + 1 : full;
}

/* Same unqualified name, or a reader alias naming the writer in full or unqualified. */
static int
names_match(const struct avsc_node *r, const struct avsc_node *w)
{
	if (strcmp(r->name, w->name) == 0)
		return 1;
	for (size_t i = 0; i < r->n_aliases; i++)
		if (strcmp(r->aliases[i], w->fullname) == 0 ||
		    strcmp(short_name(r->aliases[i]), w->name) == 0)
			return 1;
	return 0;
}

/* Whether r and w are of one kind, so that r's failure to read w is the interesting one. */
static int
same_kind(const struct avsc_node *r, const struct avsc_node *w)
{
	if (is_named(r))
		return r->type == w->type && names_match(r, w);
	return r->type == w->type || (is_primitive(r) && promotes(w->type, r->type));
}

static int
decimals_agree(const struct avsc_node *r, const struct avsc_node *w, const char *path,
	       char *err, size_t errsz)
{
	if (r->logical != AVSC_LT_DECIMAL || w->logical != AVSC_LT_DECIMAL ||
	    (r->precision == w->precision && r->scale == w->scale))
		return 1;
	return incompatible(err, errsz, path,
			    "reader decimal(%d,%d) cannot read writer decimal(%d,%d) (decimal "
			    "precision and scale must not change)",
			    r->precision, r->scale, w->precision, w->scale);
}

/* Remembers a record pair; 1 if it was remembered already. */
static int
seen_pair(struct resolver *rs, const struct avsc_node *r, const struct avsc_node *w)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->pairs[i].r == r && rs->pairs[i].w == w)
			return 1;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct pair *p = realloc(rs->pairs, cap * sizeof(*p));

		if (!p) {
			rs->oom = 1;
			return 0;
		}
		rs->pairs = p;
		rs->cap = cap;
	}
	rs->pairs[rs->n].r = r;
	rs->pairs[rs->n++].w = w;
	return 0;
}

static int can_read(struct resolver *rs, const struct avsc_node *r, const struct avsc_node *w,
		    const char *path, char *err, size_t errsz);

static int
mismatch(const struct avsc_node *r, const struct avsc_node *w, const char *path, char *err,
	 size_t errsz)
{
	char rd[192], wd[192];

	describe(r, rd, sizeof(rd));
	describe(w, wd, sizeof(wd));
	if (is_primitive(r) && is_primitive(w))
		return incompatible(err, errsz, path,
				    "reader type %s cannot read writer type %s (no promotion from %s "
				    "to %s)", rd, wd, wd, rd);
	if (r->type == w->type && is_named(r))
		return incompatible(err, errsz, path,
				    "reader type %s cannot read writer type %s (the names differ and "
				    "no reader alias names the writer's type)", rd, wd);
	return incompatible(err, errsz, path, "reader type %s cannot read writer type %s", rd, wd);
}

static int
record_can_read(struct resolver *rs, const struct avsc_node *r, const struct avsc_node *w,
		const char *path, char *err, size_t errsz)
{
	const char *base = *path ? path : r->name;

	if (seen_pair(rs, r, w))
		return 1;
	if (rs->oom)
		return incompatible(err, errsz, "", "out of memory while comparing schemas");
	for (size_t i = 0; i < r->n_fields; i++) {
		const struct avsc_field *rf = &r->fields[i];
		const struct avsc_field *wf = NULL;
		char *fpath;
		int ok;

		for (size_t k = 0; !wf && k < w->n_fields; k++)
			if (strcmp(w->fields[k].name, rf->name) == 0)
				wf = &w->fields[k];
		for (size_t a = 0; !wf && a < rf->n_aliases; a++)
			for (size_t k = 0; !wf && k < w->n_fields; k++)
				if (strcmp(w->fields[k].name, rf->aliases[a]) == 0)
					wf = &w->fields[k];
		if (!(fpath = malloc(strlen(base) + strlen(rf->name) + 2))) {
			rs->oom = 1;
			return incompatible(err, errsz, "", "out of memory while comparing schemas");
		}
		sprintf(fpath, "%s.%s", base, rf->name);
		if (wf)
			ok = can_read(rs, rf->type, wf->type, fpath, err, errsz);
		else if (rf->default_value)
			ok = 1;
		else
			ok = incompatible(err, errsz, fpath,
					  "reader field has no default and the writer does not have it");
		free(fpath);
		if (!ok)
			return 0;
	}
	return 1;
}

static int
enum_can_read(const struct avsc_node *r, const struct avsc_node *w, const char *path, char *err,
	      size_t errsz)
{
	if (r->enum_default)
		return 1;
	for (size_t i = 0; i < w->n_symbols; i++) {
		size_t k;

		for (k = 0; k < r->n_symbols; k++)
			if (strcmp(w->symbols[i], r->symbols[k]) == 0)
				break;
		if (k == r->n_symbols)
			return incompatible(err, errsz, path,
					    "enum \"%s\": writer symbol \"%s\" is not among the reader's "
					    "symbols and the reader has no default", r->fullname,
					    w->symbols[i]);
	}
	return 1;
}

/* A reader union reads a writer that is not a union when one of its branches does. */
static int
union_can_read(struct resolver *rs, const struct avsc_node *r, const struct avsc_node *w,
	       const char *path, char *err, size_t errsz)
{
	size_t mark = rs->n;
	char tmp[1024], branches[512] = "", wd[192];
	int have_reason = 0;

	for (size_t i = 0; i < r->n_branches; i++) {
		const struct avsc_node *b = r->branches[i];
		int near = same_kind(b, w) && !have_reason;
		size_t len = strlen(branches);

		if (can_read(rs, b, w, path, near ? err : tmp, near ? errsz : sizeof(tmp)))
			return 1;
		rs->n = mark;
		if (rs->oom)
			return incompatible(err, errsz, "", "out of memory while comparing schemas");
		have_reason |= near;
		describe(b, tmp, sizeof(tmp));
		snprintf(branches + len, sizeof(branches) - len, "%s%s", i ? ", " : "", tmp);
	}
	/* a branch of the writer's kind failed for a reason worth more than the list */
	if (have_reason)
		return 0;
	describe(w, wd, sizeof(wd));
	return incompatible(err, errsz, path,
			    "no branch of the reader's union [%s] can read writer type %s", branches,
			    wd);
}

static int
can_read(struct resolver *rs, const struct avsc_node *r, const struct avsc_node *w,
	 const char *path, char *err, size_t errsz)
{
	char *epath;
	int ok;

	if (w->type == AVSC_UNION) {
		for (size_t i = 0; i < w->n_branches; i++)
			if (!can_read(rs, r, w->branches[i], path, err, errsz))
				return 0;
		return 1;
	}
	if (r->type == AVSC_UNION)
		return union_can_read(rs, r, w, path, err, errsz);

	if (is_primitive(r)) {
		if (r->type != w->type && !promotes(w->type, r->type))
			return mismatch(r, w, path, err, errsz);
		return decimals_agree(r, w, path, err, errsz);
	}
	if (r->type != w->type)
		return mismatch(r, w, path, err, errsz);
	if (is_named(r) && !names_match(r, w))
		return mismatch(r, w, path, err, errsz);
	switch (r->type) {
	case AVSC_RECORD:
		return record_can_read(rs, r, w, path, err, errsz);
	case AVSC_ENUM:
		return enum_can_read(r, w, path, err, errsz);
	case AVSC_FIXED:
		if (r->size != w->size)
			return incompatible(err, errsz, path,
					    "reader fixed \"%s\" has size %zu, the writer's fixed \"%s\" "
					    "has size %zu (fixed sizes must be equal)", r->fullname,
					    r->size, w->fullname, w->size);
		return decimals_agree(r, w, path, err, errsz);
	case AVSC_ARRAY:
	case AVSC_MAP:
		if (!(epath = malloc(strlen(path) + 3))) {
			rs->oom = 1;
			return incompatible(err, errsz, "", "out of memory while comparing schemas");
		}
		sprintf(epath, "%s%s", path, r->type == AVSC_ARRAY ? "[]" : "{}");
		ok = can_read(rs, r->items, w->items, epath, err, errsz);
		free(epath);
		return ok;
	default:
		return mismatch(r, w, path, err, errsz);
	}
}

int
compat_can_read(const struct avsc_schema *reader, const struct avsc_schema *writer,
		char *errstr, size_t errstr_size)
{
	struct resolver rs = { 0 };
	char tmp[1];
	int ok;

	if (!errstr || errstr_size == 0) {
		errstr = tmp;
		errstr_size = sizeof(tmp);
	}
	errstr[0] = '\0';
	ok = can_read(&rs, reader->root, writer->root, "", errstr, errstr_size);
	if (ok)
		errstr[0] = '\0';	/* a failed try of a union branch may have written there */
	free(rs.pairs);
	return ok;
}

int
compat_check(enum compat_level level, const struct avsc_schema *candidate,
	     const struct avsc_schema *const *existing, const int *versions, size_t n,
	     char *errstr, size_t errstr_size)
{
	int backward, forward, transitive;
	char why[1024], which[48], tmp[1];

	if (!errstr || errstr_size == 0) {
		errstr = tmp;
		errstr_size = sizeof(tmp);
	}
	errstr[0] = '\0';
	if ((unsigned)level >= N_LEVELS) {
		snprintf(errstr, errstr_size, "unknown compatibility level %d", (int)level);
		return -1;
	}
	backward = level == COMPAT_BACKWARD || level == COMPAT_BACKWARD_TRANSITIVE ||
		   level == COMPAT_FULL || level == COMPAT_FULL_TRANSITIVE;
	forward = level == COMPAT_FORWARD || level == COMPAT_FORWARD_TRANSITIVE ||
		  level == COMPAT_FULL || level == COMPAT_FULL_TRANSITIVE;
	transitive = level == COMPAT_BACKWARD_TRANSITIVE || level == COMPAT_FORWARD_TRANSITIVE ||
		     level == COMPAT_FULL_TRANSITIVE;

	for (size_t k = 0; k < n && (transitive || k == 0); k++) {
		size_t i = n - 1 - k;

		if (versions)
			snprintf(which, sizeof(which), "version %d", versions[i]);
		else
			snprintf(which, sizeof(which), "existing schema %zu", i);
		if (backward && !compat_can_read(candidate, existing[i], why, sizeof(why))) {
			snprintf(errstr, errstr_size,
				 "not %s compatible with %s: the new schema cannot read data written "
				 "with %s: %s", level_names[level], which, which, why);
			return -1;
		}
		if (forward && !compat_can_read(existing[i], candidate, why, sizeof(why))) {
			snprintf(errstr, errstr_size,
				 "not %s compatible with %s: %s cannot read data written with the new "
				 "schema: %s", level_names[level], which, which, why);
			return -1;
		}
	}
	return 0;
}
