/**
 * A Pipeline through Microsoft's DebugClient (one session, threads named task/step): a failed step
 * stops only its own thread while the other tasks run on, the stack shows the step in its Task file
 * over its task in the Pipeline file, and continuing that thread lets the PipelineRun succeed.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterClient } from '../support/adapterClient';
import { EXAMPLES } from '../support/paths';

const PIPELINE = path.join(EXAMPLES, 'pipeline', 'pipeline.yaml');
const TASKS = path.join(EXAMPLES, 'pipeline', 'tasks.yaml');

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
    if (this.currentTest?.state === 'failed' && dc.adapterStderr) {
      console.log(`--- adapter stderr ---\n${dc.adapterStderr}`);
    }
    await dc.stop();
    await dc.exited();
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
});
