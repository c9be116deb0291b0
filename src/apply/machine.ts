/**
 * One xstate machine per operation: its states are the operation's steps, each invoking the
 * step as a promise actor. A transient driver error goes to `<step>_retry` and back after a
 * backoff (or at once on RETRY: timers do not survive a restore, so a resumed machine is sent
 * RETRY); anything else ends in `failed`, naming its cause.
 */
import { assign, fromPromise, setup } from 'xstate';
import { DriverError } from '../drivers/driver.ts';

export interface MachineContext {
  readonly opId: string;
  readonly attempts: number;
  readonly error?: string;
}

export interface MachineInput {
  readonly opId: string;
}

export interface StepRequest {
  readonly opId: string;
  readonly step: string;
  readonly attempt: number;
}

export const MAX_ATTEMPTS = 5;
const BACKOFF_BASE_MS = 200;

/** The wait before retry number `attempts` (1-based): doubling from 200 ms, at most 5 s. */
export const backoffMs = (attempts: number): number => Math.min(5000, BACKOFF_BASE_MS * 2 ** (attempts - 1));

export const isRetryState = (value: unknown): boolean => typeof value === 'string' && value.endsWith('_retry');

/** Build the machine for one list of step names, starting at `from`; `runStep` does the work. */
export function buildMachine(steps: readonly string[], runStep: (req: StepRequest) => Promise<void>, from: string = steps[0]!) {
  const states: Record<string, object> = {};
  steps.forEach((step, i) => {
    const next = steps[i + 1] ?? 'done';
    states[step] = {
      invoke: {
        src: 'step',
        input: ({ context }: { context: MachineContext }) => ({ opId: context.opId, step, attempt: context.attempts + 1 }),
        onDone: { target: next, actions: 'resetAttempts' },
        onError: [
          { guard: 'canRetry', target: `${step}_retry`, actions: 'countFailure' },
          { target: 'failed', actions: 'recordError' },
        ],
      },
    };
    states[`${step}_retry`] = { after: { backoff: step }, on: { RETRY: step } };
  });
  states.done = { type: 'final' };
  states.failed = { type: 'final' };

  return setup({
    types: {} as { context: MachineContext; input: MachineInput },
    actors: { step: fromPromise<void, StepRequest>(({ input }) => runStep(input)) },
    guards: {
      canRetry: ({ context, event }) =>
        errorOf(event) instanceof DriverError && (errorOf(event) as DriverError).transient && context.attempts + 1 < MAX_ATTEMPTS,
    },
    delays: { backoff: ({ context }) => backoffMs(context.attempts) },
    actions: {
      resetAttempts: assign({ attempts: 0 }),
      countFailure: assign({ attempts: ({ context }) => context.attempts + 1, error: ({ event }) => messageOf(event) }),
      recordError: assign({ error: ({ event }) => messageOf(event) }),
    },
  }).createMachine({
    id: 'operation',
    initial: from,
    context: ({ input }) => ({ opId: input.opId, attempts: 0 }),
    states: states as never,
  });
}

function errorOf(event: unknown): unknown {
  return (event as { error?: unknown }).error;
}

function messageOf(event: unknown): string {
  const e = errorOf(event);
  return e instanceof Error ? e.message : String(e);
}

export type OperationMachine = ReturnType<typeof buildMachine>;
