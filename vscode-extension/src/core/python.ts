/**
 * Which Python runs the adapter and the language server, and whether tekton_debug imports in it.
 *
 * No `vscode` import here: the setting, the Python extension's API and process spawning come in as
 * parameters so that the choice can be tested on its own.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const DEFAULT_PYTHON = 'python3';

/** The part of the Python extension's API (ms-python.python) used here. */
export interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: unknown): { path: string } | undefined;
    resolveEnvironment(env: { path: string } | string): Promise<{ executable: { uri?: { fsPath: string } } } | undefined>;
  };
  settings?: {
    getExecutionDetails(resource?: unknown): { execCommand: string[] | undefined };
  };
}

/** Expands `~` and `${workspaceFolder}` (and `${userHome}`) in the tekton-debug.python setting. */
export function expandPythonSetting(setting: string, workspaceFolder: string | undefined, home = os.homedir()): string {
  let value = setting.trim();
  if (value === '~' || value.startsWith('~/')) {
    value = path.join(home, value.slice(1));
  }
  value = value.replace(/\$\{userHome\}/g, home);
  if (workspaceFolder) {
    value = value.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  }
  return value;
}

/** The interpreter the Python extension has selected for `resource`, or undefined. */
export async function interpreterFromPythonExtension(api: PythonExtensionApi | undefined, resource?: unknown): Promise<string | undefined> {
  if (!api) {
    return undefined;
  }
  try {
    const envs = api.environments;
    if (envs) {
      const active = envs.getActiveEnvironmentPath(resource);
      if (active?.path) {
        const resolved = await envs.resolveEnvironment(active);
        return resolved?.executable?.uri?.fsPath || active.path;
      }
    }
    const command = api.settings?.getExecutionDetails(resource)?.execCommand;
    if (command && command.length > 0 && command[0]) {
      return command[0];
    }
  } catch {
    // An API we do not know (older or newer extension): fall back to the default.
  }
  return undefined;
}

/** The setting wins; empty means the Python extension's interpreter; without it, `python3`. */
export function choosePython(setting: string | undefined, workspaceFolder: string | undefined, fromPythonExtension: string | undefined): string {
  if (setting && setting.trim()) {
    return expandPythonSetting(setting, workspaceFolder);
  }
  if (fromPythonExtension && fromPythonExtension.trim()) {
    return fromPythonExtension;
  }
  return DEFAULT_PYTHON;
}

/** `python -m tekton_debug <mode>`: the arguments after the interpreter. */
export function tektonDebugArgs(mode: 'dap' | 'lsp', extra: string[] = []): string[] {
  return ['-m', 'tekton_debug', mode, ...extra];
}

/** What running `python -c "import tekton_debug"` told us. */
export interface ProcessResult {
  /** Exit code; null when the process was killed (timeout) or never started. */
  code: number | null;
  stderr: string;
  /** Set when the process could not be started (e.g. ENOENT) or timed out. */
  error?: { code?: string; message: string; killed?: boolean };
}

export type RunProcess = (command: string, args: string[], timeoutMs: number) => Promise<ProcessResult>;

/** Runs a command to its end (or its timeout) and reports how it ended; never rejects. */
export function runProcess(command: string, args: string[], timeoutMs: number): Promise<ProcessResult> {
  return new Promise((resolve) => {
    cp.execFile(command, args, { timeout: timeoutMs, windowsHide: true }, (error, _stdout, stderr) => {
      if (!error) {
        resolve({ code: 0, stderr: String(stderr) });
        return;
      }
      const e = error as cp.ExecFileException;
      if (typeof e.code === 'number') {
        resolve({ code: e.code, stderr: String(stderr) });
      } else {
        resolve({ code: null, stderr: String(stderr), error: { code: e.code ?? undefined, message: e.message, killed: e.killed } });
      }
    });
  });
}

export const IMPORT_CHECK_TIMEOUT_MS = 10000;

export type ImportCheck = { ok: true } | { ok: false; message: string };

/** Runs `python -c "import tekton_debug"` and explains a failure in words the user can act on. */
export async function checkTektonDebugImports(python: string, run: RunProcess, timeoutMs = IMPORT_CHECK_TIMEOUT_MS): Promise<ImportCheck> {
  const result = await run(python, ['-c', 'import tekton_debug'], timeoutMs);
  if (result.code === 0 && !result.error) {
    return { ok: true };
  }
  return { ok: false, message: importFailureMessage(python, result, timeoutMs) };
}

function lastLine(text: string): string {
  const lines = text.trim().split(/\r?\n/).filter((l) => l.trim());
  return lines.length ? lines[lines.length - 1].trim() : '';
}

export function installHint(python: string): string {
  const quoted = /\s/.test(python) ? `"${python}"` : python;
  return `Install it with \`${quoted} -m pip install tekton-debug\` (from a checkout of tekton-debug: \`${quoted} -m pip install -e .\`), `
    + 'or set "tekton-debug.python" to a Python that has it.';
}

export function importFailureMessage(python: string, result: ProcessResult, timeoutMs = IMPORT_CHECK_TIMEOUT_MS): string {
  if (result.error?.code === 'ENOENT') {
    return `Tekton Debug could not find Python "${python}". Set "tekton-debug.python" to the path of a Python 3.10+ `
      + 'interpreter that has tekton-debug installed, or select one with the Python extension.';
  }
  if (result.error?.killed || (result.code === null && !result.error?.code)) {
    return `Tekton Debug: "${python} -c 'import tekton_debug'" did not finish within ${Math.round(timeoutMs / 1000)} s. `
      + 'Check that this Python works, or set "tekton-debug.python" to another one.';
  }
  if (result.error && result.code === null) {
    return `Tekton Debug could not run Python "${python}": ${result.error.message}. Set "tekton-debug.python" to a working Python.`;
  }
  const detail = lastLine(result.stderr);
  const why = /No module named ['"]?tekton_debug/.test(detail)
    ? 'is not installed'
    : `cannot be imported${detail ? ` (${detail})` : ''}`;
  return `The tekton-debug package ${why} in the Python at ${python}. ${installHint(python)}`;
}

/** How the adapter and the language server are started: `command ...prefix <mode> ...extra`. */
export interface Launcher {
  command: string;
  prefix: string[];
}

export const EXECUTABLE = 'tekton-debug';

export function pythonLauncher(python: string): Launcher {
  return { command: python, prefix: ['-m', 'tekton_debug'] };
}

export function launcherArgs(launcher: Launcher, mode: 'dap' | 'lsp', extra: string[] = []): string[] {
  return [...launcher.prefix, mode, ...extra];
}

/** The first executable file called `name` in the directories of `searchPath` (like `which`). */
export function findOnPath(name: string, searchPath = process.env.PATH ?? '', isExecutable = executableFile): string | undefined {
  const names = process.platform === 'win32' ? [`${name}.exe`, `${name}.cmd`, name] : [name];
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    for (const candidate of names.map((n) => path.join(dir, n))) {
      if (isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

function executableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export type LauncherChoice = { ok: true; launcher: Launcher } | { ok: false; message: string };

/**
 * The chosen Python when tekton_debug imports in it. When it does not and the user set no Python
 * (`settingGiven` false), a `tekton-debug` executable on PATH (a pipx install) that answers
 * `--help`. Otherwise the reason, and in a remote window where the setting is read.
 */
export async function chooseLauncher(python: string, settingGiven: boolean, run: RunProcess,
  find: (name: string) => string | undefined = (name) => findOnPath(name), remoteName?: string,
  checkImports: (python: string) => Promise<ImportCheck> = (p) => checkTektonDebugImports(p, run)): Promise<LauncherChoice> {
  const check = await checkImports(python);
  if (check.ok) {
    return { ok: true, launcher: pythonLauncher(python) };
  }
  if (!settingGiven) {
    const executable = find(EXECUTABLE);
    if (executable) {
      const result = await run(executable, ['--help'], IMPORT_CHECK_TIMEOUT_MS);
      if (result.code === 0 && !result.error) {
        return { ok: true, launcher: { command: executable, prefix: [] } };
      }
    }
  }
  let message = check.message;
  if (!settingGiven) {
    message += ` No \`${EXECUTABLE}\` executable was found on PATH either (a \`pipx install tekton-debug\` provides one).`;
  }
  if (remoteName) {
    message += ` In this remote window (${remoteName}), "tekton-debug.python" is read from the remote's Machine settings `
      + '(Preferences: Open Remote Settings), not from your local User settings.';
  }
  return { ok: false, message };
}
