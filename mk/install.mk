# make install / make uninstall (included by the main Makefile).
#
#   make install [PREFIX=/usr/local] [DESTDIR=] [LIBDIR=$(PREFIX)/lib]
#                [INCLUDEDIR=$(PREFIX)/include] [MANDIR=$(PREFIX)/share/man]
#                [BINDIR=$(PREFIX)/bin] [PKGCONFIGDIR=$(LIBDIR)/pkgconfig]
#                [STRIP=strip]
#   make uninstall  (same variables): removes exactly the files install puts.
#
# Installed: $(LIBDIR)/libkaio.so.1.X.Y (755) with the links libkaio.so.1 (the
# soname) and libkaio.so (for -lkaio), libkaio.a, $(INCLUDEDIR)/kaio.h,
# $(PKGCONFIGDIR)/kaio.pc, $(MANDIR)/man7/kaio.7, $(MANDIR)/man1/kaio-run.1
# (644) and $(BINDIR)/kaio-run (755).
#
# File version rule: libkaio.so.<soname major>.<crate minor>.<crate patch>.
# The soname major (1, set in build.rs) follows the exported ABI, which is
# glibc's frozen AIO ABI plus kaio_* additions, not the crate version; the
# crate's minor.patch tell releases apart. Crate 0.1.0 -> libkaio.so.1.1.0.
#
# DESTDIR stages the files (packaging); ldconfig runs only for a real install
# (DESTDIR empty) by root.
#
# The libraries are installed stripped, as distributions do: the shared
# library with `strip --strip-unneeded` (its dynamic symbols stay), libkaio.a
# with `strip --strip-debug`, also dropping the LLVM bitcode (.llvmbc) that
# only cross-language LTO reads. STRIP names the tool (a cross strip, say);
# STRIP= (empty) installs both as built, with their debug info.

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL      ?= install
STRIP        ?= strip
LDCONFIG     ?= ldconfig

KAIO_VERSION := $(shell sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
KAIO_SOMAJOR := $(shell sed -n 's/.*-soname,libkaio\.so\.\([0-9][0-9]*\).*/\1/p' build.rs)
KAIO_SOVERSION := $(KAIO_SOMAJOR).$(word 2,$(subst ., ,$(KAIO_VERSION))).$(word 3,$(subst ., ,$(KAIO_VERSION)))
KAIO_GEN := $(or $(BUILD),build)/install

# kaio.pc names libdir and includedir relative to ${prefix} when they lie
# under it, so that pkg-config --define-variable=prefix=... relocates it.
kaio_pcdir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

# Set the shell variable `ok` to whether root should run ldconfig now.
kaio_want_ldconfig = ok=; if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ok=1; fi

.PHONY: install uninstall kaio-install-vars

kaio-install-vars:
	@case "$(KAIO_VERSION)" in *.*.*) ;; *) echo "install: cannot read the crate version from Cargo.toml" >&2; exit 1;; esac
	@[ -n "$(KAIO_SOMAJOR)" ] || { echo "install: cannot read the soname from build.rs" >&2; exit 1; }

install: kaio-install-vars lib
	@mkdir -p $(KAIO_GEN)
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(call kaio_pcdir,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call kaio_pcdir,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(KAIO_VERSION)|g' kaio.pc.in > $(KAIO_GEN)/kaio.pc
	sed -e "s|^installed_lib='@KAIO_INSTALLED_LIB@'|installed_lib='$(LIBDIR)/libkaio.so.$(KAIO_SOMAJOR)'|" \
	    -e "s|^installed_version='@KAIO_VERSION@'|installed_version='$(KAIO_VERSION)'|" \
	    tools/kaio-run > $(KAIO_GEN)/kaio-run
	$(INSTALL) -d "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)" \
	    "$(DESTDIR)$(MANDIR)/man7" "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(BINDIR)"
	cp $(TARGET)/libkaio.so $(KAIO_GEN)/libkaio.so
	cp $(TARGET)/libkaio.a $(KAIO_GEN)/libkaio.a
	$(if $(STRIP),$(STRIP) --strip-unneeded $(KAIO_GEN)/libkaio.so)
	$(if $(STRIP),$(STRIP) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd $(KAIO_GEN)/libkaio.a)
	$(INSTALL) -m 755 $(KAIO_GEN)/libkaio.so "$(DESTDIR)$(LIBDIR)/libkaio.so.$(KAIO_SOVERSION)"
	ln -sf libkaio.so.$(KAIO_SOVERSION) "$(DESTDIR)$(LIBDIR)/libkaio.so.$(KAIO_SOMAJOR)"
	ln -sf libkaio.so.$(KAIO_SOMAJOR) "$(DESTDIR)$(LIBDIR)/libkaio.so"
	$(INSTALL) -m 644 $(KAIO_GEN)/libkaio.a "$(DESTDIR)$(LIBDIR)/libkaio.a"
	$(INSTALL) -m 644 include/kaio.h "$(DESTDIR)$(INCLUDEDIR)/kaio.h"
	$(INSTALL) -m 644 $(KAIO_GEN)/kaio.pc "$(DESTDIR)$(PKGCONFIGDIR)/kaio.pc"
	$(INSTALL) -m 644 man/kaio.7 "$(DESTDIR)$(MANDIR)/man7/kaio.7"
	$(INSTALL) -m 644 man/kaio-run.1 "$(DESTDIR)$(MANDIR)/man1/kaio-run.1"
	$(INSTALL) -m 755 $(KAIO_GEN)/kaio-run "$(DESTDIR)$(BINDIR)/kaio-run"
	@$(kaio_want_ldconfig); if [ -n "$$ok" ]; then echo $(LDCONFIG); $(LDCONFIG) || echo "install: warning: $(LDCONFIG) failed" >&2; fi

uninstall: kaio-install-vars
	rm -f "$(DESTDIR)$(LIBDIR)/libkaio.so.$(KAIO_SOVERSION)" \
	      "$(DESTDIR)$(LIBDIR)/libkaio.so.$(KAIO_SOMAJOR)" \
	      "$(DESTDIR)$(LIBDIR)/libkaio.so" \
	      "$(DESTDIR)$(LIBDIR)/libkaio.a" \
	      "$(DESTDIR)$(INCLUDEDIR)/kaio.h" \
	      "$(DESTDIR)$(PKGCONFIGDIR)/kaio.pc" \
	      "$(DESTDIR)$(MANDIR)/man7/kaio.7" \
	      "$(DESTDIR)$(MANDIR)/man1/kaio-run.1" \
	      "$(DESTDIR)$(BINDIR)/kaio-run"
	@$(kaio_want_ldconfig); if [ -n "$$ok" ]; then echo $(LDCONFIG); $(LDCONFIG) || echo "install: warning: $(LDCONFIG) failed" >&2; fi
