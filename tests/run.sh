#!/usr/bin/env bash
# Sets up everything the tests need and runs them all: Python (pytest), the VS Code extension (unit
# tests and Microsoft's DebugClient driving the real adapter), and the end-to-end tests in a real
# VS Code (code-server driven by headless Chromium; installing those takes about 2-4 minutes the
# first time; the Task on the host, the Task in containers and the Pipeline take about 30 s each;
# TEKTON_DEBUG_E2E=0 leaves them out). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
export KUBECACHEDIR="${KUBECACHEDIR:-$PWD/.kube-cache}"
# the container tests' own engine configuration (tests/containers.py writes it: runc, cgroupfs,
# events in a file, this machine's hard ulimits, no network), not the machine's /etc/containers
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(.venv/bin/python -c 'from tests import containers; print(containers.configure())')}"
# and no pull leaves this machine: public registries are blocked (a pull fails at once)
export CONTAINERS_REGISTRIES_CONF="${CONTAINERS_REGISTRIES_CONF:-$(.venv/bin/python -c 'from tests import containers; print(containers.configure_registries())')}"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
cd vscode-extension
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
npm run --silent package
TEKTON_DEBUG_PYTHON="$PWD/../.venv/bin/python" npm test
if [ "${TEKTON_DEBUG_E2E:-1}" != 0 ]; then
  command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  export CODE_SERVER_DIR="${CODE_SERVER_DIR:-$PWD/../.e2e/code-server}"
  [ -e "$CODE_SERVER_DIR/node_modules/code-server/out/node/entry.js" ] ||
    bash test/e2e/install-code-server.sh "$CODE_SERVER_DIR"
  export TEKTON_DEBUG_PYTHON="$PWD/../.venv/bin/python"
  bash test/e2e/run.sh task
  # the same with the Task's steps in a local image (built when missing): auto runs them in containers
  TASK_IMAGE=localhost/tekton-debug-test/busybox:1 bash test/e2e/run.sh task
  bash test/e2e/run.sh pipeline
fi
