/*
 * clock — the monotonic millisecond clock the pipelines time their deadlines with (backoff,
 * status updates, drains); unaffected by changes to the wall clock.
 */
#ifndef OUTBOX_RELAY_CLOCK_H
#define OUTBOX_RELAY_CLOCK_H

#include <time.h>

static inline long long
clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
