#!/usr/bin/env bash
# Installs Chromium from the Debian/Ubuntu archive so that the report test
# (tests/workflow/test_workflow.py, test_report_shows_tables_and_figures_in_a_browser) can open
# the demo's HTML report headless, read its DOM after the scripts ran and take a screenshot.
# Idempotent and non-interactive: does nothing when a Chromium binary is already there.
# Usage: .ci/install-chromium.sh   (as root, or with passwordless sudo)
set -euo pipefail

for bin in chromium chromium-browser google-chrome; do
    if command -v "$bin" >/dev/null 2>&1; then
        echo "install-chromium: $bin is already installed"
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: apt-get not found; install Chromium with this system's package" \
        "manager (the report test is skipped without it)" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# Debian's package is `chromium` (Ubuntu's `chromium-browser` is a snap wrapper, unusable here).
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium
echo "install-chromium: installed $(dpkg-query -W -f='${Package} ${Version}\n' chromium)"
