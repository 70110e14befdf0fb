#!/usr/bin/env bash
# The shared library's soname is libkaio.so.1.
set -eu
readelf -d "$1" | grep -q 'Library soname: \[libkaio.so.1\]' || { readelf -d "$1" | grep -i soname; echo "soname is not libkaio.so.1"; exit 1; }
