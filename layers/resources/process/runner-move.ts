/**
 * Runs the XNode move/copy process (move-xnode.ts) against the store. A move starts with `MoveRequested` on its
 * `Move-mv_…` stream (RequestMove: the API, or the Components layer); the runner then hands every slice event of the
 * move's source or target (and the contract item's RContractItemMoved) to `reactMove`, executes the commands it
 * returns (refusals fed back) and records each new phase on the Move stream (RecordMoveProgress). The Move stream is
 * the process's durable state: a restarted runner resumes every unfinished move from it. Events re-read after a
 * restart are harmless: each phase reacts only to the event that ends it, and commands repeat with the same ids.
 */
import type { CheckpointStore } from '../../../core/checkpoint.ts';
import type { StoredEvent } from '../../../core/event-store/port.ts';
import type { Actor } from '../../../schema/envelope.ts';
import { deriveCommandId, stream } from '../common/ids.ts';
import { moveDecider, type MoveAggregate } from '../move/decider.ts';
import { isFinished, MOVE_EVENTS, reactMove, startMove, type MoveState } from './move-xnode.ts';
import { processEvent, runReaction, sendCommand, startRunner, type ProcessRunner, type RunnerLedger, type RunnerLog } from './runner.ts';
import type { ProcessEvent } from './types.ts';

export const MOVE_PROCESS_ACTOR: Actor = { kind: 'system', id: 'move-process' };
export const MOVE_RUNNER = 'move';

export interface MoveRunnerOptions {
  checkpoints: CheckpointStore;
  log?: RunnerLog;
  batchSize?: number;
}

type Active = { moveId: string; state: MoveState; recorded: string };

const recorded = (s: MoveState) => JSON.stringify([s.phase, s.sourceWasRunning, s.stoppedSource, s.failure?.code ?? null, s.warning ?? null]);

function concerns(move: MoveState, e: ProcessEvent): boolean {
  const d = e.data ?? {};
  if (e.type === 'RContractItemMoved') return d.contractId !== undefined && d.contractId === move.request.contract?.contractId;
  const on = (x: { hostId: string; xnodeId: string }) => d.hostId === x.hostId && d.xnodeId === x.xnodeId;
  return on(move.request.source) || on(move.request.target);
}

export async function startMoveRunner(ledger: RunnerLedger, options: MoveRunnerOptions): Promise<ProcessRunner & { active(): string[] }> {
  const moves = new Map<string, Active>();
  const finished = new Set<string>();

  // Unfinished moves, from their streams (the durable state of the process).
  const folded = new Map<string, MoveAggregate>();
  for (let after = 0; ;) {
    const batch = await ledger.store.readAll({ after, maxCount: 1000, filter: { categories: ['Move'] } });
    for (const e of batch) folded.set(e.streamId, moveDecider.evolve(folded.get(e.streamId) ?? moveDecider.initialState(), e as any));
    if (batch.length < 1000) break;
    after = batch[batch.length - 1].position;
  }
  for (const m of folded.values()) {
    if (m.status !== 'requested') continue;
    if (isFinished(m)) finished.add(m.moveId);
    else moves.set(m.moveId, { moveId: m.moveId, state: m, recorded: recorded(m) });
  }
  const settle = (move: Active) => { if (isFinished(move.state)) { moves.delete(move.moveId); finished.add(move.moveId); } };

  /** Applies one input to one move: send its commands (refusals come back here), record the phase it reached. */
  async function step(move: Active, event: ProcessEvent, commands?: ReturnType<typeof startMove>['commands']): Promise<void> {
    if (commands === undefined) {
      const next = reactMove(event, move.state);
      move.state = next.state;
      commands = next.commands;
    }
    await runReaction(ledger, MOVE_PROCESS_ACTOR, commands, async (rejection) => {
      const r = reactMove(rejection, move.state);
      move.state = r.state;
      await record(move, rejection);
      return r.commands;
    });
    await record(move, event);
    settle(move);
  }

  async function record(move: Active, cause: ProcessEvent): Promise<void> {
    if (recorded(move.state) === move.recorded) return;
    const s = move.state;
    const refusal = await sendCommand(ledger, {
      stream: stream.move(move.moveId),
      command: {
        type: 'RecordMoveProgress',
        data: {
          moveId: move.moveId, phase: s.phase, sourceWasRunning: s.sourceWasRunning, stoppedSource: s.stoppedSource,
          ...(s.failure && { failure: s.failure }), ...(s.warning !== undefined && { warning: s.warning }),
        },
      },
      commandId: deriveCommandId(cause.metadata.eventId, `progress:${move.moveId}:${s.phase}`),
      causationId: cause.metadata.eventId,
      correlationId: `move_${move.moveId}`,
    }, MOVE_PROCESS_ACTOR);
    if (refusal) (options.log ?? console.error)(`move ${move.moveId}: could not record phase ${s.phase}: ${refusal.code} ${refusal.message}`);
    else move.recorded = recorded(s);
  }

  const runner = await startRunner({
    ledger,
    name: MOVE_RUNNER,
    eventTypes: ['MoveRequested', ...MOVE_EVENTS.filter((t) => t !== 'CommandRejected')],
    checkpoints: options.checkpoints,
    batchSize: options.batchSize,
    log: options.log,
    async handle(e: StoredEvent) {
      const pe = processEvent(e);
      if (e.type === 'MoveRequested') {
        const moveId = (e.data as { moveId: string }).moveId;
        if (finished.has(moveId)) return; // a move that already ended is not started again
        let move = moves.get(moveId);
        if (!move) {
          const state = moveDecider.evolve(moveDecider.initialState(), e as any);
          if (state.status !== 'requested') return;
          move = { moveId, state, recorded: recorded(state) };
          moves.set(moveId, move);
        }
        // (re)send the first step: repeats carry the same commandIds
        await step(move, pe, startMove(move.state.request, pe).commands);
        return;
      }
      for (const move of [...moves.values()]) if (concerns(move.state, pe)) await step(move, pe);
    },
  });
  return Object.assign(runner, { active: () => [...moves.keys()] });
}
