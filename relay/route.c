/*
 * route — see route.h.
 */
#include "route.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Templates longer than this are expanded for every event (they are never that long). */
#define ROUTE_TEMPLATE_CACHE_MAX 255

static const char *const reserved_headers[] = {
	"event_id", "event_type", "aggregate_type", "schema_version", "content-type", NULL
};

static inline int
topic_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/*
 * Appends n bytes of s to the topic being built, checking Kafka's rules for topic names. The
 * bytes are checked first and copied in one go: this runs for every event.
 */
static int
topic_append(char *out, size_t *len, const char *s, size_t n, char *errstr, size_t errstr_size)
{
	size_t i = 0;

	while (i < n && topic_char_ok(s[i]) && *len + i < ROUTE_TOPIC_MAX)
		i++;
	if (i < n) {
		/* the first byte that does not fit: a character Kafka refuses, or one too many */
		unsigned char c = (unsigned char)s[i];

		if (!topic_char_ok(s[i])) {
			if (c >= 0x20 && c < 0x7f)
				snprintf(errstr, errstr_size,
					 "topic would contain \"%c\"; Kafka topics allow only "
					 "[a-zA-Z0-9._-]", c);
			else
				snprintf(errstr, errstr_size,
					 "topic would contain byte 0x%02x; Kafka topics allow only "
					 "[a-zA-Z0-9._-]", c);
		} else {
			snprintf(errstr, errstr_size, "topic would be longer than %d characters",
				 ROUTE_TOPIC_MAX);
		}
		return -1;
	}
	memcpy(out + *len, s, n);
	*len += n;
	return 0;
}

int
route_topic(const char *tmpl, const char *source, const struct outbox_event *ev, char *out,
	    char *errstr, size_t errstr_size)
{
	size_t len = 0;
	const char *p = tmpl;

	while (*p) {
		const char *end, *val;
		size_t n;

		if (*p != '{') {
			/* the literal text up to the next placeholder, at once */
			const char *brace = strchr(p, '{');

			n = brace ? (size_t)(brace - p) : strlen(p);
			if (topic_append(out, &len, p, n, errstr, errstr_size) != 0)
				return -1;
			p += n;
			continue;
		}
		if (!(end = strchr(p, '}'))) {
			snprintf(errstr, errstr_size, "topic template \"%s\" has an unclosed \"{\"", tmpl);
			return -1;
		}
		n = (size_t)(end - p - 1);
		if (n == 14 && strncmp(p + 1, "aggregate_type", n) == 0)
			val = ev ? ev->aggregate_type : NULL;
		else if (n == 10 && strncmp(p + 1, "event_type", n) == 0)
			val = ev ? ev->event_type : NULL;
		else if (n == 6 && strncmp(p + 1, "source", n) == 0)
			val = source;
		else {
			snprintf(errstr, errstr_size, "topic template \"%s\" has unknown placeholder \"%.*s\"",
				 tmpl, (int)(n + 2), p);
			return -1;
		}
		if (!val || !*val) {
			snprintf(errstr, errstr_size, "%.*s is empty, so no topic can be chosen", (int)n,
				 p + 1);
			return -1;
		}
		if (topic_append(out, &len, val, strlen(val), errstr, errstr_size) != 0)
			return -1;
		p = end + 1;
	}
	out[len] = '\0';
	if (len == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		snprintf(errstr, errstr_size, "topic \"%s\" is not a valid Kafka topic name", out);
		return -1;
	}
	return 0;
}

static struct route_header *
add_header(struct route_result *res, const char *name, const char *value, size_t value_len)
{
	struct route_header *h;

	if (res->n_headers == res->cap_headers) {
		size_t cap = res->cap_headers ? res->cap_headers * 2 : 8;
		struct route_header *n = malloc(cap * sizeof(*n));

		if (!n)
			return NULL;
		/* values of numbers point into their own element's num: move them along */
		for (size_t i = 0; i < res->n_headers; i++) {
			n[i] = res->headers[i];
			if (res->headers[i].value == res->headers[i].num)
				n[i].value = n[i].num;
		}
		free(res->headers);
		res->headers = n;
		res->cap_headers = cap;
	}
	h = &res->headers[res->n_headers++];
	h->name = name;
	h->value = value;
	h->value_len = value_len;
	return h;
}

static int
add_row_headers(struct route_result *res, const char *text, char *errstr, size_t errstr_size)
{
	json_error_t jerr;
	json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	const char *name;
	json_t *v;

	if (!obj) {
		snprintf(errstr, errstr_size, "headers are not valid JSON: %s", jerr.text);
		return -1;
	}
	res->json = obj;
	if (!json_is_object(obj)) {
		snprintf(errstr, errstr_size, "headers must be a JSON object of name to value");
		return -1;
	}
	json_object_foreach(obj, name, v) {
		struct route_header *h;

		if (*name == '\0') {
			snprintf(errstr, errstr_size, "headers contain an empty header name");
			return -1;
		}
		for (int i = 0; reserved_headers[i]; i++) {
			if (strcmp(name, reserved_headers[i]) == 0) {
				snprintf(errstr, errstr_size,
					 "headers must not set \"%s\", which the relay sets itself", name);
				return -1;
			}
		}
		if (!(h = add_header(res, name, NULL, 0))) {
			snprintf(errstr, errstr_size, "out of memory");
			return -1;
		}
		switch (json_typeof(v)) {
		case JSON_STRING:
			h->value = json_string_value(v);
			h->value_len = json_string_length(v);
			break;
		case JSON_INTEGER:
			h->value_len = (size_t)snprintf(h->num, sizeof(h->num), "%" JSON_INTEGER_FORMAT,
							json_integer_value(v));
			h->value = h->num;
			break;
		case JSON_REAL:
			/* the shortest text that reads back as the same double: 0.1, not 0.1000...1 */
			for (int prec = 1; prec <= 17; prec++) {
				h->value_len = (size_t)snprintf(h->num, sizeof(h->num), "%.*g", prec,
								json_real_value(v));
				if (strtod(h->num, NULL) == json_real_value(v))
					break;
			}
			h->value = h->num;
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			h->value = json_is_true(v) ? "true" : "false";
			h->value_len = strlen(h->value);
			break;
		case JSON_NULL:
			break;
		default:
			snprintf(errstr, errstr_size,
				 "header \"%s\" has a nested value; header values must be strings, "
				 "numbers, booleans or null", name);
			return -1;
		}
	}
	return 0;
}

/*
 * A topic expanded from a template, and the values it was expanded from. Every value the
 * template can use is compared, whether it does or not: what decides the topic is route_topic
 * alone. Values longer than a topic are never cached (they cannot make one).
 */
struct route_topic_cache {
	char tmpl[ROUTE_TEMPLATE_CACHE_MAX + 1];
	char source[ROUTE_TOPIC_MAX + 1];
	char aggregate_type[ROUTE_TOPIC_MAX + 1];
	char event_type[ROUTE_TOPIC_MAX + 1];
	int has_aggregate_type, has_event_type;
	int valid;		/* 0: nothing cached */
	char topic[ROUTE_TOPIC_MAX + 1];
};

/* Whether value (NULL: absent) is the cached one. */
static int
cached_same(const char *value, int has, const char *cached)
{
	return value ? has && strcmp(value, cached) == 0 : !has;
}

/* Copies value into a cache field of ROUTE_TOPIC_MAX + 1 bytes; -1 when it does not fit. */
static int
cache_put(char *field, const char *value, size_t size)
{
	size_t n = strlen(value);

	if (n >= size)
		return -1;
	memcpy(field, value, n + 1);
	return 0;
}

/*
 * route_topic for res, through res->last: an event whose template, source, aggregate type and
 * event type are those of the last expansion that succeeded gets the same topic without
 * expanding (and checking) it again. Failures are not cached.
 */
static int
topic_of(const char *tmpl, const char *source, const struct outbox_event *ev,
	 struct route_result *res, char *errstr, size_t errstr_size)
{
	struct route_topic_cache *c = res->last;

	if (c && c->valid && strcmp(tmpl, c->tmpl) == 0 && strcmp(source, c->source) == 0 &&
	    cached_same(ev->aggregate_type, c->has_aggregate_type, c->aggregate_type) &&
	    cached_same(ev->event_type, c->has_event_type, c->event_type)) {
		memcpy(res->topic, c->topic, sizeof(res->topic));
		return 0;
	}
	if (route_topic(tmpl, source, ev, res->topic, errstr, errstr_size) != 0)
		return -1;
	if (!c && !(c = res->last = malloc(sizeof(*c))))
		return 0;	/* no cache: only slower */
	c->valid = 0;
	c->has_aggregate_type = ev->aggregate_type != NULL;
	c->has_event_type = ev->event_type != NULL;
	if (cache_put(c->tmpl, tmpl, sizeof(c->tmpl)) != 0 ||
	    cache_put(c->source, source, sizeof(c->source)) != 0 ||
	    (ev->aggregate_type &&
	     cache_put(c->aggregate_type, ev->aggregate_type, sizeof(c->aggregate_type)) != 0) ||
	    (ev->event_type && cache_put(c->event_type, ev->event_type, sizeof(c->event_type)) != 0))
		return 0;
	memcpy(c->topic, res->topic, sizeof(c->topic));
	c->valid = 1;
	return 0;
}

int
route_event(const char *tmpl, const char *source, const struct outbox_event *ev,
	    struct route_result *res, char *errstr, size_t errstr_size)
{
	route_result_clear(res);

	if (ev->invalid) {
		snprintf(errstr, errstr_size, "%s", ev->invalid);
		return -1;
	}
	if (!ev->aggregate_id || !*ev->aggregate_id) {
		snprintf(errstr, errstr_size, "aggregate_id is empty, so the event has no key");
		return -1;
	}
	if (topic_of(tmpl, source, ev, res, errstr, errstr_size) != 0)
		return -1;

	if ((ev->event_id && !add_header(res, "event_id", ev->event_id, strlen(ev->event_id))) ||
	    (ev->event_type && !add_header(res, "event_type", ev->event_type, strlen(ev->event_type))) ||
	    (ev->aggregate_type &&
	     !add_header(res, "aggregate_type", ev->aggregate_type, strlen(ev->aggregate_type))) ||
	    (ev->schema_version &&
	     !add_header(res, "schema_version", ev->schema_version, strlen(ev->schema_version)))) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	if (ev->headers && add_row_headers(res, ev->headers, errstr, errstr_size) != 0)
		return -1;
	return 0;
}

int
route_add_header(struct route_result *res, const char *name, const char *value)
{
	return add_header(res, name, value, value ? strlen(value) : 0) ? 0 : -1;
}

const char *
route_header_value(const struct route_result *res, const char *name)
{
	for (size_t i = 0; i < res->n_headers; i++)
		if (strcmp(res->headers[i].name, name) == 0)
			return res->headers[i].value;
	return NULL;
}

void
route_result_clear(struct route_result *res)
{
	res->n_headers = 0;
	res->topic[0] = '\0';
	if (res->json) {
		json_decref(res->json);
		res->json = NULL;
	}
}

void
route_result_free(struct route_result *res)
{
	route_result_clear(res);
	free(res->headers);
	res->headers = NULL;
	res->cap_headers = 0;
	free(res->last);
	res->last = NULL;
}
