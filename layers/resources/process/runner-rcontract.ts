/**
 * Runs the RContract opening/closing process (open-rcontract.ts) against the store: every event of
 * RCONTRACT_PROCESS_EVENTS that names a contract (`data.contractId`) is handed to `reactRContract` with the
 * contract's state as stored, and the commands it returns are executed (refusals fed back). The process keeps no
 * state of its own: the RContract stream is its state.
 */
import type { CheckpointStore } from '../../../core/checkpoint.ts';
import type { StoredEvent } from '../../../core/event-store/port.ts';
import type { Actor } from '../../../schema/envelope.ts';
import { stream } from '../common/ids.ts';
import { rcontractDecider, type RContractState } from '../rcontract/decider.ts';
import { reactRContract, RCONTRACT_PROCESS_EVENTS } from './open-rcontract.ts';
import { processEvent, runReaction, startRunner, storedState, type ProcessRunner, type RunnerLedger, type RunnerLog } from './runner.ts';
import type { ProcessEvent } from './types.ts';

export const RCONTRACT_PROCESS_ACTOR: Actor = { kind: 'system', id: 'rcontract-process' };
export const RCONTRACT_RUNNER = 'rcontract';

export interface RContractRunnerOptions {
  checkpoints: CheckpointStore;
  log?: RunnerLog;
  batchSize?: number;
}

/** Reacts to one event (or refusal) for one contract, sending what the process asks for. */
export async function reactForContract(ledger: RunnerLedger, contractId: string, event: ProcessEvent): Promise<void> {
  const state = await storedState<RContractState>(ledger.store, rcontractDecider, stream.rcontract(contractId));
  const commands = reactRContract(event, state);
  await runReaction(ledger, RCONTRACT_PROCESS_ACTOR, commands, async (rejection) =>
    reactRContract(rejection, await storedState<RContractState>(ledger.store, rcontractDecider, stream.rcontract(contractId))), state.tenantId);
}

export function startRContractRunner(ledger: RunnerLedger, options: RContractRunnerOptions): Promise<ProcessRunner> {
  return startRunner({
    ledger,
    name: RCONTRACT_RUNNER,
    eventTypes: RCONTRACT_PROCESS_EVENTS.filter((t) => t !== 'CommandRejected'),
    checkpoints: options.checkpoints,
    batchSize: options.batchSize,
    log: options.log,
    async handle(e: StoredEvent) {
      const contractId = (e.data as { contractId?: unknown } | null)?.contractId;
      if (typeof contractId !== 'string') return; // a slice of no contract
      await reactForContract(ledger, contractId, processEvent(e));
    },
  });
}
