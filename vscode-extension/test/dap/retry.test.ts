/**
 * Retry in place through Microsoft's DebugClient: Restart Frame on the failed step's frame runs the
 * step again as its file is now, in its own environment, without running the steps before it.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterClient } from '../support/adapterClient';
import { EXAMPLES } from '../support/paths';

describe('debug adapter: Restart Frame retries the failed step', function () {
  this.timeout(30000);
  let dc: AdapterClient;
  let dir: string;
  let task: string;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retry-test-'));
    task = path.join(dir, 'failing-task.yaml');
    fs.copyFileSync(path.join(EXAMPLES, 'failing-task.yaml'), task);
    dc = new AdapterClient();
    await dc.start();
  });

  afterEach(async function () {
    await dc.close(this.currentTest);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function launchToFailure(): Promise<DebugProtocol.StackFrame> {
    const stopped = dc.waitForEvent('stopped');
    await dc.launchAndConfigure({ type: 'tekton', request: 'launch', name: 'retry', task, runtime: 'local' });
    const threadId = ((await stopped) as DebugProtocol.StoppedEvent).body.threadId!;
    const frames = (await dc.stackTraceRequest({ threadId })).body.stackFrames;
    assert.strictEqual(frames[0].canRestart, true);
    return frames[0];
  }

  const edit = (from: string, to: string) =>
    fs.writeFileSync(task, fs.readFileSync(task, 'utf8').replace(from, to));

  it('advertises supportsRestartFrame', async () => {
    const response = await dc.initializeRequest({ adapterID: 'tekton' });
    assert.strictEqual(response.body?.supportsRestartFrame, true);
  });

  it('runs the edited step: exit 0 marks it passed and the TaskRun succeeds', async () => {
    const frame = await launchToFailure();
    edit('exit 1', 'echo "fixed without a rebuild"; exit 0');
    const exited = dc.waitForEvent('exited');
    await dc.restartFrameRequest({ frameId: frame.id });
    assert.strictEqual(((await exited) as DebugProtocol.ExitedEvent).body.exitCode, 0);
    assert.match(dc.outputText, /fixed without a rebuild/);
    assert.strictEqual(dc.outputText.split('build done').length - 1, 1, 'build ran once');
  });

  it('stops again with the new exit code when the retry fails', async () => {
    const frame = await launchToFailure();
    edit('exit 1', 'exit 9');
    const again = dc.waitForEvent('stopped');
    await dc.restartFrameRequest({ frameId: frame.id });
    const stopped = (await again) as DebugProtocol.StoppedEvent;
    assert.strictEqual(stopped.body.reason, 'exception');
    assert.strictEqual(stopped.body.text, 'exit code 9');
  });

  it('refuses a step whose image changed, saying what would work', async () => {
    const frame = await launchToFailure();
    edit('image: alpine:3.20\n      script: |\n        #!/bin/sh\n        echo "checking',
      'image: debian:12\n      script: |\n        #!/bin/sh\n        echo "checking');
    await assert.rejects(dc.restartFrameRequest({ frameId: frame.id }), /image changed/);
  });
});
