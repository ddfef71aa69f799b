/** Tekton Debug: the `tekton` debugger and the Tekton language server for YAML. */
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { DEBUG_TYPE } from './core/configuration';
import { TektonDebugAdapterFactory } from './debugAdapterFactory';
import { TektonConfigurationProvider, TektonDynamicConfigurationProvider } from './debugConfigurationProvider';
import { TektonLanguageServer } from './languageClient';
import { forgetPythonChecks, SETTINGS } from './pythonInterpreter';
import { TektonTraceTrackerFactory } from './traceTracker';

let languageServer: TektonLanguageServer | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const channel = vscode.window.createOutputChannel('Tekton Debug');
  languageServer = new TektonLanguageServer(channel);
  context.subscriptions.push(
    channel,
    languageServer,
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new TektonConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new TektonDynamicConfigurationProvider(),
      vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new TektonDebugAdapterFactory()),
    vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, new TektonTraceTrackerFactory(channel)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(`${SETTINGS}.python`) || event.affectsConfiguration(`${SETTINGS}.languageServer.enabled`)) {
        forgetPythonChecks();
        void languageServer?.restart();
      }
    }),
  );
  registerCommands(context);
  void languageServer.start();
}

export async function deactivate(): Promise<void> {
  await languageServer?.stop();
  languageServer = undefined;
}
