# eve-guest-agent build.  `make` builds everything into build/; `make test`
# installs missing Debian packages, then runs the unit tests (plain and
# under ASan/UBSan), a short run of the fuzz targets, the integration
# tests and the Go client's tests; `make demo` runs the demo.

VERSION		:= 0.1.0
PREFIX		?= /usr/local
DESTDIR		?=
BUILD		?= build
SANITIZE	?=

CC		?= cc
PROTOC_C	?= protoc-c
PKG_CONFIG	?= pkg-config

WARN		:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		   -Wmissing-prototypes -Wpointer-arith -Wformat=2 \
		   -Wno-format-nonliteral
CPPFLAGS	+= -D_GNU_SOURCE -DEVG_VERSION='"$(VERSION)"' \
		   -I$(BUILD)/gen -Icommon
CFLAGS		?= -O2 -g
CFLAGS		+= -std=gnu11 $(WARN)
ifneq ($(SANITIZE),)
CFLAGS		+= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=all
LDFLAGS		+= -fsanitize=address,undefined
endif

LIBS_PROTO	:= -lprotobuf-c
LIBS_EVENT	:= -levent_core
LIBS_JSON	:= -ljson-c
LIBS_CHECK	:= $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck)
# The guest agent is one static binary (no settings, no shared libraries).
ifeq ($(SANITIZE),)
STATIC		:= -static
endif

GEN		:= $(BUILD)/gen/evg.pb-c.c $(BUILD)/gen/evg.pb-c.h
COMMON_SRC	:= $(wildcard common/*.c)
HOST_LIB_SRC	:= $(filter-out host/hostd.c host/hostctl.c,$(wildcard host/*.c))
GUEST_LIB_SRC	:= $(filter-out guest/agent.c,$(wildcard guest/*.c))
UNIT_SRC	:= $(wildcard test/unit/*.c)
TOOL_SRC	:= $(wildcard test/tools/*.c)

obj		= $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ	:= $(call obj,$(COMMON_SRC)) $(BUILD)/obj/gen/evg.pb-c.o
HOST_LIB_OBJ	:= $(call obj,$(HOST_LIB_SRC))
GUEST_LIB_OBJ	:= $(call obj,$(GUEST_LIB_SRC))

HOSTD		:= $(BUILD)/eve-guest-hostd
HOSTCTL		:= $(BUILD)/eve-guest-hostctl
AGENT		:= $(BUILD)/eve-guest-agent
UNIT		:= $(BUILD)/check_unit
TOOLS		:= $(patsubst test/tools/%.c,$(BUILD)/%,$(TOOL_SRC))

.PHONY: all unit tools test test-layers test-unit test-asan test-integration demo bench \
	deps clean install
.SECONDARY:

all: $(HOSTD) $(HOSTCTL) $(AGENT) $(UNIT) $(TOOLS)

$(BUILD)/gen/evg.pb-c.c $(BUILD)/gen/evg.pb-c.h: proto/evg.proto
	@mkdir -p $(BUILD)/gen
	$(PROTOC_C) --proto_path=proto --c_out=$(BUILD)/gen proto/evg.proto

$(BUILD)/obj/gen/evg.pb-c.o: $(BUILD)/gen/evg.pb-c.c $(BUILD)/gen/evg.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# The build enforces the layers: common/ sees only common/, guest/ and
# host/ see common/ and themselves, so a stray include fails to compile.
# Tests and tools see everything.
$(BUILD)/obj/common/%.o: LAYER_INC :=
$(BUILD)/obj/guest/%.o: LAYER_INC := -Iguest
$(BUILD)/obj/host/%.o: LAYER_INC := -Ihost
$(BUILD)/obj/test/%.o: LAYER_INC := -Ihost -Iguest

$(BUILD)/obj/%.o: %.c $(BUILD)/gen/evg.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP $(LAYER_INC) -c -o $@ $<

$(HOSTD): $(BUILD)/obj/host/hostd.o $(HOST_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LIBS_JSON) $(LIBS_EVENT) $(LIBS_PROTO)

$(HOSTCTL): $(BUILD)/obj/host/hostctl.o $(HOST_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LIBS_JSON) $(LIBS_EVENT) $(LIBS_PROTO)

$(AGENT): $(BUILD)/obj/guest/agent.o $(GUEST_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) $(STATIC) -o $@ $^ $(LIBS_JSON) $(LIBS_EVENT) \
	    $(LIBS_PROTO)

$(UNIT): $(call obj,$(UNIT_SRC)) $(HOST_LIB_OBJ) $(GUEST_LIB_OBJ) \
	    $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LIBS_CHECK) $(LIBS_JSON) $(LIBS_EVENT) \
	    $(LIBS_PROTO)

$(BUILD)/%: $(BUILD)/obj/test/tools/%.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_JSON) $(LIBS_EVENT) $(LIBS_PROTO)

unit: $(UNIT)
tools: $(TOOLS)

deps:
	@sh scripts/deps.sh

test: deps
	$(MAKE) all
	$(MAKE) test-layers
	$(MAKE) test-unit
	$(MAKE) test-asan
	$(MAKE) test-fuzz
	$(MAKE) test-integration
	$(MAKE) test-go
	$(MAKE) test-packaging
	$(MAKE) test-vm

# No include circle among the files of common/, guest/ or host/ (the
# per-directory -I flags above keep the directories apart).
test-layers:
	sh scripts/check-layers.sh common guest host

test-unit: $(UNIT)
	CK_FORK=yes $(UNIT)

# Unit tests, then the integration tests, against binaries built with
# ASan/UBSan; any sanitizer report fails the run.
test-asan:
	$(MAKE) BUILD=build/asan SANITIZE=1 all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    CK_FORK=yes build/asan/check_unit
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    bash test/integration/run.sh build/asan

test-integration: all
	bash test/integration/run.sh $(BUILD)

# Benchmarks print figures and assert nothing; not part of `make test`
# (test/bench/; BENCH_RUNS: snapshots each side of the side-by-side run
# takes; BENCH_VMS: how many VMs the scale run registers; BENCH_SNAPS:
# how many snapshots one VM lists).
BENCH_RUNS	?= 50
BENCH_VMS	?= 9000
BENCH_SNAPS	?= 10000
bench: all
	bash test/bench/sidebyside.sh $(BUILD) $(BENCH_RUNS)
	bash test/bench/scale.sh $(BUILD) $(BENCH_VMS)
	bash test/bench/concurrent.sh $(BUILD) 100 20
	bash test/bench/snapshots.sh $(BUILD) $(BENCH_SNAPS)

demo: deps
	$(MAKE) all
	bash scripts/demo.sh $(BUILD)

# Everything, guest and host side (packaging/packaging.mk has the parts).
install: install-guest install-host

clean:
	rm -rf build

include test/vm/vm.mk
# libFuzzer targets: `make fuzz`, `make test-fuzz` (docs/fuzzing.md).
include test/fuzz/fuzz.mk
# The Go client for pillar: `make test-go`, `make go-generate` (go/README.md).
include go/go.mk
# After the rules above: it uses $(AGENT), $(HOSTD) and $(HOSTCTL).
include packaging/packaging.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
