# wssgate — one GNU Makefile, out-of-tree builds.
#   make          release build: build/wssgate
#   make asan     ASan+UBSan build: build-asan/wssgate (used by the tests)
#   make test     installs what is missing, then unit, fuzz replay, integration and browser tests
#   make run      installs what is missing, builds, starts the demo
#   make fuzz     libFuzzer targets (clang), each run for FUZZ_SECONDS; new inputs go to
#                 build-fuzz/corpus/ (copy the interesting ones to tests/fuzz/corpus/ by hand)
#   make format   clang-format over the tree

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes \
            -Wstrict-prototypes -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
CPPFLAGS += -Isrc -MMD -MP
LDLIBS   += -lssl -lcrypto -lpcre2-8 -lpthread

SRC      := $(shell find src -name '*.c' | sort)
MAIN_SRC := src/cli/main.c
LIB_SRC  := $(filter-out $(MAIN_SRC),$(SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all asan test run fuzz fuzz-build format clean unit deps bench
all: $(BUILD)/wssgate $(UNIT_BIN)

# V=1 shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

$(BUILD)/libwssgate.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/wssgate: $(MAIN_OBJ) $(BUILD)/libwssgate.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libwssgate.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libwssgate.a $(LDLIBS)

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 CFLAGS="-O1 -g $(SAN)" LDFLAGS="$(SAN)"

unit: asan
	prove -f $(UNIT_SRC:tests/unit/%.c=build-asan/tests/%)

# Fuzz targets link the library built by clang with coverage instrumentation.
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" build-fuzz/libwssgate.a
	@mkdir -p build-fuzz/bin
	for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); \
	  clang $(CPPFLAGS) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -o build-fuzz/bin/$$n $$f build-fuzz/libwssgate.a $(LDLIBS) || exit 1; \
	done

FUZZ_SECONDS ?= 60
fuzz: fuzz-build
	for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); mkdir -p build-fuzz/corpus/$$n tests/fuzz/corpus/$$n; \
	  build-fuzz/bin/$$n -max_total_time=$(FUZZ_SECONDS) -timeout=5 build-fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

deps:
	scripts/install-deps

test: deps
	scripts/run-tests

run: deps $(BUILD)/wssgate
	$(BUILD)/wssgate demo $(DEMO_ARGS)

# ---- bench ---------------------------------------------------------------------------------
# `make bench`: wssgate, nginx and HAProxy side by side (bench/run; BENCH_QUICK=1 for a smoke
# run). The load generator and the echo backend are C programs over the library's ws codec.
BENCH_BIN := $(BUILD)/bench/wsload $(BUILD)/bench/wsecho $(BUILD)/bench/wsrelay
BENCH_OBJ := $(BUILD)/obj/bench/wsload.o $(BUILD)/obj/bench/wsecho.o $(BUILD)/obj/bench/wsrelay.o \
             $(BUILD)/obj/bench/bench_util.o
.SECONDARY: $(BENCH_OBJ)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/obj/bench/bench_util.o $(BUILD)/libwssgate.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The relay floor's io_uring engine (bench/wsrelay.c); liburing-dev is a build dependency.
$(BUILD)/bench/wsrelay: LDLIBS += -luring

# Built with everything else: the test suite runs the load generator (tests/integ), and the
# bench programs keep compiling under the same warnings.
all: $(BENCH_BIN)

.PHONY: bench-deps bench-build
bench-deps:
	scripts/install-deps --bench

bench-build: $(BUILD)/wssgate $(BENCH_BIN)

bench: bench-deps
	$(MAKE) bench-build
	bench/run
# ---- end of bench ----------------------------------------------------------------------------

format:
	clang-format -i $$(find src tests bench -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
