/**
 * The debug adapter (`python -m tekton_debug dap`) driven as VS Code drives it, on
 * examples/failing-task.yaml run on this machine: step "build" writes build/log.txt, step "test"
 * fails because $(params.report) does not exist, step "publish" comes after it.
 */
import * as assert from 'assert';
import * as cp from 'child_process';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterClient } from '../support/adapterClient';
import { EXAMPLES } from '../support/paths';
import { StepLines, stepLines } from '../support/taskFile';

const TASK = path.join(EXAMPLES, 'failing-task.yaml');
const steps = stepLines(TASK);
const step = (name: string): StepLines & { thread: number } => {
  const index = steps.findIndex((s) => s.name === name);
  assert.ok(index >= 0, `no step ${name} in ${TASK}`);
  return { ...steps[index], thread: index + 1 };
};
const failing = step('test');

function launchArgs(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'tekton', request: 'launch', name: 'test', task: TASK, ...extra };
}

describe('debug adapter: a failing Task', function () {
  this.timeout(30000);
  let dc: AdapterClient;

  beforeEach(async () => {
    dc = new AdapterClient();
    await dc.start();
  });

  afterEach(async function () {
    await dc.close(this.currentTest);
  });

  /** Launches and waits until the failing step pauses. */
  async function launchToFailure(extra: Record<string, unknown> = {}): Promise<DebugProtocol.StoppedEvent> {
    const stopped = dc.waitForEvent('stopped');
    await dc.launchAndConfigure(launchArgs(extra));
    return (await stopped) as DebugProtocol.StoppedEvent;
  }

  async function topFrame(threadId: number): Promise<DebugProtocol.StackFrame> {
    const trace = await dc.stackTraceRequest({ threadId });
    return trace.body.stackFrames[0];
  }

  it('stops with an exception on the failing step\'s thread, at its line in the YAML', async () => {
    const stopped = await launchToFailure();
    assert.strictEqual(stopped.body.reason, 'exception');
    assert.strictEqual(stopped.body.threadId, failing.thread);
    const frame = await topFrame(failing.thread);
    assert.strictEqual(frame.source?.path, TASK);
    assert.strictEqual(frame.line, failing.first);
  });

  it('lists one thread per step, named after the step', async () => {
    await launchToFailure();
    const threads = (await dc.threadsRequest()).body.threads;
    assert.deepStrictEqual(threads.map((t) => t.id), steps.map((_, i) => i + 1));
    threads.forEach((t, i) => assert.ok(t.name.startsWith(steps[i].name), t.name));
  });

  it('tells the failing step\'s exit code in exceptionInfo', async () => {
    await launchToFailure();
    const info = await dc.exceptionInfoRequest({ threadId: failing.thread });
    assert.match(`${info.body.exceptionId} ${info.body.description ?? ''}`, /exit code 1\b/);
  });

  it('shows the launch params in the Params scope', async () => {
    await launchToFailure({ params: { report: 'out/from-the-test.txt' } });
    const frame = await topFrame(failing.thread);
    const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
    const params = scopes.find((s) => s.name === 'Params');
    assert.ok(params, `no Params scope in ${scopes.map((s) => s.name).join(', ')}`);
    const variables = (await dc.variablesRequest({ variablesReference: params.variablesReference })).body.variables;
    const report = variables.find((v) => v.name === 'report');
    assert.ok(report, `no report param in ${JSON.stringify(variables)}`);
    assert.match(report.value, /^"?out\/from-the-test\.txt"?$/);
    assert.match(dc.outputText, /checking for out\/from-the-test\.txt/);
  });

  it('runs a REPL line as a shell command in the paused step\'s environment', async () => {
    await launchToFailure();
    const frame = await topFrame(failing.thread);
    // the step before wrote build/log.txt in the working directory the steps share
    const result = await dc.evaluateRequest({ expression: 'cat build/log.txt', context: 'repl', frameId: frame.id });
    assert.match(result.body.result, /compiled 3 files/);
  });

  it('continue marks the failed step passed: later steps run and the run succeeds', async () => {
    await launchToFailure();
    const exited = dc.waitForEvent('exited');
    const terminated = dc.waitForEvent('terminated');
    await dc.continueRequest({ threadId: failing.thread });
    const exit = (await exited) as DebugProtocol.ExitedEvent;
    await terminated;
    assert.strictEqual(exit.body.exitCode, 0);
    assert.match(dc.outputText, /publishing /);
  });

  it('terminate marks the failed step failed: the run ends with a non-zero exit code', async () => {
    await launchToFailure();
    const exited = dc.waitForEvent('exited');
    const terminated = dc.waitForEvent('terminated');
    await dc.terminateRequest();
    const exit = (await exited) as DebugProtocol.ExitedEvent;
    await terminated;
    assert.notStrictEqual(exit.body.exitCode, 0);
    assert.doesNotMatch(dc.outputText, /publishing /);
  });

  it('tekton/failContinue marks the step failed and carries on, as Tekton does', async () => {
    await launchToFailure();
    const exited = dc.waitForEvent('exited');
    await dc.customRequest('tekton/failContinue', { threadId: failing.thread });
    const exit = (await exited) as DebugProtocol.ExitedEvent;
    assert.notStrictEqual(exit.body.exitCode, 0);
    assert.match(dc.outputText, /publishing /);
  });

  it('a breakpoint inside a step is verified on the step\'s first line and pauses before it', async () => {
    assert.ok(failing.script, 'the test step has a script line');
    const stopped = dc.waitForEvent('stopped');
    let breakpoints: DebugProtocol.Breakpoint[] = [];
    await dc.launchAndConfigure(launchArgs({ onFailure: false }), async () => {
      const response = await dc.setBreakpointsRequest({ source: { path: TASK }, breakpoints: [{ line: failing.script! + 1 }] });
      breakpoints = response.body.breakpoints;
    });
    assert.strictEqual(breakpoints.length, 1);
    assert.strictEqual(breakpoints[0].verified, true);
    assert.strictEqual(breakpoints[0].line, failing.first);
    const event = (await stopped) as DebugProtocol.StoppedEvent;
    assert.strictEqual(event.body.reason, 'breakpoint');
    assert.strictEqual(event.body.threadId, failing.thread);
    assert.strictEqual((await topFrame(failing.thread)).line, failing.first);
    assert.match(dc.outputText, /build done/);
    assert.doesNotMatch(dc.outputText, /checking for/);
  });

  it('tekton/openShell asks the editor to run a shell inside the paused step', async () => {
    await launchToFailure();
    let terminal: DebugProtocol.RunInTerminalRequestArguments | undefined;
    dc.onReverseRequest('runInTerminal', (request) => {
      terminal = request.arguments as DebugProtocol.RunInTerminalRequestArguments;
      return {};
    });
    await dc.customRequest('tekton/openShell', { threadId: failing.thread });
    assert.ok(terminal, 'no runInTerminal request');
    assert.ok(terminal.args.length > 0);
    // Run what the editor would run in its terminal, and type into the shell.
    const [command, ...args] = terminal.args;
    const shell = cp.spawnSync(command, args, {
      cwd: terminal.cwd || undefined,
      env: { ...process.env, ...(terminal.env ?? {}) } as NodeJS.ProcessEnv,
      input: 'echo "in-step: $(cat build/log.txt)"\nexit\n',
      encoding: 'utf8',
      timeout: 20000,
    });
    assert.match(shell.stdout, /in-step: compiled 3 files/, `stdout: ${shell.stdout}\nstderr: ${shell.stderr}`);
  });
});
