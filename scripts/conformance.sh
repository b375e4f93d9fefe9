#!/usr/bin/env bash
# Conformance check: schemathesis against the ETSI OpenAPI documents.
#   scripts/conformance.sh
# Builds the vnfm server, starts it on a free loopback port with an empty SQLite data
# directory (no authentication, the simulated VIM as default VIM), seeds it with one
# real resource of each kind (scripts/conformance/seed.py: an onboarded package, a VNF
# instance instantiated with its external CP connected, its completed instantiation,
# and an LCM, a package and an FM subscription whose callback is a local receiver),
# aims the path parameters at them (scripts/conformance/seeded-parameters.toml; the
# subscriptions are listed, not pinned: see there), so that the 200 responses of real
# resources are validated too, and runs schemathesis
# (pinned below, installed from PyPI into a venv) with every check on, response schemas
# included, against
#   SOL003 VNF Lifecycle Management v3.7.1 (API 2.3.0) at /vnflcm/v2
#   SOL005 VNF Package Management v3.7.1 (API 2.4.0) at /vnfpkgm/v2
#   SOL003 VNF Fault Management v3.7.1 (API 1.5.0) at /vnffm/v1
#   SOL002 VNF Fault Management v3.7.1 (API 1.5.0) at /vnffm/v1 (the same resources,
#     as the EM sees them)
# Exits non-zero on any failure. The settings are in scripts/conformance/schemathesis.toml
# (fixed seed, a bounded number of cases per operation, no example database), so
# runs are repeatable. The four schemathesis runs take about two and a half minutes on
# two cores (about 8,000 cases); with the server already built and the venv in place,
# the script takes under three.
#
# Environment: ETSI_OPENAPI (default ../shared/etsi/openapi), CONFORMANCE_VENV (the venv,
# default ~/.cache/tacker-conformance/schemathesis-<version>), CONFORMANCE_REPORTS (a
# directory that receives the JUnit reports and the server log; default: none kept),
# CONFORMANCE_SEED (1, the default: seed as above; 0: run against an empty server, where
# most operations on resources meet 404s).
# Without the ETSI documents the check is skipped, except under CI (CI=true), where it
# fails.
#
# What is not checked as the documents say, and why (nothing else is left out):
#
#  1. Defects of the ETSI documents, corrected in a copy by scripts/conformance/prepare.py
#     (which stops the run when a corrected part no longer has the defective shape):
#     a. SOL003 VNF LCM declares the 200 responses of GET /subscriptions and
#        GET /vnf_lcm_op_occs as one LccnSubscription / VnfLcmOpOcc, and SOL003 VNF FM
#        those of GET /alarms and GET /subscriptions as one Alarm / FmSubscription,
#        while SOL003 and the responses' own descriptions say "an array"; the copy
#        declares arrays of those objects, so every item is still validated.
#     b. Every error response of both documents declares its ProblemDetails body as
#        `application/json`; SOL013 and IETF RFC 9457 give it `application/problem+json`,
#        which this server sends. The copy declares both media types, with the same
#        ProblemDetails schema, for those responses only.
#     d. SOL005 types PkgmSubscription.id as a Uri; its description, every other
#        subscription of SOL002/SOL003/SOL005 and the path of the resource make it an
#        Identifier (this server's are UUIDs). The copy types it Identifier.
#     e. SOL005 types VnfPkgInfo.compatibleSpecificationVersions as one Version, while
#        its description speaks of "each entry" (SOL005 9.5.2.5: cardinality 0..N). The
#        copy declares an array of Version.
#     f. SOL005 lists imagePath among the required attributes of
#        VnfPackageSoftwareImageInfo, while its description says that for an external
#        image not downloaded by the NFVO it "shall be absent". The copy drops it from
#        `required` (the sample package's images are such images).
#     g. SOL003 VNF LCM gives VnfLcmOpOcc a oneOf that requires changedInfo or
#        modificationsTriggeredByVnfPkgChange on every operation occurrence, while
#        SOL003 5.5.2.13 makes changedInfo conditional (MODIFY_INFO, COMPLETED) and
#        modificationsTriggeredByVnfPkgChange present for CHANGE_VNFPKG only: an
#        instantiation has neither. The copy keeps what the oneOf can mean, "not both".
#     h. SOL003 VNF LCM puts the oneOf "exactly one of addresses and addressRange" of
#        IpOverEthernetAddressInfo (its NOTE 2) on the object itself, where neither
#        attribute exists, so no IpOverEthernetAddressInfo can be valid; they are
#        attributes of the items of its ipAddresses, and the copy moves the oneOf
#        there. The same for IpOverEthernetAddressData (SOL003 General_Definitions):
#        "exactly one of fixedAddresses, numDynamicAddresses and ipAddressRange", the
#        items' attributes, the last one named addressRange there.
#     The lists of GET /alarms and GET /subscriptions of SOL002 VNF FM get correction a.
#     c. Both documents declare `Accept`, `Content-Type` and `Authorization` as header
#        parameters, which OpenAPI 3.0 (Parameter Object, 4.7.12.1) says "SHALL be
#        ignored"; the copy drops them. schemathesis would otherwise expect a request
#        without `Accept` to be refused, while RFC 9110 12.5.1 serves it as accepting
#        anything, and it would count a header its HTTP client re-adds as removed.
#        The run still sends `Accept` (below), as SOL013 asks of clients, and the body
#        media types still come from `content`.
#  2. PUT /vnf_packages/{vnfPkgId}/package_content (SOL005) is not run: the document
#     declares its body as `application/binary` with an object schema, a media type no
#     client sends for a package (SOL005 9.4.5.3.3: the zip, `application/zip`) and that
#     schemathesis cannot serialize. Uploads are covered by tacker-api's tests.
#  3. Operations this VNFM does not implement are not run; they answer 404 ProblemDetails:
#     the VNF snapshots of SOL003 (/vnf_snapshots..., create_snapshot, revert_to_snapshot),
#     ext_artifacts_access of SOL005 and the alarm escalation of SOL002 VNF FM
#     (/alarms/{alarmId}/escalate). No alarm is seeded (alarms come from the VIM's
#     monitoring, which the run does not drive): /alarms/{alarmId} is read with made-up
#     ids and answers 404.
#  4. /api_versions answers without a Version header (it is how a client learns the
#     version to send), so `missing_required_header` is off for it. The documents list
#     POST, PUT, PATCH and DELETE on it only to say they answer 405: 405 is their
#     accepted answer, and `allow_header_conformance` is off for it since its `Allow`
#     rightly names GET and HEAD alone.
#  5. `positive_data_acceptance` also accepts 400 and 422: the ETSI schemas leave many
#     constraints to prose (unsigned integers without `minimum`, URIs as plain strings,
#     "shall be present if" conditions, selectors that exclude one another, identifiers
#     that must name an existing, onboarded resource), and SOL013 6.4 answers requests
#     breaking them with 400 (422 where the operation documents it).
#  6. No authentication (loopback, no --auth): with 1c no operation declares
#     authentication, so `ignored_auth` has nothing to check.
#  7. PATCH of a VNF instance also accepts 412: schemathesis sends If-Match values that
#     cannot name the instance's current ETag (an empty one among them: RFC 9110 13.1.1
#     makes an empty list match nothing), and RFC 9110 13.1.4 has an If-Unmodified-Since
#     that is no HTTP-date ignored; 412 is the answer SOL003 documents for both.
#  8. The GETs of a package's content and artifacts also accept 416: schemathesis makes
#     up Range headers without knowing the content's length, and 416 is what SOL005
#     documents for a range that cannot be served (one beyond the content, or several
#     ranges, which this server does not combine).
#  Also: the server reaches nothing off this machine. Subscriptions make it test a
#  callback URI and upload_from_uri makes it fetch one, at URIs schemathesis makes up;
#  its HTTP clients go through a proxy on a closed loopback port, so those requests fail
#  (422 / 400) without leaving 127.0.0.1.
#
# Server behaviour the documents drove (kept by tacker-api's tests): the tasks, PATCH and
# DELETE of a VNF instance and the operation occurrence tasks answer 400 where they
# would otherwise answer 422, which SOL003 documents for none of them; `null` is refused
# (400) as the value of an attribute of an ETSI request body, except in JSON Merge
# Patch bodies and inside free-form key-value attributes; an empty Range header is no
# range request (the whole content, not 416).
set -euo pipefail
cd "$(dirname "$0")/.."

schemathesis_version=4.32.5
etsi=${ETSI_OPENAPI:-../shared/etsi/openapi}
venv=${CONFORMANCE_VENV:-${HOME}/.cache/tacker-conformance/schemathesis-${schemathesis_version}}
config=scripts/conformance/schemathesis.toml

if [ ! -d "$etsi/SOL002-SOL003-v3.7.1" ] || [ ! -d "$etsi/SOL005-v3.7.1" ]; then
    if [ "${CI:-}" = true ]; then
        echo "conformance: the ETSI OpenAPI documents are not in $etsi" >&2
        exit 1
    fi
    echo "conformance: skipped, the ETSI OpenAPI documents are not in $etsi"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tacker-conformance.XXXXXX")
server_pid=
receiver_pid=
cleanup() {
    if [ -n "$receiver_pid" ]; then
        kill "$receiver_pid" 2>/dev/null || true
    fi
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== conformance: schemathesis $schemathesis_version"
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $schemathesis_version" ]; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian ships venv (with ensurepip) apart from python3.
        rm -rf "$venv"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

echo "== conformance: building the server"
cargo build --quiet -p tacker-vnfm --bin vnfm
target_dir=$(cargo metadata --format-version 1 --no-deps |
    "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

"$venv/bin/python" scripts/conformance/prepare.py "$etsi" "$work/etsi"

mkdir "$work/data"
# A local receiver for the seeded subscriptions' callbacks.
"$venv/bin/python" scripts/conformance/receiver.py >"$work/receiver.out" &
receiver_pid=$!
callback=
for _ in $(seq 100); do
    # (the file may not exist yet: the receiver's shell creates it)
    callback=$(head -n 1 "$work/receiver.out" 2>/dev/null || true)
    [ -n "$callback" ] && break
    sleep 0.1
done
# The server fetches packages from, and tests the callbacks of subscriptions at, URIs
# schemathesis makes up: a proxy on a closed loopback port keeps every such request
# (and its DNS lookup) on this machine.
HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
    http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 all_proxy=http://127.0.0.1:9 \
    NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 \
    "$target_dir/debug/vnfm" --listen 127.0.0.1:0 --data-dir "$work/data" --log warn \
    >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
base=
for _ in $(seq 300); do
    base=$(sed -n '1s|^vnfm listening on \(http://[0-9.:]*\) .*|\1|p' "$work/server.out" 2>/dev/null || true)
    [ -n "$base" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$base" ]; then
    echo "conformance: the server did not start" >&2
    cat "$work/server.out" "$work/server.log" >&2
    exit 1
fi
echo "== conformance: server at $base"

# Seeded (the default): one real resource of each kind, whose ids schemathesis uses for
# the path parameters (scripts/conformance/seeded-parameters.toml), so responses of
# real resources are checked too.
run_config="$work/schemathesis.toml"
cp "$config" "$run_config"
if [ "${CONFORMANCE_SEED:-1}" = 1 ]; then
    seed=$("$venv/bin/python" scripts/conformance/seed.py "$base" examples/packages/sample-vnf "$callback")
    while IFS='=' read -r name value; do
        export "$name=$value"
    done <<<"$seed"
    cat scripts/conformance/seeded-parameters.toml >>"$run_config"
    echo "== conformance: seeded package $TACKER_SEED_VNF_PKG_ID, instance $TACKER_SEED_VNF_INSTANCE_ID"
fi

failed=0
# JSON for every resource; the VNFD, the manifest, the package and its artifacts are
# served as text/plain or application/zip.
accept="application/json, text/plain, application/zip"
run() {
    local name=$1 document=$2 prefix=$3 version=$4
    echo "== conformance: $name"
    if ! "$venv/bin/schemathesis" --config-file "$run_config" run "$work/etsi/$document" \
        --url "$base$prefix" -H "Version: $version" -H "Accept: $accept" \
        --no-color --report junit --report-junit-path "$work/reports/$name.xml"; then
        failed=1
    fi
}
mkdir "$work/reports"
started=$SECONDS
run sol003-vnf-lcm SOL002-SOL003-v3.7.1/SOL003/VNFLifecycleManagement/VNFLifecycleManagement.yaml \
    /vnflcm/v2 2.3.0
run sol005-vnf-pkgm SOL005-v3.7.1/SOL005/VNFPackageManagement/VNFPackageManagement.yaml \
    /vnfpkgm/v2 2.4.0
run sol003-vnf-fm SOL002-SOL003-v3.7.1/SOL003/VNFFaultManagement/VNFFaultManagement.yaml \
    /vnffm/v1 1.5.0
run sol002-vnf-fm SOL002-SOL003-v3.7.1/SOL002/VNFFaultManagement/VNFFaultManagement.yaml \
    /vnffm/v1 1.5.0

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "conformance: the server exited during the run" >&2
    failed=1
fi
if [ -n "${CONFORMANCE_REPORTS:-}" ]; then
    mkdir -p "$CONFORMANCE_REPORTS"
    cp "$work/reports/"*.xml "$work/server.log" "$CONFORMANCE_REPORTS/" 2>/dev/null || true
fi
if [ "$failed" -ne 0 ]; then
    echo "conformance: schemathesis found failures (server log: last lines below)" >&2
    tail -n 20 "$work/server.log" >&2
    exit 1
fi
echo "== conformance: no failures ($((SECONDS - started)) s)"
