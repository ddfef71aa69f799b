import * as assert from 'assert';
import { formatAdapterExit, formatTraceMessage } from '../../src/core/trace';

describe('the DAP trace', () => {
  it('shows requests sent to the adapter with their command, seq and body', () => {
    const line = formatTraceMessage('to-adapter', { type: 'request', seq: 3, command: 'continue', arguments: { threadId: 2 } });
    assert.ok(line.startsWith('-> request continue #3 '), line);
    assert.deepStrictEqual(JSON.parse(line.slice(line.indexOf('{'))).arguments, { threadId: 2 });
  });

  it('shows responses and events from the adapter', () => {
    assert.ok(formatTraceMessage('from-adapter', { type: 'response', request_seq: 3, command: 'continue', success: true }).startsWith('<- response continue #3 ok '));
    assert.ok(formatTraceMessage('from-adapter', { type: 'response', request_seq: 4, command: 'launch', success: false }).startsWith('<- response launch #4 failed '));
    assert.ok(formatTraceMessage('from-adapter', { type: 'event', event: 'stopped', body: { reason: 'exception' } }).startsWith('<- event stopped '));
  });

  it('never writes the TCP token to the output channel', () => {
    const line = formatTraceMessage('to-adapter', { type: 'request', seq: 2, command: 'launch', arguments: { task: 't.yaml', token: 's3cret' } });
    assert.ok(!line.includes('s3cret'), line);
    assert.ok(line.includes('t.yaml'));
  });

  it('cuts very long messages (step logs) and says how long they were', () => {
    const output = 'x'.repeat(10000);
    const line = formatTraceMessage('from-adapter', { type: 'event', event: 'output', body: { output } });
    assert.ok(line.length < 5000);
    assert.match(line, /\(\d+ characters\)$/);
  });

  it('tells how the adapter ended', () => {
    assert.match(formatAdapterExit(1, undefined), /exited with code 1/);
    assert.match(formatAdapterExit(undefined, 'SIGKILL'), /signal SIGKILL/);
  });
});
