# make test-valgrind   the short C test suite under valgrind memcheck, three ways
#                      (glibc, -lkaio, LD_PRELOAD), 0 errors required
# make test-asan       the same tests built with -fsanitize=address,undefined,
#                      three ways; in the preload run libasan comes first:
#                      LD_PRELOAD="libasan.so libkaio.so"
# Both reuse c-tests/run.sh: each test is replaced by a tiny wrapper script in
# $(BUILD)/valgrind/{glibc,kaio}/ or $(BUILD)/asan/{glibc,kaio}/ that runs the
# real program under the tool, so transcripts are still compared across the
# three runs and run.sh's LD_PRELOAD reaches the program.
# Variables:
#   SAN_TESTS=...        tests to run (default: every test but those below)
#   VG_GLIBC=0           run the glibc-mode program natively (transcript still
#                        compared), valgrind only on the two kaio runs: faster
#   VALGRIND_FLAGS=...   extra valgrind options
#   SAN_TIMEOUT=300      run.sh's limit per run, in seconds
# Needs: valgrind (apt-get install valgrind); gcc's libasan/libubsan (Debian:
# libasan8 and libubsan1, pulled in by gcc). Times on the 2-CPU VM, loaded:
# test-valgrind 84 tests x 3 runs 160-220 s; test-asan build ~1-2 min, run
# 25-30 s.

# Not in the sanitizer runs, and why:
#  - blog_example*: the blog's example, not a test (no checks); it reads a
#    20 MB build/tmp/test.file and spins on aio_error ~10^6 times.
#  - test_soak*, *fuzz*, *bench*: the long runs (make soak / make fuzz).
#  - test_bad_unmapped, test_bad_nbytes_huge: they hand the kernel unmapped,
#    read-only and oversized buffers on purpose; memcheck rightly reports
#    those syscall arguments (the point of the tests is that kaio does not
#    crash: the normal runs check that).
#  - test_nb_stats_output (valgrind only): re-executes /proc/self/exe, which
#    under valgrind is valgrind's tool, not the test.
#  - test_error_publish_order (valgrind only): 2000 busy-waits on aio_error;
#    valgrind runs one thread at a time, so on glibc the spinning main thread
#    starves glibc's worker and the test's watchdog fires (kaio passes it).
#  - test_rel_handler_waits, test_rel_siglongjmp (valgrind only): they send
#    their signal when /proc shows the waiting thread asleep in a system
#    call; under valgrind the thread is valgrind's scheduler's, and the
#    signal never lands in aio_suspend.
#  - test_rel_seccomp, test_rel_aio_max_nr (valgrind only): they require a
#    wait to sleep (under 0.05 s of CPU for 0.4 s of waiting); valgrind's
#    own polling scheduler spends more than that, on glibc too.
#  - test_rel_ring_full_suspend, test_spec_eagain (valgrind only): they
#    re-execute /proc/self/exe, as test_nb_stats_output does.
#  - test_spec_notify_order, test_spec_notify_paths (valgrind only): they
#    give notification threads stacks of their own and look at a canary at
#    the top of each (where pthread_create puts the thread's descriptor), a
#    region memcheck does not consider the program's.
#  - test_spec_eintr_lio (valgrind only): on glibc it provokes glibc's own
#    bug (LIO_WAIT's wait records stay linked to the requests after EINTR,
#    on a stack that is gone; the test keeps that memory intact with padding,
#    and memcheck rightly reports glibc's write through it).
# Names containing one of SAN_SKIP_WORDS, and the names in *_SKIP, are left out.
SAN_SKIP_WORDS := soak fuzz bench
SAN_SKIP_COMMON := blog_example blog_example_direct test_bad_unmapped test_bad_nbytes_huge
VG_SKIP   := $(SAN_SKIP_COMMON) test_nb_stats_output test_error_publish_order \
             test_rel_handler_waits test_rel_siglongjmp test_rel_seccomp test_rel_aio_max_nr \
             test_rel_ring_full_suspend test_spec_eagain test_spec_notify_order \
             test_spec_notify_paths test_spec_eintr_lio
ASAN_SKIP := $(SAN_SKIP_COMMON)
san_pick = $(foreach t,$(filter-out $1,$(TEST_NAMES)),$(if $(strip $(foreach w,$(SAN_SKIP_WORDS),$(findstring $w,$t))),,$t))
SAN_TESTS ?=
VG_TESTS   = $(or $(SAN_TESTS),$(call san_pick,$(VG_SKIP)))
ASAN_TESTS = $(or $(SAN_TESTS),$(call san_pick,$(ASAN_SKIP)))
# Programs run slower under the tools: run.sh's per-run limit (the tests'
# own watchdogs still apply).
SAN_TIMEOUT ?= 300

# No suppressions: kaio tells memcheck, with client requests, about memory
# the kernel writes behind valgrind's back (the completion ring, and the
# buffers of reads whose completions kaio takes from the ring).
# --max-stackframe: glibc's lio_listio puts nent * 40 bytes on the stack
# (test_bad_lio_nent: 4 MB); above 2 MB valgrind takes the stack pointer move
# for a stack switch and reports the frame's accesses as invalid.
VALGRIND ?= valgrind
VALGRIND_FLAGS ?=
VG_GLIBC ?= 1
VG_CMD := $(VALGRIND) -q --error-exitcode=99 --leak-check=no --trace-children=no \
          --max-stackframe=16777216 $(VALGRIND_FLAGS)
VG_KAIO_CMD := $(VG_CMD)
VG_DIR := $(BUILD)/valgrind

ASAN_DIR := $(BUILD)/asan
# -fno-sanitize=nonnull-attribute: test_null_aiocb, test_lio_null_list and
# test_suspend_null_list pass NULL where <aio.h> declares the argument
# nonnull, on purpose (kaio must answer -1/EINVAL); UBSan would stop them at
# the call. Every other UBSan check stays on.
ASAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize=nonnull-attribute -fno-sanitize-recover=all \
               -fno-omit-frame-pointer
ASAN_ENV := ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=98 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=97

.PHONY: test-valgrind test-asan

# Write wrapper $1/$2/$3 that runs program $4 with prefix $5, or with prefix
# $6 when LD_PRELOAD is set: run.sh runs the glibc build twice, plain and
# with LD_PRELOAD=libkaio.so, through the same wrapper.
define san_wrapper
	printf '#!/bin/sh\nif [ -n "$${LD_PRELOAD:-}" ]; then exec %s %s "$$@"; fi\nexec %s %s "$$@"\n' \
	  "$6" "$4" "$5" "$4" > $1/$2/$3 && chmod +x $1/$2/$3
endef

test-valgrind: $(addprefix $(BUILD)/glibc/,$(VG_TESTS)) $(addprefix $(BUILD)/kaio/,$(VG_TESTS)) \
               $(LIBDIR_B)/libkaio.so
	@command -v $(VALGRIND) >/dev/null 2>&1 || { echo "make test-valgrind needs valgrind: apt-get install valgrind"; exit 1; }
	@rm -rf $(VG_DIR)/glibc $(VG_DIR)/kaio && mkdir -p $(VG_DIR)/glibc $(VG_DIR)/kaio $(VG_DIR)/tmp
	@for t in $(VG_TESTS); do \
	  $(call san_wrapper,$(VG_DIR),glibc,$$t,$(abspath $(BUILD))/glibc/$$t,$(if $(filter 0 no false,$(VG_GLIBC)),,$(VG_CMD)),$(VG_KAIO_CMD)) \
	    || exit 1; \
	  $(call san_wrapper,$(VG_DIR),kaio,$$t,$(abspath $(BUILD))/kaio/$$t,$(VG_KAIO_CMD),$(VG_KAIO_CMD)) || exit 1; \
	done
	@echo "== $(words $(VG_TESTS)) C tests under $$($(VALGRIND) --version) (valgrind on the glibc run: $(VG_GLIBC))"
	@start=$$(date +%s); \
	KAIO_NO_CHECKS=1 KAIO_TEST_TIMEOUT=$(SAN_TIMEOUT) c-tests/run.sh $(VG_DIR) $(LIBDIR_B) $(VG_TESTS); rc=$$?; \
	echo "test-valgrind: $$(( $$(date +%s) - start )) s"; exit $$rc

# The sanitizer builds of the tests: plain glibc, and -lkaio.
$(ASAN_DIR)/bin/glibc/%: c-tests/%.c c-tests/harness.h mk/sanitize.mk
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(ASAN_CFLAGS) -o $@ $< $(TEST_LIBS)

$(ASAN_DIR)/bin/kaio/%: c-tests/%.c c-tests/harness.h include/kaio.h $(LIBDIR_B)/libkaio.so mk/sanitize.mk
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(ASAN_CFLAGS) -DKAIO_LINKED -Iinclude -o $@ $< -L$(LIBDIR_B) -lkaio \
	    -Wl,-rpath,$(abspath $(LIBDIR_B)) $(TEST_LIBS)

test-asan: $(addprefix $(ASAN_DIR)/bin/glibc/,$(ASAN_TESTS)) $(addprefix $(ASAN_DIR)/bin/kaio/,$(ASAN_TESTS)) \
           $(LIBDIR_B)/libkaio.so
	@libasan=$$($(CC) -print-file-name=libasan.so); \
	  case $$libasan in /*) ;; *) echo "test-asan: $(CC) has no libasan.so"; exit 1;; esac; \
	  rm -rf $(ASAN_DIR)/glibc $(ASAN_DIR)/kaio && mkdir -p $(ASAN_DIR)/glibc $(ASAN_DIR)/kaio $(ASAN_DIR)/tmp; \
	  for t in $(ASAN_TESTS); do \
	    $(call san_wrapper,$(ASAN_DIR),glibc,$$t,$(abspath $(ASAN_DIR))/bin/glibc/$$t,env $(ASAN_ENV),env LD_PRELOAD=\"$$libasan \$$LD_PRELOAD\" $(ASAN_ENV)) \
	      || exit 1; \
	    $(call san_wrapper,$(ASAN_DIR),kaio,$$t,$(abspath $(ASAN_DIR))/bin/kaio/$$t,env $(ASAN_ENV),env $(ASAN_ENV)) || exit 1; \
	  done
	@echo "== $(words $(ASAN_TESTS)) C tests built with $(ASAN_CFLAGS)"
	@start=$$(date +%s); \
	KAIO_NO_CHECKS=1 KAIO_TEST_TIMEOUT=$(SAN_TIMEOUT) c-tests/run.sh $(ASAN_DIR) $(LIBDIR_B) $(ASAN_TESTS); rc=$$?; \
	echo "test-asan: $$(( $$(date +%s) - start )) s"; exit $$rc
