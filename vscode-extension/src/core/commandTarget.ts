/**
 * Which debug session and thread (paused step) "Continue as Failed" and "Open Shell in Paused Step"
 * act on. No `vscode` import here.
 *
 * VS Code passes the command argument from its menus: in the Call Stack view a thread's id (a
 * number) for a thread, the session id (a string) for a session, the source URI (a string) for a
 * stack frame; nothing useful from the debug toolbar or the command palette. So: a thread id in
 * the argument wins (it is the row the user clicked), then the focused thread or frame
 * (`vscode.debug.activeStackItem`).
 */

export interface SessionLike {
  id: string;
  type: string;
}

/** `vscode.DebugThread` or `vscode.DebugStackFrame`. */
export interface StackItemLike {
  session: SessionLike;
  threadId: number;
  frameId?: number;
}

export interface CommandTarget<S extends SessionLike> {
  session: S;
  threadId: number;
}

export type TargetResolution<S extends SessionLike> =
  | { target: CommandTarget<S>; error?: undefined }
  | { target?: undefined; error: string };

function threadIdFromArgument(arg: unknown): number | undefined {
  if (typeof arg === 'number' && Number.isInteger(arg) && arg > 0) {
    return arg;
  }
  if (arg && typeof arg === 'object') {
    const id = (arg as { threadId?: unknown }).threadId;
    if (typeof id === 'number' && Number.isInteger(id) && id > 0) {
      return id;
    }
  }
  return undefined;
}

function sessionIdFromArgument(arg: unknown): string | undefined {
  if (arg && typeof arg === 'object') {
    const id = (arg as { sessionId?: unknown }).sessionId;
    return typeof id === 'string' ? id : undefined;
  }
  return undefined;
}

export function resolveCommandTarget<S extends SessionLike>(
  debugType: string,
  arg: unknown,
  activeStackItem: (StackItemLike & { session: S }) | undefined,
  activeSession: S | undefined,
  sessions: S[] = [],
): TargetResolution<S> {
  const focused = activeStackItem && activeStackItem.session.type === debugType ? activeStackItem : undefined;
  const argSessionId = sessionIdFromArgument(arg);
  const session = (argSessionId && sessions.find((s) => s.id === argSessionId))
    || focused?.session
    || (activeSession && activeSession.type === debugType ? activeSession : undefined);
  if (!session || session.type !== debugType) {
    return { error: 'No Tekton debug session is active: start one with F5 on a Task YAML file.' };
  }
  const threadId = threadIdFromArgument(arg)
    ?? (focused && focused.session.id === session.id ? focused.threadId : undefined);
  if (threadId === undefined) {
    return { error: 'Select the paused step in the Call Stack view first.' };
  }
  return { target: { session, threadId } };
}
