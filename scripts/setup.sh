#!/usr/bin/env bash
# Prepare this checkout to run Strata Studio and its tests: system libraries for Qt and a
# virtual display, then .venv with the package installed in editable mode.
#
# Safe to run again: apt is skipped when every package is already installed, and pip is
# skipped when pyproject.toml and constraints.txt have not changed since the last install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[setup] %s\n' "$*"; }

# Qt's xcb platform plugin and a virtual display for screenshots (see ENVIRONMENT notes).
APT_PACKAGES=(
    libegl1 libgl1 libfontconfig1 libdbus-1-3
    libxkbcommon0 libxkbcommon-x11-0
    libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
    libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1
    xvfb xauth xdotool imagemagick
)

pick_python() {
    local candidate
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

missing_apt_packages() {
    local pkg status
    for pkg in "$@"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
        [[ "$status" == "installed" ]] || echo "$pkg"
    done
}

install_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        log "not a Debian-like system: skipping system packages (install the Qt xcb libraries yourself)"
        return 0
    fi

    local wanted=("${APT_PACKAGES[@]}")
    # A bare Debian 12 may lack Python (its python3 is 3.11); Debian's own Python needs
    # python3-venv before `python3 -m venv` works.
    local python
    if ! python="$(pick_python)"; then
        wanted+=(python3 python3-venv)
    elif [[ "$(command -v "$python")" == /usr/bin/* ]]; then
        wanted+=(python3-venv)
    fi

    local missing
    mapfile -t missing < <(missing_apt_packages "${wanted[@]}")
    if ((${#missing[@]} == 0)); then
        log "system packages: all present"
        return 0
    fi

    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            log "WARNING: not root and no sudo; cannot install: ${missing[*]}"
            return 0
        fi
    fi

    log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

create_venv() {
    if [[ -x .venv/bin/python ]]; then
        return 0
    fi
    local python
    if ! python="$(pick_python)"; then
        log "ERROR: Python 3.11 or newer is required (found: $(python3 --version 2>&1 || echo none))"
        exit 1
    fi
    log "creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv
}

install_python_packages() {
    local stamp=.venv/.strata-setup-stamp
    local want
    want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1) $(.venv/bin/python -V 2>&1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
        && .venv/bin/python -c 'import importlib.metadata as m; m.version("strata-studio")' 2>/dev/null \
        && [[ -x .venv/bin/studio ]]; then
        log "python packages: up to date"
        return 0
    fi
    log "installing python packages: pip install -c constraints.txt -e .[dev,export] (a minute or two on a fresh machine)"
    local pip_log
    pip_log="$(mktemp)"
    if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input \
        -c constraints.txt -e ".[dev,export]" >"$pip_log" 2>&1; then
        cat "$pip_log" >&2
        rm -f "$pip_log"
        log "ERROR: pip install failed"
        exit 1
    fi
    # Extra indexes in a machine's pip config that lack a package are noise, not problems.
    grep -v "is ignored: it is neither a file nor a directory" "$pip_log" || true
    rm -f "$pip_log"
    echo "$want" >"$stamp"
}

start=$SECONDS
install_system_packages
create_venv
install_python_packages
log "done in $((SECONDS - start)) s"
