#!/bin/sh
# Container entrypoint (docker compose, Kubernetes): renders the gateway's one Envoy config,
# envoy.yaml, with render.sh from the environment, then runs Envoy on it. The files are read
# from CONFIG_DIR (default: this script's directory). plugin-config.json becomes the filter's
# configuration: on one line, as a YAML single-quoted string (a quote is written twice).
set -eu
dir=${CONFIG_DIR:-$(dirname "$0")}
out=${RENDERED_CONFIG:-/tmp/envoy.yaml}
# Policy settings are checked as envoy/gateway.py checks them (a typo must not turn a policy off).
case "${RETRY_ATTEMPTS:-2}" in [0-5]) ;; *) echo "RETRY_ATTEMPTS must be a whole number from 0 to 5, got '$RETRY_ATTEMPTS'" >&2; exit 1 ;; esac
case "${RATELIMIT_SERVICE:-}" in "" | [!:]*:[1-9]*) ;; *) echo "RATELIMIT_SERVICE must be host:port, got '$RATELIMIT_SERVICE'" >&2; exit 1 ;; esac
PLUGIN_CONFIG=$(tr -d '\n' < "$dir/plugin-config.json" | sed "s/'/''/g")
export PLUGIN_CONFIG
# ALLOWED_ORIGINS (BAG's name): `*` or comma-separated origins, as the list of Envoy string
# matchers envoy.yaml's CORS policy takes (envoy/gateway.py does the same for make run).
CORS_ORIGIN_MATCHERS=$(printf '%s\n' "${ALLOWED_ORIGINS:-}" | awk -F, '{
  for (i = 1; i <= NF; i++) {
    o = $i; gsub(/^[ \t]+|[ \t]+$/, "", o)
    if (o == "") continue
    if (o != "*" && o !~ /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]+)?$/) {
      print "ALLOWED_ORIGINS: \"" o "\" is not an origin (scheme://host[:port]) or *" > "/dev/stderr"; exit 1
    }
    out = out (out == "" ? "" : ", ") "{exact: \"" o "\"}"
  }
  print "[" out "]"
}')
export CORS_ORIGIN_MATCHERS
sh "$dir/render.sh" "$dir/envoy.yaml" > "$out"
exec "${ENVOY_BIN:-envoy}" -c "$out" "$@"
