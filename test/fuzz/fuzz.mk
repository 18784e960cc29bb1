# libFuzzer targets (docs/fuzzing.md).  Included from the Makefile, after
# COMMON_SRC, HOST_LIB_SRC, GUEST_LIB_SRC, WARN and VERSION are set.
#
# Every test/fuzz/fuzz_NAME.c is a target, build/fuzz/fuzz_NAME, linked
# against all of common/, host/ and guest/ (no main()s) and the generated
# protobuf code, all compiled with clang, ASan, UBSan and libFuzzer's
# coverage; any other test/fuzz/*.c is a helper linked into every target.
# protobuf-c is Debian's uninstrumented library unless PROTOBUF_C_SRC names
# an upstream protobuf-c.c to compile instrumented (see docs/fuzzing.md).
#
#   make fuzz		run each target FUZZ_SECONDS (FUZZ_TARGETS: a subset)
#   make test-fuzz	replay the checked-in corpora, then a short run each

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_SMOKE_SECONDS ?= 2
PROTOBUF_C_SRC	?=

FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS	:= -g -O1 -fno-omit-frame-pointer -std=gnu11 $(WARN) \
		   $(FUZZ_SAN) -fsanitize=fuzzer-no-link

ifeq ($(PROTOBUF_C_SRC),)
FUZZ_BUILD	:= build/fuzz
FUZZ_PROTO_LIB	:= -lprotobuf-c
FUZZ_PROTO_OBJ	:=
FUZZ_PROTO_INC	:=
else
# The upstream library, instrumented, in its own build directory; its
# header (PROTOBUF_C_SRC's directory is protobuf-c/ in an upstream tree)
# replaces Debian's for every object.  Of UBSan's checks, only the one of
# each of its two known findings is off, in that one function
# (test/fuzz/ubsan-ignore.txt).
FUZZ_BUILD	:= build/fuzz-protobuf-c
FUZZ_PROTO_LIB	:=
FUZZ_PROTO_OBJ	:= $(FUZZ_BUILD)/obj/protobuf-c.o
FUZZ_PROTO_INC	:= -I$(abspath $(dir $(PROTOBUF_C_SRC))..)
endif

FUZZ_CPPFLAGS	:= -D_GNU_SOURCE -DEVG_VERSION='"$(VERSION)"' \
		   -I$(FUZZ_BUILD)/gen -Icommon -Ihost -Iguest -Itest/fuzz \
		   $(FUZZ_PROTO_INC)

FUZZ_TARGET_SRC	:= $(wildcard test/fuzz/fuzz_*.c)
FUZZ_HELPER_SRC	:= $(filter-out test/fuzz/fuzz_%.c,$(wildcard test/fuzz/*.c))
FUZZ_ALL	:= $(patsubst test/fuzz/fuzz_%.c,%,$(FUZZ_TARGET_SRC))
FUZZ_TARGETS	?= $(FUZZ_ALL)
FUZZ_BINS	:= $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_ALL))

fuzzobj		= $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(1))
FUZZ_LIB_OBJ	:= $(call fuzzobj,$(COMMON_SRC) $(HOST_LIB_SRC) \
		   $(GUEST_LIB_SRC) $(FUZZ_HELPER_SRC)) \
		   $(FUZZ_BUILD)/obj/gen/evg.pb-c.o $(FUZZ_PROTO_OBJ)

ifneq ($(PROTOBUF_C_SRC),)
$(FUZZ_PROTO_OBJ): $(PROTOBUF_C_SRC) test/fuzz/ubsan-ignore.txt
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_PROTO_INC) -I$(dir $(PROTOBUF_C_SRC)) -g -O1 \
	    -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	    -fsanitize-ignorelist=test/fuzz/ubsan-ignore.txt -c -o $@ \
	    $(PROTOBUF_C_SRC)
endif

.PHONY: fuzz fuzz-build test-fuzz

$(FUZZ_BUILD)/gen/evg.pb-c.c $(FUZZ_BUILD)/gen/evg.pb-c.h &: proto/evg.proto
	@mkdir -p $(FUZZ_BUILD)/gen
	$(PROTOC_C) --proto_path=proto --c_out=$(FUZZ_BUILD)/gen proto/evg.proto

$(FUZZ_BUILD)/obj/gen/evg.pb-c.o: $(FUZZ_BUILD)/gen/evg.pb-c.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -Wno-missing-prototypes \
	    -c -o $@ $<

$(FUZZ_BUILD)/obj/%.o: %.c $(FUZZ_BUILD)/gen/evg.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/test/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -pthread -o $@ $^ $(LIBS_JSON) \
	    $(LIBS_EVENT) $(FUZZ_PROTO_LIB)

fuzz-build: $(FUZZ_BINS)

# Long runs: new inputs go to build/fuzz/corpus, never the checked-in one.
fuzz: fuzz-build
	sh test/fuzz/run.sh fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Part of `make test`: every checked-in input once, then a short run.
test-fuzz: fuzz-build
	sh test/fuzz/run.sh smoke $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) \
	    $(FUZZ_TARGETS)

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
