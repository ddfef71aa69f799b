import * as assert from 'assert';
import { resolveCommandTarget, SessionLike } from '../../src/core/commandTarget';

const tekton: SessionLike = { id: 's1', type: 'tekton' };
const other: SessionLike = { id: 's2', type: 'tekton' };
const python: SessionLike = { id: 'p1', type: 'debugpy' };

describe('which paused step a Tekton command acts on', () => {
  it('uses the focused thread (the toolbar passes no useful argument)', () => {
    const result = resolveCommandTarget('tekton', undefined, { session: tekton, threadId: 2 }, tekton);
    assert.deepStrictEqual(result.target, { session: tekton, threadId: 2 });
  });

  it('uses the thread of the focused stack frame', () => {
    const result = resolveCommandTarget('tekton', 'file:///w/task.yaml', { session: tekton, threadId: 3, frameId: 7 }, tekton);
    assert.deepStrictEqual(result.target, { session: tekton, threadId: 3 });
  });

  it('prefers the thread the Call Stack context menu was opened on over the focused one', () => {
    const result = resolveCommandTarget('tekton', 3, { session: tekton, threadId: 2 }, tekton);
    assert.deepStrictEqual(result.target, { session: tekton, threadId: 3 });
  });

  it('accepts an argument object with a session and thread id', () => {
    const result = resolveCommandTarget('tekton', { sessionId: 's2', threadId: 1 }, { session: tekton, threadId: 2 }, tekton, [tekton, other]);
    assert.deepStrictEqual(result.target, { session: other, threadId: 1 });
  });

  it('falls back to the active debug session when nothing is focused but the argument names a thread', () => {
    const result = resolveCommandTarget('tekton', 2, undefined, tekton);
    assert.deepStrictEqual(result.target, { session: tekton, threadId: 2 });
  });

  it('asks to select the paused step when no thread is known', () => {
    const result = resolveCommandTarget('tekton', undefined, undefined, tekton);
    assert.match(result.error ?? '', /Select the paused step/);
  });

  it('ignores a focused thread of another debugger and says there is no Tekton session', () => {
    const result = resolveCommandTarget('tekton', undefined, { session: python, threadId: 1 }, python);
    assert.match(result.error ?? '', /No Tekton debug session/);
  });

  it('does not take a session id string from the Call Stack for a thread id', () => {
    const result = resolveCommandTarget('tekton', 's1', undefined, tekton);
    assert.match(result.error ?? '', /Select the paused step/);
  });
});
