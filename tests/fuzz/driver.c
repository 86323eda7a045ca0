/*
 * driver — main() for the fuzz targets of tests/fuzz without libFuzzer (see README.md):
 *
 *   fuzz_TARGET_standalone [-n N] [-s SEED] FILE|DIR...
 *
 * replays every file (a directory: every file in it), then runs N inputs (default 0) mutated
 * from them with a xorshift PRNG seeded by SEED (default 1), so a run is reproducible: bit
 * flips, random and "interesting" big-endian integers, inserted and deleted bytes, truncation,
 * another corpus entry appended or spliced in, a stretch duplicated, one of the target's tag
 * bytes or tokens (struct fuzz_hints) put in; now and then pure noise. The current input is kept
 * in memory; on a crash the sanitizer's report is printed and the input is written to
 * ./crash-standalone (through the sanitizer's death callback, or on SIGABRT for a broken
 * invariant), to be replayed by naming the file.
 *
 * Linked with a target instead of -fsanitize=fuzzer, so every target runs with gcc too.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static uint8_t *cur;
static size_t cur_len;

static void
dump_current(void)
{
	FILE *f = fopen("crash-standalone", "wb");

	if (f) {
		fwrite(cur, 1, cur_len, f);
		fclose(f);
		fprintf(stderr, "%s: input written to crash-standalone\n", fuzz_hints.name);
	}
}

static void
on_abort(int sig)
{
	(void)sig;
	dump_current();
	signal(SIGABRT, SIG_DFL);
	abort();
}

/* present when built with a sanitizer runtime */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

struct corpus {
	uint8_t **data;
	size_t *len;
	size_t n, cap;
};

static void
add_file(struct corpus *c, const char *path, size_t max_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d = malloc(max_len);
	size_t n;

	if (!f || !d) {
		fprintf(stderr, "%s: cannot read %s\n", fuzz_hints.name, path);
		exit(2);
	}
	n = fread(d, 1, max_len, f);
	fclose(f);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->data = realloc(c->data, c->cap * sizeof(*c->data));
		c->len = realloc(c->len, c->cap * sizeof(*c->len));
		if (!c->data || !c->len)
			exit(2);
	}
	c->data[c->n] = d;
	c->len[c->n++] = n;
}

static void
add_path(struct corpus *c, const char *path, size_t max_len)
{
	struct stat st;
	struct dirent *e;
	DIR *dir;
	char sub[4096];

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		add_file(c, path, max_len);
		return;
	}
	if (!(dir = opendir(path)))
		exit(2);
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		add_file(c, sub, max_len);
	}
	closedir(dir);
}

static uint64_t rng;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

static size_t n_tokens;

/* One mutation of buf (length *len, capacity max), libFuzzer-like but simpler. */
static void
mutate(uint8_t *buf, size_t *len, size_t max, const struct corpus *c)
{
	static const uint64_t interesting[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, UINT64_MAX, 25, 18, 34 };
	const struct fuzz_hints *h = &fuzz_hints;
	size_t n = *len, at = n ? rnd((uint32_t)n) : 0, k;
	const char *tok;
	uint64_t v;

	switch (rnd(n_tokens ? 11 : 9)) {
	case 0:		/* flip a bit */
		if (n)
			buf[at] ^= (uint8_t)(1u << rnd(8));
		break;
	case 1:		/* random byte */
		if (n)
			buf[at] = (uint8_t)rnd(256);
		break;
	case 2:		/* interesting big-endian integer of 1, 2, 4 or 8 bytes */
		k = (size_t)1 << rnd(4);
		v = interesting[rnd(sizeof(interesting) / sizeof(*interesting))];
		for (size_t i = 0; i < k && at + i < n; i++)
			buf[at + i] = (uint8_t)(v >> (8 * (k - 1 - i)));
		break;
	case 3:		/* insert random bytes */
		k = 1 + rnd(8);
		if (n + k <= max) {
			memmove(buf + at + k, buf + at, n - at);
			for (size_t i = 0; i < k; i++)
				buf[at + i] = (uint8_t)(rnd(4) || !h->n_insert_bytes ? rnd(256) :
					(uint8_t)h->insert_bytes[rnd((uint32_t)h->n_insert_bytes)]);
			*len = n + k;
		}
		break;
	case 4:		/* delete bytes */
		k = 1 + rnd(8);
		if (at + k <= n) {
			memmove(buf + at, buf + at + k, n - at - k);
			*len = n - k;
		}
		break;
	case 5:		/* truncate */
		*len = at;
		break;
	case 6:		/* append another corpus entry (a longer stream) */
		k = rnd((uint32_t)c->n);
		if (n + c->len[k] <= max) {
			memcpy(buf + n, c->data[k], c->len[k]);
			*len = n + c->len[k];
		}
		break;
	case 7:		/* duplicate a stretch */
		k = 1 + rnd(32);
		if (at + k <= n && n + k <= max) {
			memmove(buf + at + k, buf + at, n - at);
			*len = n + k;
		}
		break;
	case 8:		/* a tag byte */
		if (n && h->n_tag_bytes)
			buf[at] = (uint8_t)h->tag_bytes[rnd((uint32_t)h->n_tag_bytes)];
		break;
	case 9:		/* insert a token */
		tok = h->tokens[rnd((uint32_t)n_tokens)];
		k = strlen(tok);
		if (n + k <= max) {
			memmove(buf + at + k, buf + at, n - at);
			memcpy(buf + at, tok, k);
			*len = n + k;
		}
		break;
	default:	/* overwrite with a token */
		tok = h->tokens[rnd((uint32_t)n_tokens)];
		k = strlen(tok);
		if (at + k <= n)
			memcpy(buf + at, tok, k);
		break;
	}
}

int
main(int argc, char **argv)
{
	struct corpus c = { 0 };
	unsigned long long iters = 0, seed = 1;
	size_t max = fuzz_hints.max_len ? fuzz_hints.max_len : 4096;
	uint8_t *buf = malloc(max);
	int opt;

	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			iters = strtoull(optarg, NULL, 10);
		else if (opt == 's')
			seed = strtoull(optarg, NULL, 10);
		else
			return 64;
	}
	if (optind >= argc || !buf) {
		fprintf(stderr, "usage: %s [-n N] [-s SEED] FILE|DIR...\n", argv[0]);
		return 64;
	}
	for (int i = optind; i < argc; i++)
		add_path(&c, argv[i], max);
	if (fuzz_hints.tokens)
		while (fuzz_hints.tokens[n_tokens])
			n_tokens++;
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(dump_current);
	signal(SIGABRT, on_abort);
	for (size_t i = 0; i < c.n; i++) {
		cur = c.data[i];
		cur_len = c.len[i];
		LLVMFuzzerTestOneInput(cur, cur_len);
	}
	printf("%s: replayed %zu files\n", fuzz_hints.name, c.n);
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	cur = buf;
	for (unsigned long long it = 0; it < iters && c.n; it++) {
		size_t k = rnd((uint32_t)c.n), rounds = 1 + rnd(6);

		cur_len = c.len[k];
		memcpy(buf, c.data[k], cur_len);
		if (rnd(20) == 0) {	/* now and then pure noise */
			cur_len = rnd(200 < max ? 200 : (uint32_t)max);
			for (size_t i = 0; i < cur_len; i++)
				buf[i] = (uint8_t)rnd(256);
		}
		for (size_t r = 0; r < rounds; r++)
			mutate(buf, &cur_len, max, &c);
		LLVMFuzzerTestOneInput(buf, cur_len);
	}
	printf("%s: ran %llu mutated inputs (seed %llu), no crash\n", fuzz_hints.name, iters, seed);
	for (size_t i = 0; i < c.n; i++)
		free(c.data[i]);
	free(c.data);
	free(c.len);
	free(buf);
	return 0;
}
