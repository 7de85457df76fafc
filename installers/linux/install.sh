#!/usr/bin/env bash
# Install (or remove) the Strata Studio bundle this script sits in, with its desktop entry,
# icons and the .strata file type.
#
#   ./install.sh                 per user: ~/.local/opt/strata-studio, ~/.local/bin/studio
#   sudo ./install.sh --system   for everyone: /opt/strata-studio, /usr/local/bin/studio
#   ./install.sh --uninstall     (add --system for a system-wide install)
#   --prefix DIR                 install the application folder into DIR instead
#   --no-self-test               skip the check that the installed copy starts
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
NAME=strata-studio
MIME=application/x-strata-project
SIZES="16 24 32 48 64 128 256 512"
MODE=user
ACTION=install
SELF_TEST=1
PREFIX=""

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --system) MODE=system ;;
        --user) MODE=user ;;
        --uninstall) ACTION=uninstall ;;
        --prefix) PREFIX=${2:?--prefix needs a folder}; shift ;;
        --no-self-test) SELF_TEST=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [ "$MODE" = system ]; then
    APP_DIR=${PREFIX:-/opt}/$NAME
    BIN_DIR=/usr/local/bin
    DATA_DIR=/usr/share
else
    APP_DIR=${PREFIX:-$HOME/.local/opt}/$NAME
    BIN_DIR=$HOME/.local/bin
    DATA_DIR=${XDG_DATA_HOME:-$HOME/.local/share}
fi
ICON_DIR=$DATA_DIR/icons/hicolor

refresh_caches() {
    # Each is optional: a minimal system lacks some, and the files work without the caches.
    if command -v update-mime-database >/dev/null; then
        update-mime-database "$DATA_DIR/mime" >/dev/null 2>&1 || true
    fi
    if command -v update-desktop-database >/dev/null; then
        update-desktop-database "$DATA_DIR/applications" >/dev/null 2>&1 || true
    fi
    if command -v gtk-update-icon-cache >/dev/null; then
        gtk-update-icon-cache -f -t "$ICON_DIR" >/dev/null 2>&1 || true
    fi
}

uninstall() {
    rm -rf "$APP_DIR"
    # Only our own link: a `studio` from pip (a different file) is left alone.
    if [ -L "$BIN_DIR/studio" ] && [ "$(readlink "$BIN_DIR/studio")" = "$APP_DIR/StrataStudio" ]; then
        rm -f "$BIN_DIR/studio"
    fi
    rm -f "$DATA_DIR/applications/$NAME.desktop" "$DATA_DIR/mime/packages/$NAME.xml"
    for size in $SIZES; do
        rm -f "$ICON_DIR/${size}x${size}/apps/$NAME.png" \
            "$ICON_DIR/${size}x${size}/mimetypes/application-x-strata-project.png"
    done
    rm -f "$ICON_DIR/scalable/apps/$NAME.svg"
    refresh_caches
    echo "Strata Studio removed from $APP_DIR"
}

install_app() {
    if [ ! -x "$HERE/StrataStudio" ]; then
        echo "install.sh: $HERE/StrataStudio not found; run this script from the unpacked bundle" >&2
        exit 1
    fi
    local icons=$HERE/_internal/assets/icons
    if [ "$HERE" != "$APP_DIR" ]; then
        rm -rf "$APP_DIR.new"
        mkdir -p "$(dirname "$APP_DIR")"
        cp -a "$HERE" "$APP_DIR.new"
        rm -rf "$APP_DIR"
        mv "$APP_DIR.new" "$APP_DIR"
    fi
    mkdir -p "$BIN_DIR" "$DATA_DIR/applications" "$DATA_DIR/mime/packages"
    ln -sfn "$APP_DIR/StrataStudio" "$BIN_DIR/studio"

    # The desktop entry starts the installed copy by its full path (PATH may lack BIN_DIR).
    sed -e "s|^Exec=.*|Exec=\"$APP_DIR/StrataStudio\" %f|" \
        -e "s|^TryExec=.*|TryExec=$APP_DIR/StrataStudio|" \
        "$HERE/share/$NAME.desktop" > "$DATA_DIR/applications/$NAME.desktop"
    chmod 644 "$DATA_DIR/applications/$NAME.desktop"
    install -m 644 "$HERE/share/$NAME.xml" "$DATA_DIR/mime/packages/$NAME.xml"

    for size in $SIZES; do
        for kind in apps mimetypes; do
            mkdir -p "$ICON_DIR/${size}x${size}/$kind"
        done
        install -m 644 "$icons/app/strata-$size.png" "$ICON_DIR/${size}x${size}/apps/$NAME.png"
        install -m 644 "$icons/app/strata-$size.png" \
            "$ICON_DIR/${size}x${size}/mimetypes/application-x-strata-project.png"
    done
    mkdir -p "$ICON_DIR/scalable/apps"
    install -m 644 "$icons/strata.svg" "$ICON_DIR/scalable/apps/$NAME.svg"
    refresh_caches
    if command -v xdg-mime >/dev/null; then
        xdg-mime default "$NAME.desktop" "$MIME" >/dev/null 2>&1 || true
    fi

    echo "Strata Studio installed in $APP_DIR"
    echo "  command:  $BIN_DIR/studio"
    echo "  menu:     $DATA_DIR/applications/$NAME.desktop"
    case ":$PATH:" in
        *":$BIN_DIR:"*) ;;
        *) echo "  note: $BIN_DIR is not on your PATH" ;;
    esac
    if [ "$SELF_TEST" = 1 ]; then
        echo
        "$APP_DIR/StrataStudio" --self-test
    fi
}

if [ "$ACTION" = uninstall ]; then
    uninstall
else
    install_app
fi
