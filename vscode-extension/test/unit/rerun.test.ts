import * as assert from 'assert';
import { ago, rerunConfiguration, taskRunsArguments } from '../../src/core/rerun';
import { checkSubstitutedConfiguration, resolveConfiguration } from '../../src/core/configuration';

describe('Re-run TaskRun with Debugging', () => {
  it('asks the adapter for the failed TaskRuns of the namespace and context given', () => {
    assert.deepStrictEqual(taskRunsArguments({ namespace: 'ci', context: 'prod' }),
      ['-m', 'tekton_debug', 'taskruns', '--failed', '--json', '-n', 'ci', '--context', 'prod']);
    assert.deepStrictEqual(taskRunsArguments({}), ['-m', 'tekton_debug', 'taskruns', '--failed', '--json']);
  });

  it('launches a re-run on the cluster, without a task file', () => {
    const config = rerunConfiguration('nightly-1', { namespace: 'ci' });
    assert.deepStrictEqual(config, {
      type: 'tekton', request: 'launch', name: 'Re-run nightly-1', rerun: 'nightly-1', runtime: 'kubernetes', namespace: 'ci',
    });
    // the file open in the editor is not made its "task"
    const resolved = resolveConfiguration(config, { fsPath: '/w/other.yaml', name: 'other.yaml', languageId: 'yaml' });
    assert.strictEqual(resolved.config?.task, undefined);
    assert.strictEqual(checkSubstitutedConfiguration(resolved.config!, '/w').error, undefined);
  });

  it('says how long ago a TaskRun finished', () => {
    const now = new Date('2026-12-03T12:00:00Z');
    assert.strictEqual(ago('2026-12-03T11:59:30Z', now), '30 s ago');
    assert.strictEqual(ago('2026-12-03T11:30:00Z', now), '30 min ago');
    assert.strictEqual(ago('2026-12-03T06:00:00Z', now), '6 h ago');
    assert.strictEqual(ago('2026-11-29T12:00:00Z', now), '4 d ago');
    assert.strictEqual(ago(null, now), '');
  });
});
