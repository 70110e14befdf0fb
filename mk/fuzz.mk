# make fuzz [SEEDS=N] [FROM=S]   differential fuzzing of kaio against glibc
#   (c-tests/fuzz_diff.c): N random sequences of AIO calls (default 200, from
#   seed S, default 1), each replayed in fresh processes on glibc, on kaio
#   preloaded and on the -lkaio build; the transcripts must be identical. A
#   mismatch prints the seed, the first differing line and a shrunk
#   reproducer (seed + op mask + entry mask, and the ops as pseudo-code).
#   FUZZ_ARGS passes more options (--twice, --no-shrink, --first, -v);
#   FUZZ_AVOID=k1,k2 leaves out patterns (see fuzz_diff.c). Default: pipefail,
#   a documented difference (README): kaio keeps a read lane and a write lane
#   per descriptor, so a request that fails at once on a pipe end (a write to
#   the read end, an fsync) is not queued behind a pending read as in glibc's
#   single per-fd queue, and aio_cancel then says AIO_ALLDONE, not CANCELED.
#   make test runs 20 seeds (c-tests/checks/fuzz-diff.sh).
# Built in $(BUILD)/fuzz/, not $(BUILD)/glibc/: run.sh would take it for a test.
FUZZ_DIR   := $(BUILD)/fuzz
FUZZ_SEEDS := $(if $(SEEDS),$(SEEDS),200)
FUZZ_FROM  := $(if $(FROM),$(FROM),1)
FUZZ_AVOID ?= pipefail

.PHONY: fuzz
fuzz: $(FUZZ_DIR)/glibc/fuzz_diff $(FUZZ_DIR)/kaio/fuzz_diff $(LIBDIR_B)/libkaio.so
	@mkdir -p $(BUILD)/tmp
	cd $(BUILD)/tmp && KAIO_TEST_DIR=$$PWD FUZZ_AVOID=$(FUZZ_AVOID) $(abspath $(FUZZ_DIR))/glibc/fuzz_diff fuzz \
	    --lib $(abspath $(LIBDIR_B))/libkaio.so --linked $(abspath $(FUZZ_DIR))/kaio/fuzz_diff \
	    --from $(FUZZ_FROM) --seeds $(FUZZ_SEEDS) $(FUZZ_ARGS)

$(FUZZ_DIR)/glibc/fuzz_diff: c-tests/fuzz_diff.c c-tests/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LIBS)

$(FUZZ_DIR)/kaio/fuzz_diff: c-tests/fuzz_diff.c c-tests/harness.h include/kaio.h $(LIBDIR_B)/libkaio.so
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -DKAIO_LINKED -Iinclude -o $@ $< -L$(LIBDIR_B) -lkaio \
	    -Wl,-rpath,$(abspath $(LIBDIR_B)) $(TEST_LIBS)
