/**
 * The project's test cluster (`python -m tests.cluster`, a Kubernetes-compatible API server with
 * Tekton on loopback) in a temporary directory of its own, with the environment kubectl and the
 * adapter need to reach it.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { adapterPython, REPOSITORY_ROOT } from './paths';

export class TestCluster {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly env: NodeJS.ProcessEnv;
  private readonly process: cp.ChildProcess;

  private constructor(prefix: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.kubeconfig = path.join(this.dir, 'kubeconfig');
    this.env = { ...process.env, KUBECONFIG: this.kubeconfig, KUBECACHEDIR: path.join(this.dir, 'kube-cache'), HOME: this.dir };
    this.process = cp.spawn(adapterPython(), ['-m', 'tests.cluster', '--kubeconfig', this.kubeconfig], { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  }

  /** Starts a cluster; resolves once it listens. ``prefix`` names its temporary directory. */
  static async start(prefix: string): Promise<TestCluster> {
    const cluster = new TestCluster(prefix);
    await new Promise<void>((resolve, reject) => {
      cluster.process.stdout?.on('data', (chunk: Buffer) => { if (chunk.toString().includes('listening')) { resolve(); } });
      cluster.process.on('exit', (code) => reject(new Error(`the test cluster exited (${code})`)));
    });
    return cluster;
  }

  /** Ends the cluster and removes its directory. */
  stop(): void {
    this.process.kill('SIGTERM');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
