/**
 * "Tekton: Re-run TaskRun with Debugging": list the namespace's recent failed TaskRuns (through
 * `tekton-debug taskruns --failed --json`, with the user's kubeconfig), let the user pick one, and
 * launch a re-run of it (`"rerun"`). No `vscode` import: testable on its own.
 */
import * as cp from 'child_process';
import { DEBUG_TYPE, TektonDebugConfiguration } from './configuration';

export interface ClusterOptions {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
}

/** One TaskRun as `tekton-debug taskruns --json` reports it. */
export interface TaskRunSummary {
  name: string;
  status: string;
  succeeded: boolean | null;
  task: string;
  started: string | null;
  finished: string | null;
  message: string;
}

export function taskRunsArguments(options: ClusterOptions): string[] {
  const args = ['-m', 'tekton_debug', 'taskruns', '--failed', '--json'];
  if (options.namespace) {
    args.push('-n', options.namespace);
  }
  if (options.context) {
    args.push('--context', options.context);
  }
  if (options.kubeconfig) {
    args.push('--kubeconfig', options.kubeconfig);
  }
  return args;
}

/** The failed TaskRuns, most recent first; rejects with the adapter's own message on an error. */
export function listFailedTaskRuns(python: string, options: ClusterOptions, timeoutMs = 30000): Promise<TaskRunSummary[]> {
  return new Promise((resolve, reject) => {
    cp.execFile(python, taskRunsArguments(options), { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const said = String(stderr).trim().replace(/^error: /, '');
        reject(new Error(said || error.message));
        return;
      }
      try {
        resolve(JSON.parse(String(stdout)) as TaskRunSummary[]);
      } catch {
        reject(new Error(`tekton-debug taskruns answered something that is not JSON: ${String(stdout).slice(0, 200)}`));
      }
    });
  });
}

/** "3 min ago", "2 h ago", "4 d ago". */
export function ago(when: string | null, now: Date = new Date()): string {
  if (!when) {
    return '';
  }
  const seconds = Math.max(0, (now.getTime() - new Date(when).getTime()) / 1000);
  if (seconds < 90) {
    return `${Math.round(seconds)} s ago`;
  }
  if (seconds < 5400) {
    return `${Math.round(seconds / 60)} min ago`;
  }
  if (seconds < 129600) {
    return `${Math.round(seconds / 3600)} h ago`;
  }
  return `${Math.round(seconds / 86400)} d ago`;
}

export interface PickItem {
  label: string;
  description: string;
  detail: string;
  taskRun: string;
}

export function pickItems(runs: TaskRunSummary[], now: Date = new Date()): PickItem[] {
  return runs.map((run) => ({
    label: run.name,
    description: [run.status, run.task, ago(run.finished ?? run.started, now)].filter(Boolean).join(' · '),
    detail: run.message,
    taskRun: run.name,
  }));
}

export function rerunConfiguration(taskRun: string, options: ClusterOptions): TektonDebugConfiguration {
  const config: TektonDebugConfiguration = {
    type: DEBUG_TYPE, request: 'launch', name: `Re-run ${taskRun}`, rerun: taskRun, runtime: 'kubernetes',
  };
  for (const key of ['namespace', 'context', 'kubeconfig'] as const) {
    if (options[key]) {
      config[key] = options[key];
    }
  }
  return config;
}
