/**
 * A Pipeline through Microsoft's DebugClient (one session, threads named task/step): a failed step
 * stops only its own thread while the other tasks run on, the stack shows the step in its Task file
 * over its task in the Pipeline file, and continuing that thread lets the PipelineRun succeed.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { AdapterClient } from '../support/adapterClient';
import { EXAMPLES } from '../support/paths';

const PIPELINE = path.join(EXAMPLES, 'pipeline', 'pipeline.yaml');
const TASKS = path.join(EXAMPLES, 'pipeline', 'tasks.yaml');
const MATRIX = path.join(EXAMPLES, 'pipeline', 'matrix.yaml');

/** Resolves once the output so far holds ``text`` (rejects after ``ms``). */
function outputHolds(dc: AdapterClient, text: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no output ${text} within ${ms} ms`)), ms);
    const check = () => {
      if (dc.outputText.includes(text)) {
        clearTimeout(timer);
        dc.removeListener('output', check);
        resolve();
      }
    };
    dc.on('output', check);
    check();
  });
}

function lineOf(file: string, text: string): number {
  return fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
}

describe('debug adapter: a Pipeline as one session with task/step threads', function () {
  this.timeout(60000);
  let dc: AdapterClient;

  beforeEach(async () => {
    dc = new AdapterClient();
    await dc.start();
  });

  afterEach(async function () {
    await dc.close(this.currentTest);
  });

  it('stops only the failed step, shows task and step frames, and goes on from that thread', async () => {
    const stopped = dc.waitForEvent('stopped', 30000);
    const lint = outputHolds(dc, '[lint/check-style] style ok', 30000);
    await dc.launchAndConfigure({
      type: 'tekton', request: 'launch', name: 'pipeline', task: PIPELINE,
      params: { 'break-tests': 'true', publish: 'true' },
    });
    const body = ((await stopped) as DebugProtocol.StoppedEvent).body;
    assert.strictEqual(body.reason, 'exception');
    assert.strictEqual(body.allThreadsStopped, false);
    await lint; // another task ran on while this step was paused

    const threads = (await dc.threadsRequest()).body.threads;
    const failed = threads.find((t) => t.id === body.threadId)!;
    assert.match(failed.name, /^unit-tests\/run-tests \(paused/);
    assert.ok(threads.some((t) => t.name.startsWith('build/compile (succeeded')));

    const frames = (await dc.stackTraceRequest({ threadId: body.threadId! })).body.stackFrames;
    assert.strictEqual(frames[0].source?.path, TASKS);
    assert.strictEqual(frames[0].line, lineOf(TASKS, '- name: run-tests'));
    assert.strictEqual(frames[1].source?.path, PIPELINE);
    assert.strictEqual(frames[1].line, lineOf(PIPELINE, '- name: unit-tests'));

    const exited = dc.waitForEvent('exited', 30000);
    const response = await dc.continueRequest({ threadId: body.threadId! });
    assert.strictEqual(response.body.allThreadsContinued, false);
    assert.strictEqual(((await exited) as DebugProtocol.ExitedEvent).body.exitCode, 0);
    assert.match(dc.outputText, /PipelineRun build-and-publish-run Succeeded/);
  });

  it('pauses before a task from a breakpoint on its line in the Pipeline file', async () => {
    const stopped = dc.waitForEvent('stopped', 30000);
    let verified: DebugProtocol.Breakpoint[] = [];
    await dc.launchAndConfigure({ type: 'tekton', request: 'launch', name: 'pipeline', task: PIPELINE }, async () => {
      verified = (await dc.setBreakpointsRequest({
        source: { path: PIPELINE }, breakpoints: [{ line: lineOf(PIPELINE, '- name: build') + 1 }],
      })).body.breakpoints;
    });
    assert.strictEqual(verified[0].verified, true);
    assert.strictEqual(verified[0].line, lineOf(PIPELINE, '- name: build'));
    const body = ((await stopped) as DebugProtocol.StoppedEvent).body;
    assert.strictEqual(body.reason, 'breakpoint');
    assert.deepStrictEqual(body.hitBreakpointIds, [verified[0].id]);
    const threads = (await dc.threadsRequest()).body.threads;
    assert.match(threads.find((t) => t.id === body.threadId)!.name, /^build\/compile \(paused before start/);
    const exited = dc.waitForEvent('exited', 30000);
    await dc.continueRequest({ threadId: body.threadId! });
    assert.strictEqual(((await exited) as DebugProtocol.ExitedEvent).body.exitCode, 0);
  });

  it('fans a matrix out into a thread per combination; a failed one stops alone, with its params', async () => {
    const stopped = dc.waitForEvent('stopped', 30000);
    const others = [0, 1, 3, 4].map((i) => outputHolds(dc, `task unit-tests[${i}] succeeded`, 30000));
    await dc.launchAndConfigure({
      type: 'tekton', request: 'launch', name: 'matrix', task: MATRIX, runtime: 'local',
      params: { 'fail-on': 'linux/go1.22' },
    });
    const body = ((await stopped) as DebugProtocol.StoppedEvent).body;
    assert.strictEqual(body.reason, 'exception');
    assert.strictEqual(body.allThreadsStopped, false);
    await Promise.all(others); // every other combination ran to its end meanwhile

    const threads = (await dc.threadsRequest()).body.threads;
    assert.deepStrictEqual(threads.map((t) => t.name.split(' ')[0]),
      [0, 1, 2, 3, 4].map((i) => `unit-tests[${i}]/test`));
    assert.match(threads.find((t) => t.id === body.threadId)!.name, /^unit-tests\[2\]\/test \(paused/);
    const frames = (await dc.stackTraceRequest({ threadId: body.threadId! })).body.stackFrames;
    assert.strictEqual(frames[1].name, 'task unit-tests[2]: running (platform=linux, version=go1.22, flags=-race)');
    assert.strictEqual(frames[1].line, lineOf(MATRIX, '- name: unit-tests'));
    const scopes = (await dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
    const params = scopes.find((s) => s.name === 'Params')!;
    const values = (await dc.variablesRequest({ variablesReference: params.variablesReference })).body.variables;
    assert.match(values.find((v) => v.name === 'platform')!.value, /linux/);
    assert.match(values.find((v) => v.name === 'flags')!.value, /-race/);

    const exited = dc.waitForEvent('exited', 30000);
    await dc.customRequest('tekton/failContinue', { threadId: body.threadId! });
    assert.strictEqual(((await exited) as DebugProtocol.ExitedEvent).body.exitCode, 1);
    assert.match(dc.outputText, /task unit-tests failed \(1 of 5 TaskRuns did not succeed/);
    assert.match(dc.outputText, /task report skipped: PipelineRun was stopping/);
  });
});

describe('debug adapter: a Pipeline as child sessions (startDebugging), one per TaskRun', function () {
  this.timeout(60000);
  let dc: AdapterClient;
  const children: Map<string, DebugClient> = new Map();
  const seenBy: Map<string, DebugProtocol.Event[]> = new Map();

  beforeEach(async () => {
    dc = new AdapterClient();
    await dc.start();
    // as VS Code does: a startDebugging request opens a session of its own, here a second
    // client on the port the configuration names
    dc.onReverseRequest('startDebugging', async (request) => {
      const args = request.arguments as DebugProtocol.StartDebuggingRequestArguments;
      const config = args.configuration as Record<string, unknown>;
      const child = new DebugClient('node', '', 'tekton');
      child.defaultTimeout = 15000;
      // what the session says from its first message on (a pause may come before attach ends)
      const seen: DebugProtocol.Event[] = [];
      seenBy.set(config.pipelineTask as string, seen);
      for (const name of ['stopped', 'terminated']) {
        child.on(name, (event: DebugProtocol.Event) => seen.push(event));
      }
      await child.start(config.port as number);
      await child.initializeRequest({ adapterID: 'tekton', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
      const attached = child.attachRequest(config as DebugProtocol.AttachRequestArguments);
      await child.configurationDoneRequest();
      await attached;
      children.set(config.pipelineTask as string, child);
      return {};
    });
  });

  afterEach(async function () {
    for (const child of children.values()) {
      await child.stop().catch(() => undefined);
    }
    children.clear();
    seenBy.clear();
    await dc.close(this.currentTest);
  });

  function eventOf(task: string, name: string, ms: number): Promise<DebugProtocol.Event> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + ms;
      const poll = () => {
        const found = (seenBy.get(task) ?? []).find((e) => e.event === name);
        if (found) {
          resolve(found);
        } else if (Date.now() > deadline) {
          reject(new Error(`no ${name} event in the session of ${task}`));
        } else {
          setTimeout(poll, 20);
        }
      };
      poll();
    });
  }

  function childFor(task: string, ms: number): Promise<DebugClient> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + ms;
      const poll = () => {
        const child = children.get(task);
        if (child) {
          resolve(child);
        } else if (Date.now() > deadline) {
          reject(new Error(`no child session for ${task}`));
        } else {
          setTimeout(poll, 20);
        }
      };
      poll();
    });
  }

  it('opens one session per TaskRun; the failed step stops in its own session only', async () => {
    const starts = new Promise<void>((resolve) => dc.on('reverse:startDebugging', () => resolve()));
    const configured = dc.waitForEvent('initialized').then(() => dc.configurationDoneRequest());
    await dc.initializeRequest({
      adapterID: 'tekton', clientID: 'vscode', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path',
      supportsStartDebuggingRequest: true,
    } as DebugProtocol.InitializeRequestArguments);
    await Promise.all([configured, dc.launchRequest({
      type: 'tekton', request: 'launch', name: 'pipeline', task: PIPELINE, params: { 'break-tests': 'true' },
    } as DebugProtocol.LaunchRequestArguments)]);
    await starts;

    const tests = await childFor('unit-tests', 30000);
    const stopped = (await eventOf('unit-tests', 'stopped', 30000)) as DebugProtocol.StoppedEvent;
    assert.strictEqual(stopped.body.reason, 'exception');
    const threads = (await tests.threadsRequest()).body.threads;
    assert.deepStrictEqual(threads.map((t) => t.name.split(' ')[0]), ['run-tests']);
    const frames = (await tests.stackTraceRequest({ threadId: stopped.body.threadId! })).body.stackFrames;
    assert.strictEqual(frames[0].source?.path, TASKS);

    // lint ran in a session of its own meanwhile, to its end
    await eventOf('lint', 'terminated', 30000);
    const starts2 = dc.reverseRequests.filter((r) => r.command === 'startDebugging')
      .map((r) => ((r.arguments as DebugProtocol.StartDebuggingRequestArguments).configuration as Record<string, unknown>).pipelineTask);
    assert.deepStrictEqual(starts2.slice(0, 2), ['clone', 'build']);
    assert.ok(starts2.includes('lint') && starts2.includes('unit-tests'));
    assert.deepStrictEqual((await dc.threadsRequest()).body.threads, []);

    const exited = dc.waitForEvent('exited', 30000);
    await tests.continueRequest({ threadId: stopped.body.threadId! });
    assert.strictEqual(((await exited) as DebugProtocol.ExitedEvent).body.exitCode, 0);
    assert.match(dc.outputText, /PipelineRun build-and-publish-run Completed/);
  });
});
