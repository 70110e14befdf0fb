# make soak [SECONDS=600] [THREADS=8] [GLIBC=1] [SOAK_ENV="KAIO_MAX_EVENTS=16 ..."]
#
# The data integrity soak (c-tests/test_soak.c) for a long run: the glibc build
# of the test under LD_PRELOAD=libkaio.so for SECONDS seconds with THREADS
# threads, kaio's statistics printed at exit (KAIO_SHOW_STATS=1). GLIBC=1 then
# runs it on plain glibc too (the reference: it must pass as well). The soak
# sets KAIO_MAX_EVENTS=32 (a small kernel ring, so kaio's ring-full queue is
# used) unless it is set: SOAK_ENV adds environment for the kaio run, e.g.
# SOAK_ENV="KAIO_MAX_EVENTS=256" for kaio's default ring, "KAIO_THREADS=1",
# or "SOAK_HANG_SECONDS=600" to keep a hung run alive for gdb. `make test`
# runs the same test for 10 s three ways (glibc, -lkaio, LD_PRELOAD).

SOAK_SECS    := $(or $(SECONDS),600)
SOAK_THREADS_N := $(or $(THREADS),8)
SOAK_WORK    := $(BUILD)/tmp/soak
SOAK_RUN      = cd $(SOAK_WORK) && env KAIO_TEST_DIR=$(abspath $(SOAK_WORK)) \
                SOAK_SECONDS=$(SOAK_SECS) SOAK_THREADS=$(SOAK_THREADS_N)

.PHONY: soak

soak: $(BUILD)/glibc/test_soak $(LIBDIR_B)/libkaio.so
	@mkdir -p $(SOAK_WORK)
	@echo "== soak on kaio (LD_PRELOAD), $(SOAK_THREADS_N) threads, $(SOAK_SECS) s $(SOAK_ENV)"
	$(SOAK_RUN) KAIO_TEST_EXPECT=kaio KAIO_SHOW_STATS=1 $(SOAK_ENV) \
	    LD_PRELOAD=$(abspath $(LIBDIR_B))/libkaio.so $(abspath $(BUILD))/glibc/test_soak
ifneq ($(filter-out 0 no false,$(GLIBC)),)
	@echo "== soak on glibc, $(SOAK_THREADS_N) threads, $(SOAK_SECS) s"
	$(SOAK_RUN) KAIO_TEST_EXPECT=glibc $(abspath $(BUILD))/glibc/test_soak
endif
	@echo "soak: passed"
