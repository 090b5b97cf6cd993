/**
 * Picks the bus of the profile: NATS JetStream when a NATS URL is configured (LEDGER_NATS_URL), otherwise the
 * in-process bus of the embedded profile.
 */
import type { Bus } from './port.ts';
import { InProcessBus, type InProcessBusOptions } from './in-process.ts';
import { connectNatsBus, type NatsBusOptions } from './nats.ts';

export interface OpenBusOptions {
  /** `nats://…` (e.g. config.LEDGER_NATS_URL); absent = in-process. */
  natsUrl?: string;
  /** Connection name shown by nats-server (e.g. `ledger-scheduler`). */
  name?: string;
  nats?: Omit<NatsBusOptions, 'servers' | 'name'>;
  inProcess?: InProcessBusOptions;
}

export async function openBus(options: OpenBusOptions = {}): Promise<Bus> {
  if (options.natsUrl) return connectNatsBus({ ...options.nats, servers: options.natsUrl, name: options.name });
  return new InProcessBus(options.inProcess);
}
