# make man: regenerate the parts of man/kaio.7 that come from elsewhere (the
# README's "Differences from glibc" table, the counters in
# src/engine/stats.rs); the check c-tests/checks/man-sync.sh fails if stale.
.PHONY: man
man:
	bash man/sync.sh
