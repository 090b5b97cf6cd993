/**
 * Which decider folds the streams of each category. Layers register theirs (`registerDecider('Host', hostDecider)`);
 * tools that need a stream's state without knowing its layer (`ledger state`, `host(id, asOf)`, audit) ask
 * `deciderFor(category)`. core/deciders.ts registers every layer that exists today.
 */
import type { Decider } from './decider.ts';
import { categoryOf } from '../schema/envelope.ts';

type AnyDecider = Decider<any, any, any>;
const deciders = new Map<string, AnyDecider>();

/** Registers the decider of a stream category. Registering the same decider again is a no-op; another one is refused. */
export function registerDecider(category: string, decider: AnyDecider): void {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(category)) throw new Error(`invalid category ${JSON.stringify(category)}: letters and digits, starting with a letter`);
  if (!decider || typeof decider.evolve !== 'function' || typeof decider.initialState !== 'function' || typeof decider.decide !== 'function') {
    throw new Error(`registerDecider(${category}): not a decider (needs decide, evolve, initialState)`);
  }
  const prev = deciders.get(category);
  if (prev && prev !== decider) throw new Error(`category ${category} already has a decider`);
  deciders.set(category, decider);
}

/** The decider of a category, or undefined when no layer registered one. */
export const deciderFor = (category: string): AnyDecider | undefined => deciders.get(category);

/** The decider of a stream (`Host-h_1` → the Host decider). */
export const deciderForStream = (streamId: string): AnyDecider | undefined => deciders.get(categoryOf(streamId));

/** Categories that have a decider, sorted. */
export const registeredCategories = (): string[] => [...deciders.keys()].sort();
