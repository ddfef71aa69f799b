/**
 * The debug adapter driven as VS Code drives it, with "runtime": "container": each step runs in its
 * own image on podman (a busybox image built locally by tests/containers.py, with a file the host
 * does not have), and a failed step pauses with its container alive. Without podman these tests are
 * skipped, unless TEKTON_DEBUG_REQUIRE_CONTAINERS=1 (CI), where that is a failure.
 */
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterClient } from '../support/adapterClient';
import { adapterPython, REPOSITORY_ROOT } from '../support/paths';

const MARKER_TEXT = 'this file is only in the test image';

/** Builds the test image (once per machine) and points podman at the tests' containers.conf. */
function prepareImage(): string | undefined {
  const script = 'from tests import containers\nif containers.podman(): print(containers.configure()); print(containers.busybox())';
  const res = cp.spawnSync(adapterPython(), ['-c', script], { cwd: REPOSITORY_ROOT, encoding: 'utf8', timeout: 120000 });
  const lines = (res.stdout ?? '').trim().split('\n').filter((l) => l);
  if (res.status !== 0 || lines.length !== 2) {
    return undefined;
  }
  process.env.CONTAINERS_CONF = process.env.CONTAINERS_CONF || lines[0];
  return lines[1];
}

function engineContainers(): string[] {
  // this test's TaskRun only (other tekton-debug runs may share the machine's engine)
  const res = cp.spawnSync('podman', ['ps', '-a', '--filter', 'label=io.tekton-debug.taskrun=in-images-run', '--format', '{{.Names}}'], { encoding: 'utf8' });
  return (res.stdout ?? '').split('\n').filter((l) => l);
}

describe('debug adapter: a Task in its container images', function () {
  this.timeout(60000);
  let image: string | undefined;
  let dc: AdapterClient;
  let dir: string;
  let task: string;

  before(function () {
    image = prepareImage();
    if (!image) {
      if (process.env.TEKTON_DEBUG_REQUIRE_CONTAINERS === '1') {
        throw new Error('podman does not work here (tests/run.sh installs it)');
      }
      this.skip();
    }
  });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tekton-dap-container-'));
    task = path.join(dir, 'task.yaml');
    fs.writeFileSync(task, [
      'apiVersion: tekton.dev/v1',
      'kind: Task',
      'metadata:',
      '  name: in-images',
      'spec:',
      '  steps:',
      '    - name: check',
      `      image: ${image}`,
      '      script: |',
      '        cat /etc/only-in-image',
      '        exit 4',
      '    - name: after',
      `      image: ${image}`,
      '      command: [echo, after-ran]',
      '',
    ].join('\n'));
    dc = new AdapterClient();
    await dc.start();
  });

  afterEach(async function () {
    await dc.close(this.currentTest);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function launchToFailure(): Promise<DebugProtocol.StoppedEvent> {
    const stopped = dc.waitForEvent('stopped');
    await dc.launchAndConfigure({ type: 'tekton', request: 'launch', name: 'containers', task, runtime: 'container', engine: 'podman' });
    return (await stopped) as DebugProtocol.StoppedEvent;
  }

  it('stops on the failed step, whose container is alive: the REPL runs in it', async () => {
    const stopped = await launchToFailure();
    assert.strictEqual(stopped.body.reason, 'exception');
    assert.strictEqual(stopped.body.threadId, 1);
    assert.match(dc.outputText, new RegExp(MARKER_TEXT));
    const frame = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    const result = await dc.evaluateRequest({ expression: 'cat /etc/only-in-image && hostname', context: 'repl', frameId: frame.id });
    assert.match(result.body.result, new RegExp(MARKER_TEXT));
    const alive = engineContainers();
    assert.ok(alive.some((n) => n.endsWith('-step-check')), `containers: ${alive.join(', ')}`);
  });

  it('shows the image digest and the engine container in the Step scope', async () => {
    await launchToFailure();
    const frame = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
    const stepScope = scopes.find((s) => s.name === 'Step');
    assert.ok(stepScope);
    const vars = (await dc.variablesRequest({ variablesReference: stepScope.variablesReference })).body.variables;
    const value = (name: string) => vars.find((v) => v.name === name)?.value ?? '';
    assert.strictEqual(value('image'), image);
    assert.match(value('imageDigest'), /^sha256:/);
    assert.match(value('engineContainer'), /^td-[0-9a-f]+-step-check$/);
  });

  it('tekton/openShell runs a shell inside the paused container', async () => {
    await launchToFailure();
    let terminal: DebugProtocol.RunInTerminalRequestArguments | undefined;
    dc.onReverseRequest('runInTerminal', (request) => {
      terminal = request.arguments as DebugProtocol.RunInTerminalRequestArguments;
      return {};
    });
    await dc.customRequest('tekton/openShell', { threadId: 1 });
    assert.ok(terminal, 'no runInTerminal request');
    // piped, as a script would: no terminal asked of podman
    const [command, ...args] = terminal.args.map((a) => (a === '-it' ? '-i' : a));
    const shell = cp.spawnSync(command, args, { input: 'echo "in-container: $(cat /etc/only-in-image)"\nexit\n', encoding: 'utf8', timeout: 30000 });
    assert.match(shell.stdout, new RegExp(`in-container: ${MARKER_TEXT}`), `stdout: ${shell.stdout}\nstderr: ${shell.stderr}`);
  });

  it('continue runs the next step in its container; nothing is left when the run ends', async () => {
    await launchToFailure();
    const exited = dc.waitForEvent('exited');
    const terminated = dc.waitForEvent('terminated');
    await dc.continueRequest({ threadId: 1 });
    const exit = (await exited) as DebugProtocol.ExitedEvent;
    await terminated;
    assert.strictEqual(exit.body.exitCode, 0);
    assert.match(dc.outputText, /after-ran/);
    await dc.disconnectRequest({});
    const deadline = Date.now() + 30000;
    while (engineContainers().length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepStrictEqual(engineContainers(), []);
  });

  it('Stop marks the failed step failed and removes the containers', async () => {
    await launchToFailure();
    const exited = dc.waitForEvent('exited');
    await dc.terminateRequest();
    const exit = (await exited) as DebugProtocol.ExitedEvent;
    assert.notStrictEqual(exit.body.exitCode, 0);
    assert.doesNotMatch(dc.outputText, /after-ran/);
    await dc.disconnectRequest({});
    const deadline = Date.now() + 30000;
    while (engineContainers().length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepStrictEqual(engineContainers(), []);
  });
});
