/**
 * The run's output reaches the client only once its launch is answered and the `process` event
 * sent: VS Code's Debug Console lost the first line of the first step when it came earlier.
 */
import * as assert from 'assert';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterClient } from '../support/adapterClient';
import { EXAMPLES } from '../support/paths';

const TASK = path.join(EXAMPLES, 'failing-task.yaml');

describe('debug adapter: the first output of a run', function () {
  this.timeout(30000);
  let dc: AdapterClient;

  beforeEach(async () => {
    dc = new AdapterClient();
    await dc.start();
  });

  afterEach(async function () {
    await dc.close(this.currentTest);
  });

  it('comes after the launch response and the process event, first line included', async () => {
    const stopped = dc.waitForEvent('stopped');
    await dc.launchAndConfigure({ type: 'tekton', request: 'launch', name: 'first', task: TASK });
    await stopped;

    const kinds = dc.messages.map((text) => JSON.parse(text) as DebugProtocol.ProtocolMessage).map((m) => {
      if (m.type === 'response') {
        return `response:${(m as DebugProtocol.Response).command}`;
      }
      if (m.type === 'event') {
        const event = m as DebugProtocol.Event;
        return event.event === 'output' ? `output:${(event as DebugProtocol.OutputEvent).body.category}`
          : `event:${event.event}`;
      }
      return m.type;
    });
    const launch = kinds.indexOf('response:launch');
    const processEvent = kinds.indexOf('event:process');
    const firstStdout = kinds.indexOf('output:stdout');
    assert.ok(launch >= 0 && processEvent > launch, kinds.join(', '));
    assert.ok(firstStdout > processEvent, kinds.join(', '));
    const runOutput = kinds.slice(0, launch).filter((k) => k.startsWith('output:'));
    assert.deepStrictEqual(runOutput, [], 'no output of the run before the launch is answered');
    const stdout = dc.output.filter((e) => e.body.category === 'stdout').map((e) => e.body.output).join('');
    assert.ok(stdout.startsWith('build done (log in build/log.txt)\n'), stdout);
  });
});
