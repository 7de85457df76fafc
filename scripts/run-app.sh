#!/usr/bin/env bash
# Set up (if needed) and open Strata Studio on the bundled example project.
# Without a display, validate and summarise the example on the command line instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

EXAMPLE=assets/examples/mlp_classifier.strata
STUDIO=.venv/bin/studio

if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
    echo "No display found: running the example headless (validate + summary)." \
        "Use 'xvfb-run bash scripts/run-app.sh' or a desktop session to see the window."
    "$STUDIO" validate "$EXAMPLE"
    "$STUDIO" summary "$EXAMPLE"
    exit 0
fi

exec "$STUDIO" gui "$EXAMPLE"
