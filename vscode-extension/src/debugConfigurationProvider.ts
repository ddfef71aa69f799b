/** F5 with no launch.json on a Task YAML debugs that file; configurations are checked before start. */
import * as path from 'path';
import * as vscode from 'vscode';
import {
  ActiveDocument, checkSubstitutedConfiguration, dynamicConfigurations, resolveConfiguration, TektonDebugConfiguration,
} from './core/configuration';

function describe(doc: vscode.TextDocument): ActiveDocument {
  return {
    fsPath: doc.uri.scheme === 'file' ? doc.uri.fsPath : undefined,
    name: doc.isUntitled ? doc.uri.path : path.basename(doc.uri.fsPath || doc.uri.path),
    languageId: doc.languageId,
    text: doc.getText(),
  };
}

export class TektonConfigurationProvider implements vscode.DebugConfigurationProvider {
  resolveDebugConfiguration(_folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): vscode.DebugConfiguration | undefined {
    const editor = vscode.window.activeTextEditor;
    const result = resolveConfiguration(config as Partial<TektonDebugConfiguration>, editor ? describe(editor.document) : undefined);
    if (result.error !== undefined) {
      void vscode.window.showErrorMessage(result.error);
      return undefined; // abort the launch; the message says why
    }
    return result.config;
  }

  resolveDebugConfigurationWithSubstitutedVariables(folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): vscode.DebugConfiguration | undefined {
    const workspaceFolder = folder?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const result = checkSubstitutedConfiguration(config as TektonDebugConfiguration, workspaceFolder);
    if (result.error !== undefined) {
      void vscode.window.showErrorMessage(result.error);
      return undefined;
    }
    return result.config;
  }
}

/** "Run and Debug > Tekton...": one entry per open Tekton Task or TaskRun file. */
export class TektonDynamicConfigurationProvider implements vscode.DebugConfigurationProvider {
  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    const docs = vscode.workspace.textDocuments.filter((d) => d.uri.scheme === 'file').map(describe);
    const active = vscode.window.activeTextEditor?.document;
    if (active) {
      docs.unshift(describe(active));
    }
    return dynamicConfigurations(docs);
  }
}
