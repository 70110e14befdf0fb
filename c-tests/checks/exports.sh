#!/usr/bin/env bash
# The library must export the 17 POSIX AIO symbols, unversioned (so that a
# preload interposes both aio_read@GLIBC_2.34 and @GLIBC_2.2.5), and nothing
# else but kaio_* extensions and _exit/_Exit (interposed so that statistics
# cover processes that leave with _exit; see kaio(7)).
set -eu
lib=${KAIO_LIB:?}
want="aio_cancel aio_cancel64 aio_error aio_error64 aio_fsync aio_fsync64 aio_init
aio_read aio_read64 aio_return aio_return64 aio_suspend aio_suspend64 aio_write
aio_write64 lio_listio lio_listio64"
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWiV]$/ {print $3}')
rc=0
for s in $want; do
  line=$(printf '%s\n' "$syms" | grep -E "^$s(@.*)?$" || true)
  if [ -z "$line" ]; then echo "missing export: $s"; rc=1
  elif [ "$line" != "$s" ]; then echo "versioned export: $line"; rc=1; fi
done
# kaio's extensions, declared in kaio.h only.
ext="aio_readv aio_writev aio_waitcomplete"
for s in $ext; do
  printf '%s\n' "$syms" | grep -qx "$s" || { echo "missing extension: $s"; rc=1; }
done
for s in _exit _Exit; do
  printf '%s\n' "$syms" | grep -qx "$s" || { echo "missing export: $s"; rc=1; }
done
extra=$(printf '%s\n' "$syms" | grep -vE '^(aio_|lio_listio|kaio_|_exit$|_Exit$)' || true)
if [ -n "$extra" ]; then echo "unexpected exports:"; echo "$extra"; rc=1; fi
n=$(printf '%s\n' "$syms" | grep -E '^(aio_|lio_listio)' | grep -cvxE 'aio_readv|aio_writev|aio_waitcomplete')
[ "$n" -eq 17 ] || { echo "expected 17 POSIX exports, found $n"; rc=1; }
exit $rc
