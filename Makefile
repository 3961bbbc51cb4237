# tessera: one Makefile for the library, the CLI, the tests and the benchmarks.
#
#   make            build build/tessera and build/libtessera.a
#   make test       unit tests + cross-checks against reference tools
#   make test SAN=1 the same suite built with AddressSanitizer + UBSan
#   make bench      each stage against its reference tool, ratios printed
#   make demo       install what is missing, run the demo job
#   make install    PREFIX=/usr/local
#
# Sources are picked up by folder, so a new file in a stage needs no edit here.

PREFIX ?= /usr/local
CC ?= cc
SAN ?= 0

PKGS := libcurl libcrypto libarchive libjpeg libwebp libwebpdemux libzstd libcjson libxxhash spng zlib libutf8proc snappy
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT := -O1 -g
else
BUILD ?= build
SANFLAGS :=
OPT := -O2 -g
endif

CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread $(OPT) $(SANFLAGS) -I. $(PKG_CFLAGS)
override CFLAGS := $(CFLAGS_BASE) $(CFLAGS)
override LDFLAGS := $(SANFLAGS) -pthread $(LDFLAGS)
LDLIBS := $(PKG_LIBS) -lgif -lm

STAGES := core tiler tokenize ingest shards mixers render features pipeline
LIB_SRC := $(foreach d,$(STAGES),$(wildcard $(d)/*.c))
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

# CUDA: built only where nvcc exists; everything else builds without it.
NVCC ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_SRC := $(wildcard features/cuda/*.cu)
ifneq ($(NVCC),)
ifneq ($(CUDA_SRC),)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
CUDA_OBJ := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
# The CUDA forward is a plugin loaded on first use (features/cuda_plugin.c
# says why); it takes the library's functions from the executable.
CUDA_PLUGIN := $(BUILD)/libtessera-cuda.so
override CFLAGS += -DTS_HAVE_CUDA=1
override LDFLAGS += -rdynamic
endif
endif

LIB := $(BUILD)/libtessera.a
BIN := $(BUILD)/tessera

.PHONY: all test unit-test bench demo install clean
all: $(BIN) $(CUDA_PLUGIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) -O3 -std=c++17 $(CUDA_ARCH) -I. -Xcompiler -fPIC,-Wall,-Wextra,-Werror -MMD -MP -c $< -o $@

$(CUDA_PLUGIN): $(CUDA_OBJ)
	$(NVCC) -shared $(CUDA_ARCH) $^ -L$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $(CLI_OBJ) $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/harness.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# Test-only programs (tests/tools/*.c) that reference checks drive.
$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

test: $(BIN) $(CUDA_PLUGIN) $(TEST_BIN) $(TOOL_BIN)
	BUILD=$(BUILD) SAN=$(SAN) tests/run.sh

bench: $(BIN) $(CUDA_PLUGIN)
	BUILD=$(BUILD) bench/run.sh

demo:
	./scripts/install-deps.sh
	$(MAKE) $(BIN)
	BUILD=$(BUILD) ./scripts/demo.sh

install: $(BIN) $(CUDA_PLUGIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tessera
ifneq ($(CUDA_PLUGIN),)
	install -d $(DESTDIR)$(PREFIX)/lib/tessera
	install -m 755 $(CUDA_PLUGIN) $(DESTDIR)$(PREFIX)/lib/tessera/
endif

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(CUDA_OBJ:.o=.d)
