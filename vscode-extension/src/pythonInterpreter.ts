/** The Python for the adapter and the language server, from the setting or the Python extension. */
import * as vscode from 'vscode';
import {
  checkTektonDebugImports, chooseLauncher, choosePython, ImportCheck, interpreterFromPythonExtension, LauncherChoice,
  PythonExtensionApi, runProcess,
} from './core/python';

export const SETTINGS = 'tekton-debug';

async function pythonExtensionApi(): Promise<PythonExtensionApi | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!extension) {
    return undefined;
  }
  try {
    return extension.isActive ? extension.exports : await extension.activate();
  } catch {
    return undefined;
  }
}

export async function resolvePython(folder?: vscode.WorkspaceFolder): Promise<string> {
  const setting = vscode.workspace.getConfiguration(SETTINGS, folder?.uri).get<string>('python', '');
  const workspaceFolder = folder?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (setting.trim()) {
    return choosePython(setting, workspaceFolder, undefined);
  }
  const fromExtension = await interpreterFromPythonExtension(await pythonExtensionApi(), folder?.uri);
  return choosePython(setting, workspaceFolder, fromExtension);
}

/** Successful checks are remembered per interpreter; a failure is checked again next time. */
const importable = new Set<string>();

export async function checkPython(python: string): Promise<ImportCheck> {
  if (importable.has(python)) {
    return { ok: true };
  }
  const result = await checkTektonDebugImports(python, runProcess);
  if (result.ok) {
    importable.add(python);
  }
  return result;
}

export function forgetPythonChecks(): void {
  importable.clear();
}

/** How to start the adapter or the language server for `folder`: the Python that has tekton_debug,
 * else (no Python set) a `tekton-debug` executable on PATH; or why neither works. */
export async function resolveLauncher(folder?: vscode.WorkspaceFolder): Promise<LauncherChoice> {
  const setting = vscode.workspace.getConfiguration(SETTINGS, folder?.uri).get<string>('python', '');
  const python = await resolvePython(folder);
  return chooseLauncher(python, Boolean(setting.trim()), runProcess, undefined, vscode.env.remoteName, checkPython);
}
