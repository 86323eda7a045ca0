/*
 * registry — see registry.h.
 *
 * One libcurl easy handle per registry object: libcurl keeps the connection in it between
 * requests, so registering a pipeline's schemas costs one TCP (and TLS) handshake, not one per
 * schema. Answers are read into a buffer capped at REGISTRY_BODY_MAX, so that a url pointing at
 * something that streams forever cannot exhaust memory.
 */
#include "registry.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#ifndef OUTBOX_RELAY_VERSION
#define OUTBOX_RELAY_VERSION "dev"
#endif

#define DEFAULT_TIMEOUT_MS 30000L
#define SNIPPET_MAX 200		/* bytes of a non-JSON answer quoted in errstr */
#define CONTENT_TYPE "application/vnd.schemaregistry.v1+json"

/* A registered (subject, schema text) and its id; chained in a hash table. */
struct cache_entry {
	struct cache_entry *next;
	uint64_t hash;
	int32_t id;
	char *subject;
	char *schema;
};

struct registry {
	CURL *curl;
	char *base;			/* url without trailing slashes */
	char *password;			/* kept only to mask it in messages */
	struct curl_slist *post_headers, *get_headers;
	char curl_err[CURL_ERROR_SIZE];
	char *body;			/* the last answer, NUL-terminated */
	size_t body_len, body_cap;
	int body_too_large;
	struct cache_entry **buckets;
	size_t n_buckets, n_entries;
};

int
registry_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
registry_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- messages -------------------------------------------------------------------------- */

/* Replaces every occurrence of secret in *s (malloc'd) with "***". */
static void
mask_secret(char **s, const char *secret)
{
	size_t slen = secret ? strlen(secret) : 0, n = 0;
	const char *from, *p;
	char *out, *o;

	/* a one- or two-character password would mask half of every message */
	if (slen < 3)
		return;
	for (p = strstr(*s, secret); p; p = strstr(p + slen, secret))
		n++;
	if (n == 0)
		return;
	if (!(out = malloc(strlen(*s) + n * 3 + 1))) {
		(*s)[0] = '\0';		/* better no message than the password */
		return;
	}
	o = out;
	for (from = *s; (p = strstr(from, secret)); from = p + slen) {
		memcpy(o, from, (size_t)(p - from));
		o += p - from;
		memcpy(o, "***", 3);
		o += 3;
	}
	strcpy(o, from);
	free(*s);
	*s = out;
}

/* Formats into errstr, with the password masked even where errstr would cut it in half. */
static void set_error(struct registry *r, char *errstr, size_t errstr_size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
set_error(struct registry *r, char *errstr, size_t errstr_size, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int n;

	if (errstr_size == 0)
		return;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		snprintf(errstr, errstr_size, "schema registry: out of memory");
		return;
	}
	mask_secret(&msg, r->password);
	snprintf(errstr, errstr_size, "%s", msg);
	free(msg);
}

/* Copies at most max bytes of s into a new string, control characters made spaces. */
static char *
sanitized(const char *s, size_t len, size_t max)
{
	char *out;

	if (len > max)
		len = max;
	if (!(out = malloc(len + 1)))
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	out[len] = '\0';
	return out;
}

/*
 * Describes a non-2xx answer: the status, then Confluent's error_code and message when the body
 * is its error object, else the start of the body. Sets errstr and returns the result.
 */
static enum registry_result
status_error(struct registry *r, const char *method, const char *path, long status,
	     int is_fetch, char *errstr, size_t errstr_size)
{
	enum registry_result res = REGISTRY_UNAVAILABLE;
	json_t *root = json_loadb(r->body, r->body_len, 0, NULL);
	json_t *code = json_is_object(root) ? json_object_get(root, "error_code") : NULL;
	json_t *message = json_is_object(root) ? json_object_get(root, "message") : NULL;
	char *text = NULL, codebuf[48] = "";
	const char *hint = "";

	if (json_is_integer(code))
		snprintf(codebuf, sizeof(codebuf), " (error_code %" JSON_INTEGER_FORMAT ")",
			 json_integer_value(code));
	if (json_is_string(message))
		text = sanitized(json_string_value(message), json_string_length(message),
				 json_string_length(message));
	else if (r->body_len > 0)
		text = sanitized(r->body, r->body_len, SNIPPET_MAX);

	if (status == 409 || status == 422)
		res = REGISTRY_REJECTED;
	else if (status == 404 && is_fetch && json_is_integer(code) &&
		 json_integer_value(code) == 40403)
		res = REGISTRY_REJECTED;
	else if (status == 401 || status == 403)
		hint = " (check the registry's username and password)";
	else if (status >= 300 && status < 400)
		hint = " (redirects are not followed: set the registry url to the final address)";
	else if (status == 404)
		hint = " (is the url the registry's API base, e.g. .../apis/ccompat/v7 for Apicurio?)";

	set_error(r, errstr, errstr_size, "schema registry %s %s: HTTP %ld%s%s%s%s", method, path,
		  status, codebuf, text && *text ? ": " : "", text ? text : "", hint);
	free(text);
	json_decref(root);
	return res;
}

/* ---- HTTP ------------------------------------------------------------------------------ */

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct registry *r = arg;
	size_t n = size * nmemb;

	if (n > REGISTRY_BODY_MAX - r->body_len) {
		r->body_too_large = 1;
		return 0;	/* libcurl ends the transfer with CURLE_WRITE_ERROR */
	}
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 4096;
		char *p;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		if (!(p = realloc(r->body, cap)))
			return 0;
		r->body = p;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

/*
 * Sends one request (POST with body when body is not NULL, else GET) to base + path and reads
 * the answer into r->body. REGISTRY_OK with *status set when an answer came, whatever its status;
 * REGISTRY_UNAVAILABLE with errstr when none did.
 */
static enum registry_result
http_request(struct registry *r, const char *path, const char *body, long *status,
	     char *errstr, size_t errstr_size)
{
	const char *method = body ? "POST" : "GET";
	char *url = NULL;
	CURLcode rc;

	r->body_len = 0;
	r->body_too_large = 0;
	r->curl_err[0] = '\0';
	if (r->body)
		r->body[0] = '\0';
	if (asprintf(&url, "%s%s", r->base, path) < 0) {
		set_error(r, errstr, errstr_size, "schema registry %s %s: out of memory", method,
			  path);
		return REGISTRY_UNAVAILABLE;
	}
	if (body) {
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->post_headers);
	} else {
		curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->get_headers);
	}
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	rc = curl_easy_perform(r->curl);
	free(url);

	if (rc != CURLE_OK) {
		if (r->body_too_large)
			set_error(r, errstr, errstr_size,
				  "schema registry %s %s: answer larger than %d bytes", method, path,
				  REGISTRY_BODY_MAX);
		else
			set_error(r, errstr, errstr_size, "schema registry %s %s: %s", method, path,
				  r->curl_err[0] ? r->curl_err : curl_easy_strerror(rc));
		return REGISTRY_UNAVAILABLE;
	}
	*status = 0;
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, status);
	return REGISTRY_OK;
}

/* ---- cache ----------------------------------------------------------------------------- */

/* FNV-1a over subject, a NUL, and the schema text. */
static uint64_t
cache_hash(const char *subject, const char *schema)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)subject; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h *= 0x100000001b3ULL;
	for (p = (const unsigned char *)schema; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return h;
}

static struct cache_entry *
cache_find(const struct registry *r, uint64_t hash, const char *subject, const char *schema)
{
	if (r->n_buckets == 0)
		return NULL;
	for (struct cache_entry *e = r->buckets[hash % r->n_buckets]; e; e = e->next)
		if (e->hash == hash && strcmp(e->subject, subject) == 0 &&
		    strcmp(e->schema, schema) == 0)
			return e;
	return NULL;
}

/* Remembers an id; on out of memory it is simply not cached (the next call asks again). */
static void
cache_add(struct registry *r, uint64_t hash, const char *subject, const char *schema, int32_t id)
{
	struct cache_entry *e;

	if (r->n_entries >= r->n_buckets) {
		size_t n = r->n_buckets ? r->n_buckets * 2 : 64;
		struct cache_entry **b = calloc(n, sizeof(*b));

		if (!b)
			return;
		for (size_t i = 0; i < r->n_buckets; i++) {
			while ((e = r->buckets[i])) {
				r->buckets[i] = e->next;
				e->next = b[e->hash % n];
				b[e->hash % n] = e;
			}
		}
		free(r->buckets);
		r->buckets = b;
		r->n_buckets = n;
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->subject = strdup(subject)) ||
	    !(e->schema = strdup(schema))) {
		if (e)
			free(e->subject);
		free(e);
		return;
	}
	e->hash = hash;
	e->id = id;
	e->next = r->buckets[hash % r->n_buckets];
	r->buckets[hash % r->n_buckets] = e;
	r->n_entries++;
}

/* ---- the API --------------------------------------------------------------------------- */

/*
 * Checks that url is http(s)://host... without credentials in it. A url with an "@" is not
 * quoted in errstr: it may hold a password.
 */
static int
check_url(const char *url, char *errstr, size_t errstr_size)
{
	int quote = !strchr(url, '@');
	CURLU *u;
	char *user = NULL;
	int ret = -1;

	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
		snprintf(errstr, errstr_size, "schema registry url%s%s%s must start with http:// or "
			 "https://", quote ? " \"" : "", quote ? url : "", quote ? "\"" : "");
		return -1;
	}
	if (!(u = curl_url())) {
		snprintf(errstr, errstr_size, "schema registry: out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		snprintf(errstr, errstr_size, "schema registry url%s%s%s is not a valid URL",
			 quote ? " \"" : "", quote ? url : "", quote ? "\"" : "");
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		snprintf(errstr, errstr_size,
			 "schema registry url must not contain credentials; set username and "
			 "password instead");
	else
		ret = 0;
	curl_free(user);
	curl_url_cleanup(u);
	return ret;
}

struct registry *
registry_new(const struct registry_conf *c, char *errstr, size_t errstr_size)
{
	struct registry *r;
	size_t len;
	long timeout = c->timeout_ms > 0 ? c->timeout_ms : DEFAULT_TIMEOUT_MS;
	CURLcode rc = CURLE_OK;
	const char *what = NULL;

	if (!c->url || !*c->url) {
		snprintf(errstr, errstr_size, "schema registry url is empty");
		return NULL;
	}
	if (check_url(c->url, errstr, errstr_size) != 0)
		return NULL;
	if (!(r = calloc(1, sizeof(*r))))
		goto oom;
	if (!(r->base = strdup(c->url)) || (c->password && !(r->password = strdup(c->password))))
		goto oom;
	len = strlen(r->base);
	while (len > 0 && r->base[len - 1] == '/')
		r->base[--len] = '\0';
	if (!(r->curl = curl_easy_init()))
		goto oom;
	if (!(r->post_headers = curl_slist_append(NULL, "Content-Type: " CONTENT_TYPE)) ||
	    !curl_slist_append(r->post_headers, "Accept: " CONTENT_TYPE ", application/json") ||
	    /* no "Expect: 100-continue" round trip before larger schemas */
	    !curl_slist_append(r->post_headers, "Expect:") ||
	    !(r->get_headers = curl_slist_append(NULL, "Accept: " CONTENT_TYPE ", application/json")))
		goto oom;

/* the first failing option names itself in the message */
#define SETOPT(opt, val) \
	do { \
		if (rc == CURLE_OK && (rc = curl_easy_setopt(r->curl, opt, val)) != CURLE_OK) \
			what = #opt; \
	} while (0)

	/* a pipeline thread must never get SIGALRM from libcurl's DNS timeouts */
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, r->curl_err);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, r);
	SETOPT(CURLOPT_TIMEOUT_MS, timeout);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(CURLOPT_USERAGENT, "outbox-relay/" OUTBOX_RELAY_VERSION);
	if (c->username) {
		/* basic only: sent with the first request, no 401 round trip */
		SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(CURLOPT_USERNAME, c->username);
		SETOPT(CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	if (c->ca_location)
		SETOPT(CURLOPT_CAINFO, c->ca_location);
	if (c->cert_location)
		SETOPT(CURLOPT_SSLCERT, c->cert_location);
	if (c->key_location)
		SETOPT(CURLOPT_SSLKEY, c->key_location);
	if (c->key_password)
		SETOPT(CURLOPT_KEYPASSWD, c->key_password);
	SETOPT(CURLOPT_SSL_VERIFYPEER, c->verify_peer ? 1L : 0L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, c->verify_peer ? 2L : 0L);
#undef SETOPT

	if (rc != CURLE_OK) {
		snprintf(errstr, errstr_size, "schema registry: libcurl refuses %s: %s", what,
			 curl_easy_strerror(rc));
		registry_free(r);
		return NULL;
	}
	return r;

oom:
	snprintf(errstr, errstr_size, "schema registry: out of memory");
	registry_free(r);
	return NULL;
}

void
registry_free(struct registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_buckets; i++) {
		struct cache_entry *e, *next;

		for (e = r->buckets[i]; e; e = next) {
			next = e->next;
			free(e->subject);
			free(e->schema);
			free(e);
		}
	}
	free(r->buckets);
	if (r->curl)
		curl_easy_cleanup(r->curl);
	curl_slist_free_all(r->post_headers);
	curl_slist_free_all(r->get_headers);
	if (r->password) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r->base);
	free(r->body);
	free(r);
}

enum registry_result
registry_register(struct registry *r, const char *subject, const char *schema_text, int32_t *id,
		  char *errstr, size_t errstr_size)
{
	enum registry_result res = REGISTRY_UNAVAILABLE;
	uint64_t hash = cache_hash(subject, schema_text);
	struct cache_entry *e = cache_find(r, hash, subject, schema_text);
	json_t *req = NULL, *ans = NULL, *jid, *text;
	char *body = NULL, *escaped = NULL, *path = NULL;
	long status;

	if (e) {
		*id = e->id;
		return REGISTRY_OK;
	}
	if (!*subject) {
		set_error(r, errstr, errstr_size, "schema registry: the subject is empty");
		return REGISTRY_REJECTED;
	}
	if (!(escaped = curl_easy_escape(r->curl, subject, 0)) ||
	    asprintf(&path, "/subjects/%s/versions", escaped) < 0) {
		path = NULL;
		set_error(r, errstr, errstr_size, "schema registry: out of memory");
		goto out;
	}
	if (!(req = json_object())) {
		set_error(r, errstr, errstr_size, "schema registry: out of memory");
		goto out;
	}
	/* json_string refuses text that is not UTF-8, which no registry would take either */
	if (!(text = json_string(schema_text))) {
		set_error(r, errstr, errstr_size,
			  "schema registry POST %s: the schema text is not valid UTF-8", path);
		res = REGISTRY_REJECTED;
		goto out;
	}
	/* json_object_set_new takes text even when it fails */
	if (json_object_set_new(req, "schema", text) != 0 ||
	    !(body = json_dumps(req, JSON_COMPACT))) {
		set_error(r, errstr, errstr_size, "schema registry: out of memory");
		goto out;
	}
	if ((res = http_request(r, path, body, &status, errstr, errstr_size)) != REGISTRY_OK)
		goto out;
	if (status < 200 || status > 299) {
		res = status_error(r, "POST", path, status, 0, errstr, errstr_size);
		goto out;
	}
	ans = json_loadb(r->body, r->body_len, 0, NULL);
	jid = json_is_object(ans) ? json_object_get(ans, "id") : NULL;
	if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
	    json_integer_value(jid) > INT32_MAX) {
		char *snippet = sanitized(r->body, r->body_len, SNIPPET_MAX);

		/* not the schema's fault: most likely url is not a schema registry's API */
		set_error(r, errstr, errstr_size,
			  "schema registry POST %s: HTTP %ld but the answer is not {\"id\": "
			  "<schema id>}: \"%s\"", path, status, snippet ? snippet : "");
		free(snippet);
		res = REGISTRY_UNAVAILABLE;
		goto out;
	}
	*id = (int32_t)json_integer_value(jid);
	cache_add(r, hash, subject, schema_text, *id);
	log_info("schema registry: subject \"%s\" has schema id %" PRId32, subject, *id);
	res = REGISTRY_OK;
out:
	json_decref(ans);
	json_decref(req);
	free(body);
	free(path);
	curl_free(escaped);
	return res;
}

enum registry_result
registry_fetch(struct registry *r, int32_t id, char **schema_text, char *errstr,
	       size_t errstr_size)
{
	enum registry_result res;
	char path[48];
	json_t *ans = NULL, *schema;
	long status;

	if (id < 0) {
		set_error(r, errstr, errstr_size, "schema registry: schema id %" PRId32
			  " is negative", id);
		return REGISTRY_REJECTED;
	}
	snprintf(path, sizeof(path), "/schemas/ids/%" PRId32, id);
	if ((res = http_request(r, path, NULL, &status, errstr, errstr_size)) != REGISTRY_OK)
		return res;
	if (status < 200 || status > 299)
		return status_error(r, "GET", path, status, 1, errstr, errstr_size);

	ans = json_loadb(r->body, r->body_len, 0, NULL);
	schema = json_is_object(ans) ? json_object_get(ans, "schema") : NULL;
	if (!json_is_string(schema)) {
		char *text = sanitized(r->body, r->body_len, SNIPPET_MAX);

		set_error(r, errstr, errstr_size,
			  "schema registry GET %s: HTTP %ld but the answer is not {\"schema\": "
			  "<text>}: \"%s\"", path, status, text ? text : "");
		free(text);
		res = REGISTRY_UNAVAILABLE;
	} else if (!(*schema_text = malloc(json_string_length(schema) + 1))) {
		set_error(r, errstr, errstr_size, "schema registry: out of memory");
		res = REGISTRY_UNAVAILABLE;
	} else {
		memcpy(*schema_text, json_string_value(schema), json_string_length(schema) + 1);
		res = REGISTRY_OK;
	}
	json_decref(ans);
	return res;
}
