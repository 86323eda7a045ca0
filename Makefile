# outbox-relay — plain Makefile, pkg-config for every library.
#
#   make                 build ./outbox-relay
#   make check           install what is missing, build, run unit and integration tests
#   make unit            unit tests only (no servers)
#   make integration     integration tests only (real PostgreSQL and Kafka, started here)
#   make demo            throwaway PostgreSQL + Kafka, relay sample events, show them
#   make bench           drain benchmark (tests/bench)
#   make deps            install build and test dependencies (Debian/Ubuntu, apt-get)
#   make install PREFIX=/usr DESTDIR=...
#   make SANITIZE=address,undefined [unit|integration]   instrumented build in build-san/

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
CFLAGS    += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
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

.PHONY: all check unit integration demo bench deps install clean fuzz fuzz-standalone

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
TOOLS := $(BUILD)/tools/avro-decode $(BUILD)/tools/notify-listen

$(BUILD)/tools/avro-decode: tests/tools/avro_decode.c $(OBJS) | $(BUILD)
	@mkdir -p $(BUILD)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $< $(OBJS) $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/tools/notify-listen: tests/tools/notify_listen.c | $(BUILD)
	@mkdir -p $(BUILD)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS)

integration: $(BIN) $(TOOLS)
	OUTBOX_RELAY=$(CURDIR)/$(BIN) AVRO_DECODE=$(CURDIR)/$(BUILD)/tools/avro-decode \
		NOTIFY_LISTEN=$(CURDIR)/$(BUILD)/tools/notify-listen \
		bash tests/integration/run.sh

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-standalone FUZZ_RUNS=300000
	$(MAKE) integration

demo: deps
	$(MAKE) all
	bash tests/demo.sh

bench: deps
	$(MAKE) all
	bash tests/bench/drain.sh

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

# Fuzzing the pgoutput parser (tests/fuzz/README.md). `make fuzz` needs clang with libFuzzer
# (Debian: apt-get install clang); `make fuzz-standalone` needs only gcc and ASan, and a short
# run of it is part of `make check`. (clang 14 does not know -Wno-format-truncation.)
FUZZ_TIME  ?= 60
FUZZ_RUNS  ?= 1000000
FUZZ_FLAGS := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -iquote relay -g -O1 \
	      -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_SRCS  := tests/fuzz/fuzz_pgoutput.c relay/pgoutput.c relay/pgoutput.h

fuzz: build-fuzz/fuzz_pgoutput
	@mkdir -p build-fuzz/corpus build-fuzz/artifacts
	build-fuzz/fuzz_pgoutput -max_total_time=$(FUZZ_TIME) -max_len=4096 -print_final_stats=1 \
		-artifact_prefix=build-fuzz/artifacts/ build-fuzz/corpus tests/fuzz/corpus/pgoutput

build-fuzz/fuzz_pgoutput: $(FUZZ_SRCS)
	@mkdir -p build-fuzz
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c,$^)

fuzz-standalone: build-fuzz/fuzz_pgoutput_standalone
	build-fuzz/fuzz_pgoutput_standalone -n $(FUZZ_RUNS) -s $$(date +%s) tests/fuzz/corpus/pgoutput

build-fuzz/fuzz_pgoutput_standalone: $(FUZZ_SRCS)
	@mkdir -p build-fuzz
	$(CC) $(FUZZ_FLAGS) -DPGO_FUZZ_STANDALONE -fsanitize=address,undefined -o $@ $(filter %.c,$^)

clean:
	rm -rf build build-san build-fuzz outbox-relay relay/sql_embed.c
