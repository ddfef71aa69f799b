#!/usr/bin/env bash
# Installs code-server (VS Code in the browser) from the npm registry into DIR, for the end-to-end test
# of the VS Code extension in a real VS Code driven by headless Chromium. Needs Node 20, npm, a C/C++
# toolchain, python3; installs Debian's ripgrep and libkrb5-dev when missing (apt, as root).
# Usage: install-code-server.sh DIR        then: node DIR/node_modules/code-server/out/node/entry.js --help
# Why by hand: code-server's postinstall downloads a ripgrep binary from the internet, which this
# machine cannot reach; every other step is the same as its own postinstall.
set -euo pipefail
dir=${1:?usage: install-code-server.sh DIR}
version=${CODE_SERVER_VERSION:-4.100.3}  # the newest release that runs on Node 20 (later ones need Node 22)
mkdir -p "$dir" && cd "$dir"
need=()
command -v rg >/dev/null || need+=(ripgrep)
[ -e /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
npm install --no-audit --no-fund --ignore-scripts "code-server@$version" >/dev/null
npm rebuild argon2 >/dev/null
cs=$PWD/node_modules/code-server
cd "$cs/lib/vscode"
npm install --no-audit --no-fund --omit=dev --ignore-scripts >/dev/null
mkdir -p node_modules/@vscode/ripgrep/bin && cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
for gyp in node_modules/*/binding.gyp node_modules/@*/*/binding.gyp; do
  [ -e "$gyp" ] || continue
  (cd "$(dirname "$gyp")" && npx --yes node-gyp rebuild >/dev/null 2>&1) || echo "note: could not build $(dirname "$gyp") (unused on Linux?)"
done
rm -rf node_modules.asar && ln -s node_modules node_modules.asar
(cd bin/remote-cli && ln -sf code-linux.sh code-server)
(cd bin/helpers && ln -sf browser-linux.sh browser.sh)
(cd extensions && npm install --no-audit --no-fund --omit=dev --ignore-scripts >/dev/null)
echo "code-server $version ready: node $cs/out/node/entry.js"
