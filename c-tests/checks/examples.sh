#!/usr/bin/env bash
# examples/epoll_loop.c: built with pkg-config against a staged
# `make install`, it checksums three files at once through kaio's completion
# eventfd in an epoll loop; the sums must match an independent computation
# and kaio's statistics must show every request completed.
set -u
command -v pkg-config >/dev/null || { echo "pkg-config not found (install pkgconf)"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not found"; exit 77; }
root=$KAIO_ROOT
tmp=$(mktemp -d "$KAIO_WORK/examples.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
make -s -C "$root" -o lib install DESTDIR="$tmp/stage" PREFIX=/usr >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
pcdir=$tmp/stage/usr/lib/pkgconfig
flags=$(PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_PATH='' pkg-config --define-variable=prefix="$tmp/stage/usr" --cflags --libs kaio)
cc -O2 -Wall -Wextra -Werror "$root/examples/epoll_loop.c" $flags -o "$tmp/epoll_loop" || exit 1
for i in 1 2 3; do head -c $((i * 700000 + 12345)) /dev/urandom >"$tmp/f$i"; done
out=$(KAIO_SHOW_STATS=1 LD_LIBRARY_PATH="$tmp/stage/usr/lib" "$tmp/epoll_loop" "$tmp/f1" "$tmp/f2" "$tmp/f3" 2>"$tmp/err") || { echo "epoll_loop failed"; cat "$tmp/err"; exit 1; }
want=$(python3 - "$tmp/f1" "$tmp/f2" "$tmp/f3" <<'PY'
import sys
for name in sys.argv[1:]:
    data = open(name, 'rb').read()
    s = 0
    for i, b in enumerate(data):
        s = (s + b * (i + 1)) & 0xffffffff
    print(f"{s:08x} {len(data)} {name}")
PY
)
[ "$out" = "$want" ] || { echo "checksums differ:"; echo "got:"; echo "$out"; echo "want:"; echo "$want"; exit 1; }
sub=$(sed -n 's/^kaio:   submitted \([0-9]*\)/\1/p' "$tmp/err")
com=$(sed -n 's/^kaio:   completed \([0-9]*\)/\1/p' "$tmp/err")
[ -n "$sub" ] && [ "$sub" -gt 0 ] && [ "$sub" = "$com" ] || { echo "kaio did not serve it (submitted '$sub', completed '$com')"; cat "$tmp/err"; exit 1; }
grep -q "wakeups" "$tmp/err" || { echo "no summary line"; exit 1; }
echo "epoll_loop: $(grep wakeups "$tmp/err"), $sub requests through kaio"
