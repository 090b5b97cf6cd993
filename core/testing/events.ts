/** Helpers that build well-formed events for tests and benchmarks. */
import { uuidv7 } from '../ids.ts';
import type { NewEvent } from '../event-store/port.ts';

export const SYSTEM_ACTOR = { kind: 'system', id: 'test' } as const;

export function newEvent<T>(type: string, data: T, extra: Partial<NewEvent['metadata']> = {}): NewEvent<T> {
  return {
    type,
    data,
    metadata: { eventId: uuidv7(), occurredAt: new Date().toISOString(), actor: SYSTEM_ACTOR, correlationId: uuidv7(), version: 1, ...extra },
  };
}
