/*
 * encode — see encode.h.
 */
#include "encode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avenc.h"
#include "avsc.h"
#include "catalog.h"
#include "db.h"
#include "log.h"
#include "registry.h"

#define CT_JSON "application/json"
#define CT_CONFLUENT "avro/binary; framing=confluent"
#define CT_SINGLE_OBJECT "avro/binary; framing=single-object"

/* A registry id of one schema version under one subject. */
struct subject_id {
	char *subject;
	int32_t id;
};

/* One (event_type, schema_version) of the catalog, ready to encode. */
struct version {
	char *event_type;
	int schema_version;
	struct avsc_schema *schema;
	struct avenc *enc;
	struct subject_id *ids;
	size_t n_ids;
};

struct encoder {
	const struct conf_source *src;
	struct registry *registry;	/* framing "confluent" only */
	struct version *versions;
	size_t n_versions, cap_versions;
	size_t last;			/* index of the last version used: events come in runs */
	struct avbuf buf;
};

struct encoder *
encoder_new(const struct conf *cfg, const struct conf_source *src, char *errstr,
	    size_t errstr_size)
{
	struct encoder *e = calloc(1, sizeof(*e));

	if (!e) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	e->src = src;
	if (src->format == FORMAT_AVRO && src->framing == FRAMING_CONFLUENT) {
		struct registry_conf rc = {
			.url = cfg->registry.url,
			.username = cfg->registry.username,
			.password = cfg->registry.password,
			.ca_location = cfg->registry.ca_location,
			.cert_location = cfg->registry.cert_location,
			.key_location = cfg->registry.key_location,
			.key_password = cfg->registry.key_password,
			.verify_peer = cfg->registry.verify_peer,
			.timeout_ms = (long)cfg->registry.timeout_ms,
		};

		if (!(e->registry = registry_new(&rc, errstr, errstr_size))) {
			free(e);
			return NULL;
		}
	}
	return e;
}

void
encoder_free(struct encoder *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_versions; i++) {
		struct version *v = &e->versions[i];

		for (size_t j = 0; j < v->n_ids; j++)
			free(v->ids[j].subject);
		free(v->ids);
		avenc_free(v->enc);
		avsc_free(v->schema);
		free(v->event_type);
	}
	free(e->versions);
	registry_free(e->registry);
	avbuf_free(&e->buf);
	free(e);
}

/* schema_version as sent: a positive decimal integer. */
static int
parse_version(const char *s, int *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v < 1 || v > INT32_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * The cached version of (type, version), read from the catalog when it is not cached yet.
 * Returns ENCODE_OK with *out, ENCODE_POISON when the catalog has no such version or its schema
 * is unusable, ENCODE_RETRY when the catalog could not be read.
 */
static enum encode_result
find_version(struct encoder *e, PGconn *conn, const char *type, int version, struct version **out,
	     char *errstr, size_t errstr_size)
{
	struct version *v;
	struct avsc_schema *schema;
	struct avenc *enc;
	char *text, why[512];
	int r;

	if (e->last < e->n_versions && e->versions[e->last].schema_version == version &&
	    strcmp(e->versions[e->last].event_type, type) == 0) {
		*out = &e->versions[e->last];
		return ENCODE_OK;
	}
	for (size_t i = 0; i < e->n_versions; i++) {
		if (e->versions[i].schema_version == version &&
		    strcmp(e->versions[i].event_type, type) == 0) {
			e->last = i;
			*out = &e->versions[i];
			return ENCODE_OK;
		}
	}
	r = catalog_fetch(conn, e->src, type, version, &text, why, sizeof(why));
	if (r < 0) {
		snprintf(errstr, errstr_size, "could not read the schema of \"%s\" version %d: %s",
			 type, version, why);
		return ENCODE_RETRY;
	}
	if (r == 0) {
		char shown[DB_QUALIFIED_SIZE];

		snprintf(errstr, errstr_size, "the schema catalog %s has no version %d of "
			 "event type \"%s\" (add it with outbox-relay schema add)",
			 db_table_display(e->src, "_schemas", shown, sizeof(shown)), version, type);
		return ENCODE_POISON;
	}
	schema = avsc_parse(text, strlen(text), why, sizeof(why));
	free(text);
	if (!schema) {
		snprintf(errstr, errstr_size, "the catalog's schema of \"%s\" version %d is not a "
			 "valid Avro schema: %s", type, version, why);
		return ENCODE_POISON;
	}
	if (!(enc = avenc_new(schema, why, sizeof(why)))) {
		snprintf(errstr, errstr_size, "the catalog's schema of \"%s\" version %d cannot be "
			 "used: %s", type, version, why);
		avsc_free(schema);
		return ENCODE_POISON;
	}
	if (e->n_versions == e->cap_versions) {
		size_t cap = e->cap_versions ? e->cap_versions * 2 : 8;
		struct version *n = realloc(e->versions, cap * sizeof(*n));

		if (!n) {
			avenc_free(enc);
			avsc_free(schema);
			snprintf(errstr, errstr_size, "out of memory");
			return ENCODE_RETRY;
		}
		e->versions = n;
		e->cap_versions = cap;
	}
	v = &e->versions[e->n_versions];
	memset(v, 0, sizeof(*v));
	if (!(v->event_type = strdup(type))) {
		avenc_free(enc);
		avsc_free(schema);
		snprintf(errstr, errstr_size, "out of memory");
		return ENCODE_RETRY;
	}
	v->schema_version = version;
	v->schema = schema;
	v->enc = enc;
	e->last = e->n_versions++;
	log_info("source \"%s\": using schema of \"%s\" version %d (fingerprint %016llx)",
		 e->src->name, type, version, (unsigned long long)schema->fingerprint);
	*out = v;
	return ENCODE_OK;
}

/* The registry subject of v for topic, by the source's strategy. */
static int
subject_of(const struct encoder *e, const struct version *v, const char *topic, char *buf,
	   size_t size, char *errstr, size_t errstr_size)
{
	const char *name = v->schema->root->type == AVSC_RECORD ? v->schema->root->fullname : NULL;

	switch (e->src->subject_strategy) {
	case SUBJECT_RECORD:
	case SUBJECT_TOPIC_RECORD:
		if (!name) {
			snprintf(errstr, errstr_size, "subject_strategy \"%s\" needs a record schema, "
				 "and \"%s\" version %d is a %s",
				 e->src->subject_strategy == SUBJECT_RECORD ? "record" : "topic-record",
				 v->event_type, v->schema_version,
				 avsc_type_name(v->schema->root->type));
			return -1;
		}
		if (e->src->subject_strategy == SUBJECT_RECORD)
			snprintf(buf, size, "%s", name);
		else
			snprintf(buf, size, "%s-%s", topic, name);
		return 0;
	default:
		snprintf(buf, size, "%s-value", topic);
		return 0;
	}
}

/* The registry id of v under topic's subject (cached). */
static enum encode_result
schema_id(struct encoder *e, struct version *v, const char *topic, int32_t *id, char *errstr,
	  size_t errstr_size)
{
	char subject[600], why[1024];
	struct subject_id *n;

	if (subject_of(e, v, topic, subject, sizeof(subject), errstr, errstr_size) != 0)
		return ENCODE_POISON;
	for (size_t i = 0; i < v->n_ids; i++) {
		if (strcmp(v->ids[i].subject, subject) == 0) {
			*id = v->ids[i].id;
			return ENCODE_OK;
		}
	}
	switch (registry_register(e->registry, subject, v->schema->text, id, why, sizeof(why))) {
	case REGISTRY_OK:
		break;
	case REGISTRY_REJECTED:
		snprintf(errstr, errstr_size, "the schema registry refused \"%s\" version %d under "
			 "subject \"%s\": %s", v->event_type, v->schema_version, subject, why);
		return ENCODE_POISON;
	default:
		snprintf(errstr, errstr_size, "schema registry unavailable: %s", why);
		return ENCODE_RETRY;
	}
	n = realloc(v->ids, (v->n_ids + 1) * sizeof(*n));
	if (!n || !(n[v->n_ids].subject = strdup(subject))) {
		if (n)
			v->ids = n;
		snprintf(errstr, errstr_size, "out of memory");
		return ENCODE_RETRY;
	}
	v->ids = n;
	n[v->n_ids++].id = *id;
	log_info("source \"%s\": \"%s\" version %d is schema id %d under subject \"%s\"",
		 e->src->name, v->event_type, v->schema_version, (int)*id, subject);
	return ENCODE_OK;
}

enum encode_result
encoder_encode(struct encoder *e, PGconn *conn, const struct outbox_event *ev,
	       struct route_result *route, const void **value, size_t *value_len, char *errstr,
	       size_t errstr_size)
{
	const struct conf_source *src = e->src;
	struct version *v;
	enum encode_result r;
	unsigned char prefix[10];
	size_t prefix_len;
	int version;
	char why[1024];

	for (size_t i = 0; i < src->n_required_headers; i++) {
		if (!route_header_value(route, src->required_headers[i])) {
			snprintf(errstr, errstr_size, "required header \"%s\" is missing "
				 "(required_headers)", src->required_headers[i]);
			return ENCODE_POISON;
		}
	}
	if (src->format == FORMAT_JSON) {
		*value = ev->payload;
		*value_len = ev->payload ? ev->payload_len : 0;
		if (route_add_header(route, "content-type", CT_JSON) != 0) {
			snprintf(errstr, errstr_size, "out of memory");
			return ENCODE_RETRY;
		}
		return ENCODE_OK;
	}

	if (!ev->event_type || !*ev->event_type) {
		snprintf(errstr, errstr_size, "format \"avro\" needs an event_type to find the schema");
		return ENCODE_POISON;
	}
	if (parse_version(ev->schema_version, &version) != 0) {
		snprintf(errstr, errstr_size, "schema_version \"%s\" is not a positive integer",
			 ev->schema_version ? ev->schema_version : "(none)");
		return ENCODE_POISON;
	}
	if ((r = find_version(e, conn, ev->event_type, version, &v, errstr, errstr_size)) !=
	    ENCODE_OK)
		return r;
	if (src->framing == FRAMING_CONFLUENT) {
		int32_t id;

		if ((r = schema_id(e, v, route->topic, &id, errstr, errstr_size)) != ENCODE_OK)
			return r;
		prefix[0] = 0;
		prefix[1] = (unsigned char)((uint32_t)id >> 24);
		prefix[2] = (unsigned char)((uint32_t)id >> 16);
		prefix[3] = (unsigned char)((uint32_t)id >> 8);
		prefix[4] = (unsigned char)id;
		prefix_len = 5;
	} else {
		uint64_t fp = v->schema->fingerprint;

		prefix[0] = 0xC3;
		prefix[1] = 0x01;
		for (int i = 0; i < 8; i++)
			prefix[2 + i] = (unsigned char)(fp >> (8 * i));
		prefix_len = 10;
	}
	if (route_add_header(route, "content-type",
			     src->framing == FRAMING_CONFLUENT ? CT_CONFLUENT : CT_SINGLE_OBJECT) != 0) {
		snprintf(errstr, errstr_size, "out of memory");
		return ENCODE_RETRY;
	}
	if (!ev->payload) {		/* a tombstone deletes the key; it has no schema */
		*value = NULL;
		*value_len = 0;
		return ENCODE_OK;
	}
	e->buf.len = 0;
	if (avbuf_append(&e->buf, prefix, prefix_len) != 0) {
		snprintf(errstr, errstr_size, "out of memory");
		return ENCODE_RETRY;
	}
	if (avenc_encode(v->enc, ev->payload, ev->payload_len, &e->buf, why, sizeof(why)) != 0) {
		snprintf(errstr, errstr_size, "payload does not fit the schema of \"%s\" version %d: %s",
			 ev->event_type, version, why);
		return ENCODE_POISON;
	}
	*value = e->buf.data;
	*value_len = e->buf.len;
	return ENCODE_OK;
}
