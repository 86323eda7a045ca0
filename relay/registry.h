/*
 * registry — the relay's Confluent Schema Registry client, for the encode stage: before the first
 * event of a schema version is framed (0x00, then the big-endian schema id, then Avro binary), the
 * schema is registered under its subject and the registry's id is remembered.
 *
 * HTTP through libcurl, JSON through jansson. Any registry speaking Confluent's REST API works:
 * Confluent's own, Apicurio's /apis/ccompat/v7 (tests/registry), Karapace, Redpanda. Requests do
 * not follow redirects (a redirect would carry credentials elsewhere): point url at the final
 * address.
 *
 * Threading: a registry object owns one libcurl easy handle, which keeps its connection alive
 * between requests, and is not thread-safe. Create one per pipeline thread. registry_global_init
 * must have run, in main, before any thread starts.
 *
 * Failures come in two kinds, so that the pipeline knows whether to retry:
 *   REGISTRY_UNAVAILABLE  cannot tell now: no connection, timeout, TLS failure, 5xx, 429, 408,
 *                         401/403 (credentials are configuration, fixed by an operator, so the
 *                         relay keeps retrying and logging rather than dead-lettering), a
 *                         redirect, any status not listed under REJECTED, or an answer that
 *                         is not what the API promises (not JSON, no id; most likely url points
 *                         at something that is not a schema registry). Retry with backoff;
 *                         never publish the event meanwhile.
 *   REGISTRY_REJECTED     the registry said this schema (or id) is at fault, and will say so
 *                         again: 409 (incompatible with the subject's earlier versions), 422
 *                         (invalid schema), for registry_fetch 404 with error_code 40403 (no
 *                         such id); also schema text that is not UTF-8.
 * errstr then reads, for example:
 *   schema registry POST /subjects/orders-value/versions: HTTP 409 (error_code 409): Schema
 *   being registered is incompatible with an earlier schema for subject "orders-value"
 * It names the request's path (below url), never the credentials; should the registry echo the
 * password in a message, it is masked.
 */
#ifndef OUTBOX_RELAY_REGISTRY_H
#define OUTBOX_RELAY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define REGISTRY_BODY_MAX (1024 * 1024)	/* larger answers are refused (UNAVAILABLE) */

struct registry_conf {
	const char *url;		/* base URL, e.g. http://host:8081; trailing slashes ignored */
	const char *username;		/* HTTP basic auth; NULL = none */
	const char *password;		/* never logged, never in errstr */
	const char *ca_location;	/* CA bundle file; NULL = the system's */
	const char *cert_location;	/* client certificate (PEM); NULL = none */
	const char *key_location;	/* its private key (PEM); NULL = in cert_location or none */
	const char *key_password;	/* of the private key; NULL = none */
	int verify_peer;		/* 1: check the server's certificate and host name (default) */
	long timeout_ms;		/* whole request, connecting included; <= 0: 30000 */
};

struct registry;

enum registry_result {
	REGISTRY_OK = 0,
	REGISTRY_UNAVAILABLE,	/* transient or configuration: retry with backoff */
	REGISTRY_REJECTED	/* permanent for this schema: the event cannot be encoded */
};

/* curl_global_init. Call once from main before any thread starts; 0, or -1 if it failed. */
int registry_global_init(void);

/* curl_global_cleanup, once at the very end (only for tidy valgrind runs). */
void registry_global_cleanup(void);

/*
 * A client for the registry at c->url. Copies what it needs from c (which need not outlive it).
 * Connects nowhere yet. NULL with errstr on a bad url (empty, not http:// or https://), on a TLS
 * option libcurl refuses, or out of memory.
 */
struct registry *registry_new(const struct registry_conf *c, char *errstr, size_t errstr_size);

/* Frees r and closes its connection. NULL is a no-op. */
void registry_free(struct registry *r);

/*
 * Registers schema_text (the .avsc text, sent as is) under subject with
 * POST /subjects/{subject}/versions and sets *id to the registry's schema id. Registering a
 * schema the subject already has is not an error: the registry answers with its existing id.
 * Answers are cached by (subject, schema text) for the life of r: asking again costs no
 * request. Failures are not cached. *id is only written on REGISTRY_OK.
 */
enum registry_result registry_register(struct registry *r, const char *subject,
				       const char *schema_text, int32_t *id, char *errstr,
				       size_t errstr_size);

/*
 * GET /schemas/ids/{id}: on REGISTRY_OK, *schema_text is the schema's text as the registry
 * stores it, malloc'd and owned by the caller. Not cached. For tests and tools.
 */
enum registry_result registry_fetch(struct registry *r, int32_t id, char **schema_text,
				    char *errstr, size_t errstr_size);

#endif
