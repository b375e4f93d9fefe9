"""Runs ansible-playbook in-process inside the tacker sandbox.

    python -I -B /job/run_playbook.py PLAYBOOK [ansible-playbook options...]

e.g. run_playbook.py /job/pkg/Scripts/site.yml -i /job/inventory.ini
     --private-key /job/id_ed25519 -e @/job/extra_vars.json

Everything under /job is read-only; whatever Ansible writes (its home, local temp
files, the ssh ControlPath sockets) goes to the sandbox's private /tmp. Host keys are
always checked against /job/known_hosts (TACKER_KNOWN_HOSTS overrides the path). Any
ANSIBLE_* variable set by the caller (bwrap --setenv) wins over the defaults below.
Ansible's own output goes to stderr; stdout is one JSON line {"rc": N}. The exit status
is ansible-playbook's (0 ok, 2 a task failed, 4 a host unreachable, 5 bad options...).
"""
import json
import os
import sys
import warnings

KNOWN_HOSTS = os.environ.get("TACKER_KNOWN_HOSTS", "/job/known_hosts")

SSH_ARGS = " ".join(
    [
        f"-o UserKnownHostsFile={KNOWN_HOSTS}",
        "-o GlobalKnownHostsFile=/dev/null",
        "-o StrictHostKeyChecking=yes",
        "-o CheckHostIP=no",
        "-o UpdateHostKeys=no",
        "-o BatchMode=yes",
        "-o IdentitiesOnly=yes",
        "-o IdentityAgent=none",
        "-o PasswordAuthentication=no",
        "-o KbdInteractiveAuthentication=no",
        "-o ConnectTimeout=10",
        "-o ServerAliveInterval=15",
        "-o ServerAliveCountMax=4",
        # One connection per host for the whole play; the sockets live in /tmp (below).
        "-o ControlMaster=auto",
        "-o ControlPersist=60s",
    ]
)

DEFAULTS = {
    "ANSIBLE_HOME": "/tmp/.ansible",
    "ANSIBLE_LOCAL_TEMP": "/tmp/.ansible/tmp",
    # On the managed host (its /tmp, not the sandbox's), per login user ($USER expands
    # there); the default ~/.ansible/tmp would litter the test host's home.
    "ANSIBLE_REMOTE_TEMP": "/tmp/.ansible-${USER}",
    "ANSIBLE_SSH_CONTROL_PATH_DIR": "/tmp/.ansible/cp",
    "ANSIBLE_SSH_ARGS": SSH_ARGS,
    "ANSIBLE_SSH_PIPELINING": "True",
    "ANSIBLE_HOST_KEY_CHECKING": "True",
    "ANSIBLE_RETRY_FILES_ENABLED": "False",
    "ANSIBLE_NOCOWS": "True",
    "ANSIBLE_NOCOLOR": "True",
    "ANSIBLE_FORCE_COLOR": "False",
    "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
    "ANSIBLE_LOCALHOST_WARNING": "False",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    "ANSIBLE_SYSTEM_WARNINGS": "False",
    "ANSIBLE_TIMEOUT": "10",
    "ANSIBLE_GATHER_TIMEOUT": "30",
}


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} PLAYBOOK [ansible-playbook options...]")
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    # No agent from outside (--clearenv drops it anyway).
    os.environ.pop("SSH_AUTH_SOCK", None)
    # cryptography >= 47 warns about DSA when ansible-core's ssh-agent module imports it.
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    # ansible-core checks the locale and stdio when ansible.cli is imported: import late.
    from ansible.cli.playbook import main as playbook_main

    playbook, rest = sys.argv[1], sys.argv[2:]
    # Ansible's display (play output, "fatal:" lines, the recap) goes to stderr: the
    # sandbox keeps stderr's tail for a failed job and drops its stdout. Stdout gets one
    # JSON line, {"rc": N}, written last.
    sys.stdout.flush()
    result = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        # cli_executor always exits, with ansible-playbook's status.
        playbook_main(["ansible-playbook", *rest, playbook])
        rc = 0
    except SystemExit as exit_:
        rc = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    result.write(json.dumps({"rc": rc}) + "\n")
    result.flush()
    sys.exit(rc)


if __name__ == "__main__":
    main()
