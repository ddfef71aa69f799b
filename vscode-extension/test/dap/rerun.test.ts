/**
 * "Tekton: Re-run TaskRun with Debugging", its parts against the test cluster (python -m
 * tests.cluster, a Kubernetes-compatible API server with Tekton on loopback): the failed TaskRuns
 * listed as the command lists them, and the launch it makes debugged through Microsoft's DebugClient.
 */
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { listFailedTaskRuns, pickItems, rerunConfiguration } from '../../src/core/rerun';
import { AdapterClient } from '../support/adapterClient';
import { TestCluster } from '../support/testCluster';
import { adapterPython } from '../support/paths';

const FAILED_TASKRUN = `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: nightly-build
spec:
  taskSpec:
    steps:
      - name: compile
        image: alpine
        script: echo compiled
      - name: unit-tests
        image: alpine
        script: |
          echo "2 tests failed" >&2
          exit 2
`;

describe('Re-run TaskRun with Debugging (against the test cluster)', function () {
  this.timeout(60000);
  let dir: string;
  let kubeconfig: string;
  let cluster: TestCluster;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    cluster = await TestCluster.start('rerun-test-');
    ({ dir, kubeconfig, env } = cluster);
    fs.writeFileSync(path.join(dir, 'taskrun.yaml'), FAILED_TASKRUN);
    cp.execFileSync('kubectl', ['create', '-f', path.join(dir, 'taskrun.yaml')], { env });
    cp.execFileSync('kubectl', ['wait', '--for=condition=Succeeded=False', 'taskrun/nightly-build', '--timeout=30s'], { env });
  });

  after(() => {
    cluster?.stop();
  });

  it('lists the failed TaskRun with its reason, for the quick pick', async () => {
    const runs = await listFailedTaskRuns(adapterPython(), { kubeconfig, namespace: 'default' });
    assert.deepStrictEqual(runs.map((r) => r.name), ['nightly-build']);
    const [item] = pickItems(runs);
    assert.strictEqual(item.label, 'nightly-build');
    assert.match(item.description, /^Failed · \(embedded\) · \d+ s ago$/);
    assert.match(item.detail, /exited with code 2/);
  });

  it('says what is wrong when the cluster cannot be reached', async () => {
    const bad = path.join(dir, 'nowhere');
    fs.writeFileSync(bad, fs.readFileSync(kubeconfig, 'utf8').replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9'));
    await assert.rejects(listFailedTaskRuns(adapterPython(), { kubeconfig: bad }), /cannot be reached/);
  });

  it('launches a copy of it with debugging on: its failed step pauses', async () => {
    const dc = new AdapterClient();
    await dc.start();
    try {
      const stopped = dc.waitForEvent('stopped');
      await dc.launchAndConfigure(rerunConfiguration('nightly-build', { kubeconfig, namespace: 'default' }));
      const event = (await stopped) as DebugProtocol.StoppedEvent;
      assert.strictEqual(event.body.reason, 'exception');
      assert.strictEqual(event.body.threadId, 2);
      const threads = (await dc.threadsRequest()).body.threads;
      assert.ok(threads[1].name.startsWith('unit-tests'), threads[1].name);
      const exited = dc.waitForEvent('exited');
      await dc.continueRequest({ threadId: 2 });
      assert.strictEqual(((await exited) as DebugProtocol.ExitedEvent).body.exitCode, 0);
    } finally {
      await dc.stop();
    }
  });
});
