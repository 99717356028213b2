#!/usr/bin/env bash
# build.sh builds edkit's local container images offline: a Debian bookworm
# base made with debootstrap from the machine's configured apt mirror (no
# image registry is needed), thin per-broker images on top of it, and a
# FROM scratch Kafka image of a static edkit-broker binary (kfake).
#
# Usage: harness/env/container/images/build.sh [--force] [image...]
#   image: base redis postgres nats rabbitmq kafka (default: all)
#   --force: rebuild even when the recipe label matches.
#
# Every image carries the label dev.edkit.recipe=<sha256 of its recipe>; an
# image whose label already equals the current recipe hash is skipped, so a
# second run with nothing changed takes a second or two.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
SUITE=bookworm
BASE_IMAGE=edkit/debian-brokers:bookworm
PACKAGES="rabbitmq-server,redis-server,postgresql,nats-server,ca-certificates,netbase,procps"
FORCE=0
WANT=()
for a in "$@"; do
	case "$a" in
	--force) FORCE=1 ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) WANT+=("$a") ;;
	esac
done
[ ${#WANT[@]} -eq 0 ] && WANT=(base redis postgres nats rabbitmq kafka)

log() { printf '[images] %s\n' "$*" >&2; }
want() { local w; for w in "${WANT[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
label_of() { docker image inspect --format '{{ index .Config.Labels "dev.edkit.recipe" }}' "$1" 2>/dev/null || true; }
sha() { sha256sum | cut -d' ' -f1; }

# mirror returns the first Debian mirror configured for apt on this machine.
mirror() {
	local m
	m="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
	if [ -z "$m" ]; then
		m="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

command -v docker >/dev/null || { log "docker is not installed"; exit 1; }
docker info >/dev/null 2>&1 || { log "the Docker engine is not reachable"; exit 1; }

build_base() {
	local mir recipe have dir
	mir="$(mirror)"
	recipe="$(printf 'v1 %s %s minbase %s\n' "$SUITE" "$mir" "$PACKAGES" | sha)"
	have="$(label_of "$BASE_IMAGE")"
	if [ "$FORCE" = 0 ] && [ "$have" = "$recipe" ]; then
		log "$BASE_IMAGE is up to date"
		return
	fi
	if ! command -v debootstrap >/dev/null; then
		log "installing debootstrap"
		apt-get install -y debootstrap >/dev/null || { apt-get update -qq && apt-get install -y debootstrap >/dev/null; }
	fi
	dir="$(mktemp -d /tmp/edkit-rootfs.XXXXXX)"
	# shellcheck disable=SC2064
	trap "rm -rf '$dir'" RETURN
	log "debootstrap $SUITE ($mir) into $dir"
	debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir" "$mir" >"$dir.log" 2>&1 ||
		{ tail -n 30 "$dir.log" >&2; log "debootstrap failed (log: $dir.log)"; exit 1; }
	rm -f "$dir.log"
	# Slim the rootfs: apt caches and lists, docs, and the package-made
	# PostgreSQL cluster (each container makes its own at first start).
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
		"$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/var/lib/postgresql/15/main \
		"$dir"/etc/postgresql/15/main "$dir"/var/log/*.log
	log "docker import $BASE_IMAGE"
	tar -C "$dir" --numeric-owner -c . | docker import \
		--change "LABEL dev.edkit.recipe=$recipe" \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
		--change 'CMD ["/bin/bash"]' \
		- "$BASE_IMAGE" >/dev/null
}

# docker_build builds context $3 as tag $2 labelled with recipe $1, quietly
# unless it fails.
docker_build() {
	local out
	out="$(docker build --label "dev.edkit.recipe=$1" -t "$2" "$3" 2>&1)" || { printf '%s\n' "$out" >&2; log "docker build $2 failed"; exit 1; }
}

# build_thin builds one broker image from images/<name>/ on top of the base.
build_thin() {
	local name=$1 tag="edkit/$1:local" ctx="$HERE/$1" base recipe have
	base="$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null)" ||
		{ log "$tag needs $BASE_IMAGE: build base first"; exit 1; }
	recipe="$( (echo "$base"; cd "$ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum) | sha)"
	have="$(label_of "$tag")"
	if [ "$FORCE" = 0 ] && [ "$have" = "$recipe" ]; then
		log "$tag is up to date"
		return
	fi
	log "docker build $tag"
	docker_build "$recipe" "$tag" "$ctx"
}

# build_kafka builds a static cmd/edkit-broker (the embedded Kafka broker,
# kfake) and puts it in a FROM scratch image whose entrypoint is
# `edkit-broker kafka --listen-host 0.0.0.0 --port 9092`.
build_kafka() {
	local tag=edkit/kafka:local ctx recipe have pkg
	ctx="$(mktemp -d /tmp/edkit-kafka.XXXXXX)"
	# shellcheck disable=SC2064
	trap "rm -rf '$ctx'" RETURN
	pkg=./cmd/edkit-broker
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/edkit-broker" "$pkg")
	cp "$HERE/kafka/Dockerfile" "$ctx/"
	recipe="$( (cd "$ctx" && sha256sum edkit-broker Dockerfile) | sha)"
	have="$(label_of "$tag")"
	if [ "$FORCE" = 0 ] && [ "$have" = "$recipe" ]; then
		log "$tag is up to date"
		return
	fi
	log "docker build $tag"
	docker_build "$recipe" "$tag" "$ctx"
}

start=$(date +%s)
want base && build_base
for n in redis postgres nats rabbitmq; do want "$n" && build_thin "$n"; done
want kafka && build_kafka
log "done in $(($(date +%s) - start))s"
