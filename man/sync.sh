#!/usr/bin/env bash
# Regenerate the parts of man/kaio.7 that have another source, so that the
# man page cannot drift from them:
#   DIFFERENCES FROM GLIBC  from the README's table "Differences from glibc";
#   the list of counters    from the counters! macro in src/engine/stats.rs.
# Each lies between the lines
#   .\" BEGIN GENERATED NAME: ...   and   .\" END GENERATED NAME
# Usage: man/sync.sh          rewrite man/kaio.7 (`make man`)
#        man/sync.sh --check  exit 1, with a diff, if man/kaio.7 is stale
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
page=$root/man/kaio.7

# awk function: markdown of one table cell or doc string (code spans,
# **bold**, plain text) to troff text.
troff_fn='
function troff(s,    out, c, prev, i, n, code) {
  gsub(/\\/, "\\e", s)
  out = ""; prev = " "; code = 0; n = length(s)
  for (i = 1; i <= n; i++) {
    c = substr(s, i, 1)
    if (c == "`") { out = out (code ? "\\fP" : "\\fB"); code = !code; prev = c; continue }
    if (c == "*" && substr(s, i + 1, 1) == "*" && !code) { out = out (bold ? "\\fP" : "\\fB"); bold = !bold; i++; continue }
    # A minus (not a hyphen): at the start of a word.
    if (c == "-" && index(" (/`", prev) > 0) c = "\\-"
    out = out c; prev = substr(s, i, 1)
  }
  if (out ~ /^[.\047]/) out = "\\&" out
  return out
}'

differences() {
  awk "$troff_fn"'
    /^## Differences from glibc/ { on = 1; next }
    on && /^## / { exit }
    on && /^\|/ {
      if (++row <= 2) next            # the header and the |---| line
      line = $0
      sub(/^\| */, "", line); sub(/ *\| *$/, "", line)
      n = split(line, c, / *\| */)
      if (n != 4) { print "README: a Differences row without 4 cells: " $0 > "/dev/stderr"; bad = 1; exit }
      print ".TP"
      print troff(c[1])
      print "glibc: " troff(c[2])
      print ".br"
      print "kaio: " troff(c[3])
      print ".br"
      print "Why: " troff(c[4])
    }
    END { if (!row) { print "README: no Differences from glibc table" > "/dev/stderr"; exit 1 } if (bad) exit 1 }
  ' "$root/README.md"
}

counters() {
  awk "$troff_fn"'
    /^counters! \{/ { on = 1; next }
    on && /^\}/ { exit }
    on && /^ *[a-z_0-9]+: ".*",$/ {
      name = $1; sub(/:$/, "", name)
      doc = $0; sub(/^ *[a-z_0-9]+: "/, "", doc); sub(/",$/, "", doc)
      gsub(/\\"/, "\"", doc)
      print ".TP"
      print ".B " name
      print troff(doc)
      n++
    }
    END { if (!n) { print "stats.rs: no counters! list" > "/dev/stderr"; exit 1 } }
  ' "$root/src/engine/stats.rs"
}

# splice NAME FILE < page: the page with NAME's generated part replaced.
splice() {
  awk -v name="$1" -v gen="$2" '
    BEGIN { q = sprintf(".%c\" ", 92); begin = q "BEGIN GENERATED " name ":"; end = q "END GENERATED " name }
    index($0, begin) == 1 { print; while ((getline l < gen) > 0) print l; skip = 1; found = 1; next }
    $0 == end { skip = 0 }
    !skip { print }
    END { if (!found) { print "man/kaio.7: no BEGIN GENERATED " name " line" > "/dev/stderr"; exit 1 } }
  '
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
differences >"$tmp/differences"
counters >"$tmp/counters"
splice differences "$tmp/differences" <"$page" | splice counters "$tmp/counters" >"$tmp/kaio.7"

if [ "${1:-}" = --check ]; then
  if ! cmp -s "$page" "$tmp/kaio.7"; then
    echo "man/kaio.7 is stale (the README's differences table or the counters changed): run 'make man'"
    diff -u "$page" "$tmp/kaio.7" | head -40
    exit 1
  fi
  echo "man/kaio.7 matches the README's differences and the counters"
else
  cmp -s "$page" "$tmp/kaio.7" || cp "$tmp/kaio.7" "$page"
fi
