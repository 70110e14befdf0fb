#!/usr/bin/env bash
# The man pages (man/*.[1-8]) render without a single warning, with
# `groff -ww` and with `man --warnings -l`; their .TH line names the crate's
# version; kaio.7 documents every KAIO_* variable the library reads.
set -u
root=${KAIO_ROOT:?}
command -v groff >/dev/null || { echo "groff not found (install groff-base)"; exit 77; }
rc=0
bad() { echo "FAIL: $*"; rc=1; }

version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml")
pages=("$root"/man/*.[1-8])
[ -f "${pages[0]}" ] || { echo "no man pages in $root/man"; exit 1; }
for p in kaio.7 kaio-run.1; do [ -f "$root/man/$p" ] || bad "man/$p missing"; done

have_man=
if command -v man >/dev/null && man --version >/dev/null 2>&1; then have_man=1; fi
for page in "${pages[@]}"; do
  name=${page##*/}
  # Warnings go to stderr; nothing may appear there.
  warn=$(LC_ALL=C.UTF-8 groff -ww -man -Tutf8 "$page" 2>&1 >/dev/null)
  [ -z "$warn" ] || { bad "groff -ww $name:"; printf '%s\n' "$warn" | sed 's/^/    /' | head -20; }
  if [ -n "$have_man" ]; then
    for width in 80 60; do
      warn=$(LC_ALL=C.UTF-8 MANWIDTH=$width MANPAGER=cat PAGER=cat man --warnings -l "$page" 2>&1 >/dev/null)
      [ -z "$warn" ] || { bad "man --warnings -l $name (width $width):"; printf '%s\n' "$warn" | sed 's/^/    /' | head -20; }
    done
  fi
  th=$(grep -m1 '^\.TH ' "$page")
  case $th in
    *" \"kaio-$version\" "*) ;;
    *) bad "$name: .TH line does not name kaio-$version: $th" ;;
  esac
done

# Every environment variable the library reads ("KAIO_..." in src/) has an
# entry in kaio.7.
for v in $(grep -rhoE '"KAIO_[A-Z0-9_]+"' "$root/src" | tr -d '"' | sort -u); do
  grep -qx "\.B $v" "$root/man/kaio.7" || bad "kaio.7 does not document $v"
done

[ -n "$have_man" ] || echo "note: man not found (install man-db): checked with groff only"
[ $rc -eq 0 ] && echo "man pages: ok"
exit $rc
