/** Starts `python -m tekton_debug dap` for each Tekton debug session, once tekton_debug imports. */
import * as vscode from 'vscode';
import { tektonDebugArgs } from './core/python';
import { checkPython, resolvePython } from './pythonInterpreter';

export class TektonDebugAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  async createDebugAdapterDescriptor(session: vscode.DebugSession): Promise<vscode.DebugAdapterDescriptor> {
    const python = await resolvePython(session.workspaceFolder);
    const check = await checkPython(python);
    if (!check.ok) {
      // VS Code shows this message and ends the launch.
      throw new Error(check.message);
    }
    const cwd = session.workspaceFolder?.uri.fsPath;
    return new vscode.DebugAdapterExecutable(python, tektonDebugArgs('dap'), cwd ? { cwd } : {});
  }
}
