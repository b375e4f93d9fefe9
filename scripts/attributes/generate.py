#!/usr/bin/env python3
"""Writes the attribute names of the resources the REST APIs list, from the ETSI NFV
OpenAPI definitions, as the JSON tree tacker-api checks `filter`, `fields` and
`exclude_fields` against (SOL013 5.2 and 5.3: an attribute the resource does not have
is a 400).

    scripts/attributes/generate.py [ETSI_OPENAPI_DIR] > tacker-api/src/rest/attributes.json

Each resource maps to a tree: an attribute name maps to the tree of its own attributes,
to true for a leaf, or to "*" where any name may follow (key-value pairs such as
`metadata` and `extensions`). Arrays are transparent, as in SOL013 paths.
"""
import json
import os
import sys

import yaml

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "etsi", "openapi")
SOL003 = os.path.join(ROOT, "SOL002-SOL003-v3.7.1", "SOL003")
SOL005 = os.path.join(ROOT, "SOL005-v3.7.1", "SOL005")

RESOURCES = {
    "VnfInstance": (SOL003, "VNFLifecycleManagement/definitions/SOL003VNFLifecycleManagement_def.yaml"),
    "VnfLcmOpOcc": (SOL003, "VNFLifecycleManagement/definitions/SOL003VNFLifecycleManagement_def.yaml"),
    "LccnSubscription": (SOL003, "VNFLifecycleManagement/definitions/SOL003VNFLifecycleManagement_def.yaml"),
    "VnfPkgInfo": (SOL005, "VNFPackageManagement/definitions/SOL005VNFPackageManagement_def.yaml"),
    "PkgmSubscription": (SOL005, "VNFPackageManagement/definitions/SOL005VNFPackageManagement_def.yaml"),
    "Alarm": (SOL003, "VNFFaultManagement/definitions/SOL003VNFFaultManagement_def.yaml"),
    "FmSubscription": (SOL003, "VNFFaultManagement/definitions/SOL003VNFFaultManagement_def.yaml"),
}

_files = {}


def load(path):
    path = os.path.normpath(path)
    if path not in _files:
        with open(path, encoding="utf-8") as handle:
            _files[path] = yaml.safe_load(handle)
    return _files[path]


def resolve(ref, base):
    target, _, pointer = ref.partition("#")
    path = os.path.normpath(os.path.join(os.path.dirname(base), target)) if target else base
    node = load(path)
    for part in pointer.strip("/").split("/"):
        if part:
            node = node[part]
    return node, path


def tree(schema, base, seen):
    """The attribute tree of a schema; `seen` stops recursion through types."""
    if not isinstance(schema, dict):
        return True
    if "$ref" in schema:
        ref = schema["$ref"]
        key = (os.path.normpath(base), ref)
        if key in seen:
            return "*"
        target, path = resolve(ref, base)
        return tree(target, path, seen | {key})
    if schema.get("type") == "array" and "items" in schema:
        return tree(schema["items"], base, seen)
    names = {}
    open_names = False
    for part in schema.get("allOf", []) + schema.get("oneOf", []) + schema.get("anyOf", []):
        sub = tree(part, base, seen)
        if sub == "*":
            open_names = True
        elif isinstance(sub, dict):
            for name, value in sub.items():
                names[name] = merge(names.get(name), value)
    for name, value in (schema.get("properties") or {}).items():
        names[name] = merge(names.get(name), tree(value, base, seen))
    if schema.get("additionalProperties") not in (None, False):
        open_names = True
    if open_names:
        return "*"
    if names:
        return names
    if schema.get("type") == "object":
        # An object without properties: key-value pairs.
        return "*"
    return True


def merge(old, new):
    if old is None:
        return new
    if old == "*" or new == "*":
        return "*"
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for name, value in new.items():
            out[name] = merge(out.get(name), value)
        return out
    return old if isinstance(old, dict) else new


def main():
    out = {}
    for name, (root, relative) in RESOURCES.items():
        path = os.path.join(root, relative)
        out[name] = tree(load(path)["definitions"][name], path, frozenset())
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
