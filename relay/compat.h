/*
 * compat — schema compatibility, decided by the relay itself.
 *
 * Before the relay registers a new version of an event's schema (or uses one without a
 * registry), it checks the candidate against the versions already in use, the way a schema
 * registry's compatibility levels do: BACKWARD means consumers on the new schema can read what
 * was written with the latest one, FORWARD means consumers still on the latest one can read what
 * the new one writes, FULL means both, and the _TRANSITIVE levels ask the same of every earlier
 * version, not only the latest.
 *
 * avro-c's resolver cannot answer this (it refuses a reader that adds a field with a default),
 * so the Avro specification's "Schema Resolution" rules are implemented here over the avsc
 * model:
 *   - primitives: the same type, or a promotion: int to long, float or double; long to float or
 *     double; float to double; string to bytes and bytes to string;
 *   - records: the same unqualified name, or a reader alias naming the writer (by full or
 *     unqualified name); fields match by name or by a reader field's aliases; a reader field
 *     the writer does not have needs a default; writer fields the reader lacks are skipped;
 *   - enums: the same name (or alias); a writer symbol the reader lacks is an error unless the
 *     reader has an enum default;
 *   - fixed: the same name (or alias) and size;
 *   - arrays and maps: their items / values, recursively;
 *   - unions: for a writer union, every branch must be readable; for a reader union and a
 *     non-union writer, some branch of the reader must read the writer's type;
 *   - logical types do not matter, except that two decimals must agree on precision and scale
 *     (as the Confluent registry requires).
 * Recursive schemas are handled: a (reader record, writer record) pair already being compared
 * is taken as compatible where it recurs.
 *
 * Messages name the field path from the reader's outermost record ("[]" for array items, "{}"
 * for map values) and the rule broken, for example
 *   field "Order.total": reader type double cannot read writer type string (no promotion from
 *   string to double)
 *
 * All functions are pure and thread-safe; nothing is retained after they return.
 */
#ifndef OUTBOX_RELAY_COMPAT_H
#define OUTBOX_RELAY_COMPAT_H

#include <stddef.h>

#include "avsc.h"

enum compat_level {
	COMPAT_NONE = 0,
	COMPAT_BACKWARD,
	COMPAT_BACKWARD_TRANSITIVE,
	COMPAT_FORWARD,
	COMPAT_FORWARD_TRANSITIVE,
	COMPAT_FULL,
	COMPAT_FULL_TRANSITIVE
};

/* "BACKWARD", "backward_transitive", "none", ... (case-insensitive) -> level; -1 if unknown. */
int compat_level_parse(const char *s);

/* "NONE", "BACKWARD", ..., "FULL_TRANSITIVE"; "UNKNOWN" for a value outside the enum. */
const char *compat_level_name(enum compat_level l);

/*
 * 1 when data written with writer can be read with reader under the Avro schema resolution
 * rules; 0 with errstr naming the field path and the rule broken (also 0, with errstr saying so,
 * when memory runs out).
 */
int compat_can_read(const struct avsc_schema *reader, const struct avsc_schema *writer,
		    char *errstr, size_t errstr_size);

/*
 * Checks candidate against the existing versions of its subject (existing[0..n), oldest first;
 * n may be 0, which is always compatible):
 *   BACKWARD    the candidate reads the latest;       BACKWARD_TRANSITIVE  ... reads every one
 *   FORWARD     the latest reads the candidate;       FORWARD_TRANSITIVE   every one reads it
 *   FULL        both, with the latest;                FULL_TRANSITIVE      both, with every one
 *   NONE        nothing is checked.
 * versions[i] is the version number of existing[i], used in messages; versions may be NULL,
 * and messages then give the index into existing. Versions are checked newest first.
 * Returns 0 if compatible, or -1 with errstr saying which version failed, in which direction,
 * and why (the compat_can_read message); also -1 for a level outside the enum.
 */
int compat_check(enum compat_level level, const struct avsc_schema *candidate,
		 const struct avsc_schema *const *existing, const int *versions, size_t n,
		 char *errstr, size_t errstr_size);

#endif
