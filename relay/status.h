/*
 * status — `outbox-relay status`: what each configured source looks like from its database,
 * without touching the running relay: poll sources report their backlog (unpublished rows) and
 * the age of the oldest; logical sources their slot's confirmed position, lag in bytes behind
 * the server's WAL, and whether a relay is streaming from it.
 */
#ifndef OUTBOX_RELAY_STATUS_H
#define OUTBOX_RELAY_STATUS_H

#include <stdio.h>

#include "conf.h"

/*
 * Prints one line per source (or a JSON array with json set) to out. Returns 0 when every
 * source could be asked, 1 when at least one could not (its line says why).
 */
int status_print(const struct conf *cfg, int json, FILE *out);

#endif
