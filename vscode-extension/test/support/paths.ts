/** Where things are, for tests compiled to out/test/... */
import * as fs from 'fs';
import * as path from 'path';

/** vscode-extension/ (this file runs as out/test/support/paths.js). */
export const EXTENSION_ROOT = path.resolve(__dirname, '..', '..', '..');
export const REPOSITORY_ROOT = path.resolve(EXTENSION_ROOT, '..');
export const EXAMPLES = path.join(REPOSITORY_ROOT, 'examples');

/** $TEKTON_DEBUG_PYTHON, else ../.venv/bin/python when it exists, else python3. */
export function adapterPython(): string {
  const fromEnv = process.env.TEKTON_DEBUG_PYTHON;
  if (fromEnv) {
    return fromEnv;
  }
  const venv = path.join(REPOSITORY_ROOT, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}
