/**
 * One line per Debug Adapter Protocol message for the "Tekton Debug" output channel.
 * No `vscode` import here.
 */

export type Direction = 'to-adapter' | 'from-adapter';

interface ProtocolMessageLike {
  type?: string;
  seq?: number;
  command?: string;
  event?: string;
  request_seq?: number;
  success?: boolean;
  [key: string]: unknown;
}

const MAX_LENGTH = 4000;

/** Hides the launch configuration's "token" (the shared secret for the TCP adapter). */
function redact(message: ProtocolMessageLike): ProtocolMessageLike {
  const args = message.arguments as Record<string, unknown> | undefined;
  if (message.type === 'request' && args && typeof args === 'object' && 'token' in args) {
    return { ...message, arguments: { ...args, token: '***' } };
  }
  return message;
}

function summary(message: ProtocolMessageLike): string {
  switch (message.type) {
    case 'request':
      return `request ${message.command ?? '?'} #${message.seq ?? '?'}`;
    case 'response':
      return `response ${message.command ?? '?'} #${message.request_seq ?? '?'} ${message.success === false ? 'failed' : 'ok'}`;
    case 'event':
      return `event ${message.event ?? '?'}`;
    default:
      return `${message.type ?? 'message'}`;
  }
}

/** `-> request launch #2 {...json...}` for messages VS Code sends, `<- ...` for what the adapter sends. */
export function formatTraceMessage(direction: Direction, message: unknown): string {
  const arrow = direction === 'to-adapter' ? '->' : '<-';
  const msg = (message && typeof message === 'object' ? message : { type: String(message) }) as ProtocolMessageLike;
  let json = JSON.stringify(redact(msg));
  if (json.length > MAX_LENGTH) {
    json = `${json.slice(0, MAX_LENGTH)}... (${json.length} characters)`;
  }
  return `${arrow} ${summary(msg)} ${json}`;
}

export function formatAdapterExit(code: number | undefined, signal: string | undefined): string {
  if (signal) {
    return `-- the debug adapter was ended by signal ${signal}`;
  }
  return `-- the debug adapter exited${code === undefined ? '' : ` with code ${code}`}`;
}
