# make test-stress [N=20] [TESTS="test_a test_b"]: every C test N times pinned
# to one CPU beside a CPU hog, once more unpinned beside two hogs; reports any
# test whose outcome varies (a race in kaio or in the test).
N ?= 20
TESTS ?= $(TEST_NAMES)
.PHONY: test-stress
test-stress: c-tests $(BLOG_FILE)
	c-tests/stress.sh $(BUILD) $(LIBDIR_B) $(N) $(TESTS)
