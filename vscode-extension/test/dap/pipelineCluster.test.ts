/**
 * A PipelineRun on the test cluster (python -m tests.cluster) through Microsoft's DebugClient:
 * launched, with its workspace a claim made for the run; attached to by its name from a second
 * debug session while the first one runs it; the step released there, the run goes on, and the
 * claim is deleted at the end.
 */
import * as assert from 'assert';
import * as cp from 'child_process';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterClient } from '../support/adapterClient';
import { TestCluster } from '../support/testCluster';
import { EXAMPLES } from '../support/paths';

describe('A PipelineRun on the test cluster', function () {
  this.timeout(180000);
  let kubeconfig: string;
  let cluster: TestCluster;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    cluster = await TestCluster.start('pipeline-cluster-test-');
    ({ kubeconfig, env } = cluster);
  });

  after(() => {
    cluster?.stop();
  });

  const claims = (): string => cp.execFileSync('kubectl', ['get', 'pvc', '-o', 'name'], { env }).toString().trim();

  async function attach(dc: AdapterClient, args: Record<string, unknown>): Promise<void> {
    const configured = dc.waitForEvent('initialized').then(() => dc.configurationDoneRequest());
    await dc.initializeRequest({ adapterID: 'tekton', clientID: 'vscode', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    await Promise.all([configured, dc.attachRequest(args as DebugProtocol.AttachRequestArguments)]);
  }

  it('pauses the failed step in its TaskRun only; a second session attached by name releases it', async () => {
    const runner = new AdapterClient();
    const watcher = new AdapterClient();
    await runner.start();
    try {
      const stopped = runner.waitForEvent('stopped', 120000);
      await runner.launchAndConfigure({
        type: 'tekton', request: 'launch', name: 'pipeline', task: path.join(EXAMPLES, 'pipeline', 'pipelinerun.yaml'),
        runtime: 'kubernetes', kubeconfig, namespace: 'default', params: { 'break-tests': 'true' },
      });
      const event = (await stopped) as DebugProtocol.StoppedEvent;
      assert.strictEqual(event.body.reason, 'exception');
      assert.strictEqual(event.body.allThreadsStopped, false);
      const thread = (await runner.threadsRequest()).body.threads.find((t) => t.id === event.body.threadId);
      assert.ok(thread?.name.startsWith('unit-tests/run-tests'), thread?.name);
      assert.match(claims(), /^persistentvolumeclaim\/pvc-[0-9a-f]{10}$/);

      await watcher.start();
      const watched = watcher.waitForEvent('stopped', 60000);
      await attach(watcher, {
        type: 'tekton', request: 'attach', name: 'attach', pipelineRun: 'build-and-publish-run',
        runtime: 'kubernetes', kubeconfig, namespace: 'default',
      });
      const seen = (await watched) as DebugProtocol.StoppedEvent;
      assert.strictEqual(seen.body.reason, 'exception');
      const threadId = seen.body.threadId ?? -1;
      const there = (await watcher.threadsRequest()).body.threads.find((t) => t.id === threadId);
      assert.ok(there?.name.startsWith('unit-tests/run-tests'), there?.name);
      assert.match(watcher.outputText, /Attaching to the TaskRuns still running: .*unit-tests/);

      const watcherExited = watcher.waitForEvent('exited', 60000);
      const runnerExited = runner.waitForEvent('exited', 120000);
      await watcher.continueRequest({ threadId });
      assert.strictEqual(((await watcherExited) as DebugProtocol.ExitedEvent).body.exitCode, 0);
      assert.strictEqual(((await runnerExited) as DebugProtocol.ExitedEvent).body.exitCode, 0);
      assert.match(runner.outputText, /PipelineRun build-and-publish-run Completed/);
      assert.strictEqual(claims(), '');
    } finally {
      await watcher.stop();
      await runner.stop();
    }
  });
});
