import * as assert from 'assert';
import * as os from 'os';
import * as path from 'path';
import {
  checkTektonDebugImports, choosePython, expandPythonSetting, importFailureMessage, interpreterFromPythonExtension,
  PythonExtensionApi, runProcess, tektonDebugArgs,
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
