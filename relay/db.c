/*
 * db — see db.h.
 */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* libpq prints server notices (a shutdown warning, ...) straight to stderr; keep them in the
 * log's one-line format, attributed to the source. */
static void
notice_to_log(void *arg, const char *message)
{
	const struct conf_source *src = arg;
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", message);
	log_warning("source \"%s\": database: %s", src->name, log_trim(msg));
}

PGconn *
db_connect(const struct conf_source *src, int replication, char *server, size_t server_size,
	   char *errstr, size_t errstr_size)
{
	/* later entries win: the dsn (expanded as dbname) overrides the defaults before it, and
	 * replication, after it, overrides the dsn */
	const char *keys[] = { "connect_timeout", "fallback_application_name", "dbname",
			       replication ? "replication" : NULL, NULL };
	char appname[96], msg[1024];
	const char *vals[] = { "10", appname, src->dsn, "database", NULL };
	PGconn *c;

	snprintf(appname, sizeof(appname), "outbox-relay/%s", src->name);
	snprintf(server, server_size, "?");
	/* never libpq's parse error: it may quote the password (conf_check_dsn) */
	if (conf_check_dsn(src->dsn, msg, sizeof(msg)) != 0) {
		snprintf(errstr, errstr_size, "dsn: %s", msg);
		return NULL;
	}
	if (!(c = PQconnectdbParams(keys, vals, 1))) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	snprintf(server, server_size, "%s:%s", PQhost(c) ? PQhost(c) : "?",
		 PQport(c) ? PQport(c) : "?");
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		log_flatten(msg);
		snprintf(errstr, errstr_size, "%s", msg);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, notice_to_log, (void *)src);
	return c;
}

int
db_error(PGconn *conn, PGresult *res, const char *what, char *errstr, size_t errstr_size)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s",
		 res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	log_flatten(msg);
	snprintf(errstr, errstr_size, "%s: %s", what, msg);
	PQclear(res);
	return -1;
}

int
db_table_error(PGconn *conn, PGresult *res, const struct conf_source *src, const char *suffix,
	       const char *what, char *errstr, size_t errstr_size)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state && strcmp(state, "42P01") == 0) {
		char shown[DB_QUALIFIED_SIZE];

		snprintf(errstr, errstr_size, "%s: %s does not exist; apply the migrations "
			 "(outbox-relay migrate) first", what,
			 db_table_display(src, suffix, shown, sizeof(shown)));
		PQclear(res);
		return -1;
	}
	return db_error(conn, res, what, errstr, errstr_size);
}

PGconn *
db_command_connect(const struct conf *cfg, const char *name, const char *cmd,
		   const struct conf_source **src, int *exit_code)
{
	char server[256], errstr[1024];
	PGconn *conn;

	*src = NULL;
	for (size_t i = 0; i < cfg->n_sources; i++)
		if (name ? strcmp(cfg->sources[i].name, name) == 0 : cfg->n_sources == 1)
			*src = &cfg->sources[i];
	if (!*src) {
		if (name)
			fprintf(stderr, "outbox-relay %s: %s has no source \"%s\"\n", cmd, cfg->path,
				name);
		else
			fprintf(stderr, "outbox-relay %s: %s has %zu sources; say which with "
				"--source NAME\n", cmd, cfg->path, cfg->n_sources);
		*exit_code = 64;
		return NULL;
	}
	if (!(conn = db_connect(*src, 0, server, sizeof(server), errstr, sizeof(errstr)))) {
		fprintf(stderr, "outbox-relay %s: source \"%s\": could not connect to %s: %s\n", cmd,
			(*src)->name, server, errstr);
		*exit_code = 69;
		return NULL;
	}
	return conn;
}

int
db_quote_ident(const char *name, char *buf, size_t size)
{
	size_t n = 0;

	if (size > 0)
		buf[0] = '\0';
	if (!*name || strlen(name) > DB_IDENT_MAX || size < 3)
		return -1;
	buf[n++] = '"';
	for (const char *c = name; *c; c++) {
		if (n + (*c == '"' ? 2 : 1) + 2 > size) {
			buf[0] = '\0';
			return -1;
		}
		if (*c == '"')
			buf[n++] = '"';
		buf[n++] = *c;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return 0;
}

int
db_table_sql(const struct conf_source *src, const char *suffix, char *buf, size_t size,
	     char *errstr, size_t errstr_size)
{
	char table[DB_IDENT_MAX + 64], qs[DB_QUOTED_SIZE], qt[DB_QUOTED_SIZE];
	size_t len = strlen(src->table_name) + strlen(suffix);

	if (size > 0)
		buf[0] = '\0';
	if (len > DB_IDENT_MAX) {
		snprintf(errstr, errstr_size, "table name \"%s%s\" is too long: %zu bytes, PostgreSQL's "
			 "limit is %d (NAMEDATALEN - 1)", src->table_name, suffix, len, DB_IDENT_MAX);
		return -1;
	}
	snprintf(table, sizeof(table), "%s%s", src->table_name, suffix);
	if (db_quote_ident(src->schema_name, qs, sizeof(qs)) != 0 ||
	    db_quote_ident(table, qt, sizeof(qt)) != 0 ||
	    (size_t)snprintf(buf, size, "%s.%s", qs, qt) >= size) {
		if (size > 0)
			buf[0] = '\0';
		snprintf(errstr, errstr_size, "invalid table name %s.%s", src->schema_name, table);
		return -1;
	}
	return 0;
}

/* name as written when plain, else quoted; into buf */
static void
display_ident(const char *name, char *buf, size_t size)
{
	int plain = *name && !(*name >= '0' && *name <= '9');

	for (const char *c = name; *c && plain; c++)
		plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '_';
	if (plain || db_quote_ident(name, buf, size) != 0)
		snprintf(buf, size, "%s", name);
}

const char *
db_table_display(const struct conf_source *src, const char *suffix, char *buf, size_t size)
{
	char table[DB_IDENT_MAX + 64], qs[DB_QUOTED_SIZE], qt[DB_QUOTED_SIZE];

	snprintf(table, sizeof(table), "%s%s", src->table_name, suffix);
	display_ident(src->schema_name, qs, sizeof(qs));
	display_ident(table, qt, sizeof(qt));
	snprintf(buf, size, "%s.%s", qs, qt);
	return buf;
}

long long
db_int8(const char *text)
{
	const char *s = text;
	int neg = *s == '-';
	long long v = 0;
	int n = 0;

	s += neg;
	/* up to 18 digits cannot overflow; anything else (more digits, spaces, a sign '+', an
	 * empty text) is strtoll's */
	while (n < 18 && s[n] >= '0' && s[n] <= '9') {
		v = v * 10 + (s[n] - '0');
		n++;
	}
	if (n == 0 || s[n] != '\0')
		return strtoll(text, NULL, 10);
	return neg ? -v : v;
}

size_t
db_format_int8(char *out, long long v)
{
	char digits[DB_INT8_SIZE];
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	size_t n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		out[len++] = '-';
	while (n)
		out[len++] = digits[--n];
	return len;
}
