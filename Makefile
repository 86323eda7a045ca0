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

PKGS      := libpq rdkafka libconfig jansson
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

.PHONY: all check unit integration demo bench deps install clean

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

$(BUILD)/tests/%: tests/unit/%.c $(OBJS) | $(BUILD)
	@mkdir -p $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(OBJS) \
		$(LDFLAGS) $(PKG_LIBS) $(shell pkg-config --libs cmocka)

$(BUILD):
	mkdir -p $(BUILD)

deps:
	bash tests/install-deps.sh

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

integration: $(BIN)
	OUTBOX_RELAY=$(CURDIR)/$(BIN) bash tests/integration/run.sh

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

demo: deps
	$(MAKE) all
	bash tests/demo.sh

bench: deps
	$(MAKE) all
	bash tests/bench/drain.sh

install: outbox-relay
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/sql $(DESTDIR)$(SYSCONFDIR)/outbox-relay \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/doc/outbox-relay
	install -m 0755 outbox-relay $(DESTDIR)$(BINDIR)/outbox-relay
	install -m 0644 $(SQL) $(DESTDIR)$(DATADIR)/sql/
	install -m 0644 README.md CHANGELOG.md $(DESTDIR)$(PREFIX)/share/doc/outbox-relay/
	sed 's|/usr/bin/outbox-relay|$(BINDIR)/outbox-relay|g' systemd/outbox-relay.service \
		>$(DESTDIR)$(UNITDIR)/outbox-relay.service
	install -m 0640 conf/outbox-relay.conf $(DESTDIR)$(SYSCONFDIR)/outbox-relay/outbox-relay.conf.example

clean:
	rm -rf build build-san outbox-relay relay/sql_embed.c
