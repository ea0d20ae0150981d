# tpgrade - auto-grader for the Docker course's TPs.
#
#   make            build build/tpgrade
#   make demo       install what is missing, build, grade the sample submissions
#   make test       install what is missing, run every test (also under ASan+UBSan)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
#
# Sources are discovered: every grader/*.c except main.c goes into
# libtpgrade.a; every tests/unit/test_*.c is one cmocka test program.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
SAN     ?=

# pkg-config name -> Debian package, for the message when one is missing.
PKG_DEPS := libcurl:libcurl4-openssl-dev jansson:libjansson-dev \
	yaml-0.1:libyaml-dev libgit2:libgit2-dev libpcre2-8:libpcre2-dev \
	libarchive:libarchive-dev
PKGS      := $(foreach d,$(PKG_DEPS),$(firstword $(subst :, ,$(d))))
TEST_PKGS := cmocka

MISSING := $(foreach d,$(PKG_DEPS),$(if $(shell pkg-config --exists $(firstword $(subst :, ,$(d))) && echo y),,$(lastword $(subst :, ,$(d)))))

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DTPG_DATADIR='"$(PREFIX)/share/tpgrade"'
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
TEST_LIBS := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

LIB_SRC  := $(filter-out grader/main.c,$(wildcard grader/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/grader/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPERS := $(filter-out tests/unit/test_%,$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJ := $(UNIT_HELPERS:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libtpgrade.a
BIN      := $(BUILD)/tpgrade

.PHONY: all deps demo test unit test-fast test-san e2e docker-tests install clean check-deps
.DEFAULT_GOAL := all

all: check-deps $(BIN)

check-deps:
ifneq ($(strip $(MISSING)),)
	@echo "tpgrade: missing libraries; install them with:" >&2
	@echo "    sudo apt-get install $(strip $(MISSING))" >&2
	@echo "(or run 'make demo' / 'make test' as root, which installs them)" >&2
	@exit 1
endif

$(BUILD)/obj/%.o: %.c $(wildcard include/tpgrade/*.h) $(wildcard grader/*.h) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(UNIT_HELPER_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) \
		$(LDFLAGS) -o $@ $< $(UNIT_HELPER_OBJ) $(LIB) $(LIBS) $(TEST_LIBS)

# The helpers' objects are intermediate files to make: keep them, or a
# parallel link of another test program finds them deleted.
.SECONDARY: $(UNIT_HELPER_OBJ)

unit-bins: $(UNIT_BIN)

# Installs missing build/test packages on Debian when we may (root or sudo).
deps:
	@.ci/deps.sh

# Unit tests only, with the current BUILD/SAN.
unit: $(BIN) $(UNIT_BIN)
	@tests/run-unit.sh $(BUILD)

# Everything but the sanitizer pass, with the current BUILD/SAN.
test-fast: $(BIN) $(UNIT_BIN)
	@tests/run-all.sh $(BUILD)

test-san:
	$(MAKE) BUILD=build-san SAN=1 $(BUILD_SAN_TARGETS) test-fast

test: deps
	@$(MAKE) --no-print-directory all unit-bins
	@tests/run-all.sh $(BUILD)
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 all unit-bins
	@TPG_SANITIZED=1 tests/run-all.sh build-san

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tpgrade/checks \
		$(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tpgrade
	install -m 644 checks/*.yaml $(DESTDIR)$(PREFIX)/share/tpgrade/checks/
	install -m 644 docs/tpgrade.1 $(DESTDIR)$(PREFIX)/share/man/man1/tpgrade.1

clean:
	rm -rf build build-san
