#!/bin/bash
# Builds the local base images that the tests (and student-like Dockerfiles)
# use, since nothing can be pulled from Docker Hub here: debootstrap of
# Debian bookworm, then `docker import`. See docs/testing.md for the tags.
#
#   tests/env/base-images.sh [ensure]   build/import what is missing or stale (default)
#   tests/env/base-images.sh list       show each image, its tags and whether it is current
#   tests/env/base-images.sh tags       print every tag we provide, one a line
#   tests/env/base-images.sh rmi        remove our images and tags (the rootfs cache stays)
#
# Cache: each image carries a label tpgrade.recipe=<sha256 of its recipe>;
# the recipe is the text of the shell functions below, so editing a recipe
# rebuilds that image (and, for the seed, every image) and nothing else. The
# rootfs tarballs are kept in tests/.cache/rootfs/ (TPG_CACHE_DIR) so that a
# re-import after `docker rmi` takes seconds. A flock in TPG_TEST_STATE
# serializes concurrent runs.
#
# Environment: TPG_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# TPG_BASE_IMAGES_LOCK_TIMEOUT (seconds, default 2700).
set -u -o pipefail
TPG_ENV_NAME=base-images
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SUITE=bookworm
MIRROR=${TPG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
RECIPE_VERSION=1
STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VARIANTS="debian python cowsay registry busybox"
ROOTFS_DIR=$TPG_CACHE_DIR/rootfs
LOG_DIR=$TPG_CACHE_DIR/logs

# ---------------------------------------------------------------- the contract
# Primary name of each variant, then the aliases student Dockerfiles use.
image_of() { echo "tpgrade-base/$1:bookworm"; }
aliases_of() {
    case $1 in
        debian) ;;
        python) echo python:3 python:3-slim python:3-alpine python:alpine \
                     python:3.11 python:3.11-slim python:3.11-alpine python:latest \
                     python:slim python:3-slim-bookworm python:3.11-slim-bookworm \
                     python:3.12 python:3.12-slim python:3.12-alpine ;;
        cowsay) echo ubuntu:latest ubuntu:22.04 ubuntu:24.04 \
                     debian:latest debian:bookworm debian:12 debian:bookworm-slim ;;
        registry) echo registry:2 registry:2.8 registry:latest ;;
        busybox) echo busybox:latest ;;
    esac
}

# --------------------------------------------------------------- the recipes
# Everything from here to "end of recipes" is hashed (declare -f), per variant.

# Runs a shell script inside DIR as root, with /proc and /dev mounted in a
# private mount namespace (the mounts vanish with it, even on failure).
in_chroot() {
    unshare --mount --propagation private /bin/sh -ec '
        d=$1; script=$2
        mount -t proc proc "$d/proc"
        mount --rbind /dev "$d/dev"
        exec chroot "$d" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
            PATH='"$STD_PATH"' DEBIAN_FRONTEND=noninteractive /bin/sh -ec "$script"
    ' in_chroot "$1" "$2"
}

# Before and after running apt in a tree: no daemon may start, DNS must work.
chroot_prepare() {
    printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
    chmod 755 "$1/usr/sbin/policy-rc.d"
    rm -f "$1/etc/resolv.conf"
    cp /etc/resolv.conf "$1/etc/resolv.conf"
}
chroot_finish() {
    rm -f "$1/usr/sbin/policy-rc.d"
    : >"$1/etc/resolv.conf"
    rm -rf "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb \
        "$1"/var/log/apt/* "$1"/tmp/* "$1"/var/tmp/* "$1"/root/.cache
}

# The seed: debootstrap minbase, Debian's usual sources (with updates and
# security, like the official image), apt configured as in Docker images.
rootfs_debian() {
    local dir=$1
    unshare --mount --propagation private \
        debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR"
    chroot_prepare "$dir"
    in_chroot "$dir" '
        rm -f /etc/apt/sources.list
        cat >/etc/apt/sources.list.d/debian.sources <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        cat >/etc/apt/apt.conf.d/docker-clean <<EOF
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
        apt-get clean
        rm -rf /var/lib/apt/lists/*
    '
    chroot_finish "$dir"
}
changes_debian() {
    echo "ENV PATH=$STD_PATH"
    echo "ENV LANG=C.UTF-8"
    echo 'CMD ["bash"]'
}

# Like python:3-slim, plus what the TP's Dockerfiles use (Flask, curl, wget),
# from Debian. pip works as root without a venv and finds Flask installed.
rootfs_python() {
    local dir=$1
    chroot_prepare "$dir"
    in_chroot "$dir" '
        apt-get update
        apt-get install -y --no-install-recommends python3 python3-flask python3-pip \
            python3-venv python-is-python3 python3-requests gunicorn \
            curl wget ca-certificates
        rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
        printf "[global]\ndisable-pip-version-check = true\nroot-user-action = ignore\nretries = 1\ntimeout = 15\n" >/etc/pip.conf
        apt-get clean
        rm -rf /var/lib/apt/lists/*
        python3 -c "import flask, requests" && pip --version
    '
    echo "ENV PYTHON_VERSION=$(chroot "$dir" python3 -c 'import platform; print(platform.python_version())')" >"$dir.changes"
    chroot_finish "$dir"
}
changes_python() {
    echo "ENV PATH=$STD_PATH"
    echo "ENV LANG=C.UTF-8"
    echo 'CMD ["python3"]'
}

# Stands for ubuntu and debian: cowsay preinstalled (in /usr/games, which is
# NOT in PATH, as on Ubuntu), apt lists kept so that `apt-get install -y
# cowsay` works even without `apt-get update`.
rootfs_cowsay() {
    local dir=$1
    chroot_prepare "$dir"
    in_chroot "$dir" '
        apt-get update
        apt-get install -y --no-install-recommends cowsay
        apt-get clean
        /usr/games/cowsay -f stegosaurus ok >/dev/null
        /usr/games/cowsay -f elephant-in-snake ok >/dev/null
    '
    chroot_finish "$dir"
}
changes_cowsay() {
    echo "ENV PATH=$STD_PATH"
    echo "ENV LANG=C.UTF-8"
    echo 'CMD ["bash"]'
}

# Like the official registry:2: Debian's docker-registry (distribution 2.8),
# upstream's default config and entrypoint, storage in /var/lib/registry.
rootfs_registry() {
    local dir=$1
    chroot_prepare "$dir"
    in_chroot "$dir" '
        apt-get update
        apt-get install -y --no-install-recommends docker-registry ca-certificates
        apt-get clean
        rm -rf /var/lib/apt/lists/*
        mkdir -p /etc/docker/registry /var/lib/registry
        cat >/etc/docker/registry/config.yml <<EOF
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
        cat >/entrypoint.sh <<"EOF"
#!/bin/sh
set -e
case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac
exec "$@"
EOF
        chmod 755 /entrypoint.sh
        ln -sf /usr/bin/docker-registry /usr/local/bin/registry
        registry --version
    '
    chroot_finish "$dir"
}
changes_registry() {
    echo "ENV PATH=$STD_PATH"
    echo 'ENTRYPOINT ["/entrypoint.sh"]'
    echo 'CMD ["/etc/docker/registry/config.yml"]'
    echo 'EXPOSE 5000'
    echo 'VOLUME ["/var/lib/registry"]'
}

# A tiny image (a few MB, imports in a second): Debian's static busybox.
rootfs_busybox() {
    local dir=$1 a
    chroot_prepare "$dir"
    in_chroot "$dir" '
        apt-get update
        apt-get install -y --no-install-recommends busybox-static
    '
    mkdir -p "$dir.tiny/bin" "$dir.tiny/etc" "$dir.tiny/root" "$dir.tiny/tmp" \
        "$dir.tiny/var/tmp" "$dir.tiny/proc" "$dir.tiny/sys" "$dir.tiny/dev" "$dir.tiny/home"
    chmod 1777 "$dir.tiny/tmp" "$dir.tiny/var/tmp"
    chmod 700 "$dir.tiny/root"
    cp "$dir/bin/busybox" "$dir.tiny/bin/busybox"
    for a in $(chroot "$dir" /bin/busybox --list); do
        [ "$a" = busybox ] || ln -s busybox "$dir.tiny/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$dir.tiny/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir.tiny/etc/group"
    : >"$dir.tiny/etc/resolv.conf"
    rm -rf --one-file-system "$dir"
    mv "$dir.tiny" "$dir"
}
changes_busybox() {
    echo "ENV PATH=$STD_PATH"
    echo 'CMD ["sh"]'
}
# ----------------------------------------------------------- end of recipes

sha() { sha256sum | cut -c1-64; }

# Key of a variant's rootfs: its own recipe, the shared helpers, the seed's.
rootfs_key() {
    local v=$1
    {
        echo "v$RECIPE_VERSION $SUITE $MIRROR"
        declare -f in_chroot chroot_prepare chroot_finish rootfs_debian
        [ "$v" = debian ] || declare -f "rootfs_$v"
    } | sha
}
# Key of the image: the rootfs and what docker import adds.
image_key() {
    { rootfs_key "$1"; declare -f "changes_$1"; } | sha
}

image_label() {
    docker image inspect --format '{{index .Config.Labels "tpgrade.recipe"}}' "$1" 2>/dev/null
}
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null; }

tarball_of() { echo "$ROOTFS_DIR/$1-$(rootfs_key "$1" | cut -c1-16).tar"; }

# Builds the rootfs tarball of a variant (the seed's must exist unless it is
# the seed). Output in $LOG_DIR/<variant>.log.
build_rootfs() {
    local v=$1 tar work t0
    tar=$(tarball_of "$v")
    work=$(mktemp -d "$TPG_CACHE_DIR/work/$v.XXXXXX")
    t0=$(env_now)
    (
        set -e
        if [ "$v" = debian ]; then
            rmdir "$work"
        else
            tar -xpf "$(tarball_of debian)" -C "$work" --numeric-owner --xattrs --xattrs-include='*'
        fi
        "rootfs_$v" "$work"
        tar -C "$work" --numeric-owner --xattrs --xattrs-include='*' \
            --anchored --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' \
            -cf "$tar.tmp" .
        [ -f "$work.changes" ] && mv "$work.changes" "$tar.changes.tmp"
        [ -f "$tar.changes.tmp" ] || : >"$tar.changes.tmp"
        # Drop older tarballs of this variant, then publish atomically.
        rm -f "$ROOTFS_DIR/$v"-*.tar "$ROOTFS_DIR/$v"-*.tar.changes
        mv "$tar.changes.tmp" "$tar.changes"
        mv "$tar.tmp" "$tar"
    ) >"$LOG_DIR/$v.log" 2>&1
    local rc=$?
    rm -rf --one-file-system "$work" "$work.tiny" "$work.changes" "$tar.tmp" "$tar.changes.tmp"
    if [ $rc != 0 ]; then
        env_log "rootfs '$v' FAILED after $(env_elapsed "$t0"); last lines of $LOG_DIR/$v.log:"
        tail -n 40 "$LOG_DIR/$v.log" | sed 's/^/    /' >&2
        return 1
    fi
    env_log "rootfs '$v' built in $(env_elapsed "$t0") ($(du -h "$tar" | cut -f1))"
}

import_image() {
    local v=$1 tar img key old new t0 line
    local -a ch=()
    tar=$(tarball_of "$v")
    img=$(image_of "$v")
    key=$(image_key "$v")
    t0=$(env_now)
    while IFS= read -r line; do
        [ -n "$line" ] && ch+=(--change "$line")
    done < <(changes_"$v"; cat "$tar.changes" 2>/dev/null)
    ch+=(--change "LABEL tpgrade.recipe=$key tpgrade.variant=$v")
    old=$(image_id "$img")
    docker import "${ch[@]}" --message "tpgrade base image $v ($SUITE)" "$tar" "$img" >/dev/null ||
        { env_log "docker import of $tar as $img failed"; return 1; }
    new=$(image_id "$img")
    # The previous version is now untagged: drop it unless a container uses it.
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
    env_log "imported $img in $(env_elapsed "$t0")"
}

tag_aliases() {
    local v=$1 a img
    img=$(image_of "$v")
    for a in $(aliases_of "$v"); do
        docker tag "$img" "$a" || return 1
    done
}

# A second each: the image starts and has what it promises.
smoke_test() {
    local v=$1 img out
    img=$(image_of "$v")
    case $v in
        debian) out=$(docker run --rm --network none "$img" sh -c 'apt-get --version | head -1') ;;
        python) out=$(docker run --rm --network none "$img" sh -c \
            'python -c "import flask; print(\"flask\", flask.__version__)" && pip --version && curl --version | head -1') ;;
        cowsay) out=$(docker run --rm --network none "$img" /usr/games/cowsay -f stegosaurus ok) ;;
        registry) out=$(docker run --rm --network none "$img" --version) ;;
        busybox) out=$(docker run --rm --network none "$img" echo busybox ok) ;;
    esac || { env_log "smoke test of $img failed: $out"; return 1; }
    env_log "smoke test of $img ok"
}

need_builder() {
    [ "$(id -u)" = 0 ] || env_die "building base images needs root (debootstrap, chroot); run as root"
    command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] ||
        env_die "debootstrap not found: apt-get install debootstrap (.ci/deps.sh does)"
    command -v unshare >/dev/null || env_die "unshare (util-linux) not found"
}

cmd_ensure() {
    local t_all v todo_import="" todo_rootfs="" pids="" failed=0
    t_all=$(env_now)
    docker_ping || env_die "no Docker daemon answers on $DOCKER_SOCK (run tests/env/dockerd.sh ensure)"
    env_mkstate
    mkdir -p "$ROOTFS_DIR" "$LOG_DIR" "$TPG_CACHE_DIR/work"
    exec 9>"$TPG_TEST_STATE/base-images.lock"
    if ! flock -n 9; then
        env_log "another base-images.sh holds $TPG_TEST_STATE/base-images.lock; waiting"
        flock -w "${TPG_BASE_IMAGES_LOCK_TIMEOUT:-2700}" 9 || env_die "gave up waiting for the lock"
    fi
    # Work dirs of a killed run (no mounts can remain: they lived in private namespaces).
    rm -rf --one-file-system "$TPG_CACHE_DIR"/work/* 2>/dev/null

    for v in $VARIANTS; do
        if [ "$(image_label "$(image_of "$v")")" = "$(image_key "$v")" ]; then
            continue
        fi
        todo_import="$todo_import $v"
        [ -f "$(tarball_of "$v")" ] || todo_rootfs="$todo_rootfs $v"
    done
    if [ -n "$todo_import" ]; then
        env_log "to import:$todo_import; rootfs to build:${todo_rootfs:- none (cached in $ROOTFS_DIR)}"
    fi
    if [ -n "$todo_rootfs" ]; then
        need_builder
        # The seed first (the others start from it), then the rest in parallel.
        if [ ! -f "$(tarball_of debian)" ]; then
            env_log "debootstrap $SUITE (minbase) from $MIRROR ..."
            build_rootfs debian || exit 1
        fi
        for v in $todo_rootfs; do
            [ "$v" = debian ] && continue
            build_rootfs "$v" &
            pids="$pids $!"
        done
        for v in $pids; do
            wait "$v" || failed=1
        done
        [ $failed = 0 ] || env_die "some rootfs failed to build (logs in $LOG_DIR)"
    fi
    for v in $todo_import; do
        import_image "$v" || exit 1
    done
    for v in $VARIANTS; do
        tag_aliases "$v" || env_die "docker tag failed for $v"
    done
    for v in $todo_import; do
        smoke_test "$v" || exit 1
    done
    if [ -n "$todo_import" ]; then
        env_log "done in $(env_elapsed "$t_all")"
    else
        env_log "all images current ($(echo $VARIANTS | wc -w) images, $(for v in $VARIANTS; do aliases_of "$v"; done | wc -w) aliases) in $(env_elapsed "$t_all")"
    fi
}

cmd_list() {
    local v img state
    for v in $VARIANTS; do
        img=$(image_of "$v")
        if [ -z "$(image_id "$img")" ]; then state=missing
        elif [ "$(image_label "$img")" = "$(image_key "$v")" ]; then state=current
        else state=stale; fi
        printf '%-30s %-8s %s\n' "$img" "$state" "$(aliases_of "$v" | tr -s ' \n' ' ')"
    done
}

cmd_tags() {
    local v
    for v in $VARIANTS; do
        image_of "$v"
        aliases_of "$v" | tr -s ' \n' '\n' | sed '/^$/d'
    done
}

cmd_rmi() {
    docker rmi $(cmd_tags) 2>/dev/null
    return 0
}

case ${1:-ensure} in
    ensure|build) cmd_ensure ;;
    list) cmd_list ;;
    tags) cmd_tags ;;
    rmi) cmd_rmi ;;
    -h|--help|help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) echo "usage: $0 [ensure|list|tags|rmi]" >&2; exit 64 ;;
esac
