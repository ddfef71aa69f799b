/**
 * Secrets, as VS Code's client sees them: a Task whose params are marked secret (a string, an
 * array, an object) and whose step reads a Secret (TEKTON_DEBUG_SECRET_API_TOKEN locally). No
 * value may appear in any message the adapter sends: output, threads, frames, scopes, variables,
 * hover, watch, the REPL, exceptionInfo.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugProtocol } from '@vscode/debugprotocol';
import { AdapterClient } from '../support/adapterClient';

const TOKEN = 'tok-71d0c2e5aa';
const KEYS = ['key-first-9a1', 'key-second-9a2'];
const CREDS = { user: 'robot-user-9a3', password: 'pw-9a4-secret' };
const API = 'api-9a5-from-a-secret';
const SECRETS = [TOKEN, ...KEYS, CREDS.user, CREDS.password, API];

const TASK = `apiVersion: tekton.dev/v1
kind: Task
metadata: {name: secretive}
spec:
  params:
    - {name: token}
    - {name: keys, type: array}
    - name: creds
      type: object
      properties: {user: {type: string}, password: {type: string}}
  workspaces: [{name: src}]
  steps:
    - name: prepare
      image: alpine
      script: |
        touch "$(workspaces.src.path)/$(params.token).txt"
        echo "keys $(params.keys[0]) $(params.keys[1]) user $(params.creds.user) api $API_TOKEN"
    - name: build
      image: alpine
      workingDir: $(workspaces.src.path)/$(params.token)
      env:
        - name: API_TOKEN
          valueFrom: {secretKeyRef: {name: api, key: token}}
      command: [sh, -c, 'echo "api $API_TOKEN arg $0"; exit 3', "$(params.token)"]
`;

describe('debug adapter: secrets', function () {
  this.timeout(60000);
  let dc: AdapterClient;
  let dir: string;
  const saved = process.env.TEKTON_DEBUG_SECRET_API_TOKEN;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tekton-secrets-'));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'task.yaml'), TASK);
    process.env.TEKTON_DEBUG_SECRET_API_TOKEN = API; // the adapter inherits it, as from a shell
    dc = new AdapterClient();
    await dc.start();
  });

  afterEach(async function () {
    await dc.close(this.currentTest);
    if (saved === undefined) {
      delete process.env.TEKTON_DEBUG_SECRET_API_TOKEN;
    } else {
      process.env.TEKTON_DEBUG_SECRET_API_TOKEN = saved;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Every variable under a reference, a few levels down. */
  async function walk(ref: number, depth = 0): Promise<DebugProtocol.Variable[]> {
    const found: DebugProtocol.Variable[] = [];
    for (const v of (await dc.variablesRequest({ variablesReference: ref })).body.variables) {
      found.push(v);
      if (v.variablesReference && depth < 3) {
        found.push(...await walk(v.variablesReference, depth + 1));
      }
    }
    return found;
  }

  it('never shows a secret in output, variables, evaluate or exceptionInfo', async () => {
    const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.launchAndConfigure({
      type: 'tekton', request: 'launch', name: 'secrets', task: path.join(dir, 'task.yaml'),
      params: { token: TOKEN, keys: KEYS, creds: CREDS }, workspaces: { src: path.join(dir, 'src') },
      secrets: ['token', 'keys', 'creds'],
    });
    const threadId = (await stopped).body.threadId!;
    await dc.threadsRequest();
    const frame = (await dc.stackTraceRequest({ threadId })).body.stackFrames[0];
    const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
    const variables: DebugProtocol.Variable[] = [];
    for (const scope of scopes) {
      variables.push(...await walk(scope.variablesReference));
    }
    const byName = new Map(variables.map((v) => [v.name, v.value]));
    assert.strictEqual(byName.get('API_TOKEN'), '********');
    assert.strictEqual(byName.get('token'), '********');
    assert.ok(variables.some((v) => v.name === '********.txt'), 'the workspace file, its name masked');

    const evaluate = async (expression: string, context: string) =>
      (await dc.evaluateRequest({ expression, context, frameId: frame.id })).body.result;
    assert.strictEqual(await evaluate('$(params.keys[0])', 'watch'), '********');
    assert.strictEqual(await evaluate('$(params.creds.password)', 'hover'), '********');
    assert.strictEqual(await evaluate('$API_TOKEN', 'watch'), '********');
    assert.strictEqual(await evaluate('echo "$API_TOKEN $(params.token)"; pwd', 'repl'),
      `******** ********\n${path.join(dir, 'src')}/********`);
    await dc.exceptionInfoRequest({ threadId });
    assert.match(dc.outputText, /keys \*{8} \*{8} user \*{8} api\s*\n/);
    assert.match(dc.outputText, /api \*{8} arg \*{8}/);

    const seen = dc.messages.join('\n');
    assert.deepStrictEqual(SECRETS.filter((s) => seen.includes(s)), []);
  });
});
