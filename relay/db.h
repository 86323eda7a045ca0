/*
 * db — how every module reaches a source's database: one way to connect (the same defaults,
 * application_name and notice handling for the poll, logical and status paths) and one way to
 * turn a libpq failure into a message.
 */
#ifndef OUTBOX_RELAY_DB_H
#define OUTBOX_RELAY_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "conf.h"

/*
 * Connects to src's dsn (replication = a replication=database connection). server gets
 * "host:port" for messages, never the dsn, even when the connection fails. Server notices go
 * to the log, attributed to the source. Returns the connection, or NULL with errstr (libpq's
 * message, on one line).
 */
PGconn *db_connect(const struct conf_source *src, int replication, char *server,
		   size_t server_size, char *errstr, size_t errstr_size);

/*
 * Writes "what: <PostgreSQL's message>" into errstr, taking the message from res when it has
 * one, else from conn; clears res. Returns -1, so callers can `return db_error(...)`.
 */
int db_error(PGconn *conn, PGresult *res, const char *what, char *errstr, size_t errstr_size);

/*
 * db_error for a query on one of a source's side tables, <schema>.<table><suffix> (the schema
 * catalog, the dead-letter record, the replay history): when the table does not exist the
 * message says to apply the migrations. Clears res; returns -1.
 */
int db_table_error(PGconn *conn, PGresult *res, const struct conf_source *src,
		   const char *suffix, const char *what, char *errstr, size_t errstr_size);

/*
 * Identifiers in SQL. Every configured name (schema, table, column, publication, slot) reaches
 * SQL through these, never by pasting it between quotes: a name may hold a double quote
 * (Out"box), a space, a dot, upper case or any UTF-8. DB_IDENT_MAX is PostgreSQL's limit
 * (NAMEDATALEN - 1): a longer name would be cut short by the server, so it is refused instead.
 */
#define DB_IDENT_MAX 63
#define DB_QUOTED_SIZE (2 * DB_IDENT_MAX + 3)		/* "..." with every byte doubled, NUL */
#define DB_QUALIFIED_SIZE (2 * DB_QUOTED_SIZE)		/* "schema"."table" */

/*
 * Writes name as a quoted SQL identifier ("Out""box") into buf. Returns 0, or -1 when name is
 * empty, longer than DB_IDENT_MAX bytes or the result does not fit size (buf is then "").
 */
int db_quote_ident(const char *name, char *buf, size_t size);

/*
 * The source's table, or its side table <table><suffix> (suffix "" or e.g. "_dead_letters"), as
 * "schema"."table<suffix>" for SQL. Returns 0, or -1 with errstr naming the table and the
 * 63-byte limit when <table><suffix> is too long for PostgreSQL.
 */
int db_table_sql(const struct conf_source *src, const char *suffix, char *buf, size_t size,
		 char *errstr, size_t errstr_size);

/*
 * The same table for messages (and the poll lock's text): schema.table<suffix>, each part as
 * written when it is a plain identifier ([A-Za-z_][A-Za-z0-9_]*), else quoted as in SQL, so
 * that no two tables read the same ("a.b"."c" and "a"."b.c"). Returns buf.
 */
const char *db_table_display(const struct conf_source *src, const char *suffix, char *buf,
			     size_t size);

/*
 * For the commands (schema, replay): picks the source called name in cfg (the only one when name
 * is NULL) and connects to it. Returns the connection, or NULL after printing
 * "outbox-relay CMD: ..." to stderr with *exit_code 64 (no such source, or several and no name)
 * or 69 (could not connect).
 */
PGconn *db_command_connect(const struct conf *cfg, const char *name, const char *cmd,
			   const struct conf_source **src, int *exit_code);

/*
 * The value of a bigint column's text, read as strtoll(text, NULL, 10) reads it. Plain decimal
 * text (what PostgreSQL sends) is read directly: strtoll's locale handling costs every row of
 * every fetch more than the rest of reading it.
 */
long long db_int8(const char *text);

/*
 * Writes v in decimal at out (at least DB_INT8_SIZE bytes), not NUL-terminated; returns the
 * length. As "%lld" writes it, without printf's parsing of the format for every id.
 */
#define DB_INT8_SIZE 20
size_t db_format_int8(char *out, long long v);

#endif
