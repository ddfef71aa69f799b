import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  checkTektonDebugImports, chooseLauncher, choosePython, expandPythonSetting, findOnPath, importFailureMessage,
  interpreterFromPythonExtension, Launcher, launcherArgs, ProcessResult, PythonExtensionApi, RunProcess, runProcess,
  tektonDebugArgs,
} from '../../src/core/python';
import { adapterPython } from '../support/paths';

describe('choosing the Python', () => {
  it('uses the tekton-debug.python setting when it is set', () => {
    assert.strictEqual(choosePython('/opt/py/bin/python', '/w', '/usr/bin/python3.12'), '/opt/py/bin/python');
  });

  it('uses the Python extension\'s interpreter when the setting is empty', () => {
    assert.strictEqual(choosePython('', '/w', '/w/.venv/bin/python'), '/w/.venv/bin/python');
    assert.strictEqual(choosePython('   ', '/w', '/w/.venv/bin/python'), '/w/.venv/bin/python');
  });

  it('falls back to python3 with neither a setting nor the Python extension', () => {
    assert.strictEqual(choosePython(undefined, undefined, undefined), 'python3');
  });

  it('expands ${workspaceFolder} and ~ in the setting', () => {
    assert.strictEqual(expandPythonSetting('${workspaceFolder}/.venv/bin/python', '/w'), '/w/.venv/bin/python');
    assert.strictEqual(expandPythonSetting('~/venvs/td/bin/python', undefined, '/home/u'), path.join('/home/u', 'venvs/td/bin/python'));
  });

  it('asks the Python extension\'s environments API for the active interpreter\'s executable', async () => {
    const seen: unknown[] = [];
    const api: PythonExtensionApi = {
      environments: {
        getActiveEnvironmentPath: (resource) => { seen.push(resource); return { path: '/w/.venv' }; },
        resolveEnvironment: async (env) => ({ executable: { uri: { fsPath: `${typeof env === 'string' ? env : env.path}/bin/python` } } }),
      },
    };
    assert.strictEqual(await interpreterFromPythonExtension(api, 'folder-uri'), '/w/.venv/bin/python');
    assert.deepStrictEqual(seen, ['folder-uri']);
  });

  it('falls back to the older execution-details API of the Python extension', async () => {
    const api: PythonExtensionApi = { settings: { getExecutionDetails: () => ({ execCommand: ['/usr/bin/python3.11'] }) } };
    assert.strictEqual(await interpreterFromPythonExtension(api), '/usr/bin/python3.11');
  });

  it('gives no interpreter when the Python extension\'s API fails', async () => {
    const api: PythonExtensionApi = {
      environments: {
        getActiveEnvironmentPath: () => { throw new Error('not ready'); },
        resolveEnvironment: async () => undefined,
      },
    };
    assert.strictEqual(await interpreterFromPythonExtension(api), undefined);
    assert.strictEqual(await interpreterFromPythonExtension(undefined), undefined);
  });
});

describe('the adapter command line', () => {
  it('runs the debug adapter as python -m tekton_debug dap', () => {
    assert.deepStrictEqual(tektonDebugArgs('dap'), ['-m', 'tekton_debug', 'dap']);
  });

  it('runs the language server as python -m tekton_debug lsp', () => {
    assert.deepStrictEqual(tektonDebugArgs('lsp'), ['-m', 'tekton_debug', 'lsp']);
  });
});

describe('checking that tekton_debug imports', () => {
  it('checks with python -c "import tekton_debug" and a timeout', async () => {
    const calls: [string, string[], number][] = [];
    const result = await checkTektonDebugImports('/p/python', async (cmd, args, timeout) => {
      calls.push([cmd, args, timeout]);
      return { code: 0, stderr: '' };
    });
    assert.deepStrictEqual(result, { ok: true });
    assert.strictEqual(calls.length, 1);
    assert.deepStrictEqual(calls[0].slice(0, 2), ['/p/python', ['-c', 'import tekton_debug']]);
    assert.ok(calls[0][2] > 0);
  });

  it('says the package is not installed, and how to install it, when the import fails', async () => {
    const result = await checkTektonDebugImports('/p/python', async () => ({
      code: 1, stderr: 'Traceback (most recent call last):\n  File "<string>", line 1\nModuleNotFoundError: No module named \'tekton_debug\'\n',
    }));
    assert.strictEqual(result.ok, false);
    const message = result.ok ? '' : result.message;
    assert.match(message, /tekton-debug package is not installed in the Python at \/p\/python/);
    assert.match(message, /\/p\/python -m pip install tekton-debug/);
    assert.match(message, /pip install -e \./);
    assert.match(message, /tekton-debug\.python/);
  });

  it('shows the import error when tekton_debug is there but broken', () => {
    const message = importFailureMessage('python3', { code: 1, stderr: 'ImportError: cannot import name \'x\' from \'yaml\'\n' });
    assert.match(message, /cannot be imported \(ImportError: cannot import name 'x' from 'yaml'\)/);
  });

  it('says so when the Python itself is missing', () => {
    const message = importFailureMessage('/no/such/python', { code: null, stderr: '', error: { code: 'ENOENT', message: 'spawn ENOENT' } });
    assert.match(message, /could not find Python "\/no\/such\/python"/);
  });

  it('says so when the check timed out', () => {
    const message = importFailureMessage('python3', { code: null, stderr: '', error: { message: 'killed', killed: true } }, 5000);
    assert.match(message, /did not finish within 5 s/);
  });

  it('reports a missing interpreter found by really running it', async () => {
    const missing = path.join(os.tmpdir(), 'tekton-debug-no-such-python');
    const result = await checkTektonDebugImports(missing, runProcess);
    assert.strictEqual(result.ok, false);
    assert.match(result.ok ? '' : result.message, /could not find Python/);
  });

  it('reports a Python without tekton_debug found by really running it', async () => {
    // -I: isolated mode, so neither the virtualenv nor PYTHONPATH can provide tekton_debug.
    const result = await checkTektonDebugImports('python3', async (cmd, args, t) => runProcess(cmd, ['-I', '-S', ...args], t));
    assert.strictEqual(result.ok, false);
    assert.match(result.ok ? '' : result.message, /is not installed in the Python at python3/);
  });

  it('accepts the Python the tests run the adapter with', async () => {
    assert.deepStrictEqual(await checkTektonDebugImports(adapterPython(), runProcess), { ok: true });
  });
});

describe('finding what starts the adapter', () => {
  const missing: ProcessResult = { code: 1, stderr: "ModuleNotFoundError: No module named 'tekton_debug'\n" };
  const runs = (answers: Record<string, ProcessResult>) => {
    const seen: string[][] = [];
    const run: RunProcess = async (command, args) => {
      seen.push([command, ...args]);
      return answers[command] ?? { code: null, stderr: '', error: { code: 'ENOENT', message: 'not found' } };
    };
    return { run, seen };
  };

  it('uses the Python when tekton_debug imports in it', async () => {
    const { run } = runs({ python3: { code: 0, stderr: '' } });
    const choice = await chooseLauncher('python3', false, run, () => '/home/u/.local/bin/tekton-debug');
    assert.deepStrictEqual(choice, { ok: true, launcher: { command: 'python3', prefix: ['-m', 'tekton_debug'] } });
    assert.deepStrictEqual(launcherArgs((choice as { launcher: Launcher }).launcher, 'dap'), ['-m', 'tekton_debug', 'dap']);
  });

  it('falls back to a tekton-debug executable on PATH (pipx) when no Python is set and python3 lacks the package', async () => {
    const exe = '/home/u/.local/bin/tekton-debug';
    const { run, seen } = runs({ python3: missing, [exe]: { code: 0, stderr: '' } });
    const choice = await chooseLauncher('python3', false, run, (name) => (name === 'tekton-debug' ? exe : undefined));
    assert.ok(choice.ok);
    assert.deepStrictEqual(launcherArgs(choice.launcher, 'lsp'), ['lsp']);
    assert.strictEqual(choice.launcher.command, exe);
    assert.deepStrictEqual(seen[1], [exe, '--help']);
  });

  it('does not look past a Python the user set', async () => {
    const { run } = runs({ '/opt/py': missing, '/bin/tekton-debug': { code: 0, stderr: '' } });
    const choice = await chooseLauncher('/opt/py', true, run, () => '/bin/tekton-debug');
    assert.ok(!choice.ok);
    assert.match(choice.message, /is not installed in the Python at \/opt\/py/);
  });

  it('says that neither was found, and in a remote window where the setting is read', async () => {
    const { run } = runs({ python3: missing });
    const choice = await chooseLauncher('python3', false, run, () => undefined, 'ssh-remote');
    assert.ok(!choice.ok);
    assert.match(choice.message, /No `tekton-debug` executable was found on PATH/);
    assert.match(choice.message, /remote window \(ssh-remote\).*Machine settings/);
  });

  it('finds an executable file on PATH and skips one that is not executable', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-path-'));
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'td-path-'));
    fs.writeFileSync(path.join(dir, 'tekton-debug'), '#!/bin/sh\n', { mode: 0o644 });
    fs.writeFileSync(path.join(other, 'tekton-debug'), '#!/bin/sh\n', { mode: 0o755 });
    assert.strictEqual(findOnPath('tekton-debug', [dir, other].join(path.delimiter)), path.join(other, 'tekton-debug'));
    assert.strictEqual(findOnPath('tekton-debug', dir), undefined);
  });

  it('starts a real tekton-debug executable found on PATH', async () => {
    const bin = path.dirname(adapterPython());
    const exe = findOnPath('tekton-debug', bin);
    assert.ok(exe, `no tekton-debug in ${bin}`);
    const choice = await chooseLauncher('/nonexistent/python', false, runProcess, () => exe);
    assert.ok(choice.ok, choice.ok ? '' : choice.message);
    assert.strictEqual(choice.launcher.command, exe);
  });
});
