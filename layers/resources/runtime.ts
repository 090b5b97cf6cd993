/**
 * Everything the Resources layer runs in the background of a ledger process: the RContract opening/closing
 * process, the move/copy process, and the host health monitor. `ledger serve` starts it next to the API
 * (embedded profile: one process does everything); stop it before closing the ledger.
 *
 *   const resources = await startResources(ledger, { config });
 *   …
 *   await resources.stop(); await ledger.close();
 */
import { join } from 'node:path';
import type { Bus } from '../../core/bus/port.ts';
import { openBus } from '../../core/bus/open.ts';
import { SqliteCheckpointStore, type CheckpointStore } from '../../core/checkpoint.ts';
import type { Config } from '../../core/config.ts';
import type { Ledger } from '../../core/ledger.ts';
import { startHealthMonitor, type HealthLog, type HealthMonitor } from './health/monitor.ts';
import { startMoveRunner } from './process/runner-move.ts';
import { startRContractRunner } from './process/runner-rcontract.ts';
import type { ProcessRunner, RunnerLog } from './process/runner.ts';

export interface ResourcesRuntime {
  rcontracts: ProcessRunner;
  moves: ProcessRunner & { active(): string[] };
  /** The health monitor, when a bus was available. */
  health?: HealthMonitor;
  /** Resolves once both processes have handled the whole log and it stopped growing (what they sent is done too). */
  settle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ResourcesRuntimeOptions {
  /** Where the processes keep their checkpoints (default <data>/checkpoints.sqlite). */
  checkpoints?: CheckpointStore;
  /**
   * The bus heartbeats arrive on: default the ledger's bus; else, when LEDGER_NATS_URL is set, a NATS connection of
   * its own; else no health monitor (an in-process bus of the embedded profile must be the one the agents use).
   */
  bus?: Bus;
  /** false: no health monitor. */
  health?: boolean | { watchRegistered?: boolean; intervalMs?: number; misses?: number; log?: HealthLog };
  log?: RunnerLog;
}

export async function startResources(ledger: Ledger, options: ResourcesRuntimeOptions = {}): Promise<ResourcesRuntime> {
  const config: Config = ledger.config;
  const ownCheckpoints = !options.checkpoints;
  const checkpoints = options.checkpoints ?? new SqliteCheckpointStore(join(config.dataDir, 'checkpoints.sqlite'));
  const rcontracts = await startRContractRunner(ledger, { checkpoints, log: options.log });
  const moves = await startMoveRunner(ledger, { checkpoints, log: options.log });

  let bus = options.bus ?? ledger.bus;
  let ownBus: Bus | undefined;
  let health: HealthMonitor | undefined;
  if (options.health !== false) {
    if (!bus && config.LEDGER_NATS_URL) bus = ownBus = await openBus({ natsUrl: config.LEDGER_NATS_URL, name: 'ledger-health' });
    if (bus) {
      const h = typeof options.health === 'object' ? options.health : {};
      health = await startHealthMonitor({
        ledger, bus, watchRegistered: h.watchRegistered, log: h.log,
        intervalMs: h.intervalMs ?? config.LEDGER_HEARTBEAT_INTERVAL_MS, misses: h.misses ?? config.LEDGER_HEARTBEAT_MISSES,
      });
    }
  }

  return {
    rcontracts, moves, health,
    async settle(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (let head = -1; ;) {
        const now = await ledger.store.headPosition();
        if (now === head) return;
        head = now;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`the Resources processes did not settle within ${timeoutMs} ms (log at ${now})`);
        await Promise.all([rcontracts.waitFor(head, left), moves.waitFor(head, left)]);
      }
    },
    async stop() {
      await health?.stop();
      await Promise.all([rcontracts.stop(), moves.stop()]);
      await ownBus?.close();
      if (ownCheckpoints) await checkpoints.close();
    },
  };
}
