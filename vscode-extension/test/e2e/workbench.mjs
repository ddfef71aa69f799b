// What the end-to-end tests share: headless Chromium on code-server's page, and the steps a user
// takes there (the command palette, opening a file, waiting for what VS Code shows).
// run.sh provides CODE_SERVER_URL, CHROMIUM and OUTPUT_DIR.
import * as path from 'node:path';
import { chromium } from 'playwright-core';

const TIMEOUT = 60000;

/**
 * Opens code-server's page and runs `test(workbench)`; on failure, prints why (and VS Code's
 * notifications) and takes the screenshot failure.png. Exits with the outcome.
 */
export async function runTest(test) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(TIMEOUT);
  const workbench = new Workbench(page, process.env.OUTPUT_DIR);
  let failed = false;
  try {
    workbench.step(`opening ${process.env.CODE_SERVER_URL}`);
    await page.goto(process.env.CODE_SERVER_URL);
    await page.locator('.monaco-workbench .part.statusbar').waitFor();
    await test(workbench);
    workbench.step('passed');
  } catch (error) {
    failed = true;
    console.error(`e2e: FAILED: ${error instanceof Error ? error.message : error}`);
    console.error(`e2e: notifications: ${JSON.stringify(await workbench.notifications())}`);
    await workbench.shot('failure').catch(() => {});
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
}

export class Workbench {
  constructor(page, outputDir) {
    this.page = page;
    this.outputDir = outputDir;
  }

  step(text) {
    console.log(`e2e: ${text}`);
  }

  shot(name) {
    return this.page.screenshot({ path: path.join(this.outputDir, `${name}.png`) });
  }

  async runCommand(title) {
    const page = this.page;
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
    await page.keyboard.press('Enter');
  }

  /** Opens `file` of the workspace (Quick Open) and puts the cursor in its editor. */
  async openFile(file) {
    const page = this.page;
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }).first().waitFor();
    this.step(`opening ${file}`);
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill(file);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: file }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tabs-container .tab.active', { hasText: file }).waitFor();
    await page.locator('.monaco-editor .view-lines').first().click();
  }

  /** The language server's code lens titled `title` in the open editor, once it is drawn. */
  async codeLens(title) {
    this.step(`waiting for the language server's "${title}" code lens`);
    const lens = this.page.locator('.monaco-editor .codelens-decoration a', { hasText: title }).first();
    await lens.waitFor();
    return lens;
  }

  /** Waits for `locator`, failing at once if VS Code shows an error dialog instead. */
  async waitOrDialog(locator, what) {
    const dialog = this.page.locator('.monaco-dialog-box .dialog-message-text').first();
    const found = await Promise.race([
      locator.waitFor().then(() => 'found'),
      dialog.waitFor().then(() => 'dialog'),
    ]);
    if (found === 'dialog') {
      throw new Error(`VS Code showed an error instead of ${what}: ${await dialog.innerText()}`);
    }
  }

  async notifications() {
    return this.page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts().catch(() => []);
  }
}
