"""Runs one LCM script of a VNF package as Tacker v2 runs it, inside the VNFM's sandbox.

The VNFM sends JSON on stdin: {"script": path, "input": dict}. The script is run with
this interpreter, the dict pickled on its stdin; what it prints on stdout, if it is a
pickled dict, is read for its "vnf_instance" and "user_script_err_handling_data" (other
output is ignored, as Tacker ignores it). The answer on stdout is JSON:
{"returncode": n, "vnf_instance": ..., "user_script_err_handling_data": ...}. The
script's stderr is passed on. Unpickling the script's output runs in this sandbox, never
in the VNFM.
"""

import json
import pickle
import subprocess
import sys


def main():
    call = json.load(sys.stdin)
    proc = subprocess.run(
        [sys.executable, call["script"]],
        input=pickle.dumps(call["input"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
    )
    answer = {"returncode": proc.returncode}
    output = None
    if proc.stdout:
        try:
            output = pickle.loads(proc.stdout)
        except Exception as error:  # Tacker ignores output that does not unpickle.
            answer["ignoredOutput"] = type(error).__name__
    if isinstance(output, dict):
        for key in ("vnf_instance", "user_script_err_handling_data"):
            if key in output:
                answer[key] = output[key]
    sys.stderr.buffer.write(proc.stderr)
    sys.stderr.flush()
    json.dump(answer, sys.stdout, default=str)


if __name__ == "__main__":
    main()
