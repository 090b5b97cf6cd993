/**
 * The benchmark scenarios of `ledger bench <scenario>`. Each compares against a raw baseline measured in the same run
 * and reports medians; none is a timed unit test.
 */
import type { BenchOptions, BenchResult } from './stats.ts';

export interface Scenario {
  description: string;
  run(opts: BenchOptions): Promise<BenchResult>;
}

export const scenarios: Record<string, Scenario> = {
  eventstore: {
    description: 'commands/s through the decider runtime vs raw SQLite single-row transactions; group commit; replay vs raw SELECT+JSON.parse',
    run: async (o) => (await import('./eventstore.ts')).run(o),
  },
  placement: { description: '1M anti-affine replicas on 10k hosts, committed (SQLite group commit): placements/s, p99 decision, violations, packing vs FFD', run: async (o) => (await import('./placement.ts')).run(o) },
  agent: { description: 'time to start N CNodes through the host agent (ledger → bus → agent → oci driver → report) vs N raw runc run -d', run: async (o) => (await import('./agent.ts')).run(o) },
  metering: { description: 'FOCUS CSV export of one month of 100,000 XNodes (~1M events) vs a raw read of the same events: rows/s, seconds, peak RSS', run: async (o) => (await import('./metering.ts')).run(o) },
  graphql: {
    description: 'autocannon, 50 connections: a tenant\'s viewer { projects(first: 20) } through the full API (auth, metrics, JIT, response cache; also without the cache) vs a bare mercurius { hello }: req/s, p50/p99, ratio',
    run: async (o) => (await import('./graphql.ts')).run(o),
  },
  replay: { description: 'rebuild every read model from zero over 1M events generated through the real deciders vs a raw SELECT+JSON.parse of the same rows: events/s, ratio', run: async (o) => (await import('./replay.ts')).run(o) },
};
