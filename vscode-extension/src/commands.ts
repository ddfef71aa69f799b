/** "Tekton: Continue as Failed" and "Tekton: Open Shell in Paused Step": custom DAP requests. */
import * as vscode from 'vscode';
import { DEBUG_TYPE, launchFileConfiguration } from './core/configuration';
import { resolveCommandTarget } from './core/commandTarget';
import { listFailedTaskRuns, pickItems, rerunConfiguration } from './core/rerun';
import { resolvePython } from './pythonInterpreter';

export const FAIL_CONTINUE = 'tekton.failContinue';
export const OPEN_SHELL = 'tekton.openShell';
/** Run by the language server's "Debug Task" / "Debug TaskRun" code lens with the document's URI. */
export const DEBUG_FILE = 'tekton.debugFile';
export const RERUN_TASKRUN = 'tekton.rerunTaskRun';

function stackItem(): { session: vscode.DebugSession; threadId: number } | undefined {
  // vscode.debug.activeStackItem: VS Code 1.90 and later (a DebugThread or a DebugStackFrame).
  const item = (vscode.debug as { activeStackItem?: { session: vscode.DebugSession; threadId: number } }).activeStackItem;
  return item && typeof item.threadId === 'number' ? item : undefined;
}

async function sendToPausedStep(request: string, arg: unknown, sessions: Map<string, vscode.DebugSession>): Promise<void> {
  const resolution = resolveCommandTarget(DEBUG_TYPE, arg, stackItem(), vscode.debug.activeDebugSession, [...sessions.values()]);
  if (resolution.error !== undefined) {
    void vscode.window.showErrorMessage(resolution.error);
    return;
  }
  const { session, threadId } = resolution.target;
  try {
    await session.customRequest(request, { threadId });
  } catch (error) {
    void vscode.window.showErrorMessage(`Tekton: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function fileUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) {
    return arg;
  }
  if (typeof arg === 'string' && arg) {
    return vscode.Uri.parse(arg);
  }
  return vscode.window.activeTextEditor?.document.uri;
}

async function debugFile(arg: unknown): Promise<void> {
  const uri = fileUri(arg);
  if (!uri || uri.scheme !== 'file') {
    void vscode.window.showErrorMessage('Tekton: open a Task or TaskRun YAML file saved on disk to debug it.');
    return;
  }
  const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (document?.isDirty) {
    await document.save(); // the adapter reads the file from disk
  }
  await vscode.debug.startDebugging(vscode.workspace.getWorkspaceFolder(uri), launchFileConfiguration(uri.fsPath));
}

/** Pick one of the namespace's recent failed TaskRuns and debug a copy of it. */
async function rerunTaskRun(): Promise<void> {
  const namespace = await vscode.window.showInputBox({
    title: 'Re-run TaskRun with Debugging',
    prompt: 'Namespace of the TaskRun (empty: the namespace of the current kubeconfig context)',
  });
  if (namespace === undefined) {
    return;
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  const options = { namespace: namespace.trim() || undefined };
  const python = await resolvePython(folder);
  const runs = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Tekton: listing failed TaskRuns' },
    () => listFailedTaskRuns(python, options),
  ).then((found) => found, (error: Error) => {
    void vscode.window.showErrorMessage(`Tekton: ${error.message}`);
    return undefined;
  });
  if (runs === undefined) {
    return;
  }
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(`Tekton: no failed TaskRuns in namespace ${options.namespace ?? '(the context\'s)'}.`);
    return;
  }
  const picked = await vscode.window.showQuickPick(pickItems(runs), {
    title: 'Re-run TaskRun with Debugging', placeHolder: 'A failed TaskRun: a copy of it runs with its failed step paused',
    matchOnDescription: true, matchOnDetail: true,
  });
  if (picked) {
    await vscode.debug.startDebugging(folder, rerunConfiguration(picked.taskRun, options));
  }
}

export function registerCommands(context: vscode.ExtensionContext): void {
  const sessions = new Map<string, vscode.DebugSession>();
  context.subscriptions.push(
    vscode.debug.onDidStartDebugSession((s) => { if (s.type === DEBUG_TYPE) { sessions.set(s.id, s); } }),
    vscode.debug.onDidTerminateDebugSession((s) => { sessions.delete(s.id); }),
    vscode.commands.registerCommand(FAIL_CONTINUE, (arg?: unknown) => sendToPausedStep('tekton/failContinue', arg, sessions)),
    vscode.commands.registerCommand(OPEN_SHELL, (arg?: unknown) => sendToPausedStep('tekton/openShell', arg, sessions)),
    vscode.commands.registerCommand(DEBUG_FILE, debugFile),
    vscode.commands.registerCommand(RERUN_TASKRUN, rerunTaskRun),
  );
}
