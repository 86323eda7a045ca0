/*
 * catalog — see catalog.h.
 */
#include "catalog.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avsc.h"
#include "cli.h"
#include "compat.h"
#include "db.h"

#define EXIT_USAGE 64
#define EXIT_DATAERR 65
#define EXIT_UNAVAILABLE 69
#define EXIT_SOFTWARE 70
#define EXIT_CONFIG 78

#define SCHEMA_FILE_MAX (4 << 20)

/* "schema"."table_schemas", quoted for SQL (conf refused names too long for it with
 * format = "avro"; a json source's schema command may still meet one: then "", which fails) */
static void
catalog_table(const struct conf_source *src, char *buf, size_t size)
{
	if (db_table_sql(src, "_schemas", buf, size, NULL, 0) != 0)
		buf[0] = '\0';
}

/* A catalog query failed: say so, and what to do when the table is simply missing. */
static int
catalog_error(PGconn *conn, PGresult *res, const struct conf_source *src, char *errstr,
	      size_t errstr_size)
{
	return db_table_error(conn, res, src, "_schemas", "schema catalog", errstr, errstr_size);
}

int
catalog_fetch(PGconn *conn, const struct conf_source *src, const char *event_type, int version,
	      char **text, char *errstr, size_t errstr_size)
{
	char sql[1024], table[DB_QUALIFIED_SIZE], vbuf[16];
	const char *params[2] = { event_type, vbuf };
	PGresult *res;

	*text = NULL;
	catalog_table(src, table, sizeof(table));
	snprintf(sql, sizeof(sql),
		 "SELECT schema FROM %s WHERE event_type = $1 AND schema_version = $2", table);
	snprintf(vbuf, sizeof(vbuf), "%d", version);
	res = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return catalog_error(conn, res, src, errstr, errstr_size);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	*text = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!*text) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	return 1;
}

/* ---- the schema command ---- */

struct version_list {
	struct avsc_schema **schemas;
	int *versions;
	int64_t *stored_fp;	/* INT64_MIN = NULL in the table */
	size_t n;
};

static void
versions_free(struct version_list *v)
{
	for (size_t i = 0; i < v->n; i++)
		avsc_free(v->schemas[i]);
	free(v->schemas);
	free(v->versions);
	free(v->stored_fp);
	memset(v, 0, sizeof(*v));
}

/*
 * Loads and parses every version of event_type, oldest first. Returns 0, or -1 with errstr
 * (a database failure, or a stored schema that does not parse).
 */
static int
load_versions(PGconn *conn, const struct conf_source *src, const char *event_type,
	      struct version_list *out, char *errstr, size_t errstr_size)
{
	char sql[1024], table[DB_QUALIFIED_SIZE];
	const char *params[1] = { event_type };
	PGresult *res;
	int n;

	memset(out, 0, sizeof(*out));
	catalog_table(src, table, sizeof(table));
	snprintf(sql, sizeof(sql),
		 "SELECT schema_version, schema, fingerprint FROM %s WHERE event_type = $1 "
		 "ORDER BY schema_version", table);
	res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return catalog_error(conn, res, src, errstr, errstr_size);
	n = PQntuples(res);
	out->schemas = calloc((size_t)n + 1, sizeof(*out->schemas));
	out->versions = calloc((size_t)n + 1, sizeof(*out->versions));
	out->stored_fp = calloc((size_t)n + 1, sizeof(*out->stored_fp));
	if (!out->schemas || !out->versions || !out->stored_fp) {
		PQclear(res);
		versions_free(out);
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char why[512];
		const char *text = PQgetvalue(res, i, 1);
		struct avsc_schema *s = avsc_parse(text, strlen(text), why, sizeof(why));

		out->versions[i] = atoi(PQgetvalue(res, i, 0));
		if (!s) {
			snprintf(errstr, errstr_size, "%s version %d in the catalog is not a valid "
				 "Avro schema: %s", event_type, out->versions[i], why);
			PQclear(res);
			versions_free(out);
			return -1;
		}
		out->stored_fp[i] = PQgetisnull(res, i, 2) ? INT64_MIN
			: strtoll(PQgetvalue(res, i, 2), NULL, 10);
		out->schemas[out->n++] = s;
	}
	PQclear(res);
	return 0;
}

static char *
read_file(const char *path, size_t *len, char *errstr, size_t errstr_size)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n = 0;

	if (!f) {
		snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!(buf = malloc(SCHEMA_FILE_MAX + 1))) {
		snprintf(errstr, errstr_size, "out of memory");
		if (f != stdin)
			fclose(f);
		return NULL;
	}
	n = fread(buf, 1, SCHEMA_FILE_MAX + 1, f);
	if (ferror(f) || n > SCHEMA_FILE_MAX) {
		snprintf(errstr, errstr_size, "%s: %s", path,
			 ferror(f) ? strerror(errno) : "larger than 4 MiB");
		free(buf);
		if (f != stdin)
			fclose(f);
		return NULL;
	}
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static const char *
schema_usage(void)
{
	return "Usage:\n"
	       "  outbox-relay schema add [-c FILE] [--source NAME] --event-type TYPE\n"
	       "                          [--version N] SCHEMA.avsc\n"
	       "      add a version of TYPE's schema (the next one unless --version); refused when\n"
	       "      it breaks the source's compatibility rule with the versions before it\n"
	       "  outbox-relay schema check [-c FILE] [--source NAME] [--event-type TYPE\n"
	       "                            [SCHEMA.avsc]]\n"
	       "      with a file: whether it could be added as TYPE's next version;\n"
	       "      without: verify the catalog (every schema valid, every version compatible)\n"
	       "  outbox-relay schema list [-c FILE] [--source NAME] [--event-type TYPE] [--json]\n"
	       "  outbox-relay schema show [-c FILE] [--source NAME] --event-type TYPE --version N\n"
	       "\n"
	       "--source may be left out when the config has one source. SCHEMA.avsc \"-\" reads\n"
	       "standard input. Exit status: 0 ok, 64 usage, 65 incompatible or invalid schema,\n"
	       "69 database unreachable, 78 configuration error.\n";
}

/* Checks candidate against versions under the source's rule; errstr names version and field. */
static int
check_against(const struct conf_source *src, const char *event_type, int new_version,
	      const struct avsc_schema *candidate, const struct version_list *v, char *errstr,
	      size_t errstr_size)
{
	char why[1024];

	if (compat_check((enum compat_level)src->compatibility, candidate,
			 (const struct avsc_schema *const *)v->schemas, v->versions, v->n, why,
			 sizeof(why)) != 0) {
		snprintf(errstr, errstr_size, "%s version %d: %s", event_type, new_version, why);
		return -1;
	}
	return 0;
}

static int
cmd_add_or_check(PGconn *conn, const struct conf_source *src, const struct catalog_args *a,
		 int add)
{
	char errstr[2048], table[DB_QUALIFIED_SIZE], sql[1024], vbuf[16], fpbuf[32];
	struct version_list v;
	struct avsc_schema *cand;
	char *text;
	size_t len;
	int version, rc = 0;
	PGresult *res;

	if (!(text = read_file(a->file, &len, errstr, sizeof(errstr)))) {
		fprintf(stderr, "outbox-relay schema: %s\n", errstr);
		return EXIT_USAGE;
	}
	if (!(cand = avsc_parse(text, len, errstr, sizeof(errstr)))) {
		fprintf(stderr, "outbox-relay schema: %s is not a valid Avro schema: %s\n", a->file,
			errstr);
		free(text);
		return EXIT_DATAERR;
	}
	/* one writer at a time: two concurrent adds must not both become version N */
	res = PQexec(conn, "BEGIN");
	PQclear(res);
	catalog_table(src, table, sizeof(table));
	snprintf(sql, sizeof(sql), "LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE", table);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		catalog_error(conn, res, src, errstr, sizeof(errstr));
		fprintf(stderr, "outbox-relay schema: %s\n", errstr);
		rc = EXIT_UNAVAILABLE;
		goto out_noversions;
	}
	PQclear(res);
	if (load_versions(conn, src, a->event_type, &v, errstr, sizeof(errstr)) != 0) {
		fprintf(stderr, "outbox-relay schema: %s\n", errstr);
		rc = EXIT_DATAERR;
		goto out_noversions;
	}
	version = a->version ? a->version : v.n ? v.versions[v.n - 1] + 1 : 1;
	if (v.n && version <= v.versions[v.n - 1]) {
		fprintf(stderr, "outbox-relay schema: %s already has version %d; a new version "
			"must be above it (versions are never changed once events use them)\n",
			a->event_type, v.versions[v.n - 1]);
		rc = EXIT_DATAERR;
		goto out;
	}
	if (v.n && strcmp(v.schemas[v.n - 1]->canonical, cand->canonical) == 0 &&
	    strcmp(v.schemas[v.n - 1]->text, cand->text) == 0) {
		printf("%s: identical to %s version %d; nothing %s\n", a->file, a->event_type,
		       v.versions[v.n - 1], add ? "added" : "to add");
		goto out;
	}
	if (check_against(src, a->event_type, version, cand, &v, errstr, sizeof(errstr)) != 0) {
		fprintf(stderr, "outbox-relay schema: %s: %s\n", a->file, errstr);
		rc = EXIT_DATAERR;
		goto out;
	}
	if (!add) {
		printf("%s: compatible (%s) with %zu existing version(s) of %s; would be version %d\n",
		       a->file, compat_level_name((enum compat_level)src->compatibility), v.n,
		       a->event_type, version);
		goto out;
	}
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (event_type, schema_version, schema, fingerprint) "
		 "VALUES ($1, $2, $3, $4)", table);
	snprintf(vbuf, sizeof(vbuf), "%d", version);
	snprintf(fpbuf, sizeof(fpbuf), "%" PRId64, (int64_t)cand->fingerprint);
	{
		const char *params[4] = { a->event_type, vbuf, cand->text, fpbuf };

		res = PQexecParams(conn, sql, 4, NULL, params, NULL, NULL, 0);
	}
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		res = PQexec(conn, "COMMIT");
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_error(conn, res, "adding the schema", errstr, sizeof(errstr));
		fprintf(stderr, "outbox-relay schema: %s\n", errstr);
		rc = EXIT_UNAVAILABLE;
		goto out;
	}
	PQclear(res);
	printf("added %s version %d (fingerprint %016" PRIx64 ", %s)\n", a->event_type, version,
	       cand->fingerprint, compat_level_name((enum compat_level)src->compatibility));
out:
	versions_free(&v);
out_noversions:
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
	avsc_free(cand);
	free(text);
	return rc;
}

/* The whole catalog (or one event type): valid, fingerprints right, versions compatible. */
static int
cmd_verify(PGconn *conn, const struct conf_source *src, const struct catalog_args *a)
{
	char errstr[2048], table[DB_QUALIFIED_SIZE], sql[1024];
	const char *params[1] = { a->event_type };
	PGresult *res;
	int problems = 0, checked = 0;

	catalog_table(src, table, sizeof(table));
	snprintf(sql, sizeof(sql), "SELECT DISTINCT event_type FROM %s%s ORDER BY 1", table,
		 a->event_type ? " WHERE event_type = $1" : "");
	res = PQexecParams(conn, sql, a->event_type ? 1 : 0, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		catalog_error(conn, res, src, errstr, sizeof(errstr));
		fprintf(stderr, "outbox-relay schema: %s\n", errstr);
		return EXIT_UNAVAILABLE;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *type = PQgetvalue(res, i, 0);
		struct version_list v;

		if (load_versions(conn, src, type, &v, errstr, sizeof(errstr)) != 0) {
			printf("%s: %s\n", type, errstr);
			problems++;
			continue;
		}
		for (size_t j = 0; j < v.n; j++) {
			struct version_list before = v;

			checked++;
			if (v.stored_fp[j] != INT64_MIN &&
			    (uint64_t)v.stored_fp[j] != v.schemas[j]->fingerprint) {
				printf("%s version %d: stored fingerprint %016" PRIx64 " is not the "
				       "schema's (%016" PRIx64 ")\n", type, v.versions[j],
				       (uint64_t)v.stored_fp[j], v.schemas[j]->fingerprint);
				problems++;
			}
			before.n = j;
			if (check_against(src, type, v.versions[j], v.schemas[j], &before, errstr,
					  sizeof(errstr)) != 0) {
				printf("%s\n", errstr);
				problems++;
			}
		}
		versions_free(&v);
	}
	PQclear(res);
	if (problems) {
		printf("%d problem(s) in %d schema version(s)\n", problems, checked);
		return EXIT_DATAERR;
	}
	printf("ok: %d schema version(s), each valid and %s compatible with those before it\n",
	       checked, compat_level_name((enum compat_level)src->compatibility));
	return 0;
}

static int
cmd_list(PGconn *conn, const struct conf_source *src, const struct catalog_args *a)
{
	char errstr[1024], table[DB_QUALIFIED_SIZE], sql[1024];
	const char *params[1] = { a->event_type };
	PGresult *res;
	json_t *arr = a->json ? json_array() : NULL;

	catalog_table(src, table, sizeof(table));
	snprintf(sql, sizeof(sql),
		 "SELECT event_type, schema_version, schema, "
		 "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
		 "FROM %s%s ORDER BY 1, 2", table, a->event_type ? " WHERE event_type = $1" : "");
	res = PQexecParams(conn, sql, a->event_type ? 1 : 0, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		catalog_error(conn, res, src, errstr, sizeof(errstr));
		fprintf(stderr, "outbox-relay schema: %s\n", errstr);
		json_decref(arr);
		return EXIT_UNAVAILABLE;
	}
	if (!a->json)
		printf("%-32s %7s  %-16s  %-20s  %s\n", "EVENT TYPE", "VERSION", "FINGERPRINT",
		       "CREATED", "NAME");
	for (int i = 0; i < PQntuples(res); i++) {
		const char *text = PQgetvalue(res, i, 2);
		struct avsc_schema *s = avsc_parse(text, strlen(text), errstr, sizeof(errstr));
		char fp[24] = "-";
		const char *name = "(invalid schema)";

		if (s) {
			snprintf(fp, sizeof(fp), "%016" PRIx64, s->fingerprint);
			name = s->root->fullname ? s->root->fullname : avsc_type_name(s->root->type);
		}
		if (arr)
			json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s?}",
				"event_type", PQgetvalue(res, i, 0),
				"schema_version", atoi(PQgetvalue(res, i, 1)),
				"fingerprint", fp, "created_at", PQgetvalue(res, i, 3),
				"name", name, "error", s ? NULL : errstr));
		else
			printf("%-32s %7s  %-16s  %-20s  %s\n", PQgetvalue(res, i, 0),
			       PQgetvalue(res, i, 1), fp, PQgetvalue(res, i, 3), name);
		avsc_free(s);
	}
	PQclear(res);
	if (arr) {
		char *out = json_dumps(arr, JSON_INDENT(2));

		if (out)
			puts(out);
		free(out);
		json_decref(arr);
	}
	return 0;
}

static int
cmd_show(PGconn *conn, const struct conf_source *src, const struct catalog_args *a)
{
	char errstr[1024], *text;
	int r = catalog_fetch(conn, src, a->event_type, a->version, &text, errstr, sizeof(errstr));

	if (r < 0) {
		fprintf(stderr, "outbox-relay schema: %s\n", errstr);
		return EXIT_UNAVAILABLE;
	}
	if (r == 0) {
		fprintf(stderr, "outbox-relay schema: %s has no version %d\n", a->event_type,
			a->version);
		return EXIT_DATAERR;
	}
	fputs(text, stdout);
	if (*text && text[strlen(text) - 1] != '\n')
		putchar('\n');
	free(text);
	return 0;
}

int
catalog_parse_args(int argc, char **argv, const char *default_config, struct catalog_args *a,
		   char *errstr, size_t errstr_size)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "source", required_argument, NULL, 's' },
		{ "event-type", required_argument, NULL, 'e' },
		{ "version", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub;
	int c;

	memset(a, 0, sizeof(*a));
	a->config = default_config;
	if (argc < 2) {
		snprintf(errstr, errstr_size, "outbox-relay schema: no subcommand given");
		return CLI_PARSE_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return CLI_PARSE_HELP;
	sub = a->command = argv[1];
	if (strcmp(sub, "add") != 0 && strcmp(sub, "check") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "show") != 0) {
		snprintf(errstr, errstr_size, "outbox-relay schema: unknown subcommand \"%s\"", sub);
		return CLI_PARSE_ERROR_USAGE;
	}
	optind = 0;	/* a full restart of getopt: see cli.h */
	while ((c = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case 's': a->source = optarg; break;
		case 'e': a->event_type = optarg; break;
		case 'v': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > 2147483647) {
				snprintf(errstr, errstr_size, "outbox-relay schema: --version must be a "
					 "positive integer, not \"%s\"", optarg);
				return CLI_PARSE_ERROR;
			}
			a->version = (int)v;
			break;
		}
		case 'j': a->json = 1; break;
		case 'h': return CLI_PARSE_HELP;
		default:
			snprintf(errstr, errstr_size, "outbox-relay schema: invalid option");
			return CLI_PARSE_USAGE;
		}
	}
	if (optind + 1 < argc - 1) {
		snprintf(errstr, errstr_size, "outbox-relay schema %s: unexpected argument \"%s\"",
			 sub, argv[optind + 2]);
		return CLI_PARSE_ERROR;
	}
	a->file = optind < argc - 1 ? argv[optind + 1] : NULL;
	if ((strcmp(sub, "add") == 0 && (!a->event_type || !a->file)) ||
	    (strcmp(sub, "show") == 0 && (!a->event_type || !a->version)) ||
	    (strcmp(sub, "check") == 0 && a->file && !a->event_type) ||
	    (strcmp(sub, "list") == 0 && a->file)) {
		snprintf(errstr, errstr_size, "outbox-relay schema %s: missing or extra arguments",
			 sub);
		return CLI_PARSE_ERROR_USAGE;
	}
	return CLI_PARSE_OK;
}

int
catalog_command(int argc, char **argv, struct conf *(*load)(const char *path),
		const char *default_config)
{
	struct catalog_args a;
	const struct conf_source *src = NULL;
	char errstr[1024] = "";
	const char *sub;
	struct conf *cfg;
	PGconn *conn;
	int rc;

	rc = catalog_parse_args(argc, argv, default_config, &a, errstr, sizeof(errstr));
	if (rc != CLI_PARSE_OK)
		return cli_finish(rc, errstr, schema_usage());
	sub = a.command;
	if (!(cfg = load(a.config)))
		return EXIT_CONFIG;
	if (!(conn = db_command_connect(cfg, a.source, "schema", &src, &rc))) {
		conf_destroy(cfg);
		return rc;
	}
	if (strcmp(sub, "add") == 0)
		rc = cmd_add_or_check(conn, src, &a, 1);
	else if (strcmp(sub, "check") == 0)
		rc = a.file ? cmd_add_or_check(conn, src, &a, 0) : cmd_verify(conn, src, &a);
	else if (strcmp(sub, "list") == 0)
		rc = cmd_list(conn, src, &a);
	else
		rc = cmd_show(conn, src, &a);
	PQfinish(conn);
	conf_destroy(cfg);
	return rc;
}
