// The failing Task in code-server: F5, the paused step, the exception widget, the step's output in
// the Debug Console, a shell in the step, the step fixed in the editor, Restart Frame, the end.
// Started by run.sh, which provides TASK_FILE (and EXPECT_RUNTIME=container for the run in containers).
import { runTest } from './workbench.mjs';

const taskFile = process.env.TASK_FILE ?? 'failing-task.yaml';
const pausedStep = process.env.PAUSED_STEP ?? 'test';

await runTest(async (workbench) => {
  const { page } = workbench;
  const step = (text) => workbench.step(text);
  const shot = (name) => workbench.shot(name);
  const runCommand = (title) => workbench.runCommand(title);
  const waitOrDialog = (locator, what) => workbench.waitOrDialog(locator, what);

  await workbench.openFile(taskFile);
  await workbench.codeLens('Debug Task');
  await shot('1-task-open');

  // the Debug Console on screen during the run: each step's lines must be drawn as they come (in
  // an output group, VS Code drew only those that came with the group's first drawing)
  await runCommand('Debug Console: Focus on Debug Console View');
  await page.locator('.monaco-editor .view-lines').first().click();
  step('starting the debugger (F5, no launch.json)');
  await page.keyboard.press('F5');
  // With several debuggers for YAML, VS Code asks which one: take Tekton.
  const picker = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Tekton' }).first();
  if (await picker.isVisible({ timeout: 3000 }).catch(() => false)) {
    await picker.click();
  }

  step('waiting for the paused step in the Call Stack');
  const pausedThread = page.locator('.debug-call-stack .monaco-list-row .thread', { hasText: pausedStep });
  await waitOrDialog(pausedThread.first(), `the paused step "${pausedStep}"`);
  await page.locator('.debug-call-stack .monaco-list-row .state.label', { hasText: /failed|exception/i }).first().waitFor();
  step('waiting for the exception widget');
  await page.locator('.exception-widget').first().waitFor();
  const exceptionText = await page.locator('.exception-widget').first().innerText();
  step(`exception widget: ${exceptionText.replace(/\s+/g, ' ').slice(0, 200)}`);
  if (!/exit code 1/.test(exceptionText)) {
    throw new Error(`the exception widget does not tell the exit code: ${exceptionText}`);
  }
  await shot('2-paused-on-failure');

  step('reading the failed step\'s output in the Debug Console');
  await runCommand('Debug Console: Focus on Debug Console View');
  await page.locator('.repl').getByText('does not exist (the build did not write it)').first().waitFor({ timeout: 10000 });
  await shot('2b-debug-console');

  step('opening a shell in the paused step');
  await runCommand('Tekton: Open Shell in Paused Step');
  const terminal = page.locator('.terminal-wrapper.active .xterm').first();
  await waitOrDialog(terminal, 'a terminal in the paused step');
  await page.getByText(`tekton: ${pausedStep}`).first().waitFor(); // the terminal's title
  const rows = page.locator('.terminal-wrapper.active .xterm-rows').first();
  // the shell's prompt names the step (PS1), then it reads what is typed
  await page.locator('.terminal-wrapper.active .xterm-rows', { hasText: `[step-${pausedStep}]` }).first().waitFor();
  await page.locator('.terminal-wrapper.active .xterm-helper-textarea').first().focus();
  // the step before wrote build/log.txt in the working directory the steps share
  await page.keyboard.type('echo "in-step: $(cat build/log.txt)"');
  await page.keyboard.press('Enter');
  await page.locator('.terminal-wrapper.active .xterm-rows', { hasText: 'in-step: compiled' }).first().waitFor();
  step(`terminal: ${(await rows.innerText()).split('\n').filter((l) => l.includes('in-step')).pop()}`);
  if (process.env.EXPECT_RUNTIME === 'container') {
    step('the shell is in the step\'s container: a file only its image has');
    await page.keyboard.type('cat /etc/only-in-image');
    await page.keyboard.press('Enter');
    await page.locator('.terminal-wrapper.active .xterm-rows', { hasText: 'this file is only in the test image' }).first().waitFor();
  }
  await shot('3-shell-in-step');

  step('fixing the step in the editor: its check no longer fails the step');
  await page.locator('.tabs-container .tab', { hasText: taskFile }).first().click();
  await page.locator('.monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+H');
  const find = page.locator('.find-widget textarea[aria-label="Find"], .find-widget .find-part textarea').first();
  await find.waitFor();
  await find.fill('exit 1');
  const replace = page.locator('.find-widget textarea[aria-label="Replace"], .find-widget .replace-part textarea').first();
  await replace.fill('echo "fixed in the editor"; exit 0');
  await page.keyboard.press('Control+Alt+Enter'); // replace all
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+S');
  await page.locator('.tabs-container .tab.active.dirty').waitFor({ state: 'detached' });
  await shot('4-step-edited');

  step('Restart Frame on the paused step: it runs again as the file is now');
  const topFrame = page.locator('.debug-call-stack .monaco-list-row .stack-frame').first();
  await topFrame.click({ button: 'right' });
  const restartItem = page.locator('.context-view .action-label', { hasText: 'Restart Frame' }).first();
  await restartItem.waitFor();
  await restartItem.hover();
  await restartItem.click();
  // on a loaded machine a click that lands while the menu is still laid out is lost: the item is
  // the first, focused one, so Enter takes it when the menu is still open
  await page.waitForTimeout(500);
  if (await restartItem.isVisible().catch(() => false)) {
    await page.keyboard.press('Enter');
  }
  step('waiting for the session to end');
  await page.locator('.debug-toolbar').first().waitFor({ state: 'hidden' });
  await page.locator('.debug-call-stack .monaco-list-row .thread').first().waitFor({ state: 'detached' });
  // the retried step passed: the step after it ran, and the TaskRun succeeded.
  await runCommand('Debug Console: Focus on Debug Console View');
  const repl = page.locator('.repl');
  await repl.getByText(/step test, retry 1: running it again/).first().waitFor();
  await repl.getByText('fixed in the editor').first().waitFor();
  await repl.getByText('publishing build/report.txt').first().waitFor();
  await repl.getByText(/TaskRun \S+ Succeeded/).first().waitFor();
  await shot('5-session-ended');
});
