/*
 * ackwin — see ackwin.h. A ring of slots indexed by sequence number modulo the capacity; the
 * sequence stored in each slot tells a live slot from a stale delivery report.
 */
#include "ackwin.h"

#include <stdlib.h>

enum slot_state { SLOT_FREE = 0, SLOT_IN_FLIGHT, SLOT_ACKED, SLOT_FAILED };

struct slot {
	uint64_t seq;
	long long id;
	size_t bytes;
	int state;
};

struct ackwin {
	struct slot *slots;
	size_t cap;
	size_t max_bytes;
	uint64_t head;		/* sequence of the oldest slot */
	uint64_t tail;		/* sequence the next push gets */
	size_t bytes;
	size_t in_flight;
};

struct ackwin *
ackwin_new(size_t max_count, size_t max_bytes)
{
	struct ackwin *w = calloc(1, sizeof(*w));

	if (!w || max_count == 0 || !(w->slots = calloc(max_count, sizeof(*w->slots)))) {
		free(w);
		return NULL;
	}
	w->cap = max_count;
	w->max_bytes = max_bytes;
	/* start at 1 so that a zero opaque can never match a slot */
	w->head = w->tail = 1;
	return w;
}

void
ackwin_destroy(struct ackwin *w)
{
	if (!w)
		return;
	free(w->slots);
	free(w);
}

int
ackwin_has_room(const struct ackwin *w, size_t bytes)
{
	size_t count = (size_t)(w->tail - w->head);

	if (count == 0)
		return 1;
	return count < w->cap && w->bytes + bytes <= w->max_bytes;
}

uint64_t
ackwin_push(struct ackwin *w, long long id, size_t bytes)
{
	uint64_t seq = w->tail++;
	struct slot *s = &w->slots[seq % w->cap];

	s->seq = seq;
	s->id = id;
	s->bytes = bytes;
	s->state = SLOT_IN_FLIGHT;
	w->bytes += bytes;
	w->in_flight++;
	return seq;
}

int
ackwin_settle(struct ackwin *w, uint64_t seq, int ok)
{
	struct slot *s;

	if (seq < w->head || seq >= w->tail)
		return -1;
	s = &w->slots[seq % w->cap];
	if (s->seq != seq || s->state != SLOT_IN_FLIGHT)
		return -1;
	s->state = ok ? SLOT_ACKED : SLOT_FAILED;
	w->in_flight--;
	return 0;
}

int
ackwin_tag(const struct ackwin *w, uint64_t seq, long long *id)
{
	const struct slot *s;

	if (seq < w->head || seq >= w->tail)
		return -1;
	s = &w->slots[seq % w->cap];
	if (s->seq != seq)
		return -1;
	*id = s->id;
	return 0;
}

static void
release_head(struct ackwin *w)
{
	struct slot *s = &w->slots[w->head % w->cap];

	if (s->state == SLOT_IN_FLIGHT)
		w->in_flight--;
	w->bytes -= s->bytes;
	s->state = SLOT_FREE;
	w->head++;
}

size_t
ackwin_take_acked(struct ackwin *w, long long *ids, size_t max)
{
	size_t n = 0;

	while (n < max && w->head < w->tail) {
		struct slot *s = &w->slots[w->head % w->cap];

		if (s->state != SLOT_ACKED)
			break;
		ids[n++] = s->id;
		release_head(w);
	}
	return n;
}

size_t
ackwin_take_all_acked(struct ackwin *w, long long *ids, size_t max)
{
	size_t n = 0;

	while (n < max && w->head < w->tail) {
		struct slot *s = &w->slots[w->head % w->cap];

		if (s->state == SLOT_IN_FLIGHT)
			break;
		if (s->state == SLOT_ACKED)
			ids[n++] = s->id;
		release_head(w);
	}
	return n;
}

int
ackwin_head_failed(const struct ackwin *w)
{
	return w->head < w->tail && w->slots[w->head % w->cap].state == SLOT_FAILED;
}

size_t
ackwin_count(const struct ackwin *w)
{
	return (size_t)(w->tail - w->head);
}

size_t
ackwin_bytes(const struct ackwin *w)
{
	return w->bytes;
}

size_t
ackwin_in_flight(const struct ackwin *w)
{
	return w->in_flight;
}
