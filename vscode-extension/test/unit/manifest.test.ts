/** The contributions in package.json: what VS Code reads to offer the debugger and its commands. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { EXTENSION_ROOT } from '../support/paths';

const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION_ROOT, 'package.json'), 'utf8'));
const debuggerContribution = manifest.contributes.debuggers.find((d: { type: string }) => d.type === 'tekton');

describe('package.json contributions', () => {
  it('targets VS Code 1.100 and pins @types/vscode to it', () => {
    assert.strictEqual(manifest.engines.vscode, '^1.100.0');
    assert.match(manifest.devDependencies['@types/vscode'], /^[~^]?1\.100\./);
  });

  it('activates on debugging Tekton and on YAML files, not on every workspace', () => {
    for (const event of ['onDebug', 'onDebugResolve:tekton', 'onDebugDynamicConfigurations:tekton', 'onLanguage:yaml']) {
      assert.ok(manifest.activationEvents.includes(event), event);
    }
    assert.ok(!manifest.activationEvents.some((e: string) => e.startsWith('workspaceContains')));
  });

  it('describes every launch and attach field', () => {
    for (const request of ['launch', 'attach']) {
      const properties = debuggerContribution.configurationAttributes[request].properties;
      for (const [name, schema] of Object.entries(properties)) {
        assert.ok((schema as { description?: string }).description, `${request}.${name} has no description`);
      }
    }
  });

  it('has the launch fields of the contract', () => {
    const launch = debuggerContribution.configurationAttributes.launch.properties;
    for (const field of ['task', 'params', 'workspaces', 'runtime', 'engine', 'network', 'namespace', 'context', 'kubeconfig', 'stopOnEntry', 'timeout', 'onFailure', 'token', 'secrets', 'offline']) {
      assert.ok(launch[field], field);
    }
    assert.strictEqual(launch.task.default, '${file}');
    assert.strictEqual(launch.runtime.default, 'auto');
    assert.deepStrictEqual(launch.runtime.enum, ['auto', 'container', 'local', 'kubernetes']);
    assert.deepStrictEqual(launch.engine.enum, ['podman', 'docker']);
    assert.strictEqual(launch.onFailure.default, true);
    const attach = debuggerContribution.configurationAttributes.attach.properties;
    for (const field of ['taskRun', 'namespace', 'context', 'kubeconfig', 'runtime', 'token']) {
      assert.ok(attach[field], field);
    }
  });

  it('offers snippets whose bodies are valid tekton configurations', () => {
    const requests = debuggerContribution.configurationSnippets.map((s: { body: { type: string; request: string } }) => {
      assert.strictEqual(s.body.type, 'tekton');
      return s.body.request;
    });
    assert.deepStrictEqual([...new Set(requests)].sort(), ['attach', 'launch']);
  });

  it('allows breakpoints in YAML files', () => {
    assert.deepStrictEqual(manifest.contributes.breakpoints, [{ language: 'yaml' }]);
  });

  it('contributes the paused-step commands and the one the language server\'s code lens runs', () => {
    const commands = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepStrictEqual(commands, ['tekton.debugFile', 'tekton.failContinue', 'tekton.openShell', 'tekton.rerunTaskRun']);
  });

  it('shows the paused-step commands only while a Tekton session is stopped', () => {
    const pausedStepCommands = ['tekton.failContinue', 'tekton.openShell'];
    for (const menu of ['debug/toolBar', 'debug/callstack/context', 'commandPalette']) {
      const items = manifest.contributes.menus[menu].filter((i: { command: string }) => pausedStepCommands.includes(i.command));
      assert.deepStrictEqual([...new Set(items.map((i: { command: string }) => i.command))].sort(), pausedStepCommands, menu);
      for (const item of items) {
        assert.match(item.when, /debugType == 'tekton'/);
        assert.match(item.when, /debugState == 'stopped'|callStackItemStopped/);
      }
    }
  });

  it('bundles to the file it names as main', () => {
    assert.strictEqual(manifest.main, './dist/extension.js');
  });
});
