/*
 * avro-decode — the integration tests' Avro consumer: decodes records as outbox-relay publishes
 * them, with the writer schema each record names, the way a consumer would.
 *
 * Reads kcat's output in the format
 *     kcat -C ... -f '%K %S %h\n%k%s'
 * (key size, value size, headers, newline, key bytes, value bytes) from standard input and
 * prints one line per record:
 *     KEY <tab> HEADERS <tab> WRITER <tab> VALUE-AS-JSON
 * where WRITER is "fp:<16 hex digits>" (single-object encoding) or "id:<n>" (Confluent framing).
 * Writer schemas come from --schema FILE (any number; matched by fingerprint) and, for schema
 * ids, from --registry URL. A record that cannot be decoded ends the program with status 1 and a
 * message saying which record and why.
 */
#include <avro.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avsc.h"
#include "registry.h"

struct writer {
	uint64_t fp;
	int32_t id;		/* -1 for file schemas */
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t value;
};

static struct writer writers[256];
static size_t n_writers;

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "avro-decode: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static struct writer *
add_writer(const char *text, size_t len, uint64_t fp, int32_t id)
{
	struct writer *w = &writers[n_writers++];

	w->fp = fp;
	w->id = id;
	if (avro_schema_from_json_length(text, len, &w->schema) != 0) {
		fprintf(stderr, "avro-decode: avro-c refuses a schema: %s\n", avro_strerror());
		exit(2);
	}
	w->iface = avro_generic_class_from_schema(w->schema);
	if (!w->iface || avro_generic_value_new(w->iface, &w->value) != 0) {
		fprintf(stderr, "avro-decode: %s\n", avro_strerror());
		exit(2);
	}
	return w;
}

static int
read_exact(void *buf, size_t n)
{
	return n == 0 || fread(buf, 1, n, stdin) == n ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct registry *reg = NULL;
	char line[65536], errstr[1024];
	unsigned long long count = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--schema") == 0 && i + 1 < argc) {
			size_t len;
			char *text = slurp(argv[++i], &len);
			struct avsc_schema *s = avsc_parse(text, len, errstr, sizeof(errstr));

			if (!s) {
				fprintf(stderr, "avro-decode: %s: %s\n", argv[i], errstr);
				return 2;
			}
			add_writer(text, len, s->fingerprint, -1);
			avsc_free(s);
			free(text);
		} else if (strcmp(argv[i], "--registry") == 0 && i + 1 < argc) {
			struct registry_conf rc = { .url = argv[++i], .verify_peer = 1,
						    .timeout_ms = 10000 };

			registry_global_init();
			if (!(reg = registry_new(&rc, errstr, sizeof(errstr)))) {
				fprintf(stderr, "avro-decode: %s\n", errstr);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: avro-decode [--schema FILE]... [--registry URL]\n");
			return 2;
		}
	}

	while (fgets(line, sizeof(line), stdin)) {
		long klen, vlen;
		char *headers, *key, *json = NULL;
		unsigned char *val;
		struct writer *w = NULL;
		size_t off;
		char who[40];
		avro_reader_t rd;

		if (line[0] == '\n')
			continue;
		if (sscanf(line, "%ld %ld", &klen, &vlen) != 2) {
			fprintf(stderr, "avro-decode: record %llu: bad kcat header line: %s", count, line);
			return 1;
		}
		headers = strchr(strchr(line, ' ') + 1, ' ');
		headers = headers ? headers + 1 : (char *)"";
		headers[strcspn(headers, "\n")] = '\0';
		key = calloc(1, klen > 0 ? (size_t)klen + 1 : 1);
		val = malloc(vlen > 0 ? (size_t)vlen : 1);
		if (!key || !val || read_exact(key, klen > 0 ? (size_t)klen : 0) != 0 ||
		    read_exact(val, vlen > 0 ? (size_t)vlen : 0) != 0) {
			fprintf(stderr, "avro-decode: record %llu: truncated input\n", count);
			return 1;
		}
		count++;
		if (vlen < 0) {
			printf("%s\t%s\ttombstone\tnull\n", key, headers);
			free(key);
			free(val);
			continue;
		}
		if (vlen >= 10 && val[0] == 0xC3 && val[1] == 0x01) {
			uint64_t fp = 0;

			for (int i = 0; i < 8; i++)
				fp |= (uint64_t)val[2 + i] << (8 * i);
			for (size_t i = 0; i < n_writers; i++)
				if (writers[i].id < 0 && writers[i].fp == fp)
					w = &writers[i];
			snprintf(who, sizeof(who), "fp:%016" PRIx64, fp);
			off = 10;
		} else if (vlen >= 5 && val[0] == 0) {
			int32_t id = (int32_t)((uint32_t)val[1] << 24 | (uint32_t)val[2] << 16 |
					       (uint32_t)val[3] << 8 | val[4]);

			for (size_t i = 0; i < n_writers; i++)
				if (writers[i].id == id)
					w = &writers[i];
			if (!w && reg) {
				char *text;

				if (registry_fetch(reg, id, &text, errstr, sizeof(errstr)) !=
				    REGISTRY_OK) {
					fprintf(stderr, "avro-decode: record %llu (key %s): schema id %d: "
						"%s\n", count, key, (int)id, errstr);
					return 1;
				}
				w = add_writer(text, strlen(text), 0, id);
				free(text);
			}
			snprintf(who, sizeof(who), "id:%d", (int)id);
			off = 5;
		} else {
			fprintf(stderr, "avro-decode: record %llu (key %s): not Avro-framed (first byte "
				"0x%02x)\n", count, key, vlen ? val[0] : 0);
			return 1;
		}
		if (!w) {
			fprintf(stderr, "avro-decode: record %llu (key %s): unknown writer schema %s\n",
				count, key, who);
			return 1;
		}
		avro_value_reset(&w->value);
		rd = avro_reader_memory((const char *)val + off, (int64_t)((size_t)vlen - off));
		/* the body must be exactly one value: its re-encoded size is the bytes left */
		size_t size = 0;

		if (avro_value_read(rd, &w->value) != 0 || avro_value_sizeof(&w->value, &size) != 0 ||
		    size != (size_t)vlen - off || avro_value_to_json(&w->value, 1, &json) != 0) {
			fprintf(stderr, "avro-decode: record %llu (key %s): does not decode with %s: %s\n",
				count, key, who, avro_strerror());
			return 1;
		}
		avro_reader_free(rd);
		printf("%s\t%s\t%s\t%s\n", key, headers, who, json);
		free(json);
		free(key);
		free(val);
	}
	for (size_t i = 0; i < n_writers; i++) {
		avro_value_decref(&writers[i].value);
		avro_value_iface_decref(writers[i].iface);
		avro_schema_decref(writers[i].schema);
	}
	registry_free(reg);
	return 0;
}
