/**
 * Starts `python -m tekton_debug dap` for each Tekton debug session, once tekton_debug imports. A
 * child session of a PipelineRun (one TaskRun, started by the adapter with startDebugging) connects
 * to the port on 127.0.0.1 that the PipelineRun's adapter listens on.
 */
import * as vscode from 'vscode';
import { launcherArgs } from './core/python';
import { resolveLauncher } from './pythonInterpreter';

export class TektonDebugAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  async createDebugAdapterDescriptor(session: vscode.DebugSession): Promise<vscode.DebugAdapterDescriptor> {
    const { pipelineTask, port } = session.configuration;
    if (typeof pipelineTask === 'string' && typeof port === 'number') {
      return new vscode.DebugAdapterServer(port, '127.0.0.1');
    }
    const choice = await resolveLauncher(session.workspaceFolder);
    if (!choice.ok) {
      // VS Code shows this message and ends the launch.
      throw new Error(choice.message);
    }
    const cwd = session.workspaceFolder?.uri.fsPath;
    return new vscode.DebugAdapterExecutable(choice.launcher.command, launcherArgs(choice.launcher, 'dap'),
      cwd ? { cwd } : {});
  }
}
