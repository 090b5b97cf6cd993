/**
 * Given/when/then specifications for deciders (after Emmett's DeciderSpecification):
 *
 *   spec(hostDecider).given([HostRegistered…]).when({ type: 'SliceXNode', data }).then([XNodeSliced…])
 *   spec(hostDecider).given([]).when(cmd).thenThrows('HOST_NOT_FOUND')
 */
import assert from 'node:assert/strict';
import { DomainError, type Command, type Decider, type DomainEvent } from './decider.ts';

export function spec<S, C extends Command, E extends DomainEvent>(decider: Decider<S, C, E>) {
  return {
    given(events: E[]) {
      return {
        when(command: C) {
          const run = () => decider.decide(command, events.reduce(decider.evolve, decider.initialState()));
          return {
            then(expected: E[] | ((events: E[]) => void)) {
              const actual = run();
              if (typeof expected === 'function') expected(actual); else assert.deepEqual(actual, expected);
              return actual;
            },
            thenNothing() { assert.deepEqual(run(), []); },
            thenThrows(code: string, messageIncludes?: string) {
              try {
                const produced = run();
                assert.fail(`expected DomainError ${code}, got events ${JSON.stringify(produced)}`);
              } catch (error) {
                if (!(error instanceof DomainError)) throw error;
                assert.equal(error.code, code, `expected error code ${code}, got ${error.code}: ${error.message}`);
                if (messageIncludes) assert.ok(error.message.includes(messageIncludes), `message "${error.message}" lacks "${messageIncludes}"`);
              }
            },
          };
        },
      };
    },
  };
}
