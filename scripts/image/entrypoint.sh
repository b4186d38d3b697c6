#!/bin/sh
# The image's entrypoint, shaped like distribution's: `serve` (the default) without a file serves
# distribution's config path (/etc/distribution/config.yml when mounted there, else
# /etc/docker/registry/config.yml); a lone config path means `serve` it; other berth commands
# (config validate, garbage-collect, readonly, index, --help...) run as given; anything else
# (sh, id...) is executed as is.
set -e
default_config() {
  if [ -f /etc/distribution/config.yml ]; then echo /etc/distribution/config.yml; else echo /etc/docker/registry/config.yml; fi
}
case "${1:-serve}" in
  *.yml | *.yaml) set -- serve "$@" ;;
esac
case "${1:-serve}" in
  serve)
    [ "$#" -gt 0 ] && shift
    config=""
    for arg in "$@"; do case "$arg" in -*) ;; *) config="$arg" ;; esac; done
    [ -n "$config" ] || set -- "$@" "$(default_config)"
    exec /usr/local/bin/node /opt/berth/bin/berth.js serve "$@"
    ;;
  config | garbage-collect | readonly | index | help | -*)
    exec /usr/local/bin/node /opt/berth/bin/berth.js "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
