/*
 * metrics — the relay's HTTP endpoint for Prometheus and for health checks, served by
 * libmicrohttpd on a thread of its own:
 *
 *   /metrics   Prometheus text format 0.0.4: per source (the pipelines' status snapshots) and
 *              for the process
 *   /healthz   200 "ok" while the main loop goes round
 *   /readyz    200 when every source is active (with a reachable broker) or standby, else 503
 *              naming the first source that is not and why
 *
 * Other paths get 404, methods other than GET and HEAD 405. Nothing served names a DSN, a
 * password or a broker address: the labels are source names, states and the version.
 *
 * The HTTP thread never touches a database or a producer: it reads the pipelines' snapshots
 * (pipeline_status), which the pipelines refresh themselves (the backlog every few seconds).
 */
#ifndef OUTBOX_RELAY_METRICS_H
#define OUTBOX_RELAY_METRICS_H

#include <stddef.h>

#include "conf.h"
#include "pipeline.h"

struct metrics;

/*
 * Starts serving on mc's address (only that one). version goes into outbox_relay_build_info.
 * /healthz fails once the main loop has not called metrics_main_beat for alive_limit_ms.
 * Returns NULL with errstr when the address cannot be bound.
 */
struct metrics *metrics_new(const struct conf_metrics *mc, const char *version,
			    long long alive_limit_ms, char *errstr, size_t errstr_size);

/* Stops serving (waits for a request under way) and frees. NULL: no-op. */
void metrics_destroy(struct metrics *m);

/*
 * Hands over the set of pipelines to report (a NULL entry: a source that could not be started).
 * The array is copied; the pipelines are borrowed. Once this returns, no request reads a
 * pipeline left out of the new set, so the caller may then join (free) it. Main thread.
 */
void metrics_set_pipelines(struct metrics *m, struct pipeline *const *pipes, size_t n);

/* The main loop went round (for /healthz). Main thread. */
void metrics_main_beat(struct metrics *m);

#endif
