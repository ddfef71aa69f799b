/**
 * A DebugClient for `python -m tekton_debug dap` that also answers reverse requests.
 *
 * DebugClient (@vscode/debugadapter-testsupport) spawns `runtime executable` with one argument and
 * drops requests that come from the adapter (its dispatch only knows events and responses). This
 * subclass spawns the adapter with `-m tekton_debug dap`, records reverse requests such as
 * `runInTerminal` and answers them with what a handler returns.
 */
import * as cp from 'child_process';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { adapterPython, EXTENSION_ROOT } from './paths';

export type ReverseHandler = (request: DebugProtocol.Request) => Promise<unknown> | unknown;

export class AdapterClient extends DebugClient {
  readonly python: string;
  readonly reverseRequests: DebugProtocol.Request[] = [];
  readonly output: DebugProtocol.OutputEvent[] = [];
  /** Every message the adapter sent (events, responses, reverse requests), as JSON text. */
  readonly messages: string[] = [];
  private stderr = '';
  private process: cp.ChildProcess | undefined;
  private readonly handlers = new Map<string, ReverseHandler>();

  constructor(python = adapterPython()) {
    super(python, '', 'tekton');
    this.python = python;
    this.defaultTimeout = 15000;
    // Reverse requests arrive as messages with type "request"; the base class would drop them.
    const self = this as unknown as { dispatch(body: string): void };
    const dispatch = self.dispatch.bind(this);
    self.dispatch = (body: string) => {
      this.messages.push(body);
      const message = JSON.parse(body) as DebugProtocol.ProtocolMessage;
      if (message.type === 'request') {
        void this.answer(message as DebugProtocol.Request);
      } else {
        dispatch(body);
      }
    };
    this.on('output', (event: DebugProtocol.OutputEvent) => this.output.push(event));
  }

  /** Answers the adapter's `command` requests with the handler's result (or its error). */
  onReverseRequest(command: string, handler: ReverseHandler): void {
    this.handlers.set(command, handler);
  }

  /** All output event text so far. */
  get outputText(): string {
    return this.output.map((e) => e.body.output).join('');
  }

  override start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = cp.spawn(this.python, ['-m', 'tekton_debug', 'dap'], { cwd: EXTENSION_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      this.process = child;
      // stop() kills the adapter through the base class's own field.
      (this as unknown as { _adapterProcess: cp.ChildProcess })._adapterProcess = child;
      child.stderr!.on('data', (data: Buffer) => { this.stderr += data.toString(); });
      child.once('error', reject);
      child.once('spawn', () => {
        (this as unknown as { connect(r: NodeJS.ReadableStream, w: NodeJS.WritableStream): void }).connect(child.stdout!, child.stdin!);
        resolve();
      });
    });
  }

  /** Resolves when the adapter process has exited (after stop()). */
  exited(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return Promise.resolve();
    }
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Ends the adapter after a test; a failed test first gets the adapter's stderr printed. */
  async close(test?: Mocha.Runnable): Promise<void> {
    if (test?.state === 'failed' && this.stderr) {
      console.log(`--- adapter stderr ---\n${this.stderr}`);
    }
    await this.stop();
    await this.exited();
  }

  /** initialize as VS Code does (with runInTerminal support), then launch; configurationDone after `initialized`. */
  async launchAndConfigure(args: Record<string, unknown>, configure?: () => Promise<unknown>): Promise<void> {
    const configured = this.waitForEvent('initialized').then(async () => {
      if (configure) {
        await configure();
      }
      return this.configurationDoneRequest();
    });
    await this.initializeRequest({
      adapterID: 'tekton', clientID: 'vscode', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path',
      supportsRunInTerminalRequest: true, supportsVariableType: true,
    });
    // The adapter answers launch only after configurationDone (the spec's order): await both.
    await Promise.all([configured, this.launchRequest(args as DebugProtocol.LaunchRequestArguments)]);
  }

  private async answer(request: DebugProtocol.Request): Promise<void> {
    this.reverseRequests.push(request);
    this.emit(`reverse:${request.command}`, request);
    const handler = this.handlers.get(request.command);
    const response: DebugProtocol.Response = {
      type: 'response', seq: 0, request_seq: request.seq, command: request.command, success: true,
    };
    if (!handler) {
      response.success = false;
      response.message = `the test client does not handle ${request.command}`;
    } else {
      try {
        response.body = await handler(request);
      } catch (error) {
        response.success = false;
        response.message = error instanceof Error ? error.message : String(error);
      }
    }
    const json = JSON.stringify(response);
    this.process?.stdin?.write(`Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`, 'utf8');
  }
}
