#!/usr/bin/env bash
# make install into a temporary DESTDIR: every file, mode and link in place;
# a C program built with `pkg-config --cflags --libs kaio` against the staged
# install reads a file through kaio (and one linked with libkaio.a too); the
# installed libraries are stripped (no debug sections, the same dynamic
# symbols), or, with STRIP=, exactly the built ones; then
# make uninstall leaves nothing of kaio and touches nothing else. A second
# round checks a custom layout (LIBDIR, INCLUDEDIR, ... set) and the installed
# kaio-run. Builds nothing: `make lib` must have run.
set -u
root=${KAIO_ROOT:?}
work=${KAIO_WORK:?}
cc=${CC:-cc}

command -v pkg-config >/dev/null || { echo "pkg-config not found (install pkgconf)"; exit 77; }
command -v "$cc" >/dev/null || { echo "no C compiler ($cc)"; exit 77; }
for f in target/release/libkaio.so target/release/libkaio.a include/kaio.h; do
  [ -f "$root/$f" ] || { echo "$root/$f missing: run 'make lib' first"; exit 1; }
done

tmp=$(mktemp -d "$work/install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
rc=0
bad() { echo "FAIL: $*"; rc=1; }

version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml")
major=$(readelf -d "$root/target/release/libkaio.so" | sed -n 's/.*Library soname: \[libkaio\.so\.\([0-9]*\)\].*/\1/p')
if [ -z "$version" ] || [ -z "$major" ]; then
  echo "cannot read the crate version ($version) or the soname major ($major)"; exit 1
fi
IFS=. read -r _ vminor vpatch <<<"$version"
sover=$major.$vminor.$vpatch

# make, free of the caller's make flags and install variables, never
# rebuilding the library (-o: take the built files as they are).
mk() { # log target VAR=value...
  local log=$1; shift
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PREFIX -u DESTDIR -u LIBDIR -u INCLUDEDIR \
      -u MANDIR -u BINDIR -u PKGCONFIGDIR -u STRIP \
    make -C "$root" -o target/release/libkaio.so -o build/lib/libkaio.so "$@" >"$log" 2>&1
  local r=$?
  if [ $r -ne 0 ]; then bad "make $* (exit $r)"; sed 's/^/    /' "$log" | tail -20; fi
  if grep -q 'cargo' "$log"; then bad "make $* ran cargo"; fi
  return $r
}

# check_entry TYPE MODE-or-LINKTARGET PATH [SOURCE-TO-COMPARE]
check_entry() {
  local type=$1 want=$2 p=$3 src=${4:-}
  case $type in
    f) if [ ! -f "$p" ] || [ -L "$p" ]; then bad "$p: not a regular file"; return; fi
       local mode; mode=$(stat -c %a "$p")
       [ "$mode" = "$want" ] || bad "$p: mode $mode, want $want"
       if [ -n "$src" ] && ! cmp -s "$src" "$p"; then bad "$p differs from $src"; fi ;;
    l) if [ ! -L "$p" ]; then bad "$p: not a symlink"; return; fi
       local t; t=$(readlink "$p")
       [ "$t" = "$want" ] || bad "$p -> $t, want -> $want"
       [ -e "$p" ] || bad "$p: dangling link" ;;
  esac
}

# Everything of kaio left under $1 (files and links).
leftovers() { find "$1" ! -type d | sort; }

# ---- round 1: PREFIX=/usr, default directories --------------------------
d=$tmp/r1
mk "$tmp/install1.log" install DESTDIR="$d" PREFIX=/usr || exit 1
L=$d/usr/lib
check_entry f 755 "$L/libkaio.so.$sover"
check_entry l "libkaio.so.$sover" "$L/libkaio.so.$major"
check_entry l "libkaio.so.$major" "$L/libkaio.so"
check_entry f 644 "$L/libkaio.a"
# Stripped: no debug sections (nor, in libkaio.a, LLVM bitcode), smaller,
# and the same dynamic symbols and soname.
debug_sections() { readelf -SW "$1" 2>/dev/null | grep -cE '\] \.(debug_|llvmbc)'; }
dynsyms() { nm -D --defined-only "$1" | awk '{print $NF}' | sort; }
[ "$(debug_sections "$L/libkaio.so.$sover")" = 0 ] || bad "installed libkaio.so.$sover has debug sections"
[ "$(debug_sections "$L/libkaio.a")" = 0 ] || bad "installed libkaio.a has debug or bitcode sections"
[ "$(stat -c %s "$L/libkaio.so.$sover")" -lt "$(stat -c %s "$root/target/release/libkaio.so")" ] || bad "installed libkaio.so is not smaller than the built one"
[ "$(dynsyms "$L/libkaio.so.$sover")" = "$(dynsyms "$root/target/release/libkaio.so")" ] || bad "stripping changed the dynamic symbols"
readelf -d "$L/libkaio.so.$sover" | grep -q "Library soname: \[libkaio\.so\.$major\]" || bad "stripped library lost its soname"
check_entry f 644 "$d/usr/include/kaio.h" "$root/include/kaio.h"
check_entry f 644 "$L/pkgconfig/kaio.pc"
check_entry f 644 "$d/usr/share/man/man7/kaio.7" "$root/man/kaio.7"
check_entry f 644 "$d/usr/share/man/man1/kaio-run.1" "$root/man/kaio-run.1"
check_entry f 755 "$d/usr/bin/kaio-run"
n=$(leftovers "$d" | wc -l)
[ "$n" -eq 9 ] || { bad "expected 9 files and links, found $n:"; leftovers "$d" | sed 's/^/    /'; }
grep -q '@[A-Z_]*@' "$L/pkgconfig/kaio.pc" "$d/usr/bin/kaio-run" && bad "unsubstituted @...@ left"
grep -qx "installed_lib='/usr/lib/libkaio.so.$major'" "$d/usr/bin/kaio-run" \
  || bad "kaio-run does not name /usr/lib/libkaio.so.$major"

# pkg-config, unrelocated and relocated into the staging directory.
pc() { PKG_CONFIG_LIBDIR=$L/pkgconfig PKG_CONFIG_PATH='' PKG_CONFIG_SYSROOT_DIR='' pkg-config "$@" kaio; }
[ "$(pc --modversion)" = "$version" ] || bad "pkg-config --modversion: $(pc --modversion), want $version"
[ "$(pc --variable=libdir)" = /usr/lib ] || bad "kaio.pc libdir: $(pc --variable=libdir)"
[ "$(pc --variable=includedir)" = /usr/include ] || bad "kaio.pc includedir: $(pc --variable=includedir)"
flags=$(pc --define-variable=prefix="$d/usr" --cflags --libs)
case " $flags " in
  *" -I$d/usr/include "*"-L$d/usr/lib "*"-lkaio "*) ;;
  *) bad "pkg-config --cflags --libs relocated: '$flags'" ;;
esac
# The other way to use a staged install, as the README says: a sysroot.
sflags=$(PKG_CONFIG_LIBDIR=$L/pkgconfig PKG_CONFIG_PATH='' PKG_CONFIG_SYSROOT_DIR=$d pkg-config --cflags --libs kaio)
case " $sflags " in
  *" -I$d/usr/include "*"-L$d/usr/lib "*"-lkaio "*) ;;
  *) bad "PKG_CONFIG_SYSROOT_DIR=\$DESTDIR pkg-config --cflags --libs: '$sflags'" ;;
esac
priv=$(pc --define-variable=prefix="$d/usr" --static --libs-only-l)

cat >"$tmp/prog.c" <<'EOF'
/* Read a file with aio_read through the installed kaio. */
#define _GNU_SOURCE
#include <kaio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    static const char text[] = "read through kaio\n";
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1)) return 3;
    char buf[64] = {0};
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = sizeof buf;
    cb.aio_offset = 0;
    if (aio_read(&cb) != 0) { perror("aio_read"); return 4; }
    const struct aiocb *list[1] = {&cb};
    while (aio_error(&cb) == EINPROGRESS) aio_suspend(list, 1, NULL);
    if (aio_error(&cb) != 0) { printf("aio_error %d\n", aio_error(&cb)); return 5; }
    ssize_t n = aio_return(&cb);
    printf("read %zd %s", n, buf);
    Dl_info di;
    memset(&di, 0, sizeof di);
    void *sym = dlsym(RTLD_DEFAULT, "aio_read");
    printf("aio_read from %s\n", sym && dladdr(sym, &di) && di.dli_fname ? di.dli_fname : "?");
    printf("version %s\n", kaio_version());
    printf("submitted %llu\n", (unsigned long long)kaio_counter("submitted"));
    close(fd);
    unlink(argv[1]);
    return n == (ssize_t)(sizeof text - 1) && memcmp(buf, text, n) == 0 ? 0 : 6;
}
EOF

# check_prog NAME EXPECTED-LIBRARY-GLOB: run $tmp/NAME, check its transcript.
check_prog() {
  local name=$1 want_lib=$2 out
  out=$("$tmp/$name" "$tmp/$name.data" 2>&1); local r=$?
  [ $r -eq 0 ] || { bad "$name: exit $r"; printf '%s\n' "$out" | sed 's/^/    /'; return; }
  printf '%s\n' "$out" | grep -qx "read 18 read through kaio" || bad "$name: read the wrong data"
  local lib; lib=$(printf '%s\n' "$out" | sed -n 's/^aio_read from //p')
  # shellcheck disable=SC2254  # $want_lib is a glob on purpose
  case $lib in $want_lib) ;; *) bad "$name: aio_read resolves to $lib, want $want_lib" ;; esac
  printf '%s\n' "$out" | grep -qx "version $version" || bad "$name: kaio_version is not $version"
  local sub; sub=$(printf '%s\n' "$out" | sed -n 's/^submitted //p')
  [ "${sub:-0}" -gt 0 ] || bad "$name: kaio_counter(\"submitted\") = ${sub:-?}"
}

# Dynamic: exactly the command line users type, against the staged install.
# shellcheck disable=SC2086  # pkg-config's output is a list of words
if "$cc" -Wall -Wextra -Werror -o "$tmp/prog" "$tmp/prog.c" $flags 2>"$tmp/cc.log"; then
  readelf -d "$tmp/prog" | grep -q "NEEDED.*\[libkaio\.so\.$major\]" || bad "prog does not need libkaio.so.$major"
  LD_LIBRARY_PATH=$L check_prog prog "$L/libkaio.so*"
else
  bad "cc prog.c $flags failed:"; sed 's/^/    /' "$tmp/cc.log"
fi

# Static: libkaio.a with the libraries Libs.private lists.
static_libs=()
for w in $priv; do [ "$w" = -lkaio ] || static_libs+=("$w"); done
if "$cc" -Wall -Wextra -Werror -o "$tmp/prog_static" "$tmp/prog.c" -I"$d/usr/include" \
     "$L/libkaio.a" "${static_libs[@]}" 2>"$tmp/cc.log"; then
  readelf -d "$tmp/prog_static" | grep -q 'NEEDED.*libkaio' && bad "prog_static needs libkaio.so"
  check_prog prog_static "$tmp/prog_static"
else
  bad "cc prog.c libkaio.a ${static_libs[*]} failed:"; sed 's/^/    /' "$tmp/cc.log"
fi

# Uninstall removes exactly kaio's files: a neighbour stays.
touch "$L/libneighbour.so.1" "$d/usr/include/neighbour.h"
mk "$tmp/uninstall1.log" uninstall DESTDIR="$d" PREFIX=/usr
left=$(leftovers "$d")
[ "$left" = "$(printf '%s\n' "$d/usr/include/neighbour.h" "$L/libneighbour.so.1")" ] \
  || { bad "after uninstall:"; printf '%s\n' "$left" | sed 's/^/    /'; }
mk "$tmp/uninstall1b.log" uninstall DESTDIR="$d" PREFIX=/usr   # twice is fine

# ---- round 2: a custom layout ---------------------------------------------
d=$tmp/r2
mk "$tmp/install2.log" install DESTDIR="$d" PREFIX=/opt/kaio LIBDIR=/opt/kaio/lib64 \
   INCLUDEDIR=/srv/inc MANDIR=/opt/kaio/man BINDIR=/opt/kaio/sbin PKGCONFIGDIR=/srv/pc STRIP= || exit 1
L=$d/opt/kaio/lib64
# STRIP= installs the libraries as built.
check_entry f 755 "$L/libkaio.so.$sover" "$root/target/release/libkaio.so"
check_entry l "libkaio.so.$sover" "$L/libkaio.so.$major"
check_entry l "libkaio.so.$major" "$L/libkaio.so"
check_entry f 644 "$L/libkaio.a" "$root/target/release/libkaio.a"
check_entry f 644 "$d/srv/inc/kaio.h"
check_entry f 644 "$d/srv/pc/kaio.pc"
check_entry f 644 "$d/opt/kaio/man/man7/kaio.7"
check_entry f 644 "$d/opt/kaio/man/man1/kaio-run.1"
check_entry f 755 "$d/opt/kaio/sbin/kaio-run"
n=$(leftovers "$d" | wc -l)
[ "$n" -eq 9 ] || { bad "custom layout: expected 9 files and links, found $n:"; leftovers "$d" | sed 's/^/    /'; }
# shellcheck disable=SC2016  # ${prefix} is kaio.pc's, not the shell's
grep -qx 'libdir=${prefix}/lib64' "$d/srv/pc/kaio.pc" || bad "custom kaio.pc: $(grep ^libdir "$d/srv/pc/kaio.pc")"
grep -qx 'includedir=/srv/inc' "$d/srv/pc/kaio.pc" || bad "custom kaio.pc: $(grep ^includedir "$d/srv/pc/kaio.pc")"
# The installed kaio-run: its version; the library it was installed with
# (/opt/kaio/lib64, absent outside the staging dir: exit 125); KAIO_LIB.
kr=$d/opt/kaio/sbin/kaio-run
[ "$(env -u KAIO_LIB "$kr" --version)" = "kaio-run (kaio) $version" ] || bad "installed kaio-run --version: $("$kr" --version)"
out=$(env -u KAIO_LIB "$kr" true 2>&1); r=$?
if [ $r -ne 125 ] || ! printf '%s\n' "$out" | grep -q "/opt/kaio/lib64/libkaio.so.$major"; then
  bad "installed kaio-run without its library: exit $r: $out"
fi
# shellcheck disable=SC2016  # $LD_PRELOAD is expanded by the inner shell
out=$(KAIO_LIB=$L/libkaio.so.$major LD_PRELOAD='' "$kr" sh -c 'echo "$LD_PRELOAD"' 2>&1)
[ "$out" = "$L/libkaio.so.$major" ] || bad "installed kaio-run with KAIO_LIB: LD_PRELOAD=$out"
mk "$tmp/uninstall2.log" uninstall DESTDIR="$d" PREFIX=/opt/kaio LIBDIR=/opt/kaio/lib64 \
   INCLUDEDIR=/srv/inc MANDIR=/opt/kaio/man BINDIR=/opt/kaio/sbin PKGCONFIGDIR=/srv/pc
left=$(leftovers "$d")
[ -z "$left" ] || { bad "custom layout, after uninstall:"; printf '%s\n' "$left" | sed 's/^/    /'; }

[ $rc -eq 0 ] && echo "install, pkg-config build (shared and static), uninstall: ok"
exit $rc
