"""Calls a VNF package's user-data class for one LCM operation.

The VNFM runs this file inside its sandbox. It reads one JSON object on stdin:
operation (the method's name), isRollback, userData (the class's file, relative to
the package root), userDataClass, request, vnfInstance, grantRequest, grant and
csarDir (the read-only copy of the package). It prints the JSON of the dict the
method returns (template, parameters, files, existing) and nothing else: what the
class prints goes to stderr.
"""

import importlib
import json
import os
import sys
import warnings

# Libraries the helper modules import announce their own deprecation on import; that
# is noise in the error a failing class reports.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def module_name(user_data):
    relative = os.path.normpath(user_data)
    if os.path.isabs(relative) or relative.split(os.sep)[0] == "..":
        fail(f"lcm-operation-user-data {user_data!r} leaves the VNF package")
    if not relative.endswith(".py"):
        fail(f"lcm-operation-user-data {user_data!r} is not a Python file")
    return relative[: -len(".py")].replace(os.sep, ".")


def main():
    call = json.load(sys.stdin)
    csar = call["csarDir"]
    name = module_name(call["userData"])
    sys.path.insert(0, csar)
    module = importlib.import_module(name)
    cls = getattr(module, call["userDataClass"], None)
    if cls is None:
        fail(f"{call['userData']} defines no class {call['userDataClass']}")
    method_name = call["operation"] + ("_rollback" if call["isRollback"] else "")
    method = getattr(cls, method_name, None)
    if method is None:
        fail(f"class {call['userDataClass']} has no method {method_name}")
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        fields = method(
            call["request"],
            call["vnfInstance"],
            call["grantRequest"],
            call["grant"],
            csar,
        )
    finally:
        sys.stdout = out
    if not isinstance(fields, dict):
        fail(f"{call['userDataClass']}.{method_name} returned {type(fields).__name__}, not a dict")
    json.dump(fields, out, default=str)


main()
