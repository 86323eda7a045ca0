# outbox-relay — plain Makefile, pkg-config for every library.
#
#   make                 build ./outbox-relay
#   make check           install what is missing, build, run unit and integration tests,
#                        a short fuzzing pass and the fault matrix
#   make unit            unit tests only (no servers); make unit-valgrind: under memcheck
#   make integration     integration tests only (real PostgreSQL and Kafka, started here)
#   make faults          the fault matrix (tests/faults), its table in build/faults/results.md
#   make soak            the fault matrix with ten times the cycles
#   make demo            throwaway PostgreSQL + Kafka, relay sample events, show them
#   make bench           outbox-relay vs Debezium vs pg_recvlogical: tables, CSV, plots (tests/bench)
#   make deps            install build and test dependencies (Debian/Ubuntu, apt-get)
#   make install PREFIX=/usr DESTDIR=...
#   make SANITIZE=address,undefined [check|unit|integration|faults]   instrumented build in
#                        build-san/ (any sanitizer report fails the run)
#   make fuzz | fuzz-ci | fuzz-standalone   fuzz the parsers of untrusted input (tests/fuzz)

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
DATADIR   ?= $(PREFIX)/share/outbox-relay
SYSCONFDIR ?= /etc
UNITDIR   ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DOCDIR    ?= $(PREFIX)/share/doc/outbox-relay

PKGS      := libpq rdkafka libconfig jansson avro-c libcurl libsystemd libmicrohttpd
CC        ?= cc
# Error messages are deliberately cut to fixed-size buffers, hence -Wno-format-truncation.
WARN      := -Wall -Wextra -Werror -Wno-format-truncation
CFLAGS    ?= -O2 -g
CPPFLAGS  += -D_GNU_SOURCE -DOUTBOX_RELAY_VERSION='"$(VERSION)"'
BUILD     := build
BIN       := outbox-relay

# An instrumented build keeps its objects and binary apart from the normal ones; run the
# integration tests on it with OUTBOX_RELAY=build-san/outbox-relay.
ifneq ($(SANITIZE),)
CFLAGS    += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS   += -fsanitize=$(SANITIZE)
BUILD     := build-san
BIN       := build-san/outbox-relay
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -iquote relay -pthread

# Every module but main is linked into the binary and into the unit tests.
MODULES   := $(filter-out relay/main.c relay/sql_embed.c,$(wildcard relay/*.c))
SQL       := $(sort $(wildcard sql/[0-9]*.sql))
OBJS      := $(patsubst relay/%.c,$(BUILD)/%.o,$(MODULES)) $(BUILD)/sql_embed.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all check unit unit-valgrind integration faults soak demo bench deps install clean fuzz fuzz-standalone

all: $(BIN)

$(BIN): $(OBJS) $(BUILD)/main.o
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(PKG_LIBS)

$(BUILD)/%.o: relay/%.c $(wildcard relay/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The migrations are compiled into the binary (generated, not committed).
relay/sql_embed.c: relay/embed_sql.sh $(SQL)
	sh relay/embed_sql.sh $@ $(SQL)

$(BUILD)/sql_embed.o: relay/sql_embed.c relay/migrate.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(OBJS) | $(BUILD)
	@mkdir -p $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(OBJS) \
		$(LDFLAGS) $(PKG_LIBS) $(shell pkg-config --libs cmocka)

$(BUILD):
	mkdir -p $(BUILD)

deps:
	bash tests/install-deps.sh

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

# Test tools (tests/tools): what the integration tests consume Kafka with.
TOOLS := $(BUILD)/tools/avro-decode $(BUILD)/tools/notify-listen $(BUILD)/tools/mock-broker \
	$(BUILD)/tools/bench-consumer

$(BUILD)/tools/avro-decode: tests/tools/avro_decode.c $(OBJS) | $(BUILD)
	@mkdir -p $(BUILD)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $< $(OBJS) $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/tools/notify-listen: tests/tools/notify_listen.c | $(BUILD)
	@mkdir -p $(BUILD)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS)

# librdkafka's mock cluster in a process of its own, for the fault tests (tests/faults)
$(BUILD)/tools/mock-broker: tests/tools/mock_broker.c | $(BUILD)
	@mkdir -p $(BUILD)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS) -pthread $(shell pkg-config --libs rdkafka)

# the benchmarks' Kafka clock: record counts and commit-to-consumer latencies (tests/bench)
$(BUILD)/tools/bench-consumer: tests/tools/bench_consumer.c | $(BUILD)
	@mkdir -p $(BUILD)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS) -pthread $(shell pkg-config --libs rdkafka)

TEST_ENV = OUTBOX_RELAY=$(CURDIR)/$(BIN) AVRO_DECODE=$(CURDIR)/$(BUILD)/tools/avro-decode \
	NOTIFY_LISTEN=$(CURDIR)/$(BUILD)/tools/notify-listen \
	MOCK_BROKER=$(CURDIR)/$(BUILD)/tools/mock-broker \
	BENCH_CONSUMER=$(CURDIR)/$(BUILD)/tools/bench-consumer

integration: $(BIN) $(TOOLS)
	$(TEST_ENV) bash tests/integration/run.sh

# The fault matrix (tests/faults): every fault for both capture modes, verified against Kafka,
# and the results table (build/faults/results.md, the source of README's). `make soak` runs
# each case ten times as many cycles (200 SIGKILLs per mode).
faults: $(BIN) $(TOOLS)
	$(TEST_ENV) FAULT_TABLE=$(CURDIR)/$(BUILD)/faults/results.md bash tests/faults/run.sh

soak: $(BIN) $(TOOLS)
	$(TEST_ENV) FAULT_SOAK_FACTOR=$${FAULT_SOAK_FACTOR:-10} FAULT_TIMEOUT=$${FAULT_TIMEOUT:-3600} \
		FAULT_TABLE=$(CURDIR)/$(BUILD)/faults/soak.md bash tests/faults/run.sh

# The unit tests under valgrind's memcheck: any error or leak fails.
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --track-origins=yes

unit-valgrind: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== valgrind $$t"; \
		$(VALGRIND) $$t >$$t.valgrind.log 2>&1 || { fail=1; tail -n 60 $$t.valgrind.log; }; \
		tail -n 3 $$t.valgrind.log; done; exit $$fail

# With SANITIZE the same suite runs on the instrumented build; the fuzzers are instrumented
# either way, so they run only in the plain pass.
check: deps
	$(MAKE) all
	$(MAKE) unit
ifeq ($(SANITIZE),)
	$(MAKE) fuzz-ci FUZZ_SEED=1
	$(MAKE) fuzz-standalone FUZZ_RUNS=300000 FUZZ_SEED=1
endif
	$(MAKE) integration
	$(MAKE) faults

demo: deps
	$(MAKE) all
	bash tests/demo.sh

# outbox-relay beside Debezium and pg_recvlogical (tests/bench/run.sh, README "Performance"):
# tables and plots in build/bench. The narrower benchmarks (drain.sh, logical.sh, avro.sh) run
# on their own.
bench:
	bash tests/install-deps.sh --bench
	$(MAKE) all $(TOOLS)
	$(TEST_ENV) bash tests/bench/run.sh

# Debian's layout with PREFIX=/usr. The units name the binary, the config directory and the
# documentation where this install puts them. Creating the user (systemd-sysusers) and enabling a
# unit are left to the package's postinst or the administrator (README, "Running it under
# systemd"). The relay keeps no state on disk, so there is no tmpfiles.d snippet.
UNITS := systemd/outbox-relay.service systemd/outbox-relay@.service

install: outbox-relay
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/sql $(DESTDIR)$(SYSCONFDIR)/outbox-relay \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 outbox-relay $(DESTDIR)$(BINDIR)/outbox-relay
	install -m 0644 $(SQL) $(DESTDIR)$(DATADIR)/sql/
	install -m 0644 README.md CHANGELOG.md $(DESTDIR)$(DOCDIR)/
	for u in $(UNITS); do \
		sed -e 's|/usr/bin/outbox-relay|$(BINDIR)/outbox-relay|g' \
		    -e 's|/etc/outbox-relay/|$(SYSCONFDIR)/outbox-relay/|g' \
		    -e 's|/usr/share/doc/outbox-relay/|$(DOCDIR)/|g' \
		    $$u >$(DESTDIR)$(UNITDIR)/$${u#systemd/} && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u#systemd/} || exit 1; \
	done
	install -m 0644 systemd/outbox-relay.sysusers $(DESTDIR)$(SYSUSERSDIR)/outbox-relay.conf
	install -m 0640 conf/outbox-relay.conf $(DESTDIR)$(SYSCONFDIR)/outbox-relay/outbox-relay.conf.example

# Fuzzing every parser of untrusted input (tests/fuzz/README.md): the pgoutput decoder, the
# JSON-to-Avro encoder and .avsc schemas, the configuration file and the command line. Each
# target is built twice from the same source:
#   make fuzz             clang + libFuzzer (Debian: clang libclang-rt-14-dev), every target for
#                         FUZZ_TIME seconds, seeded with tests/fuzz/corpus/TARGET; new inputs go
#                         to build-fuzz/corpus/TARGET, crashes to build-fuzz/artifacts/TARGET/
#   make fuzz-TARGET      the same for one target
#   make fuzz-ci          a short libFuzzer pass of every target (FUZZ_CI_TIME seconds each)
#   make fuzz-standalone  gcc + ASan/UBSan and tests/fuzz/driver.c instead of libFuzzer: FUZZ_RUNS
#                         inputs per target mutated from the corpus with a seeded PRNG
# FUZZ_SEED fixes the seed of both (default: a new one each run, printed). `make check` runs
# with FUZZ_SEED=1, so that its result does not depend on which inputs a seed happened to draw;
# exploring is what `make fuzz` and `make fuzz-standalone` without it are for.
# The relay's modules are compiled once per flavour into an archive, so that each target links
# only the modules it uses. (clang 14 does not know -Wno-format-truncation.)
FUZZ_TARGETS  := pgoutput avenc conf cli
FUZZ_TIME     ?= 60
FUZZ_CI_TIME  ?= 20
FUZZ_RUNS     ?= 1000000
FUZZ_SEED     ?=
FUZZ_CC       ?= clang
FUZZ_MAX_LEN_pgoutput := 4096
FUZZ_MAX_LEN_avenc    := 8192
FUZZ_MAX_LEN_conf     := 8192
FUZZ_MAX_LEN_cli      := 1024
# libconfig 1.5 leaks on syntax errors (tests/fuzz/lsan.supp): libFuzzer would run a leak check
# after nearly every input of fuzz_conf, 60 times slower; its leaks are checked at exit instead,
# by fuzz-standalone.
FUZZ_OPTS_conf        := -detect_leaks=0
FUZZ_ENV      := LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp:print_suppressions=0
FUZZ_BASE     := -std=c11 -D_GNU_SOURCE -DOUTBOX_RELAY_VERSION='"$(VERSION)"' -iquote relay \
	-iquote tests/fuzz -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all -pthread
FUZZ_FLAGS    := $(FUZZ_BASE) -Wall -Wextra -Werror
FUZZ_LIBFUZZER_OBJS  := $(patsubst relay/%.c,build-fuzz/obj/%.o,$(MODULES) relay/sql_embed.c)
FUZZ_STANDALONE_OBJS := $(patsubst relay/%.c,build-fuzz/obj-standalone/%.o,$(MODULES) relay/sql_embed.c)

.PHONY: fuzz-ci $(addprefix fuzz-,$(FUZZ_TARGETS))

build-fuzz/obj/%.o: relay/%.c $(wildcard relay/*.h)
	@mkdir -p build-fuzz/obj
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build-fuzz/obj-standalone/%.o: relay/%.c $(wildcard relay/*.h)
	@mkdir -p build-fuzz/obj-standalone
	$(CC) $(FUZZ_FLAGS) -Wno-format-truncation $(PKG_CFLAGS) -fsanitize=address,undefined \
		-c -o $@ $<

build-fuzz/librelay.a: $(FUZZ_LIBFUZZER_OBJS)
	rm -f $@ && ar rcs $@ $^

build-fuzz/librelay-standalone.a: $(FUZZ_STANDALONE_OBJS)
	rm -f $@ && ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h build-fuzz/librelay.a
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		build-fuzz/librelay.a $(PKG_LIBS)

build-fuzz/fuzz_%_standalone: tests/fuzz/fuzz_%.c tests/fuzz/driver.c tests/fuzz/fuzz.h \
		build-fuzz/librelay-standalone.a
	$(CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -fsanitize=address,undefined -o $@ $< tests/fuzz/driver.c \
		build-fuzz/librelay-standalone.a $(PKG_LIBS)

# fuzz-TARGET: libFuzzer for FUZZ_TIME seconds; the final stats are printed.
$(addprefix fuzz-,$(FUZZ_TARGETS)): fuzz-%: build-fuzz/fuzz_%
	@mkdir -p build-fuzz/corpus/$* build-fuzz/artifacts/$*
	$(FUZZ_ENV) build-fuzz/fuzz_$* -max_total_time=$(FUZZ_TIME) -max_len=$(FUZZ_MAX_LEN_$*) \
		-timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$*/ $(FUZZ_OPTS_$*) \
		$(if $(FUZZ_SEED),-seed=$(FUZZ_SEED)) \
		$(if $(wildcard tests/fuzz/$*.dict),-dict=tests/fuzz/$*.dict) \
		build-fuzz/corpus/$* tests/fuzz/corpus/$*

# Every target in turn, even after one fails; fails when any did.
fuzz: $(addprefix build-fuzz/fuzz_,$(FUZZ_TARGETS))
	@failed=; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz_$$t: $(FUZZ_TIME) s"; \
		$(MAKE) --no-print-directory fuzz-$$t FUZZ_TIME=$(FUZZ_TIME) || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed (build-fuzz/artifacts/)"; exit 1; fi

fuzz-ci:
	$(MAKE) fuzz FUZZ_TIME=$(FUZZ_CI_TIME)

fuzz-standalone: $(patsubst %,build-fuzz/fuzz_%_standalone,$(FUZZ_TARGETS))
	@seed=$(or $(FUZZ_SEED),$$(date +%s)); for t in $(FUZZ_TARGETS); do \
		echo "== fuzz_$$t (standalone): $(FUZZ_RUNS) inputs, seed $$seed"; \
		$(FUZZ_ENV) build-fuzz/fuzz_$${t}_standalone -n $(FUZZ_RUNS) -s $$seed \
			tests/fuzz/corpus/$$t \
			|| exit 1; \
	done

clean:
	rm -rf build build-san build-fuzz outbox-relay relay/sql_embed.c
