// A plugin's lifecycle states and which state may follow which: the one place the runner's
// transitions are decided. A move the table does not allow is a bug in the runner and throws.

export type PluginState =
  'stopped' | 'disabled' | 'starting' | 'running' | 'reloading' | 'crashed' | 'failed' | 'error';

/** From every state the operator may stop or disable a plugin, or start it afresh (restart, new configuration, new module). */
const ALWAYS: readonly PluginState[] = ['starting', 'stopped', 'disabled'];

/** The states that may follow each state. */
export const TRANSITIONS: Readonly<Record<PluginState, readonly PluginState[]>> = {
  stopped: ALWAYS,
  disabled: ALWAYS,
  // plugin_start returned 0 (running) or not (error), the module did not load (error), it trapped
  // (crashed, or failed at the crash limit) or was stopped over its CPU share (failed).
  starting: [...ALWAYS, 'running', 'error', 'crashed', 'failed'],
  running: [...ALWAYS, 'reloading', 'crashed', 'failed'],
  // The new module runs, or it did not load and the old one stays (running both); its plugin_start
  // waits for a fetch (starting); it returned an error, trapped or went over its CPU share.
  reloading: [...ALWAYS, 'running', 'error', 'crashed', 'failed'],
  // The restart timer starts a crashed plugin again; failed and error wait for the operator.
  crashed: ALWAYS,
  failed: ALWAYS,
  error: ALWAYS,
};

export function mayFollow(from: PluginState, to: PluginState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The instance takes calls (deltas, poll, PUT, handlers): running, or running the old module while the new one loads. */
export function serving(state: PluginState): boolean {
  return state === 'running' || state === 'reloading';
}

/** The current state, changed only along the table. */
export class Lifecycle {
  constructor(private current: PluginState) {}

  get state(): PluginState {
    return this.current;
  }

  get serving(): boolean {
    return serving(this.current);
  }

  moveTo(to: PluginState): void {
    if (!mayFollow(this.current, to)) throw new Error(`plugin lifecycle: ${this.current} → ${to} is not a transition`);
    this.current = to;
  }
}
