/** Writes every DAP message of a Tekton session to the "Tekton Debug" output channel when tracing is on. */
import * as vscode from 'vscode';
import { formatAdapterExit, formatTraceMessage } from './core/trace';
import { SETTINGS } from './pythonInterpreter';

export class TektonTraceTrackerFactory implements vscode.DebugAdapterTrackerFactory {
  constructor(private readonly channel: vscode.OutputChannel) {}

  createDebugAdapterTracker(session: vscode.DebugSession): vscode.DebugAdapterTracker | undefined {
    if (!vscode.workspace.getConfiguration(SETTINGS, session.workspaceFolder?.uri).get<boolean>('trace', false)) {
      return undefined;
    }
    const channel = this.channel;
    const write = (line: string) => channel.appendLine(`[${new Date().toISOString()}] ${line}`);
    return {
      onWillStartSession: () => write(`-- session "${session.name}" starts`),
      onWillReceiveMessage: (message: unknown) => write(formatTraceMessage('to-adapter', message)),
      onDidSendMessage: (message: unknown) => write(formatTraceMessage('from-adapter', message)),
      onError: (error: Error) => write(`-- error talking to the debug adapter: ${error.message}`),
      onExit: (code: number | undefined, signal: string | undefined) => write(formatAdapterExit(code, signal)),
    };
  }
}
