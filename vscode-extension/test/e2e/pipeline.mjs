// A Pipeline in code-server: the "Debug Pipeline" lens starts it; unit-tests and lint run in
// parallel, each TaskRun a child session in the Call Stack; a unit test fails and its step pauses
// while lint's output keeps coming in lint's Debug Console; Continue on the paused step resumes it
// alone (lint goes on); the PipelineRun ends Succeeded with both tasks.
// Started by run.sh, which provides TASK_FILE and LINT_GATE (lint runs until that file exists).
import * as fs from 'node:fs';
import { runTest } from './workbench.mjs';

const pipelineFile = process.env.TASK_FILE ?? 'parallel-pipeline.yaml';
const lintGate = process.env.LINT_GATE;

/** The highest N of the "lint: checked file N" lines the Debug Console draws now (0: none). */
async function lastLintLine(page) {
  const texts = await page.locator('.repl .monaco-list-row').allInnerTexts();
  return Math.max(0, ...texts.map((t) => Number(/lint: checked file (\d+)/.exec(t)?.[1] ?? 0)));
}

await runTest(async (workbench) => {
  const { page } = workbench;
  const callStack = page.locator('.debug-call-stack');
  const session = (name) => callStack.locator('.monaco-list-row .session', { hasText: name }).first();
  const sessionState = (name) => callStack.locator('.monaco-list-row', { has: page.locator('.session', { hasText: name }) })
    .locator('.state.label').first(); // hidden (not gone) while the pointer is on its row
  const thread = (name) => callStack.locator('.monaco-list-row .thread', { hasText: name }).first();
  // a thread's state, as the Call Stack labels it (a failed step: the stopped event's description)
  const threadState = (name) => callStack.locator('.monaco-list-row', { has: page.locator('.thread', { hasText: name }) })
    .locator('.state.label').first();
  const repl = page.locator('.repl');
  const pipelineRow = callStack.locator('.monaco-list-row', { has: page.locator('.session', { hasText: pipelineFile }) });
  /** Clicks the start of a session's or thread's row in the Call Stack: the pointer on the row
   * shows its Stop, Restart... buttons over its end (and a paused step's long state label leaves
   * no room for its name). */
  const clickRow = (row) => row.click({ position: { x: 8, y: 8 } });
  /** Waits for `locator` in the Call Stack, expanding the PipelineRun's session as a user would:
   * VS Code collapses it when one of its child sessions ends. */
  async function visibleInCallStack(locator) {
    for (const deadline = Date.now() + 60000; !(await locator.isVisible());) {
      if (Date.now() > deadline) {
        throw new Error(`${locator} is not in the Call Stack`);
      }
      if (await pipelineRow.getAttribute('aria-expanded', { timeout: 1000 }).catch(() => null) === 'false') {
        await pipelineRow.locator('.monaco-tl-twistie').click();
      }
      await locator.waitFor({ timeout: 250 }).catch(() => {});
    }
  }

  await workbench.openFile(pipelineFile);
  const lens = await workbench.codeLens('Debug Pipeline');
  await workbench.shot('1-pipeline-open');
  await workbench.runCommand('Debug Console: Focus on Debug Console View');

  workbench.step('starting the PipelineRun with the "Debug Pipeline" lens');
  await lens.click();

  workbench.step('waiting for each TaskRun as a session of its own in the Call Stack');
  await workbench.waitOrDialog(session('unit-tests: TaskRun'), 'the session of the unit-tests TaskRun');
  await session('lint: TaskRun').waitFor();

  workbench.step('waiting for the failed step of unit-tests, paused');
  const pausedThread = thread('run-tests');
  await pausedThread.waitFor();
  await threadState('run-tests').filter({ hasText: /failed with exit code 1/i }).waitFor();
  await page.locator('.exception-widget', { hasText: 'exit code 1' }).first().waitFor();
  // the paused TaskRun's own Debug Console holds its step's output
  await repl.getByText('test_divide ... FAILED: expected 2, got 3').first().waitFor();
  await workbench.shot('2-paused-in-unit-tests');

  workbench.step('lint goes on: its Debug Console keeps receiving lines while run-tests is paused');
  await clickRow(session('lint: TaskRun'));
  await repl.getByText(/lint: checked file \d+/).first().waitFor();
  const seen = await lastLintLine(page);
  await page.waitForFunction((n) => [...document.querySelectorAll('.repl .monaco-list-row')]
    .some((row) => Number(/lint: checked file (\d+)/.exec(row.textContent ?? '')?.[1] ?? 0) > n + 2), seen);
  workbench.step(`lint printed "checked file ${seen}" and then "checked file ${await lastLintLine(page)}"`);
  // and run-tests is still paused (a TaskRun of one step, as lint, shows no thread of its own)
  await threadState('run-tests').filter({ hasText: /failed with exit code 1/i }).waitFor();
  await sessionState('lint: TaskRun').filter({ hasText: /running/i }).waitFor({ state: 'attached' });
  await workbench.shot('3-lint-goes-on');

  workbench.step('Continue on the paused step: unit-tests goes on, lint was not touched');
  await clickRow(pausedThread);
  await page.locator('.debug-toolbar .action-label.codicon-debug-continue').click();
  // unit-tests ends (its session leaves the Call Stack) while lint still runs
  await session('unit-tests: TaskRun').waitFor({ state: 'detached' });
  await visibleInCallStack(session('lint: TaskRun'));
  await sessionState('lint: TaskRun').filter({ hasText: /running/i }).waitFor({ state: 'attached' });
  await workbench.shot('4-unit-tests-done-lint-running');

  workbench.step('the PipelineRun\'s own Debug Console: unit-tests succeeded, lint still running');
  await clickRow(session(pipelineFile));
  await repl.getByText('task unit-tests succeeded').first().waitFor();
  if (await repl.getByText('task lint succeeded').count() !== 0) {
    throw new Error('lint ended before the test let it');
  }

  workbench.step('letting lint finish: the PipelineRun ends Succeeded');
  fs.writeFileSync(lintGate, '');
  await repl.getByText('task lint succeeded').first().waitFor();
  await repl.getByText(/PipelineRun \S+ Succeeded/).first().waitFor();
  await page.locator('.debug-toolbar').first().waitFor({ state: 'hidden' });
  await workbench.shot('5-pipelinerun-succeeded');
});
