#!/usr/bin/env bash
# Sets up everything the tests need and runs them all: Python (pytest) and the VS Code extension
# (unit tests and Microsoft's DebugClient driving the real adapter). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
export KUBECACHEDIR="${KUBECACHEDIR:-$PWD/.kube-cache}"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
cd vscode-extension
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
npm run --silent package
TEKTON_DEBUG_PYTHON="$PWD/../.venv/bin/python" npm test
