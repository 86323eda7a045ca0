/*
 * fuzz_pgoutput — fuzz target for relay/pgoutput.c (see tests/fuzz/README.md).
 *
 * An input is a sequence of records, each a 2-byte big-endian length and that many bytes (the
 * last record may be cut short by the end of the input), so that one input can carry a whole
 * stream and exercise the relation cache across messages. Each record is copied into a heap
 * buffer of exactly its size (so ASan sees any read past its end) and given to pgo_parse, and
 * to pgo_parse_frame, whose XLogData payload also goes to pgo_parse; all through one parser.
 * Every message parsed is walked in full, and its invariants checked: borrowed pointers lie
 * inside the record, a Relation is the one the cache returns, counts fit the record.
 *
 * Built with clang -fsanitize=fuzzer this is a libFuzzer target. Built with
 * -DPGO_FUZZ_STANDALONE (any compiler, e.g. gcc -fsanitize=address,undefined) it gets a main()
 * that replays corpus files and can then run N inputs mutated from them with a seeded PRNG.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_pgoutput: invariant broken: %s\n", what);
		abort();
	}
}

/* Whether [p, p+n) lies inside [buf, buf+len). */
static int
inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && (size_t)(p - buf) <= len && n <= len - (size_t)(p - buf);
}

static void
check_str(const char *s, const char *buf, size_t len)
{
	check(s && inside(s, 1, buf, len), "string outside the message");
	check(inside(s, strlen(s) + 1, buf, len), "string ends outside the message");
}

static void
walk_relation(const struct pgo_relation *rel)
{
	size_t n = strlen(rel->nspname) + strlen(rel->relname);

	for (uint16_t i = 0; i < rel->ncols; i++) {
		int at = pgo_column_index(rel, rel->cols[i].name);

		check(at >= 0 && at <= i, "column index");
		n += strlen(rel->cols[i].name) + rel->cols[i].type_oid + (size_t)rel->cols[i].typmod;
	}
	sink += n;
}

static void
walk(struct pgo_parser *p, const struct pgo_msg *m, const char *buf, size_t len)
{
	const struct pgo_relation *rel;
	const uint32_t *relids;
	size_t n = 0;

	switch (m->type) {
	case 'B':
	case 'C':
		break;
	case 'O':
		check_str(m->u.origin.name, buf, len);
		break;
	case 'R':
		rel = pgo_relation_get(p, m->u.relation->relid);
		check(rel == m->u.relation, "relation not the cached one");
		check((size_t)rel->ncols * 10 <= len, "relation columns larger than the message");
		walk_relation(rel);
		break;
	case 'Y':
		check_str(m->u.type.nspname, buf, len);
		check_str(m->u.type.name, buf, len);
		break;
	case 'I':
	case 'U':
	case 'D':
		check(m->u.change.ncols <= len, "more columns than bytes");
		check(m->u.change.ncols == 0 || m->u.change.values, "values missing");
		for (uint16_t i = 0; i < m->u.change.ncols; i++) {
			const struct pgo_value *v = &m->u.change.values[i];

			check(strchr("nutb", v->kind) && v->kind, "value kind");
			if (v->kind == 't' || v->kind == 'b') {
				check(inside(v->data, v->len, buf, len), "value outside the message");
				for (uint32_t j = 0; j < v->len; j++)
					n += (unsigned char)v->data[j];
			} else {
				check(!v->data && !v->len, "null value with data");
			}
		}
		if ((rel = pgo_relation_get(p, m->u.change.relid)) && rel->ncols)
			n += (size_t)pgo_column_index(rel, rel->cols[rel->ncols - 1].name);
		break;
	case 'T':
		check((uint64_t)m->u.truncate.nrels * 4 <= len, "more relids than bytes");
		relids = pgo_truncate_relids(p);
		check(m->u.truncate.nrels == 0 || relids, "relids missing");
		for (uint32_t i = 0; i < m->u.truncate.nrels; i++)
			n += pgo_relation_get(p, relids[i]) != NULL;
		break;
	case 'M':
		check_str(m->u.message.prefix, buf, len);
		check(inside(m->u.message.content, m->u.message.content_len, buf, len),
		      "content outside the message");
		for (uint32_t j = 0; j < m->u.message.content_len; j++)
			n += (unsigned char)m->u.message.content[j];
		break;
	default:
		check(0, "unknown type parsed");
	}
	sink += n;
}

static void
one_record(struct pgo_parser *p, const uint8_t *data, size_t len)
{
	char *buf = malloc(len ? len : 1);
	char err[256], status[34];
	struct pgo_frame f;
	struct pgo_msg m;

	if (!buf)
		return;
	memcpy(buf, data, len);
	err[0] = '\0';
	if (pgo_parse(p, buf, len, &m, err, sizeof(err)) == 0)
		walk(p, &m, buf, len);
	else
		check(err[0] != '\0', "error without a message");
	if (pgo_parse_frame(buf, len, &f, err, sizeof(err)) == 0) {
		if (f.kind == PGO_FRAME_XLOGDATA) {
			check(f.data == buf + 25 && f.len == len - 25, "XLogData payload");
			if (pgo_parse(p, f.data, f.len, &m, NULL, 0) == 0)
				walk(p, &m, f.data, f.len);
		} else {
			check(f.kind == PGO_FRAME_KEEPALIVE && len == 18, "keepalive");
		}
		check(pgo_build_status(status, f.wal_end, f.wal_start, f.wal_end, f.send_time,
				       f.reply_requested) == 34 && status[0] == 'r', "status");
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgo_parser *p = pgo_parser_new();
	size_t pos = 0;

	if (!p)
		return 0;
	while (pos < size) {
		size_t len = (size_t)data[pos] << 8;

		if (pos + 1 < size)
			len |= data[pos + 1];
		pos += 2;
		if (pos > size)
			pos = size;
		if (len > size - pos)
			len = size - pos;
		one_record(p, data + pos, len);
		pos += len;
	}
	pgo_parser_destroy(p);
	return 0;
}

#ifdef PGO_FUZZ_STANDALONE
/*
 * Fallback driver without libFuzzer:
 *   fuzz_pgoutput [-n N] [-s SEED] FILE|DIR...
 * replays every file, then runs N mutated inputs (default 0). Before each input the current one
 * is kept in memory; on a crash ASan reports it and the input is written to ./crash-standalone
 * by the sanitizer death callback (or by check()'s abort through SIGABRT).
 */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_MAX_INPUT 4096

static uint8_t *cur;
static size_t cur_len;

static void
dump_current(void)
{
	FILE *f = fopen("crash-standalone", "wb");

	if (f) {
		fwrite(cur, 1, cur_len, f);
		fclose(f);
		fprintf(stderr, "fuzz_pgoutput: input written to crash-standalone\n");
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
add_file(struct corpus *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d = malloc(FUZZ_MAX_INPUT);
	size_t n;

	if (!f || !d) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	n = fread(d, 1, FUZZ_MAX_INPUT, f);
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
add_path(struct corpus *c, const char *path)
{
	struct stat st;
	struct dirent *e;
	DIR *dir;
	char sub[4096];

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		add_file(c, path);
		return;
	}
	if (!(dir = opendir(path)))
		exit(2);
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		add_file(c, sub);
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

/* One mutation of buf (length *len, capacity FUZZ_MAX_INPUT), libFuzzer-like but simpler. */
static void
mutate(uint8_t *buf, size_t *len, const struct corpus *c)
{
	static const uint64_t interesting[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, UINT64_MAX, 25, 18, 34 };
	size_t n = *len, at = n ? rnd((uint32_t)n) : 0, k;
	uint64_t v;

	switch (rnd(9)) {
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
		if (n + k <= FUZZ_MAX_INPUT) {
			memmove(buf + at + k, buf + at, n - at);
			for (size_t i = 0; i < k; i++)
				buf[at + i] = (uint8_t)(rnd(4) ? rnd(256) : (uint8_t)"nutbNKOR\0"[rnd(9)]);
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
		if (n + c->len[k] <= FUZZ_MAX_INPUT) {
			memcpy(buf + n, c->data[k], c->len[k]);
			*len = n + c->len[k];
		}
		break;
	case 7:		/* duplicate a stretch */
		k = 1 + rnd(32);
		if (at + k <= n && n + k <= FUZZ_MAX_INPUT) {
			memmove(buf + at + k, buf + at, n - at);
			*len = n + k;
		}
		break;
	default:	/* a NUL or a message tag */
		if (n)
			buf[at] = (uint8_t)"\0BCORYIUDTMSEcAwk"[rnd(17)];
		break;
	}
}

int
main(int argc, char **argv)
{
	struct corpus c = { 0 };
	unsigned long long iters = 0, seed = 1;
	uint8_t *buf = malloc(FUZZ_MAX_INPUT);
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
		add_path(&c, argv[i]);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(dump_current);
	signal(SIGABRT, on_abort);
	for (size_t i = 0; i < c.n; i++) {
		cur = c.data[i];
		cur_len = c.len[i];
		LLVMFuzzerTestOneInput(cur, cur_len);
	}
	printf("replayed %zu files\n", c.n);
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	cur = buf;
	for (unsigned long long it = 0; it < iters && c.n; it++) {
		size_t k = rnd((uint32_t)c.n), rounds = 1 + rnd(6);

		cur_len = c.len[k];
		memcpy(buf, c.data[k], cur_len);
		if (rnd(20) == 0) {	/* now and then pure noise */
			cur_len = rnd(200);
			for (size_t i = 0; i < cur_len; i++)
				buf[i] = (uint8_t)rnd(256);
		}
		for (size_t r = 0; r < rounds; r++)
			mutate(buf, &cur_len, &c);
		LLVMFuzzerTestOneInput(buf, cur_len);
	}
	printf("ran %llu mutated inputs (seed %llu), no crash\n", iters, seed);
	for (size_t i = 0; i < c.n; i++)
		free(c.data[i]);
	free(c.data);
	free(c.len);
	free(buf);
	return 0;
}
#endif
