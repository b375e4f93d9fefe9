#!/usr/bin/env bash
# Prepares what the tests need to run OpenStack Tacker v2 "lcm-operation-user-data"
# classes (e.g. StandardUserData from userdata_standard.py) against our VNF packages.
#
#   scripts/tacker-userdata.sh venv     Python venv with Tacker 16.0.0's modules
#                                       (pip install --no-deps tacker==16.0.0 plus only the
#                                       third-party packages the user-data modules import,
#                                       pinned by ../shared/tools/tacker/requirements.lock.txt
#                                       when present). Last stdout line: the venv's python.
#   scripts/tacker-userdata.sh samples  Tacker 16.0.0's sdist (pip download, sha256-checked),
#                                       extracted once; VNF package directories assembled from
#                                       samples/tests/functional/sol_v2_common/<name> the way
#                                       Tacker's pkggen.py/make_zip does (contents/ + common ETSI
#                                       types + fixed vnfdId + UserData/userdata_standard.py +
#                                       image artifacts), then checked. Stdout, one line a
#                                       sample: "<name> <dir> <vnfdId>".
#   scripts/tacker-userdata.sh all      samples, then venv (python path stays the last line).
#
# Everything lives under ${TACKER_USERDATA_DIR:-<repo>/target/tools/tacker-userdata}
# (venv/, wheels/, pip-cache/, dist/, src/, samples/), i.e. under the git-ignored target/:
# nothing downloaded from PyPI or taken from Tacker is committed. Idempotent and cached (a
# warm run prints nothing on stderr); concurrent callers are serialised with flock. Logs go
# to stderr.
# Environment: TACKER_USERDATA_DIR, PYTHON (default python3), TACKER_USERDATA_LOCK (the
# constraints file; default ../shared/tools/tacker/requirements.lock.txt beside the repo).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
TACKER_VERSION=16.0.0
# sha256 of tacker-16.0.0.tar.gz as published on PyPI.
SDIST_SHA256=02f8bde37ae57c617f80b6b0ef6c7b930bd3c1753224edf5750da23c8a6af015
SAMPLE_VNFD_ID=b1bb0ce7-ebca-4fa7-95ed-4840d7000000
RECIPE=1 # bump when the sample assembly below changes, to rebuild cached samples
# name -> fixed vnfdId (uuid5(NAMESPACE_URL, "tacker-userdata/<name>"))
SAMPLES=(
    "basic_lcms_min_individual_vnfc 444ed4b0-134a-5abd-890a-e8c03a7e1ed5"
    "change_vnfpkg_or_update_min_individual_vnfc 31af1341-385f-5ad6-a02c-626dfd5ebae9"
)
# Third-party distributions that the modules below import (directly or through other
# tacker modules); their own dependencies come with them.
PIP_PACKAGES=(
    cryptography jsonschema keystoneauth1 netaddr oslo.config oslo.db oslo.i18n oslo.log
    oslo.messaging oslo.serialization oslo.utils oslo.versionedobjects rfc3986 SQLAlchemy
    WebOb PyYAML
)
MODULES=(
    tacker.sol_refactored.infra_drivers.openstack.userdata_utils
    tacker.sol_refactored.infra_drivers.openstack.userdata_standard
    tacker.sol_refactored.common.common_script_utils
    tacker.sol_refactored.common.vnf_instance_utils
    tacker.sol_refactored.common.vnfd_utils
)

dir="${TACKER_USERDATA_DIR:-$repo/target/tools/tacker-userdata}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
venv="$dir/venv"
wheelhouse="$dir/wheels"
lock="${TACKER_USERDATA_LOCK:-$repo/../shared/tools/tacker/requirements.lock.txt}"
python="${PYTHON:-python3}"
export PIP_CACHE_DIR="$dir/pip-cache" PIP_DISABLE_PIP_VERSION_CHECK=1

log() { echo "tacker-userdata: $*" >&2; }
die() { log "error: $*"; exit 1; }

# One caller at a time does the work; the others wait and then find it done.
exec 9>"$dir/.lock"
flock 9

# Bytecode is written for just the modules imported here (pip runs with --no-compile:
# byte-compiling all of tacker, tests included, would take 20 s).
imports_ok() {
    env -u PYTHONDONTWRITEBYTECODE "$venv/bin/python" - "${MODULES[@]}" >/dev/null 2>&1 <<'EOF'
import importlib, sys
for m in sys.argv[1:]:
    importlib.import_module(m)
EOF
}

venv_stamp() {
    local locksum=unpinned
    [ -f "$lock" ] && locksum="$(sha256sum <"$lock" | cut -d' ' -f1)"
    echo "tacker==$TACKER_VERSION ${PIP_PACKAGES[*]} lock=$locksum"
}

# The bare venv (its pip also downloads the sdist, so "samples" needs no pip outside it).
ensure_venv_shell() {
    if ! [ -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        log "creating venv $venv"
        rm -rf "$venv"
        "$python" -m venv "$venv" >&2 || die "'$python -m venv' failed (is python3-venv installed?)"
    fi
}

cmd_venv() {
    local stamp started
    stamp="$(venv_stamp)"
    if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.tacker-userdata" 2>/dev/null)" = "$stamp" ] \
        && imports_ok; then
        echo "$venv/bin/python"
        return
    fi
    started=$(date +%s)
    ensure_venv_shell
    local constraints=()
    if [ -f "$lock" ]; then
        constraints=(-c "$lock")
    else
        log "warning: $lock not found, installing unpinned"
    fi
    rm -f "$venv/.tacker-userdata"
    # Wheels are kept in $wheelhouse and installed from there offline: pip's HTTP cache
    # only helps when the index sends caching headers, a wheelhouse always does. When it
    # lacks something (first run, new lock file), pip wheel fills it from the index.
    local pip=("$venv/bin/python" -m pip)
    install_offline() {
        # Dependencies first, tacker last with --no-deps: in the other order pip lists
        # every missing tacker requirement as a "dependency conflict".
        "${pip[@]}" install -q --no-compile --no-index --find-links "$wheelhouse" \
            "${constraints[@]}" "${PIP_PACKAGES[@]}" &&
            "${pip[@]}" install -q --no-compile --no-index --find-links "$wheelhouse" \
                --no-deps "${constraints[@]}" "tacker==$TACKER_VERSION"
    }
    if ! [ -d "$wheelhouse" ] || ! install_offline >/dev/null 2>&1; then
        log "fetching wheels for tacker==$TACKER_VERSION (--no-deps) and ${#PIP_PACKAGES[@]} packages into $wheelhouse"
        "${pip[@]}" wheel -q -w "$wheelhouse" "${constraints[@]}" "${PIP_PACKAGES[@]}" >&2
        "${pip[@]}" wheel -q -w "$wheelhouse" --no-deps "${constraints[@]}" \
            "tacker==$TACKER_VERSION" >&2
        log "installing into $venv"
        install_offline >&2
    fi
    if ! imports_ok; then
        "$venv/bin/python" - "${MODULES[@]}" <<'EOF' >&2 || true
import importlib, sys
for m in sys.argv[1:]:
    importlib.import_module(m)
EOF
        die "tacker modules do not import in $venv"
    fi
    echo "$stamp" >"$venv/.tacker-userdata"
    log "venv ready in $(($(date +%s) - started)) s"
    echo "$venv/bin/python"
}

sdist="$dir/dist/tacker-$TACKER_VERSION.tar.gz"
src="$dir/src/tacker-$TACKER_VERSION"

fetch_sdist() {
    if [ -f "$sdist" ] && [ "$(sha256sum <"$sdist" | cut -d' ' -f1)" = "$SDIST_SHA256" ]; then
        return
    fi
    log "downloading tacker-$TACKER_VERSION.tar.gz from PyPI"
    ensure_venv_shell
    local tmp
    tmp="$(mktemp -d "$dir/.dl.XXXXXX")"
    # --no-binary tacker: the sdist (not the wheel) of tacker; the build tools pip needs to
    # read its metadata may still come as wheels.
    "$venv/bin/python" -m pip download -q --no-deps --no-binary tacker -d "$tmp" \
        "tacker==$TACKER_VERSION" >&2
    [ -f "$tmp/tacker-$TACKER_VERSION.tar.gz" ] || die "pip download gave no tacker-$TACKER_VERSION.tar.gz"
    local got
    got="$(sha256sum <"$tmp/tacker-$TACKER_VERSION.tar.gz" | cut -d' ' -f1)"
    [ "$got" = "$SDIST_SHA256" ] || die "sdist sha256 $got, expected $SDIST_SHA256"
    mkdir -p "$dir/dist"
    mv "$tmp/tacker-$TACKER_VERSION.tar.gz" "$sdist"
    rm -rf "$tmp"
}

extract_sdist() {
    [ -f "$src/.extracted" ] && [ "$(cat "$src/.extracted")" = "$SDIST_SHA256" ] && return
    log "extracting $sdist"
    mkdir -p "$dir/src"
    local tmp
    tmp="$(mktemp -d "$dir/src/.x.XXXXXX")"
    tar --no-same-owner -xzf "$sdist" -C "$tmp"
    echo "$SDIST_SHA256" >"$tmp/tacker-$TACKER_VERSION/.extracted"
    rm -rf "$src"
    mv "$tmp/tacker-$TACKER_VERSION" "$src"
    rm -rf "$tmp"
}

# Referenced files of an assembled package, one per line, as paths relative to $1:
# TOSCA.meta entries, manifest Source: entries, VNFD imports and artifact files.
referenced_files() {
    local pkg="$1" meta="$1/TOSCA-Metadata/TOSCA.meta" f v
    sed -nE 's/^(Entry-Definitions|ETSI-Entry-Manifest|ETSI-Entry-Change-Log|ETSI-Entry-Licenses|ETSI-Entry-Certificate|Source|Name):[[:space:]]*(.*[^[:space:]])[[:space:]]*$/\2/p' "$meta"
    local manifest
    manifest="$(sed -nE 's/^ETSI-Entry-Manifest:[[:space:]]*([^[:space:]]+).*/\1/p' "$meta")"
    if [ -n "$manifest" ] && [ -f "$pkg/$manifest" ]; then
        sed -nE 's/^Source:[[:space:]]*([^[:space:]]+).*/\1/p' "$pkg/$manifest"
    fi
    for f in "$pkg"/Definitions/*.yaml; do
        # imports: "  - x.yaml" items; artifacts: "file: ../x"; both relative to Definitions/
        while IFS= read -r v; do
            realpath -m --relative-to="$pkg" "$pkg/Definitions/$v"
        done < <(awk '
            /^imports:/ { inimp = 1; next }
            inimp && /^[[:space:]]*-[[:space:]]*/ { sub(/^[[:space:]]*-[[:space:]]*/, ""); sub(/[[:space:]]+$/, ""); print; next }
            inimp && /^[^[:space:]#]/ { inimp = 0 }
            /^[[:space:]]+file:[[:space:]]*[^[:space:]]/ { sub(/^[[:space:]]+file:[[:space:]]*/, ""); sub(/[[:space:]]+$/, ""); gsub(/["\047]/, ""); print }
        ' "$f")
    done
}

# Returns non-zero (after logging why) when the package directory is incomplete.
check_package() {
    local name="$1" pkg="$2" vnfd_id="$3" meta entry ref fl hot t bad=0
    meta="$pkg/TOSCA-Metadata/TOSCA.meta"
    [ -f "$meta" ] || { log "$name: no TOSCA-Metadata/TOSCA.meta"; return 1; }
    entry="$(sed -nE 's/^Entry-Definitions:[[:space:]]*([^[:space:]]+).*/\1/p' "$meta")"
    if [ -z "$entry" ] || ! [ -f "$pkg/$entry" ]; then
        log "$name: Entry-Definitions '$entry' missing"
        return 1
    fi
    while IFS= read -r ref; do
        case "$ref" in *://*) continue ;; esac
        [ -e "$pkg/$ref" ] || { log "$name: referenced file $ref missing"; bad=1; }
    done < <(referenced_files "$pkg" | sort -u)
    grep -rqF "$SAMPLE_VNFD_ID" "$pkg/Definitions" && { log "$name: placeholder vnfdId left"; bad=1; }
    grep -qF "descriptor_id: $vnfd_id" "$pkg/$entry" || { log "$name: descriptor_id is not $vnfd_id"; bad=1; }
    [ -f "$pkg/UserData/userdata_standard.py" ] || { log "$name: no UserData/userdata_standard.py"; bad=1; }
    # Each deployment flavour needs its BaseHOT/<flavour>/ with the nested templates it names.
    for fl in $(sed -nE 's/^[[:space:]]+flavour_id:[[:space:]]*([A-Za-z0-9_.-]+)[[:space:]]*$/\1/p' "$pkg"/Definitions/*.yaml | sort -u); do
        for hot in "$pkg/BaseHOT/$fl"/*.yaml; do
            [ -f "$hot" ] || { log "$name: no BaseHOT/$fl/*.yaml"; bad=1; continue; }
            for t in $(sed -nE 's/^[[:space:]]+type:[[:space:]]*([^[:space:]]+\.yaml)[[:space:]]*$/\1/p' "$hot"); do
                [ -f "$pkg/BaseHOT/$fl/nested/$t" ] || { log "$name: BaseHOT/$fl/nested/$t missing"; bad=1; }
            done
        done
    done
    [ "$bad" = 0 ]
}

assemble() {
    local name="$1" vnfd_id="$2" out="$dir/samples/$1" stamp tmp sample common images ref img sum
    stamp="recipe=$RECIPE sdist=$SDIST_SHA256 vnfdId=$vnfd_id"
    # The stamp sits beside the package, not in it, so the directory zips as-is to a CSAR.
    # A cached package that fails the checks (e.g. a file deleted by hand) is rebuilt.
    if ! [ -d "$out" ] || [ "$(cat "$dir/samples/.$name.stamp" 2>/dev/null)" != "$stamp" ] ||
        ! check_package "$name" "$out" "$vnfd_id" 2>/dev/null; then
        sample="$src/samples/tests/functional/sol_v2_common/$name"
        common="$src/samples/tests/functional/sol_v2_common/common/Definitions"
        images="$src/samples/tests/etc/samples/etsi/nfv/common/Files/images"
        [ -d "$sample/contents" ] || die "no sample $name in the sdist"
        log "assembling $name (vnfdId $vnfd_id)"
        mkdir -p "$dir/samples"
        tmp="$(mktemp -d "$dir/samples/.$name.XXXXXX")"
        chmod 755 "$tmp"
        cp -R "$sample/contents/." "$tmp/"
        cp "$common/etsi_nfv_sol001_common_types.yaml" "$common/etsi_nfv_sol001_vnfd_types.yaml" \
            "$tmp/Definitions/"
        sed -i "s/$SAMPLE_VNFD_ID/$vnfd_id/g" "$tmp"/Definitions/*
        mkdir -p "$tmp/UserData"
        cp "$src/tacker/sol_refactored/infra_drivers/openstack/userdata_standard.py" "$tmp/UserData/"
        # Image artifacts (Files/images/<img>) that the VNFD names but contents/ lacks come
        # from the sdist's common images, as pkggen.py's image_path does.
        while IFS= read -r ref; do
            case "$ref" in Files/images/*) ;; *) continue ;; esac
            [ -e "$tmp/$ref" ] && continue
            img="$images/$(basename "$ref")"
            [ -f "$img" ] || die "$name: artifact $ref not found in the sdist"
            mkdir -p "$tmp/$(dirname "$ref")"
            cp "$img" "$tmp/$ref"
            sum="$(sha256sum <"$tmp/$ref" | cut -d' ' -f1)"
            grep -rqF "$sum" "$tmp/Definitions" ||
                log "warning: $name: sha256 of $ref ($sum) does not appear in the VNFD"
        done < <(referenced_files "$tmp" | sort -u)
        rm -f "$dir/samples/.$name.stamp"
        rm -rf "$out"
        mv "$tmp" "$out"
        echo "$stamp" >"$dir/samples/.$name.stamp"
        check_package "$name" "$out" "$vnfd_id" || die "$name: assembled package $out is incomplete"
    fi
    echo "$name $out $vnfd_id"
}

cmd_samples() {
    fetch_sdist
    extract_sdist
    local s
    for s in "${SAMPLES[@]}"; do
        # shellcheck disable=SC2086
        assemble $s
    done
}

case "${1:-}" in
venv) cmd_venv ;;
samples) cmd_samples ;;
all) cmd_samples && cmd_venv ;;
*)
    echo "usage: $0 venv|samples|all" >&2
    exit 2
    ;;
esac
