"""Seeds the server of scripts/conformance.sh with one resource of each kind, so that
schemathesis reads real resources (and checks their 200 response schemas) rather than
only 404s: an onboarded package, an instantiated VNF instance and its completed
instantiation (its external CP connected to an external virtual link, so that its
extCpInfo, 1..N in SOL003, has an entry), and an LCM, a package and an FM
subscription whose callback is a local receiver. Prints `NAME=value` lines for the script's environment.

    seed.py BASE_URL PACKAGE_DIR CALLBACK_URL
"""

import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
import zipfile

VERSIONS = {"/vnflcm/v2": "2.3.0", "/vnfpkgm/v2": "2.4.0", "/vnffm/v1": "1.5.0"}
# The instantiation connects the sample VNF's one external CP (WEB_CP_EXT of its
# flavour `simple`) to an external network with a dynamic IPv4 address.
INSTANTIATE = {
    "flavourId": "simple",
    "extVirtualLinks": [{
        "id": "conformance-ext-vl",
        "resourceId": "conformance-ext-net",
        "extCps": [{
            "cpdId": "WEB_CP_EXT",
            "cpConfig": {
                "web-cp": {
                    "cpProtocolData": [{
                        "layerProtocol": "IP_OVER_ETHERNET",
                        "ipOverEthernet": {
                            "ipAddresses": [{"type": "IPV4", "numDynamicAddresses": 1}],
                        },
                    }],
                },
            },
        }],
    }],
}
# The server is local: no proxy for these requests.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(base, method, path, body=None, content_type="application/json"):
    version = next(v for prefix, v in VERSIONS.items() if path.startswith(prefix))
    data = None
    headers = {"Version": version, "Accept": "application/json"}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with OPENER.open(request, timeout=60) as response:
            text = response.read()
            return response.status, response.headers, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        raise SystemExit(f"seed: {method} {path} answered {error.code}: {error.read().decode()}")


def wait(base, path, key, done, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        _, _, body = call(base, "GET", path)
        if body[key] in done:
            return body
        time.sleep(0.1)
    raise SystemExit(f"seed: {path} never reached {done}")


def zip_dir(root):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                path = os.path.join(folder, name)
                archive.write(path, os.path.relpath(path, root))
    return buffer.getvalue()


def main():
    base, package_dir, callback = sys.argv[1:4]
    _, _, package = call(base, "POST", "/vnfpkgm/v2/vnf_packages", {})
    package_id = package["id"]
    call(base, "PUT", f"/vnfpkgm/v2/vnf_packages/{package_id}/package_content",
         zip_dir(package_dir), "application/zip")
    package = wait(base, f"/vnfpkgm/v2/vnf_packages/{package_id}", "onboardingState",
                   {"ONBOARDED"})
    _, _, instance = call(base, "POST", "/vnflcm/v2/vnf_instances",
                          {"vnfdId": package["vnfdId"], "vnfInstanceName": "conformance"})
    instance_id = instance["id"]
    _, headers, _ = call(base, "POST", f"/vnflcm/v2/vnf_instances/{instance_id}/instantiate",
                         INSTANTIATE)
    op_id = headers.get("Location", "").rsplit("/", 1)[-1]
    op = wait(base, f"/vnflcm/v2/vnf_lcm_op_occs/{op_id}", "operationState",
              {"COMPLETED", "FAILED_TEMP", "FAILED", "ROLLED_BACK"})
    if op["operationState"] != "COMPLETED":
        raise SystemExit(f"seed: the instantiation ended {op['operationState']}: {op.get('error')}")
    _, _, lccn = call(base, "POST", "/vnflcm/v2/subscriptions", {"callbackUri": callback})
    _, _, pkgm = call(base, "POST", "/vnfpkgm/v2/subscriptions", {"callbackUri": callback})
    _, _, fm = call(base, "POST", "/vnffm/v1/subscriptions", {"callbackUri": callback})
    # A plain-text artifact: schemathesis parses the body of a YAML one as YAML, which
    # fails (and stops its run) for the 206 answers to its Range headers.
    artifacts = [a["artifactPath"] for a in package.get("additionalArtifacts", [])
                 if a.get("artifactPath", "").endswith(".txt")]
    print(f"TACKER_SEED_VNF_PKG_ID={package_id}")
    print(f"TACKER_SEED_VNF_INSTANCE_ID={instance_id}")
    print(f"TACKER_SEED_VNF_LCM_OP_OCC_ID={op_id}")
    print(f"TACKER_SEED_LCCN_SUBSCRIPTION_ID={lccn['id']}")
    print(f"TACKER_SEED_PKGM_SUBSCRIPTION_ID={pkgm['id']}")
    print(f"TACKER_SEED_FM_SUBSCRIPTION_ID={fm['id']}")
    print(f"TACKER_SEED_ARTIFACT_PATH={artifacts[0] if artifacts else 'Scripts/README.txt'}")


if __name__ == "__main__":
    main()
