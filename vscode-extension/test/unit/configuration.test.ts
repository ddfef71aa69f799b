import * as assert from 'assert';
import {
  ActiveDocument, checkSubstitutedConfiguration, dynamicConfigurations, looksLikeTektonRunnable, resolveConfiguration,
} from '../../src/core/configuration';

const taskYaml: ActiveDocument = {
  fsPath: '/work/tasks/build.yaml', name: 'build.yaml', languageId: 'yaml',
  text: 'apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: build\n',
};
const typescriptFile: ActiveDocument = { fsPath: '/work/src/main.ts', name: 'main.ts', languageId: 'typescript' };

describe('resolveConfiguration (F5 and launch.json)', () => {
  it('launches the active Task file when F5 is pressed with no launch.json', () => {
    const result = resolveConfiguration({}, taskYaml);
    assert.deepStrictEqual(result.config, {
      type: 'tekton', request: 'launch', name: 'Debug build.yaml', task: '/work/tasks/build.yaml',
    });
  });

  it('refuses F5 with no launch.json when the active file is not YAML, naming the file', () => {
    const result = resolveConfiguration({}, typescriptFile);
    assert.strictEqual(result.config, undefined);
    assert.match(result.error ?? '', /main\.ts.*not a YAML file/);
  });

  it('refuses F5 with no launch.json and no open editor, saying what to open', () => {
    const result = resolveConfiguration({}, undefined);
    assert.match(result.error ?? '', /Open a Tekton Task or TaskRun YAML file/);
  });

  it('refuses an unsaved YAML document: the debugger runs a file from disk', () => {
    const result = resolveConfiguration({}, { name: 'Untitled-1', languageId: 'yaml' });
    assert.match(result.error ?? '', /Save Untitled-1/);
  });

  it('treats a .yml file as YAML even when its language mode is different', () => {
    const result = resolveConfiguration({}, { fsPath: '/t/task.yml', name: 'task.yml', languageId: 'plaintext' });
    assert.strictEqual(result.config?.task, '/t/task.yml');
  });

  it('fills "task" of a launch configuration from the active file when it is missing', () => {
    const result = resolveConfiguration({ type: 'tekton', request: 'launch', name: 'mine', params: { a: 'b' } }, taskYaml);
    assert.strictEqual(result.config?.task, '/work/tasks/build.yaml');
    assert.deepStrictEqual(result.config?.params, { a: 'b' });
  });

  it('keeps a launch configuration\'s own "task" and fields as written', () => {
    const config = { type: 'tekton', request: 'launch', name: 'mine', task: '${workspaceFolder}/t.yaml', runtime: 'kubernetes', namespace: 'ci' };
    assert.deepStrictEqual(resolveConfiguration(config, typescriptFile).config, config);
  });

  it('refuses a launch configuration without "task" when the active file is not YAML', () => {
    const result = resolveConfiguration({ type: 'tekton', request: 'launch', name: 'mine' }, typescriptFile);
    assert.match(result.error ?? '', /"mine" has no "task"/);
  });

  it('refuses an unknown runtime, naming the ones it accepts', () => {
    const result = resolveConfiguration({ type: 'tekton', request: 'launch', name: 'x', task: 'a.yaml', runtime: 'docker' }, undefined);
    assert.match(result.error ?? '', /Unknown runtime "docker".*"auto".*"container".*"local".*"kubernetes"/);
  });

  it('refuses params that are not an object of names to values', () => {
    const result = resolveConfiguration({ type: 'tekton', request: 'launch', name: 'x', task: 'a.yaml', params: ['a=b'] as unknown as Record<string, string> }, undefined);
    assert.match(result.error ?? '', /"params".*must be an object/);
  });

  it('refuses an attach configuration without "taskRun"', () => {
    const result = resolveConfiguration({ type: 'tekton', request: 'attach', name: 'att' }, taskYaml);
    assert.match(result.error ?? '', /set "taskRun"/);
  });

  it('accepts an attach configuration with a TaskRun name and no file', () => {
    const config = { type: 'tekton', request: 'attach', name: 'att', taskRun: 'build-run-x7k2p', namespace: 'ci' };
    assert.deepStrictEqual(resolveConfiguration(config, undefined).config, config);
  });

  it('accepts the attach configuration of a PipelineRun child session without "taskRun"', () => {
    const config = { type: 'tekton', request: 'attach', name: 'build: TaskRun p-run-build', pipelineTask: 'build', port: 41234, token: 't' };
    assert.deepStrictEqual(resolveConfiguration(config, taskYaml).config, config);
  });

  it('refuses a request that is neither launch nor attach', () => {
    const result = resolveConfiguration({ type: 'tekton', request: 'run', name: 'r' }, taskYaml);
    assert.match(result.error ?? '', /"launch" or "attach", not "run"/);
  });
});

describe('checkSubstitutedConfiguration (after ${file} is expanded)', () => {
  it('refuses a "task" that is not a YAML file (${file} on a source file)', () => {
    const result = checkSubstitutedConfiguration({ type: 'tekton', request: 'launch', name: 'x', task: '/w/src/main.ts' }, '/w');
    assert.match(result.error ?? '', /main\.ts.*YAML file/);
  });

  it('resolves relative paths against the workspace folder by default', () => {
    const result = checkSubstitutedConfiguration({ type: 'tekton', request: 'launch', name: 'x', task: 'tasks/a.yaml' }, '/w');
    assert.strictEqual(result.config?.cwd, '/w');
  });

  it('keeps a "cwd" given in launch.json', () => {
    const result = checkSubstitutedConfiguration({ type: 'tekton', request: 'launch', name: 'x', task: 'a.yml', cwd: '/elsewhere' }, '/w');
    assert.strictEqual(result.config?.cwd, '/elsewhere');
  });

  it('does not ask an attach configuration for a file', () => {
    const result = checkSubstitutedConfiguration({ type: 'tekton', request: 'attach', name: 'x', taskRun: 'r' }, undefined);
    assert.strictEqual(result.error, undefined);
  });
});

describe('dynamic configurations', () => {
  it('offers one launch per open Tekton Task or TaskRun file, and nothing for other YAML', () => {
    const other: ActiveDocument = { fsPath: '/w/compose.yaml', name: 'compose.yaml', languageId: 'yaml', text: 'services:\n  web: {}\n' };
    const run: ActiveDocument = {
      fsPath: '/w/run.yaml', name: 'run.yaml', languageId: 'yaml',
      text: 'apiVersion: tekton.dev/v1beta1\nkind: TaskRun\nmetadata:\n  name: r\n',
    };
    const configs = dynamicConfigurations([taskYaml, other, run, taskYaml]);
    assert.deepStrictEqual(configs.map((c) => c.task), ['/work/tasks/build.yaml', '/w/run.yaml']);
  });

  it('does not take a Pipeline for a runnable Task', () => {
    assert.strictEqual(looksLikeTektonRunnable('apiVersion: tekton.dev/v1\nkind: Pipeline\n'), false);
    assert.strictEqual(looksLikeTektonRunnable('apiVersion: v1\nkind: Task\n'), false);
  });
});
