#!/usr/bin/env bash
# End-to-end tests of the packaged extension in a real VS Code (code-server) driven by headless
# Chromium. Screenshots and the window's logs (with every DAP message): test-output/.
#   run.sh [task]   examples/failing-task.yaml (task.mjs): F5, the paused step and the exception
#                   widget, its output, a shell in the step, the step fixed in the editor, Restart
#                   Frame, the end
#   run.sh pipeline parallel-pipeline.yaml (pipeline.mjs): the "Debug Pipeline" lens, a TaskRun's
#                   step paused while another TaskRun goes on, each in a child session, Continue on
#                   the paused one only, the PipelineRun's outcome
#
# Needs: code-server in $CODE_SERVER_DIR (default /tmp/code-server; install-code-server.sh here
# installs it), Chromium at $CHROMIUM (default /usr/bin/chromium), the tekton-debug Python package
# in $TEKTON_DEBUG_PYTHON (default ../.venv/bin/python).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ext=$(cd "$here/../.." && pwd)
repo=$(cd "$ext/.." && pwd)
code_server_dir=${CODE_SERVER_DIR:-/tmp/code-server}
entry=$code_server_dir/node_modules/code-server/out/node/entry.js
chromium=${CHROMIUM:-/usr/bin/chromium}
python=${TEKTON_DEBUG_PYTHON:-$repo/.venv/bin/python}
[ -x "$python" ] || python=$(command -v python3)
test=${1:-task}
case "$test" in
  task|pipeline) ;;
  *) echo "usage: run.sh [task|pipeline] (not $test)" >&2; exit 2 ;;
esac
# TASK_IMAGE=IMAGE: the steps in that local image, so that the default runtime (auto) runs them in
# containers: the shell, the REPL and Restart Frame go into the paused step's container.
# Screenshots of that run go to test-output/<test>-containers/.
task_image=${TASK_IMAGE:-}
out=$ext/test-output/$test${task_image:+-containers}
[ -e "$entry" ] || { echo "code-server not found at $entry: run $here/install-code-server.sh $code_server_dir" >&2; exit 2; }
[ -x "$chromium" ] || { echo "Chromium not found at $chromium: apt-get install chromium" >&2; exit 2; }
"$python" -c 'import tekton_debug' || { echo "tekton_debug does not import in $python" >&2; exit 2; }
# the container tests' engine configuration (tests/containers.py): no network, and no pull leaves
# this machine (auto, the default runtime, looks for the steps' images)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$repo" && "$python" -c 'from tests import containers; print(containers.configure())')}
export CONTAINERS_REGISTRIES_CONF=${CONTAINERS_REGISTRIES_CONF:-$(cd "$repo" && "$python" -c 'from tests import containers; print(containers.configure_registries())')}
if [ -n "$task_image" ]; then  # the test image is built here when missing
  (cd "$repo" && "$python" -c 'import sys; from tests import containers
if sys.argv[1] == containers.BUSYBOX: containers.busybox()' "$task_image")
fi

cd "$ext"
[ -e tekton-debug.vsix ] || npm run package
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d /tmp/tekton-e2e.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -- -"$server_pid" 2>/dev/null || kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  # the window's logs, with the "Tekton Debug" channel (every DAP message: tekton-debug.trace)
  rm -rf "$out/logs" && cp -r "$work/user/logs" "$out/logs" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The workspace: a copy of the test's file, so that the run leaves the repository as it was.
mkdir -p "$work/workspace" "$work/user/User" "$work/user/Machine" "$work/extensions"
if [ "$test" = task ]; then
  source_file=$repo/examples/failing-task.yaml
else
  source_file=$here/parallel-pipeline.yaml
fi
file=$(basename "$source_file")
# the pipeline's lint task runs until this file exists (pipeline.mjs creates it)
lint_gate=$work/lint-gate
sed -e "s#image: alpine:3.20#image: ${task_image:-alpine:3.20}#" -e "s#default: LINT_GATE#default: $lint_gate#" \
  "$source_file" > "$work/workspace/$file"
cat > "$work/user/User/settings.json" <<JSON
{
  "tekton-debug.python": "$python",
  "tekton-debug.trace": true,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "update.mode": "none",
  "debug.toolBarLocation": "floating",
  "terminal.integrated.gpuAcceleration": "off",
  "debug.openDebug": "openOnDebugBreak",
  "window.commandCenter": false,
  "chat.commandCenter.enabled": false
}
JSON

# A remote window (code-server is one) takes machine-scoped settings from the Machine settings only.
printf '{\n  "tekton-debug.python": "%s"\n}\n' "$python" > "$work/user/Machine/settings.json"

cs() { node "$entry" --user-data-dir "$work/user" --extensions-dir "$work/extensions" "$@"; }
cs --install-extension "$ext/tekton-debug.vsix" >"$out/install.log" 2>&1 || { cat "$out/install.log" >&2; exit 1; }

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# in a process group of its own (node, its file watchers, extension host and pty host), which
# cleanup ends whole
setsid node "$entry" --user-data-dir "$work/user" --extensions-dir "$work/extensions" \
   --auth none --bind-addr "127.0.0.1:$port" --disable-telemetry --disable-update-check \
   --disable-workspace-trust --disable-getting-started-override --ignore-last-opened "$work/workspace" \
   >"$out/code-server.log" 2>&1 &
server_pid=$!

CODE_SERVER_URL="http://127.0.0.1:$port/?folder=$work/workspace" CHROMIUM="$chromium" OUTPUT_DIR="$out" \
  TASK_FILE="$file" LINT_GATE="$lint_gate" EXPECT_RUNTIME="${task_image:+container}" node "$here/$test.mjs"
