# make bench           fio: glibc posixaio vs kaio (LD_PRELOAD) vs libaio, io_uring, psync,
#                      interleaved rounds; C micro-benchmark; hyperfine timings.
#                      Writes bench/results.md, bench/results.json, bench/iops.svg.
# make bench QUICK=1   smoke run (2 short rounds, fewer scenarios, < 2 min); writes to
#                      build/bench/quick/ so the committed results stay as they are.
# Variables: BENCH_DATA (data dir on a real disk, default build/bench-data),
#            BENCH_OUT (output dir), BENCH_ROUNDS, BENCH_RUNTIME (seconds per fio job).
BENCH_DIR   := $(BUILD)/bench
BENCH_DATA  ?= $(BUILD)/bench-data
BENCH_QUICK := $(if $(filter-out 0 no false,$(QUICK)),--quick)
BENCH_OUT   ?= $(if $(BENCH_QUICK),$(BENCH_DIR)/quick,bench)
BENCH_BINS  := $(BENCH_DIR)/glibc/bench_micro $(BENCH_DIR)/kaio/bench_micro $(BENCH_DIR)/exit_cost

.PHONY: bench bench-bins

# Checked when make reads this file, before anything is built.
ifneq ($(filter bench,$(MAKECMDGOALS)),)
ifeq ($(shell command -v fio 2>/dev/null),)
$(error make bench needs fio: apt-get install fio)
endif
ifeq ($(shell command -v python3 2>/dev/null),)
$(error make bench needs python3: apt-get install python3)
endif
endif

bench-bins: $(BENCH_BINS) $(BUILD)/glibc/blog_example $(BUILD)/glibc/blog_example_direct $(LIBDIR_B)/libkaio.so $(BLOG_FILE)

bench: bench-bins
	@command -v hyperfine >/dev/null 2>&1 || echo "note: hyperfine not found (apt-get install hyperfine): process timings use a Python loop"
	@command -v gnuplot >/dev/null 2>&1 || echo "note: gnuplot not found (apt-get install gnuplot-nox): bench/run.py draws the SVG itself"
	python3 bench/run.py $(BENCH_QUICK) --root $(CURDIR) --lib $(abspath $(LIBDIR_B))/libkaio.so \
	    --data $(abspath $(BENCH_DATA)) --out $(abspath $(BENCH_OUT)) \
	    $(if $(BENCH_ROUNDS),--rounds $(BENCH_ROUNDS)) $(if $(BENCH_RUNTIME),--runtime $(BENCH_RUNTIME))

# The micro-benchmark, built like the C tests: plain glibc, and -lkaio.
$(BENCH_DIR)/glibc/%: c-tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LIBS)

$(BENCH_DIR)/kaio/%: c-tests/%.c include/kaio.h $(LIBDIR_B)/libkaio.so
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -DKAIO_LINKED -Iinclude -o $@ $< -L$(LIBDIR_B) -lkaio \
	    -Wl,-rpath,$(abspath $(LIBDIR_B)) $(TEST_LIBS)

$(BENCH_DIR)/exit_cost: bench/exit_cost.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wall -Wextra -Werror -o $@ $<
