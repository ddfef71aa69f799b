/** The Tekton language server (`python -m tekton_debug lsp`) on YAML documents. */
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { launcherArgs } from './core/python';
import { resolveLauncher, SETTINGS } from './pythonInterpreter';

export class TektonLanguageServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly channel: vscode.OutputChannel) {}

  enabled(): boolean {
    return vscode.workspace.getConfiguration(SETTINGS).get<boolean>('languageServer.enabled', true);
  }

  /** Starts the server if the setting allows it and tekton_debug imports; otherwise says why in the channel. */
  start(): Promise<void> {
    if (!this.starting) {
      this.starting = this.doStart().catch((error) => {
        this.channel.appendLine(`The Tekton language server did not start: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (!this.enabled()) {
      return;
    }
    const choice = await resolveLauncher(vscode.workspace.workspaceFolders?.[0]);
    if (!choice.ok) {
      this.channel.appendLine(`The Tekton language server is off: ${choice.message}`);
      return;
    }
    const server: ServerOptions = { command: choice.launcher.command, args: launcherArgs(choice.launcher, 'lsp') };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file', language: 'yaml' }, { scheme: 'untitled', language: 'yaml' }],
      outputChannel: this.channel,
    };
    this.client = new LanguageClient('tekton-debug', 'Tekton', server, clientOptions);
    await this.client.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.starting = undefined;
    if (client) {
      await client.stop();
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  dispose(): void {
    void this.stop();
  }
}
