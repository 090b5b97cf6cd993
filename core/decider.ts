/**
 * Deciders (Emmett / Chassaing style): pure functions, no I/O.
 *   decide(command, state) → events, or throws DomainError
 *   evolve(state, event)   → state
 *   initialState()         → state
 */
export interface Command<Type extends string = string, Data = unknown> { type: Type; data: Data }
export interface DomainEvent<Type extends string = string, Data = unknown> { type: Type; data: Data }

export interface Decider<State, C extends Command, E extends DomainEvent> {
  decide(command: C, state: State): E[];
  evolve(state: State, event: E): State;
  initialState(): State;
}

/** A business rule said no. `code` is stable (clients match on it); `field` points at the input that caused it. */
export class DomainError extends Error {
  constructor(readonly code: string, message: string, readonly field?: string[]) {
    super(message);
    this.name = 'DomainError';
  }
}

export const fold = <S, E>(decider: Pick<Decider<S, any, any>, 'evolve' | 'initialState'>, events: E[], from?: S): S =>
  events.reduce((s, e) => decider.evolve(s, e), from ?? decider.initialState());
