#!/bin/sh
# Prints an Envoy config template with every ${NAME} replaced by that environment variable
# (${NAME:-default} when the variable is unset or empty).
# POSIX sh + awk only, so it runs inside the official Envoy image too. Unset names are an error;
# comment lines are left as they are, except the @only-if / @end markers of optional blocks.
set -eu
template=${1:?usage: render.sh TEMPLATE}
awk '
# "# @only-if NAME ~ REGEX" ... "# @end": keep the lines between only when $NAME matches REGEX
# ("NAME:-default" tests the default when NAME is unset or empty).
/^[[:space:]]*# @only-if / {
  name = $3; pattern = $5; sep = index(name, ":-"); value = ""
  if (sep) { value = substr(name, sep + 2); name = substr(name, 1, sep - 1) }
  if (name in ENVIRON && (ENVIRON[name] != "" || !sep)) value = ENVIRON[name]
  else if (!sep) { printf "render.sh: %s is not set\n", name > "/dev/stderr"; failed = 1; exit 1 }
  skipping = (value !~ pattern); next
}
/^[[:space:]]*# @end/ { skipping = 0; next }
skipping { next }
/^[[:space:]]*#/ { print; next }
{
  line = $0; out = ""
  while (match(line, /\$\{[A-Z_][A-Z0-9_]*(:-[^}]*)?\}/)) {
    name = substr(line, RSTART + 2, RLENGTH - 3); sep = index(name, ":-"); value = ""
    if (sep) { value = substr(name, sep + 2); name = substr(name, 1, sep - 1) }
    if (name in ENVIRON && (ENVIRON[name] != "" || !sep)) value = ENVIRON[name]
    else if (!sep) { printf "render.sh: %s is not set\n", name > "/dev/stderr"; failed = 1; exit 1 }
    out = out substr(line, 1, RSTART - 1) value
    line = substr(line, RSTART + RLENGTH)
  }
  print out line
}
END { if (failed) exit 1 }' "$template"
