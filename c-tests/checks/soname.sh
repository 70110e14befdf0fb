#!/usr/bin/env bash
# The shared library's soname is libkaio.so.1.
set -eu
readelf -d "$KAIO_LIB" | grep -q 'Library soname: \[libkaio.so.1\]' || { readelf -d "$KAIO_LIB" | grep -i soname; echo "soname is not libkaio.so.1"; exit 1; }
