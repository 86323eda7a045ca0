/*
 * test_ackwin.c: unit tests of the ackwin module (the acknowledgement window)
 *
 * Room by count and by bytes, settling out of order, releasing only the contiguous acked
 * head in push order, failed slots, stale delivery reports, and a long seeded random run
 * through a window of three slots that must hand back every id exactly in push order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ackwin.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void check_state(const struct ackwin *w, size_t count, size_t bytes, size_t in_flight)
{
    assert_int_equal(ackwin_count(w), count);
    assert_int_equal(ackwin_bytes(w), bytes);
    assert_int_equal(ackwin_in_flight(w), in_flight);
}

static void test_new_and_destroy(void **state)
{
    struct ackwin *w;

    (void)state;
    assert_null(ackwin_new(0, 1024));
    w = ackwin_new(1, 0);
    assert_non_null(w);
    check_state(w, 0, 0, 0);
    assert_false(ackwin_head_failed(w));
    ackwin_destroy(w);
    ackwin_destroy(NULL);
}

/* has_room after pushing events of the given sizes (0-terminated) into a fresh window. */
static const struct {
    size_t max_count, max_bytes;
    size_t pushed[6];
    size_t bytes;
    int room;
} room_cases[] = {
    /* by count */
    { 3, 1000, { 0 }, 1, 1 },
    { 3, 1000, { 1, 1 }, 1, 1 },
    { 3, 1000, { 1, 1, 1 }, 1, 0 },
    { 3, 1000, { 1, 1, 1 }, 0, 0 },
    { 1, 1000, { 1 }, 1, 0 },
    /* by bytes: up to max_bytes inclusive */
    { 10, 100, { 60 }, 40, 1 },
    { 10, 100, { 60 }, 41, 0 },
    { 10, 100, { 60, 40 }, 0, 1 },
    { 10, 100, { 60, 40 }, 1, 0 },
    { 10, 100, { 0 }, 100, 1 },
    /* an empty window takes one event whatever its size, a second one must wait */
    { 10, 100, { 0 }, 101, 1 },
    { 10, 100, { 0 }, SIZE_MAX, 1 },
    { 10, 100, { 1000 }, 1, 0 },
    { 10, 100, { 1000 }, 0, 0 },
    { 1, 0, { 0 }, 5, 1 },
};

static void test_has_room(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(room_cases); i++) {
        struct ackwin *w = ackwin_new(room_cases[i].max_count, room_cases[i].max_bytes);
        size_t n = 0, bytes = 0;

        assert_non_null(w);
        for (; n < ARRAY_SIZE(room_cases[i].pushed) && room_cases[i].pushed[n]; n++) {
            ackwin_push(w, (long long)n, room_cases[i].pushed[n]);
            bytes += room_cases[i].pushed[n];
        }
        check_state(w, n, bytes, n);
        if (ackwin_has_room(w, room_cases[i].bytes) != room_cases[i].room)
            fail_msg("case %zu: has_room(%zu) is %d", i, room_cases[i].bytes, !room_cases[i].room);
        ackwin_destroy(w);
    }
}

/* An oversized event goes alone; room comes back once it is taken. */
static void test_oversized_event(void **state)
{
    struct ackwin *w = ackwin_new(10, 100);
    long long ids[4];
    uint64_t seq;

    (void)state;
    assert_true(ackwin_has_room(w, 1000));
    seq = ackwin_push(w, 7, 1000);
    check_state(w, 1, 1000, 1);
    assert_false(ackwin_has_room(w, 1));
    assert_int_equal(ackwin_settle(w, seq, 1), 0);
    assert_false(ackwin_has_room(w, 1));
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 1);
    assert_int_equal(ids[0], 7);
    check_state(w, 0, 0, 0);
    assert_true(ackwin_has_room(w, 1000));
    assert_true(ackwin_has_room(w, 100));
    ackwin_destroy(w);
}

static void test_settle_out_of_order(void **state)
{
    struct ackwin *w = ackwin_new(8, 1 << 20);
    uint64_t seq[5];
    long long ids[8];

    (void)state;
    for (int i = 0; i < 5; i++)
        seq[i] = ackwin_push(w, 100 + i, 10);
    /* sequences start above 0 (a zero opaque never matches) and follow push order */
    assert_true(seq[0] > 0);
    for (int i = 1; i < 5; i++)
        assert_int_equal(seq[i], seq[i - 1] + 1);
    check_state(w, 5, 50, 5);

    /* acks for everything but the head: nothing can be released */
    assert_int_equal(ackwin_settle(w, seq[3], 1), 0);
    assert_int_equal(ackwin_settle(w, seq[1], 1), 0);
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 0);
    check_state(w, 5, 50, 3);

    /* the head: it and the next acked one come out, the gap at seq[2] stops the run */
    assert_int_equal(ackwin_settle(w, seq[0], 1), 0);
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 2);
    assert_int_equal(ids[0], 100);
    assert_int_equal(ids[1], 101);
    check_state(w, 3, 30, 2);

    assert_int_equal(ackwin_settle(w, seq[2], 1), 0);
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 2);
    assert_int_equal(ids[0], 102);
    assert_int_equal(ids[1], 103);
    check_state(w, 1, 10, 1);
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 0);

    assert_int_equal(ackwin_settle(w, seq[4], 1), 0);
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 1);
    assert_int_equal(ids[0], 104);
    check_state(w, 0, 0, 0);
    ackwin_destroy(w);
}

/* take_acked writes at most max ids; the rest stay for the next call. */
static void test_take_acked_max(void **state)
{
    struct ackwin *w = ackwin_new(8, 1 << 20);
    long long ids[8];

    (void)state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(ackwin_settle(w, ackwin_push(w, i, 3), 1), 0);
    assert_int_equal(ackwin_take_acked(w, ids, 0), 0);
    check_state(w, 5, 15, 0);
    assert_int_equal(ackwin_take_acked(w, ids, 2), 2);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 1);
    check_state(w, 3, 9, 0);
    assert_int_equal(ackwin_take_acked(w, ids, 8), 3);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[2], 4);
    check_state(w, 0, 0, 0);
    ackwin_destroy(w);
}

static void test_failed_head(void **state)
{
    struct ackwin *w = ackwin_new(8, 1 << 20);
    uint64_t seq[4];
    long long ids[8];

    (void)state;
    for (int i = 0; i < 4; i++)
        seq[i] = ackwin_push(w, 10 + i, 5);

    /* a failure behind the head is not reported yet */
    assert_int_equal(ackwin_settle(w, seq[1], 0), 0);
    assert_false(ackwin_head_failed(w));
    assert_int_equal(ackwin_settle(w, seq[0], 1), 0);
    assert_int_equal(ackwin_settle(w, seq[2], 1), 0);
    check_state(w, 4, 20, 1);

    /* the acked head goes; then the failed slot is the head and blocks what is behind it */
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 1);
    assert_int_equal(ids[0], 10);
    assert_true(ackwin_head_failed(w));
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 0);
    assert_true(ackwin_head_failed(w));
    check_state(w, 3, 15, 1);

    /* a failed slot cannot be settled again */
    assert_int_equal(ackwin_settle(w, seq[1], 1), -1);
    assert_true(ackwin_head_failed(w));

    /* rewinding: once nothing is in flight, every acked id is taken and the failed dropped */
    assert_int_equal(ackwin_settle(w, seq[3], 1), 0);
    assert_int_equal(ackwin_take_all_acked(w, ids, ARRAY_SIZE(ids)), 2);
    assert_int_equal(ids[0], 12);
    assert_int_equal(ids[1], 13);
    assert_false(ackwin_head_failed(w));
    check_state(w, 0, 0, 0);
    ackwin_destroy(w);
}

/* take_all_acked: skips failed slots, stops at the first one in flight. */
static void test_take_all_acked(void **state)
{
    enum { ACK, FAIL, WAIT };
    static const int states[] = { ACK, FAIL, FAIL, ACK, WAIT, ACK, FAIL };
    struct ackwin *w = ackwin_new(16, 1 << 20);
    long long ids[16];

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
        uint64_t seq = ackwin_push(w, (long long)i, 100 + i);

        if (states[i] != WAIT)
            assert_int_equal(ackwin_settle(w, seq, states[i] == ACK), 0);
    }
    check_state(w, 7, 721, 1);
    assert_int_equal(ackwin_take_all_acked(w, ids, ARRAY_SIZE(ids)), 2);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 3);
    /* what is left starts at the slot in flight */
    check_state(w, 3, 104 + 105 + 106, 1);
    assert_false(ackwin_head_failed(w));
    assert_int_equal(ackwin_take_all_acked(w, ids, ARRAY_SIZE(ids)), 0);
    check_state(w, 3, 315, 1);
    ackwin_destroy(w);
}

/* take_all_acked with a small max: call again while it returns max. */
static void test_take_all_acked_max(void **state)
{
    struct ackwin *w = ackwin_new(16, 1 << 20);
    long long ids[2], all[8];
    size_t n = 0, got;

    (void)state;
    for (int i = 0; i < 7; i++)
        assert_int_equal(ackwin_settle(w, ackwin_push(w, i, 1), i % 3 != 1), 0);
    while ((got = ackwin_take_all_acked(w, ids, ARRAY_SIZE(ids))) > 0) {
        assert_true(n + got <= ARRAY_SIZE(all));
        memcpy(all + n, ids, got * sizeof(ids[0]));
        n += got;
        if (got < ARRAY_SIZE(ids))
            break;
    }
    assert_int_equal(n, 5);
    assert_int_equal(all[0], 0);
    assert_int_equal(all[1], 2);
    assert_int_equal(all[2], 3);
    assert_int_equal(all[3], 5);
    assert_int_equal(all[4], 6);
    check_state(w, 0, 0, 0);
    assert_int_equal(ackwin_take_all_acked(w, ids, 0), 0);
    ackwin_destroy(w);
}

/* Reports for sequences that are not in the window change nothing. */
static void test_stale_sequences(void **state)
{
    struct ackwin *w = ackwin_new(3, 1 << 20);
    uint64_t s1, s2, s3, s4;
    long long ids[4];

    (void)state;
    s1 = ackwin_push(w, 1, 10);
    s2 = ackwin_push(w, 2, 20);
    assert_int_equal(ackwin_settle(w, s1, 1), 0);
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 1);
    check_state(w, 1, 20, 1);

    const uint64_t stale[] = { 0, s1, s2 + 1, s2 + 3, s2 + 1000, UINT64_MAX };

    for (size_t i = 0; i < ARRAY_SIZE(stale); i++) {
        assert_int_equal(ackwin_settle(w, stale[i], 1), -1);
        assert_int_equal(ackwin_settle(w, stale[i], 0), -1);
        check_state(w, 1, 20, 1);
        assert_false(ackwin_head_failed(w));
        assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 0);
    }

    /* double settle: the first report stands */
    assert_int_equal(ackwin_settle(w, s2, 1), 0);
    assert_int_equal(ackwin_settle(w, s2, 0), -1);
    assert_int_equal(ackwin_settle(w, s2, 1), -1);
    check_state(w, 1, 20, 0);
    assert_false(ackwin_head_failed(w));

    /* s1's slot is used again by s4 (3 slots): a late report for s1 must not touch s4 */
    s3 = ackwin_push(w, 3, 30);
    s4 = ackwin_push(w, 4, 40);
    assert_int_equal(s4 % 3, s1 % 3);
    assert_int_equal(ackwin_settle(w, s1, 0), -1);
    check_state(w, 3, 90, 2);
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 1);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ackwin_settle(w, s2, 1), -1);  /* already taken */
    assert_int_equal(ackwin_settle(w, s4, 1), 0);
    assert_int_equal(ackwin_settle(w, s3, 1), 0);
    assert_int_equal(ackwin_take_acked(w, ids, ARRAY_SIZE(ids)), 2);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 4);
    check_state(w, 0, 0, 0);
    assert_int_equal(ackwin_settle(w, s4, 1), -1);
    ackwin_destroy(w);
}

/* xorshift64*: the same sequence on every platform */
static uint64_t next_random(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1DULL;
}

/*
 * Push, settle and take in a random (seeded) order through a window of 3 slots until 10 times
 * its capacity has gone through; the ids must come out exactly in push order and the counters
 * must match a model of the window at every step.
 */
static void test_wrap_around_random(void **state)
{
    enum { CAP = 3, MAX_BYTES = 100, TOTAL = 10 * CAP };
    static const uint64_t seeds[] = { 1, 2, 42, 0x9e3779b97f4a7c15ULL, 20261121 };

    (void)state;
    for (size_t si = 0; si < ARRAY_SIZE(seeds); si++) {
        for (int rounds = 1; rounds <= 20; rounds++) {
            uint64_t rng = seeds[si] * 1000003u + (uint64_t)rounds;
            struct ackwin *w = ackwin_new(CAP, MAX_BYTES);
            /* the model: seq, id, bytes and settled flag of each slot, oldest first */
            struct { uint64_t seq; long long id; size_t bytes; int acked; } model[CAP];
            size_t n_model = 0, model_bytes = 0, in_flight = 0;
            long long next_id = 1000, next_out = 1000;
            uint64_t last_seq = 0;
            int total = TOTAL * rounds;
            int steps = 0;

            assert_non_null(w);
            while (next_out < 1000 + total) {
                unsigned action = (unsigned)(next_random(&rng) % 4);
                size_t bytes = (size_t)(next_random(&rng) % 60);

                assert_true(++steps < 100000);
                if (action == 0 && next_id < 1000 + total) {
                    int room = ackwin_has_room(w, bytes);
                    int want = n_model == 0 ||
                               (n_model < CAP && model_bytes + bytes <= MAX_BYTES);

                    assert_int_equal(room, want);
                    if (room) {
                        uint64_t seq = ackwin_push(w, next_id, bytes);

                        assert_true(seq > last_seq);
                        last_seq = seq;
                        model[n_model].seq = seq;
                        model[n_model].id = next_id++;
                        model[n_model].bytes = bytes;
                        model[n_model].acked = 0;
                        n_model++;
                        model_bytes += bytes;
                        in_flight++;
                    }
                } else if (action == 1 && n_model > 0) {
                    /* a report for any slot, settled or not, or a stale one */
                    size_t k = (size_t)(next_random(&rng) % (n_model + 1));

                    if (k == n_model) {
                        /* before the head (taken already) or after the tail (never pushed) */
                        uint64_t off = next_random(&rng) % 5;
                        uint64_t stale = next_random(&rng) % 2 ? model[0].seq - 1 - off
                                                               : last_seq + 1 + off;

                        assert_int_equal(ackwin_settle(w, stale, 1), -1);
                    } else if (model[k].acked) {
                        assert_int_equal(ackwin_settle(w, model[k].seq, 1), -1);
                    } else {
                        assert_int_equal(ackwin_settle(w, model[k].seq, 1), 0);
                        model[k].acked = 1;
                        in_flight--;
                    }
                } else if (action >= 2) {
                    long long ids[CAP];
                    size_t max = 1 + (size_t)(next_random(&rng) % CAP);
                    size_t want = 0, got;

                    while (want < max && want < n_model && model[want].acked)
                        want++;
                    got = ackwin_take_acked(w, ids, max);
                    assert_int_equal(got, want);
                    for (size_t j = 0; j < got; j++) {
                        assert_int_equal(ids[j], next_out);
                        assert_int_equal(model[j].id, next_out);
                        next_out++;
                        model_bytes -= model[j].bytes;
                    }
                    memmove(model, model + got, (n_model - got) * sizeof(model[0]));
                    n_model -= got;
                }
                check_state(w, n_model, model_bytes, in_flight);
                assert_false(ackwin_head_failed(w));
            }
            assert_int_equal(next_id, 1000 + total);
            check_state(w, 0, 0, 0);
            ackwin_destroy(w);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_destroy),
        cmocka_unit_test(test_has_room),
        cmocka_unit_test(test_oversized_event),
        cmocka_unit_test(test_settle_out_of_order),
        cmocka_unit_test(test_take_acked_max),
        cmocka_unit_test(test_failed_head),
        cmocka_unit_test(test_take_all_acked),
        cmocka_unit_test(test_take_all_acked_max),
        cmocka_unit_test(test_stale_sequences),
        cmocka_unit_test(test_wrap_around_random),
    };

    return cmocka_run_group_tests_name("ackwin", tests, NULL, NULL);
}
