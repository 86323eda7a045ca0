/*
 * migrate — the outbox table's SQL migrations, rendered or applied
 *
 * The app-side schema (outbox table, index of unpublished rows, the
 * <table>_emit() helper) is kept as numbered SQL templates in sql/ and
 * compiled into the binary by relay/embed_sql.sh. `outbox-relay migrate`
 * either prints them for an app's own migration tool or applies the missing
 * ones and records them in <schema>.outbox_relay_migrations. Used only by
 * main(), never by the pipeline.
 */
#ifndef OUTBOX_RELAY_MIGRATE_H
#define OUTBOX_RELAY_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

/*
 * One embedded migration, from sql/NNNN_name.sql. The table is generated
 * into relay/sql_embed.c, sorted by version; versions run 1..count.
 */
struct migrate_sql {
	int version;          /* NNNN */
	const char *name;     /* "0001_outbox_table": the file name less ".sql" */
	const char *sql;      /* the template, with {{schema}} and {{table}} */
	const char *checksum; /* SHA-256 of the file, 64 lower-case hex digits */
};

extern const struct migrate_sql migrate_sqls[];
extern const size_t migrate_sql_count;

/* PostgreSQL's identifier limit (NAMEDATALEN - 1). */
#define MIGRATE_SCHEMA_MAX 63
/* Leaves room for "<table>_dead_letters_open_idx" within the 63 bytes. */
#define MIGRATE_TABLE_MAX 41

/*
 * The advisory lock key (the two-int4 form) that migrate_apply() holds for
 * each of its transactions, so that concurrent runs against one database
 * serialise. The relay's poll lock (relay/poll.c) uses the one-bigint form,
 * a separate key space in pg_locks, so the two never collide.
 */
#define MIGRATE_LOCK_CLASSID 0x6f757462 /* "outb" */
#define MIGRATE_LOCK_OBJID   0x6d696772 /* "migr" */

/* Failure returns of migrate_render() and migrate_apply(). */
#define MIGRATE_EINVAL (-1) /* bad schema, table, version or template */
#define MIGRATE_EDB    (-2) /* could not connect, or PostgreSQL failed */
#define MIGRATE_EIO    (-3) /* could not write to the output stream */

/*
 * Check that schema and table are names the migrations can use: not empty,
 * no control characters, no "." in the table, schema at most
 * MIGRATE_SCHEMA_MAX bytes and table at most MIGRATE_TABLE_MAX. Names are
 * taken as written (case-sensitive) and quoted when rendered.
 * Returns 0, or MIGRATE_EINVAL with the reason in errstr.
 */
int migrate_check_names(const char *schema, const char *table,
			char *errstr, size_t errstr_size);

/*
 * Write template sql with {{schema}} and {{table}} replaced to out. name
 * (e.g. "0001_outbox_table") only labels error messages. The template is
 * checked before anything is written: a "{{" that does not open one of the
 * two known tokens fails with MIGRATE_EINVAL and writes nothing. The names
 * are not checked here (see migrate_check_names()). MIGRATE_EIO if out
 * reports a write error.
 */
int migrate_render_sql(const char *name, const char *sql,
		       const char *schema, const char *table, FILE *out,
		       char *errstr, size_t errstr_size);

/*
 * Write migration `version` (1..migrate_sql_count), or all of them in
 * order when version is 0, rendered for schema.table, to out: the text
 * `outbox-relay migrate --print` shows. Returns 0, MIGRATE_EINVAL (bad
 * names or version; nothing written) or MIGRATE_EIO.
 */
int migrate_render(const char *schema, const char *table, int version,
		   FILE *out, char *errstr, size_t errstr_size);

/*
 * Connect to dsn and bring schema.table up to date: create the schema and
 * <schema>.outbox_relay_migrations if missing, then apply each migration
 * not recorded there for this table, each in its own transaction together
 * with its record. Every transaction first takes the advisory lock
 * (MIGRATE_LOCK_CLASSID, MIGRATE_LOCK_OBJID), so a concurrent run waits and
 * then finds the work done.
 *
 * Writes to report one line per applied migration ("applied
 * 0001_outbox_table to public.outbox"), or "public.outbox is up to date";
 * and a line starting "warning: " for a recorded migration whose checksum
 * differs from the embedded file's, or a recorded version this build does
 * not know. With dry_run, only reads: "would apply ..." lines, no lock, no
 * writes.
 *
 * Returns 0; MIGRATE_EINVAL for bad names (nothing attempted); MIGRATE_EDB
 * when the connection or a statement fails, with the migration's name and
 * PostgreSQL's message in errstr (migrations applied before it stay
 * applied and reported). The DSN is never written anywhere: it may hold a
 * password.
 */
int migrate_apply(const char *dsn, const char *schema, const char *table,
		  int dry_run, FILE *report, char *errstr, size_t errstr_size);

/* Usage text for `outbox-relay migrate`, ending in a newline. Static. */
const char *migrate_usage(void);

#endif /* OUTBOX_RELAY_MIGRATE_H */
