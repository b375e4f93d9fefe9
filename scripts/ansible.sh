#!/usr/bin/env bash
# Prints the path of a Python interpreter that has ansible-core, for the tests that run
# Ansible playbooks of VNF packages (in the bubblewrap sandbox, against sshd servers on
# loopback addresses).
#
#   scripts/ansible.sh        Python venv with ansible-core==$ANSIBLE_CORE_VERSION from PyPI
#                             and its dependencies at the versions pinned below (wheels
#                             only, byte-compiled at install time: the sandbox mounts the
#                             venv read-only and runs python -B, so nothing is compiled
#                             there). Last stdout line: the venv's python.
#
# Everything lives under ${ANSIBLE_DIR:-<repo>/target/tools/ansible} (venv/, wheels/,
# pip-cache/, home/), i.e. under the git-ignored target/: nothing downloaded from PyPI is
# committed. Idempotent and cached (a warm run prints nothing on stderr); concurrent
# callers are serialised with flock. Logs go to stderr.
# Environment: ANSIBLE_DIR, PYTHON (default python3; ansible-core 2.19 wants 3.11-3.13
# on the controller).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
ANSIBLE_CORE_VERSION=2.19.14
# ansible-core's own dependencies, pinned (pip freeze of a fresh install of the above).
PINS=(
    cffi==2.1.1
    cryptography==51.0.1
    Jinja2==3.1.6
    MarkupSafe==3.0.4
    packaging==26.4
    pycparser==3.12
    PyYAML==6.0.4
    resolvelib==1.2.1
)

dir="${ANSIBLE_DIR:-$repo/target/tools/ansible}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
venv="$dir/venv"
wheelhouse="$dir/wheels"
python="${PYTHON:-python3}"
export PIP_CACHE_DIR="$dir/pip-cache" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { echo "ansible: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# One caller at a time does the work; the others wait and then find it done.
exec 9>"$dir/.lock"
flock 9

stamp="ansible-core==$ANSIBLE_CORE_VERSION ${PINS[*]}"

# The venv imports what running a playbook in-process needs, at the pinned version.
# (-I: no user site or PYTHON* variables, as in the sandbox. Importing ansible's constants
# creates its home and local temp folders: here under $dir, not in ~/.ansible.)
works() {
    ANSIBLE_HOME="$dir/home" ANSIBLE_LOCAL_TEMP="$dir/home/tmp" \
        "$venv/bin/python" -I - "$ANSIBLE_CORE_VERSION" >/dev/null 2>&1 <<'EOF'
import sys
import ansible.release, ansible.cli.playbook, ansible.executor.playbook_executor
import ansible.plugins.connection.ssh, cryptography, jinja2, yaml
sys.exit(ansible.release.__version__ != sys.argv[1])
EOF
}

if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.ansible-venv" 2>/dev/null)" = "$stamp" ] && works; then
    echo "$venv/bin/python"
    exit 0
fi

started=$(date +%s)
rm -f "$venv/.ansible-venv"
if ! [ -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    log "creating venv $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2 || die "'$python -m venv' failed (is python3-venv installed?)"
fi
# Wheels are kept in $wheelhouse and installed from there offline: pip's HTTP cache only
# helps when the index sends caching headers, a wheelhouse always does. When it lacks
# something (first run, new pins), pip download fills it from the index.
# --only-binary: nothing is built from source (every pinned package has wheels for
# CPython 3.11+ on manylinux); --no-deps with the full pinned set: pip resolves nothing.
requirements=("ansible-core==$ANSIBLE_CORE_VERSION" "${PINS[@]}")
pip=("$venv/bin/python" -m pip)
install_offline() {
    "${pip[@]}" install -q --no-index --find-links "$wheelhouse" --only-binary :all: --no-deps \
        "${requirements[@]}"
}
if ! [ -d "$wheelhouse" ] || ! install_offline >/dev/null 2>&1; then
    log "downloading wheels of ansible-core==$ANSIBLE_CORE_VERSION and ${#PINS[@]} dependencies into $wheelhouse"
    "${pip[@]}" download -q --only-binary :all: --no-deps -d "$wheelhouse" "${requirements[@]}" >&2
    log "installing into $venv"
    install_offline >&2
fi
if ! check="$("$venv/bin/python" -m pip check 2>&1)"; then
    echo "$check" >&2
    die "the pinned packages do not fit together"
fi
if ! works; then
    ANSIBLE_HOME="$dir/home" ANSIBLE_LOCAL_TEMP="$dir/home/tmp" \
        "$venv/bin/python" -I -c 'import ansible.cli.playbook' >&2 || true
    die "ansible-core does not import in $venv"
fi
echo "$stamp" >"$venv/.ansible-venv"
log "venv ready in $(($(date +%s) - started)) s"
echo "$venv/bin/python"
