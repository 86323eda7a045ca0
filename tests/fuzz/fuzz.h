/*
 * fuzz.h — what a fuzz target in tests/fuzz offers besides LLVMFuzzerTestOneInput.
 *
 * Every target is a libFuzzer target (clang -fsanitize=fuzzer). Linked with driver.c instead
 * (any compiler, e.g. gcc -fsanitize=address,undefined) it runs without libFuzzer: driver.c has
 * the main() that replays corpus files and mutates them with a seeded PRNG, and reads the
 * target's fuzz_hints to mutate its inputs into something the parser gets far with.
 */
#ifndef OUTBOX_RELAY_FUZZ_H
#define OUTBOX_RELAY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How driver.c mutates the inputs of one target. */
struct fuzz_hints {
	const char *name;		/* the target's name, for messages */
	size_t max_len;			/* the largest input (libFuzzer: give -max_len the same) */
	const char *insert_bytes;	/* bytes now and then inserted instead of random ones */
	size_t n_insert_bytes;
	const char *tag_bytes;		/* bytes that often replace one byte: tags, delimiters */
	size_t n_tag_bytes;
	const char *const *tokens;	/* strings inserted or overwritten (NULL-terminated) */
};

/* Defined by every target. */
extern const struct fuzz_hints fuzz_hints;

/*
 * Aborts, naming the target and what, when ok is 0: a broken invariant is a crash to libFuzzer
 * and to driver.c alike.
 */
#define FUZZ_CHECK(ok, what) \
	do { \
		if (!(ok)) \
			fuzz_invariant_broken(what, __FILE__, __LINE__); \
	} while (0)

static inline __attribute__((noreturn)) void
fuzz_invariant_broken(const char *what, const char *file, int line)
{
	fprintf(stderr, "%s: invariant broken at %s:%d: %s\n", fuzz_hints.name, file, line, what);
	abort();
}

#endif
