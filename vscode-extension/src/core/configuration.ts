/**
 * Launch and attach configurations: what F5 fills in, and the checks worth doing before the
 * adapter starts (the adapter checks every field again and has the final word).
 *
 * No `vscode` import here: the editor's state comes in as plain values.
 */
import * as path from 'path';

export const DEBUG_TYPE = 'tekton';

/** The fields of a `tekton` debug configuration (launch.json), as the adapter reads them. */
export interface TektonDebugConfiguration {
  type: string;
  request: string;
  name: string;
  task?: string;
  params?: Record<string, unknown>;
  workspaces?: Record<string, string>;
  runtime?: string;
  engine?: string;
  network?: string;
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  cwd?: string;
  stopOnEntry?: boolean;
  timeout?: string;
  onFailure?: boolean;
  token?: string;
  taskRun?: string;
  rerun?: string;
  fromStep?: string;
  /** A child session of a PipelineRun (startDebugging): the pipeline task, the adapter's port. */
  pipelineTask?: string;
  port?: number;
  [key: string]: unknown;
}

/** The editor's active document, as far as configuration resolution cares. */
export interface ActiveDocument {
  /** File system path (undefined for an untitled or non-file document). */
  fsPath?: string;
  /** Name shown to the user (the file name, or the untitled document's title). */
  name: string;
  languageId: string;
  /** The document's text, to tell a Tekton file from other YAML. */
  text?: string;
}

export type Resolution =
  | { config: TektonDebugConfiguration; error?: undefined }
  | { config?: undefined; error: string };

const RUNTIMES = ['auto', 'container', 'local', 'kubernetes'];

export function isYamlDocument(doc: ActiveDocument): boolean {
  return doc.languageId === 'yaml' || /\.ya?ml$/i.test(doc.fsPath ?? doc.name);
}

/** True for YAML text that holds a Tekton Task or TaskRun (any document of a multi-document file). */
export function looksLikeTektonRunnable(text: string): boolean {
  return /^kind:\s*["']?(Task|TaskRun)["']?\s*(#.*)?$/m.test(text) && /^apiVersion:\s*["']?tekton\.dev\//m.test(text);
}

function isEmptyConfiguration(config: Partial<TektonDebugConfiguration>): boolean {
  return !config.type && !config.request && !config.name;
}

function launchCurrentFile(doc: ActiveDocument | undefined): Resolution {
  if (!doc) {
    return { error: 'Open a Tekton Task or TaskRun YAML file to debug it, or add a "tekton" configuration to launch.json.' };
  }
  if (!isYamlDocument(doc)) {
    return {
      error: `Cannot debug ${doc.name}: it is not a YAML file. Open a Tekton Task or TaskRun YAML file and press F5 again, `
        + 'or add a "tekton" configuration with "task" set to its path to launch.json.',
    };
  }
  if (!doc.fsPath) {
    return { error: `Save ${doc.name} to a file first: the debugger runs a Task from a file on disk.` };
  }
  return { config: launchFileConfiguration(doc.fsPath) };
}

/** "Debug <file>": launch a Task or TaskRun file (F5 without launch.json, the language server's lens). */
export function launchFileConfiguration(fsPath: string): TektonDebugConfiguration {
  return { type: DEBUG_TYPE, request: 'launch', name: `Debug ${path.basename(fsPath)}`, task: fsPath };
}

/**
 * `resolveDebugConfiguration` (before variables are substituted). An empty configuration (F5 with no
 * launch.json) becomes "launch the active file"; a launch without "task" takes the active file.
 */
export function resolveConfiguration(config: Partial<TektonDebugConfiguration>, doc: ActiveDocument | undefined): Resolution {
  if (isEmptyConfiguration(config)) {
    return launchCurrentFile(doc);
  }
  const resolved = { ...config, type: config.type ?? DEBUG_TYPE, request: config.request ?? 'launch' } as TektonDebugConfiguration;
  resolved.name = resolved.name ?? (resolved.request === 'attach' ? 'Attach to TaskRun' : 'Debug Tekton Task');
  if (resolved.request !== 'launch' && resolved.request !== 'attach') {
    return { error: `"request" must be "launch" or "attach", not "${String(resolved.request)}" (configuration "${resolved.name}").` };
  }
  if (resolved.runtime !== undefined && !RUNTIMES.includes(resolved.runtime)) {
    return {
      error: `Unknown runtime "${String(resolved.runtime)}" in configuration "${resolved.name}": set "runtime" to "auto" (the default), "container" (steps in their images), "local" (this machine) or "kubernetes" (a cluster).`,
    };
  }
  for (const field of ['params', 'workspaces'] as const) {
    const value = resolved[field];
    if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      return {
        error: `"${field}" in configuration "${resolved.name}" must be an object of names to values, e.g. {"name": "value"}.`,
      };
    }
  }
  if (resolved.request === 'attach') {
    if (resolved.pipelineTask !== undefined) {
      return { config: resolved }; // a TaskRun of a PipelineRun being debugged: the adapter knows it
    }
    if (!resolved.taskRun) {
      return { error: `Configuration "${resolved.name}" attaches to a TaskRun: set "taskRun" to its name.` };
    }
    return { config: resolved };
  }
  if (resolved.rerun) {
    return { config: resolved }; // the TaskRun comes from the cluster, not from a file
  }
  if (!resolved.task) {
    const current = launchCurrentFile(doc);
    if (current.config === undefined) {
      return { error: `Configuration "${resolved.name}" has no "task": set it to the path of a Task or TaskRun YAML file. (${current.error})` };
    }
    resolved.task = current.config.task;
  }
  return { config: resolved };
}

/**
 * `resolveDebugConfigurationWithSubstitutedVariables`: `${file}` and friends are now real paths.
 * Relative paths are left to the adapter, which resolves them against "cwd" (default: the workspace
 * folder).
 */
export function checkSubstitutedConfiguration(config: TektonDebugConfiguration, workspaceFolder: string | undefined): Resolution {
  const resolved = { ...config };
  if (resolved.cwd === undefined && workspaceFolder) {
    resolved.cwd = workspaceFolder;
  }
  if (resolved.request === 'launch' && !resolved.rerun) {
    const task = resolved.task ?? '';
    if (!task.trim()) {
      return { error: `Configuration "${resolved.name}" has an empty "task": set it to the path of a Task or TaskRun YAML file.` };
    }
    if (!/\.ya?ml$/i.test(task)) {
      return {
        error: `Cannot debug ${path.basename(task)}: "task" must be a Task or TaskRun YAML file (.yaml or .yml). `
          + 'Open the Task file and press F5 again, or change "task" in launch.json.',
      };
    }
  }
  return { config: resolved };
}

/** Configurations offered for "Run and Debug > Tekton..." (dynamic): one per Tekton file in the editor. */
export function dynamicConfigurations(docs: ActiveDocument[]): TektonDebugConfiguration[] {
  const seen = new Set<string>();
  const configs: TektonDebugConfiguration[] = [];
  for (const doc of docs) {
    if (!doc.fsPath || seen.has(doc.fsPath) || !isYamlDocument(doc) || !looksLikeTektonRunnable(doc.text ?? '')) {
      continue;
    }
    seen.add(doc.fsPath);
    configs.push(launchFileConfiguration(doc.fsPath));
  }
  return configs;
}
