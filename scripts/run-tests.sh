#!/usr/bin/env bash
# Set up (if needed), then run every guard and the test suite. Exits non-zero when any fails;
# every step runs either way, so one report shows everything that is wrong.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

export PATH="$ROOT/.venv/bin:$PATH"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"

failed=()

step() {
    local name="$1"
    shift
    printf '\n==> %s\n' "$name"
    local start=$SECONDS
    if "$@"; then
        printf '==> %s: ok (%d s)\n' "$name" "$((SECONDS - start))"
    else
        printf '==> %s: FAILED (%d s)\n' "$name" "$((SECONDS - start))"
        failed+=("$name")
    fi
}

step "ruff check" ruff check .
step "ruff format --check" ruff format --check .
step "mypy" mypy
step "lint-imports" lint-imports --no-cache
# One pytest worker per core, at most four, each taking whole files (module fixtures such as
# the trained templates are built once); STRATA_TEST_WORKERS=0 runs in this process, and any
# -n or --dist given on the command line wins.
workers="${STRATA_TEST_WORKERS:-$(python -c 'import os; print(min(4, os.cpu_count() or 1))')}"
step "pytest" python -m pytest -n "$workers" --dist loadfile "$@"

echo
if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "All checks passed."
