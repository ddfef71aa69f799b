/**
 * Python steps at source level, driven as VS Code drives the adapter, on
 * examples/python-step.yaml run on this machine: a breakpoint on a line of step "weigh"'s Python
 * script stops the script there; locals, stepping and evaluate are Python's, at the YAML's lines.
 * Then the same Task with its steps in a Python image on podman (built locally by
 * tests/containers.py), and in an image with no Python.
 */
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterClient } from '../support/adapterClient';
import { adapterPython, EXAMPLES, REPOSITORY_ROOT } from '../support/paths';

const TASK = path.join(EXAMPLES, 'python-step.yaml');
const LINES = fs.readFileSync(TASK, 'utf8').split(/\r?\n/);
const lineOf = (text: string): number => {
  const index = LINES.findIndex((l) => l.trim().startsWith(text));
  assert.ok(index >= 0, `${text} not in ${TASK}`);
  return index + 1;
};
const WEIGH = 2; // step "weigh" is the second step: thread 2

describe('debug adapter: a Python step', function () {
  this.timeout(60000);
  let dc: AdapterClient;

  beforeEach(async () => {
    dc = new AdapterClient();
    await dc.start();
  });

  afterEach(async function () {
    await dc.close(this.currentTest);
  });

  async function launchWithBreakpoint(line: number, params: Record<string, string> = {},
    filters: string[] = ['onFailure']): Promise<DebugProtocol.StoppedEvent> {
    const stopped = dc.waitForEvent('stopped');
    await dc.launchAndConfigure({ type: 'tekton', request: 'launch', name: 'python', task: TASK, runtime: 'local', params },
      async () => {
        const set = await dc.setBreakpointsRequest({ source: { path: TASK }, breakpoints: [{ line }] });
        assert.strictEqual(set.body.breakpoints[0].verified, true, set.body.breakpoints[0].message);
        assert.strictEqual(set.body.breakpoints[0].line, line);
        await dc.setExceptionBreakpointsRequest({ filters });
      });
    return (await stopped) as DebugProtocol.StoppedEvent;
  }

  async function frames(): Promise<DebugProtocol.StackFrame[]> {
    return (await dc.stackTraceRequest({ threadId: WEIGH })).body.stackFrames;
  }

  async function locals(frameId: number): Promise<Record<string, string>> {
    const scopes = (await dc.scopesRequest({ frameId })).body.scopes;
    const scope = scopes.find((s) => s.name === 'Locals');
    assert.ok(scope, JSON.stringify(scopes));
    const vars = (await dc.variablesRequest({ variablesReference: scope.variablesReference })).body.variables;
    return Object.fromEntries(vars.map((v) => [v.name, v.value]));
  }

  it('offers "Python exceptions" beside "Failed steps"', async () => {
    const init = await dc.initializeRequest({ adapterID: 'tekton' });
    const filters = (init.body?.exceptionBreakpointFilters ?? []).map((f) => `${f.filter}:${f.label}`);
    assert.deepStrictEqual(filters, ['onFailure:Failed steps', 'python:Python exceptions']);
  });

  it('stops at a breakpoint in the script, at its YAML line, with its locals', async () => {
    const line = lineOf('total += weight(name)');
    const stopped = await launchWithBreakpoint(line, { names: 'ada\nbo\ncyd', limit: '100' });
    assert.strictEqual(stopped.body.reason, 'breakpoint');
    assert.strictEqual(stopped.body.threadId, WEIGH);
    const [top] = await frames();
    assert.strictEqual(top.source?.path, TASK);
    assert.strictEqual(top.line, line);
    const values = await locals(top.id);
    assert.strictEqual(values.names, "['ada', 'bo', 'cyd']");
    assert.strictEqual(values.name, "'ada'");
    assert.strictEqual(values.total, '0');
  });

  it('steps in, out and over in Python, and evaluates in the frame', async () => {
    const line = lineOf('total += weight(name)');
    await launchWithBreakpoint(line, { limit: '100' });
    await Promise.all([dc.stepInRequest({ threadId: WEIGH }), dc.waitForEvent('stopped')]);
    let top = (await frames())[0];
    assert.strictEqual(top.line, lineOf('size = len(name)'));
    assert.match(top.name, /weight/);
    await Promise.all([dc.nextRequest({ threadId: WEIGH }), dc.waitForEvent('stopped')]);
    top = (await frames())[0];
    assert.strictEqual(top.line, lineOf('return size * 2'));
    const size = await dc.evaluateRequest({ expression: 'size * 10', frameId: top.id, context: 'watch' });
    assert.strictEqual(size.body.result, '30');
    await Promise.all([dc.stepOutRequest({ threadId: WEIGH }), dc.waitForEvent('stopped')]);
    top = (await frames())[0];
    assert.strictEqual(top.line, line);
    const repl = await dc.evaluateRequest({ expression: 'total + 1', frameId: top.id, context: 'repl' });
    assert.strictEqual(repl.body.result, '1');
  });

  it('stops where an uncaught exception is raised, then pauses the failed step', async () => {
    const stopped = dc.waitForEvent('stopped');
    await dc.launchAndConfigure({ type: 'tekton', request: 'launch', name: 'python', task: TASK, runtime: 'local' },
      () => dc.setExceptionBreakpointsRequest({ filters: ['onFailure', 'python'] }));
    const raised = (await stopped) as DebugProtocol.StoppedEvent;
    assert.strictEqual(raised.body.reason, 'exception');
    assert.strictEqual((await frames())[0].line, lineOf('raise SystemExit'));
    const failed = dc.waitForEvent('stopped');
    await dc.continueRequest({ threadId: WEIGH });
    const paused = (await failed) as DebugProtocol.StoppedEvent;
    assert.strictEqual(paused.body.reason, 'exception');
    assert.match(paused.body.description ?? '', /exit code 1/);
  });
});

/** The tests' containers.conf, a Python image and an image without Python, built locally once per
 * machine; undefined when podman does not work here or no Python image can be built. */
function prepareImages(): { python: string; plain: string } | undefined {
  const script = [
    'from tests import containers',
    'if containers.podman():',
    '    python = containers.python_image()',
    '    if python: print(containers.configure()); print(python); print(containers.busybox())',
  ].join('\n');
  const res = cp.spawnSync(adapterPython(), ['-c', script], { cwd: REPOSITORY_ROOT, encoding: 'utf8', timeout: 300000 });
  const lines = (res.stdout ?? '').trim().split('\n').filter((l) => l);
  if (res.status !== 0 || lines.length !== 3) {
    return undefined;
  }
  process.env.CONTAINERS_CONF = process.env.CONTAINERS_CONF || lines[0];
  return { python: lines[1], plain: lines[2] };
}

describe('debug adapter: a Python step in its container', function () {
  this.timeout(90000);
  let images: { python: string; plain: string } | undefined;
  let dc: AdapterClient;
  let dir: string;

  before(function () {
    images = prepareImages();
    if (!images) {
      if (process.env.TEKTON_DEBUG_REQUIRE_CONTAINERS === '1') {
        throw new Error('podman does not work here, or the Python test image could not be built (tests/containers.py)');
      }
      console.log('    (skipped: podman or the Python test image is not available here)');
      this.skip();
    }
  });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tekton-dap-python-container-'));
    dc = new AdapterClient();
    await dc.start();
  });

  afterEach(async function () {
    await dc.close(this.currentTest);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** examples/python-step.yaml with every step in ``image``. */
  function taskIn(image: string): string {
    const task = path.join(dir, 'python-step.yaml');
    fs.writeFileSync(task, fs.readFileSync(TASK, 'utf8').replace(/image: .*/g, `image: ${image}`));
    return task;
  }

  async function launch(task: string, line: number): Promise<DebugProtocol.Breakpoint> {
    let set: DebugProtocol.Breakpoint | undefined;
    await dc.launchAndConfigure({ type: 'tekton', request: 'launch', name: 'python', task, runtime: 'container', engine: 'podman', params: { limit: '100' } },
      async () => {
        set = (await dc.setBreakpointsRequest({ source: { path: task }, breakpoints: [{ line }] })).body.breakpoints[0];
        await dc.setExceptionBreakpointsRequest({ filters: [] });
      });
    assert.ok(set);
    return set;
  }

  it('stops at the breakpoint in the container, steps in, evaluates there and runs to the end', async () => {
    const task = taskIn(images!.python);
    const line = lineOf('total += weight(name)');
    const stopped = dc.waitForEvent('stopped');
    const set = await launch(task, line);
    assert.strictEqual(set.verified, true, set.message);
    const event = (await stopped) as DebugProtocol.StoppedEvent;
    assert.strictEqual(event.body.reason, 'breakpoint');
    assert.strictEqual(event.body.threadId, WEIGH);
    let top = (await dc.stackTraceRequest({ threadId: WEIGH })).body.stackFrames[0];
    assert.strictEqual(top.source?.path, task);
    assert.strictEqual(top.line, line);
    await Promise.all([dc.stepInRequest({ threadId: WEIGH }), dc.waitForEvent('stopped')]);
    top = (await dc.stackTraceRequest({ threadId: WEIGH })).body.stackFrames[0];
    assert.strictEqual(top.line, lineOf('size = len(name)'));
    const inImage = await dc.evaluateRequest({ expression: 'open("/etc/only-in-image").read().strip() + " " + name', frameId: top.id, context: 'repl' });
    assert.strictEqual(inImage.body.result, "'this file is only in the test image ada'");
    await dc.setBreakpointsRequest({ source: { path: task }, breakpoints: [] }); // the loop's next round runs on
    const terminated = dc.waitForEvent('terminated');
    await dc.continueRequest({ threadId: WEIGH });
    await terminated;
    assert.match(dc.outputText, /total weight: 16/);
    assert.match(dc.outputText, /report: done/);
  });

  it('in an image without Python: the breakpoint turns unverified with the reason and the step runs', async () => {
    const task = taskIn(images!.plain);
    const line = lineOf('total += weight(name)');
    const changed = dc.waitForEvent('breakpoint');
    const terminated = dc.waitForEvent('terminated');
    assert.strictEqual((await launch(task, line)).verified, true);
    const bp = ((await changed) as DebugProtocol.BreakpointEvent).body.breakpoint;
    assert.strictEqual(bp.verified, false);
    assert.strictEqual(bp.line, line);
    assert.match(bp.message ?? '', /python3 is not on the step's PATH in its image/);
    await terminated;
    assert.match(dc.outputText, /step weigh failed, exit code 127/);
  });
});
