#!/usr/bin/env bash
# Build the Linux one-folder bundle and its tarball, then run the bundle's self-test.
#
#   installers/build.sh            # uses .venv (made, with the app installed, if missing)
#
# Output (all under build/installer/, which git ignores):
#   dist/StrataStudio/                      the application folder (StrataStudio + _internal/)
#   StrataStudio-VERSION-linux-ARCH.tar.gz  that folder with install.sh and the desktop files
# Environment: STRATA_VENV (another venv), STRATA_BUNDLE_ONNX=0 (leave ONNX out),
# STRATA_SKIP_TARBALL=1 (bundle and self-test only).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV=${STRATA_VENV:-$ROOT/.venv}
PY=$VENV/bin/python
OUT=$ROOT/build/installer
DIST=$OUT/dist
APP=$DIST/StrataStudio
START=$(date +%s)

step() { printf '\n== %s (%ss)\n' "$1" "$(($(date +%s) - START))"; }

if [ ! -x "$PY" ]; then
    step "creating $VENV"
    python3 -m venv "$VENV"
    "$PY" -m pip install -q -c constraints.txt numpy -e ".[export]"
fi
step "pyinstaller (pinned in constraints.txt)"
"$PY" -m pip install -q -c constraints.txt pyinstaller
"$PY" -m PyInstaller --version

step "building the bundle"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$OUT/work" installers/strata.spec
BUILT=$(date +%s)

# The desktop integration travels inside the folder, so the tarball is self-contained.
install -m 755 installers/linux/install.sh "$APP/install.sh"
mkdir -p "$APP/share"
install -m 644 installers/linux/strata-studio.desktop installers/linux/strata-studio.xml \
    "$APP/share/"

step "self-test of the built bundle"
# Without a display the self-test goes offscreen on its own; say so explicitly anyway.
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    export QT_QPA_PLATFORM=offscreen
fi
"$APP/StrataStudio" --self-test

TARBALL=""
if [ "${STRATA_SKIP_TARBALL:-0}" != 1 ]; then
    step "tarball"
    VERSION=$("$PY" -c 'import studio; print(studio.__version__)')
    TARBALL=$OUT/StrataStudio-$VERSION-linux-$(uname -m).tar.gz
    GZIP_PROGRAM=$(command -v pigz || command -v gzip)
    tar -C "$DIST" -cf - StrataStudio | "$GZIP_PROGRAM" -6 > "$TARBALL.part"
    mv "$TARBALL.part" "$TARBALL"
fi

END=$(date +%s)
printf '\n== done\n'
printf 'build time:   %ss (pyinstaller %ss)\n' "$((END - START))" "$((BUILT - START))"
printf 'bundle size:  %s  %s\n' "$(du -sh "$APP" | cut -f1)" "$APP"
if [ -n "$TARBALL" ]; then
    printf 'tarball size: %s  %s\n' "$(du -sh "$TARBALL" | cut -f1)" "$TARBALL"
fi
