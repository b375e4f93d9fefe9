"""Copies the ETSI OpenAPI documents and corrects their known defects in the copy.

    python3 prepare.py ETSI_OPENAPI_DIR OUT_DIR

ETSI_OPENAPI_DIR holds SOL002-SOL003-v3.7.1/ and SOL005-v3.7.1/ (../shared/etsi/openapi);
both trees are copied to OUT_DIR with their relative `$ref`s intact, and only the
corrections below are made. Each correction says what it expects to find and stops the
run when the document no longer has that shape, so a fixed ETSI document never goes on
being patched silently. scripts/conformance.sh describes why each one is needed.

  problem+json  every response content that is a ProblemDetails as `application/json`
                also declares it as `application/problem+json` (same schema), the media
                type SOL013 gives error responses; the bodies are still validated.
  array-lists   SOL003 VNF LCM: the 200 responses of GET /subscriptions and
                GET /vnf_lcm_op_occs, and SOL003 VNF FM: the 200 responses of
                GET /alarms and GET /subscriptions, become arrays of the object they
                declare.
  header-params the header parameters named Accept, Content-Type and Authorization
                are removed: OpenAPI 3.0 (4.7.12.1, Parameter Object) says such
                definitions "SHALL be ignored", as media types are given by `content`
                and authentication by security schemes.
  pkgm-subscription-id
                SOL005: PkgmSubscription.id becomes an Identifier (it is typed Uri).
  spec-versions SOL005: VnfPkgInfo.compatibleSpecificationVersions becomes an array of
                Version (it is typed one Version while its description says "each
                entry").
  image-path    SOL005: imagePath leaves the `required` of VnfPackageSoftwareImageInfo
                (its description says it "shall be absent" for an external image not
                downloaded).
  op-occ-oneof  SOL003 VNF LCM: VnfLcmOpOcc's oneOf, which requires changedInfo or
                modificationsTriggeredByVnfPkgChange on every operation occurrence,
                becomes "not both".
  ip-over-ethernet
                SOL003 VNF LCM: the oneOf of IpOverEthernetAddressInfo requiring
                `addresses` or `addressRange`, attributes of the items of its
                `ipAddresses`, moves onto those items; so does the oneOf of SOL003's
                IpOverEthernetAddressData (fixedAddresses, numDynamicAddresses,
                ipAddressRange, the last named addressRange in the items).

Files are read with schemathesis' own YAML loader (so they mean the same to it as the
originals) and the changed ones written back as JSON, which is YAML too.
"""

import json
import shutil
import sys
from pathlib import Path

from schemathesis.core.deserialization import deserialize_yaml

LCM = Path("SOL002-SOL003-v3.7.1/SOL003/VNFLifecycleManagement/VNFLifecycleManagement.yaml")
FM = Path("SOL002-SOL003-v3.7.1/SOL003/VNFFaultManagement/VNFFaultManagement.yaml")
SOL002_FM = Path("SOL002-SOL003-v3.7.1/SOL002/VNFFaultManagement/VNFFaultManagement.yaml")
LCM_DEF = Path(
    "SOL002-SOL003-v3.7.1/SOL003/VNFLifecycleManagement/definitions/"
    "SOL003VNFLifecycleManagement_def.yaml"
)
SOL003_DEF = Path("SOL002-SOL003-v3.7.1/SOL003/General_Definitions/SOL003_def.yaml")
PKGM_DEF = Path(
    "SOL005-v3.7.1/SOL005/VNFPackageManagement/definitions/SOL005VNFPackageManagement_def.yaml"
)
SOL005_DEF = "../../definitions/SOL005_def.yaml#/definitions/"
SOL002_FM_DEFINITIONS = "definitions/SOL002VNFFaultManagement_def.yaml#/definitions/"
LCM_DEFINITIONS = "./definitions/SOL003VNFLifecycleManagement_def.yaml#/definitions/"
FM_DEFINITIONS = "definitions/SOL003VNFFaultManagement_def.yaml#/definitions/"
# Per document: response component -> the one object (as the document references it)
# that its 200 declares instead of a list.
ARRAY_LISTS = {
    LCM: {
        "VnfLcmOpOccs.Get.200": LCM_DEFINITIONS + "VnfLcmOpOcc",
        "Subscriptions.Get.200": LCM_DEFINITIONS + "LccnSubscription",
    },
    FM: {
        "Alarms.Get.200": "./" + FM_DEFINITIONS + "Alarm",
        "Subscriptions.Get.200": FM_DEFINITIONS + "FmSubscription",
    },
    SOL002_FM: {
        "Alarms.Get.200": "./" + SOL002_FM_DEFINITIONS + "Alarm",
        "Subscriptions.Get.200": SOL002_FM_DEFINITIONS + "FmSubscription",
    },
}
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


def fail(message):
    sys.exit(f"prepare.py: {message}")


def is_problem_details(media):
    schema = media.get("schema") if isinstance(media, dict) else None
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    return isinstance(ref, str) and ref.strip().endswith("#/definitions/ProblemDetails")


def add_problem_json(node):
    """Adds `application/problem+json` beside each ProblemDetails `application/json`."""
    added = 0
    if isinstance(node, dict):
        content = node.get("content")
        if isinstance(content, dict) and is_problem_details(content.get(JSON)):
            if PROBLEM_JSON not in content:
                content[PROBLEM_JSON] = content[JSON]
                added += 1
        for value in node.values():
            added += add_problem_json(value)
    elif isinstance(node, list):
        for value in node:
            added += add_problem_json(value)
    return added


IGNORED_HEADERS = {"accept", "content-type", "authorization"}


class Resolver:
    """Follows `$ref`s between the copied files, loading each file once."""

    def __init__(self):
        self.files = {}

    def load(self, path):
        path = path.resolve()
        if path not in self.files:
            with path.open("rb") as stream:
                self.files[path] = deserialize_yaml(stream)
        return self.files[path]

    def target(self, base, ref):
        location, _, pointer = ref.partition("#")
        node = self.load(base.parent / location) if location else self.load(base)
        for part in pointer.strip("/").split("/") if pointer.strip("/") else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


def is_ignored_header(parameter, path, resolver):
    if isinstance(parameter, dict) and isinstance(parameter.get("$ref"), str):
        parameter = resolver.target(path, parameter["$ref"].strip())
    return (
        isinstance(parameter, dict)
        and parameter.get("in") == "header"
        and str(parameter.get("name", "")).lower() in IGNORED_HEADERS
    )


def drop_ignored_headers(node, path, resolver):
    """Removes Accept, Content-Type and Authorization header parameters."""
    dropped = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "parameters" and isinstance(value, list):
                kept = [p for p in value if not is_ignored_header(p, path, resolver)]
                dropped += len(value) - len(kept)
                value[:] = kept
            else:
                dropped += drop_ignored_headers(value, path, resolver)
    elif isinstance(node, list):
        for value in node:
            dropped += drop_ignored_headers(value, path, resolver)
    return dropped


def make_lists_arrays(document, path):
    responses = document.get("components", {}).get("responses", {})
    for name, expected in ARRAY_LISTS[path].items():
        try:
            media = responses[name]["content"][JSON]
        except (KeyError, TypeError):
            fail(f"{path}: components/responses/{name} has no {JSON} content any more")
        if media.get("schema") != {"$ref": expected}:
            fail(
                f"{path}: components/responses/{name} no longer declares one {expected} "
                f"(found {json.dumps(media.get('schema'))}); drop the correction"
            )
        media["schema"] = {"type": "array", "items": {"$ref": expected}}


def definition(document, path, name):
    try:
        return document["definitions"][name]
    except (KeyError, TypeError):
        fail(f"{path}: definitions/{name} is missing")


def expect(path, where, found, expected):
    if found != expected:
        fail(
            f"{path}: {where} no longer has the defective shape (found {json.dumps(found)}, "
            f"expected {json.dumps(expected)}); drop the correction"
        )


def fix_pkgm_subscription_id(document, path):
    schema = definition(document, path, "PkgmSubscription").get("properties", {}).get("id")
    expect(path, "PkgmSubscription.id", (schema or {}).get("$ref"), SOL005_DEF + "Uri")
    schema["$ref"] = SOL005_DEF + "Identifier"


def fix_spec_versions(document, path):
    properties = definition(document, path, "VnfPkgInfo").get("properties", {})
    schema = properties.get("compatibleSpecificationVersions")
    expect(path, "VnfPkgInfo.compatibleSpecificationVersions", (schema or {}).get("$ref"),
           SOL005_DEF + "Version")
    properties["compatibleSpecificationVersions"] = {
        "description": schema.get("description", ""),
        "type": "array",
        "items": {"$ref": SOL005_DEF + "Version"},
    }


def fix_image_path(document, path):
    image = definition(document, path, "VnfPackageSoftwareImageInfo")
    required = image.get("required", [])
    expect(path, "VnfPackageSoftwareImageInfo.required has imagePath",
           "imagePath" in required, True)
    description = image.get("properties", {}).get("imagePath", {}).get("description", "")
    expect(path, "VnfPackageSoftwareImageInfo.imagePath says when it is absent",
           "shall be absent otherwise" in description, True)
    image["required"] = [name for name in required if name != "imagePath"]


OP_OCC_ONEOF = [
    {"required": ["changedInfo"]},
    {"required": ["modificationsTriggeredByVnfPkgChange"]},
]
ADDRESS_ONEOF = [{"required": ["addresses"]}, {"required": ["addressRange"]}]
ADDRESS_DATA_ONEOF = [
    {"required": ["fixedAddresses"]},
    {"required": ["numDynamicAddresses"]},
    {"required": ["ipAddressRange"]},
]


def fix_op_occ_oneof(document, path):
    op_occ = definition(document, path, "VnfLcmOpOcc")
    expect(path, "VnfLcmOpOcc.oneOf", op_occ.get("oneOf"), OP_OCC_ONEOF)
    del op_occ["oneOf"]
    op_occ["not"] = {"required": ["changedInfo", "modificationsTriggeredByVnfPkgChange"]}


def move_address_oneof(document, path, name, expected, renamed):
    """Moves the oneOf of `name` (an IpOverEthernetAddress... type) onto the items of its
    ipAddresses, whose attributes it names; `renamed` maps a name the oneOf uses to
    the attribute's name in the items."""
    info = definition(document, path, name)
    expect(path, f"{name}.oneOf", info.get("oneOf"), expected)
    items = info.get("properties", {}).get("ipAddresses", {}).get("items", {})
    names = [renamed.get(one["required"][0], one["required"][0]) for one in expected]
    expect(path, f"{name}.ipAddresses.items.properties has {names}",
           sorted(set(items.get("properties", {})) & set(names)), sorted(names))
    expect(path, f"{name}.ipAddresses.items.oneOf", items.get("oneOf"), None)
    expect(path, f"{name} has the oneOf's attributes itself",
           sorted(set(info.get("properties", {})) & set(names)), [])
    del info["oneOf"]
    items["oneOf"] = [{"required": [attribute]} for attribute in names]


def fix_ip_over_ethernet(document, path):
    move_address_oneof(document, path, "IpOverEthernetAddressInfo", ADDRESS_ONEOF, {})


def fix_ip_over_ethernet_data(document, path):
    move_address_oneof(document, path, "IpOverEthernetAddressData", ADDRESS_DATA_ONEOF,
                       {"ipAddressRange": "addressRange"})


# Per definitions file: the corrections of its schemas (see the docstring).
DEFINITION_FIXES = {
    PKGM_DEF: [fix_pkgm_subscription_id, fix_spec_versions, fix_image_path],
    LCM_DEF: [fix_op_occ_oneof, fix_ip_over_ethernet],
    SOL003_DEF: [fix_ip_over_ethernet_data],
}


def main():
    if len(sys.argv) != 3:
        fail("usage: prepare.py ETSI_OPENAPI_DIR OUT_DIR")
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    problem_json = headers = 0
    resolver = Resolver()
    for tree in ("SOL002-SOL003-v3.7.1", "SOL005-v3.7.1"):
        if not (source / tree).is_dir():
            fail(f"{source / tree} is missing")
        shutil.copytree(source / tree, target / tree, dirs_exist_ok=True)
    # Decide on every file first (the parameter definitions are read through the
    # resolver, unchanged), then write the changed ones.
    changed = []
    for tree in ("SOL002-SOL003-v3.7.1", "SOL005-v3.7.1"):
        for path in sorted((target / tree).rglob("*.yaml")):
            document = resolver.load(path)
            dropped = drop_ignored_headers(document, path, resolver)
            added = add_problem_json(document)
            relative = path.relative_to(target)
            lists = relative in ARRAY_LISTS
            if lists:
                make_lists_arrays(document, relative)
            fixes = DEFINITION_FIXES.get(relative, [])
            for fix in fixes:
                fix(document, relative)
            headers += dropped
            problem_json += added
            if dropped or added or lists or fixes:
                changed.append(path)
    for relative in DEFINITION_FIXES:
        if not (target / relative).is_file():
            fail(f"{relative} is missing")
    for path in changed:
        path.write_text(json.dumps(resolver.load(path), indent=1), encoding="utf-8")
    if problem_json < 100 or headers < 50:
        fail(
            f"only {problem_json} ProblemDetails responses and {headers} header parameters "
            "found; the documents changed shape"
        )
    print(
        f"prepared the ETSI documents in {target}: {problem_json} ProblemDetails contents, "
        f"{headers} Accept/Content-Type/Authorization parameters dropped"
    )


if __name__ == "__main__":
    main()
