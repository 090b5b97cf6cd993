/**
 * A small example aggregate used by the core's own tests and benchmarks (category `Account`, layer `test`):
 * open an account, deposit, withdraw without going below zero.
 */
import { z } from 'zod';
import { defineCategory, defineEvent } from '../../schema/registry.ts';
import { DomainError, type Decider } from '../decider.ts';

defineCategory('Account', 'test', 'Example aggregate of the core tests and benchmarks');

export const AccountOpened = defineEvent({ type: 'AccountOpened', version: 1, category: 'Account', description: 'An example account was opened.', schema: z.object({ owner: z.string().min(1) }).strict() });
export const Deposited = defineEvent({ type: 'Deposited', version: 1, category: 'Account', description: 'Money was put into the example account.', schema: z.object({ amount: z.number().int().positive() }).strict() });
export const Withdrawn = defineEvent({ type: 'Withdrawn', version: 1, category: 'Account', description: 'Money was taken out of the example account.', schema: z.object({ amount: z.number().int().positive() }).strict() });

export type AccountEvent =
  | { type: 'AccountOpened'; data: z.infer<typeof AccountOpened> }
  | { type: 'Deposited'; data: z.infer<typeof Deposited> }
  | { type: 'Withdrawn'; data: z.infer<typeof Withdrawn> };
export type AccountCommand =
  | { type: 'Open'; data: { owner: string } }
  | { type: 'Deposit'; data: { amount: number } }
  | { type: 'Withdraw'; data: { amount: number } };
export interface AccountState { open: boolean; balance: number }

export const accountDecider: Decider<AccountState, AccountCommand, AccountEvent> = {
  initialState: () => ({ open: false, balance: 0 }),
  evolve(state, event) {
    switch (event.type) {
      case 'AccountOpened': return { open: true, balance: 0 };
      case 'Deposited': return { open: state.open, balance: state.balance + event.data.amount };
      case 'Withdrawn': return { open: state.open, balance: state.balance - event.data.amount };
      default: return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'Open':
        if (state.open) throw new DomainError('ACCOUNT_EXISTS', 'the account is already open');
        return [{ type: 'AccountOpened', data: { owner: command.data.owner } }];
      case 'Deposit':
        if (!state.open) throw new DomainError('ACCOUNT_NOT_FOUND', 'no such account');
        return [{ type: 'Deposited', data: { amount: command.data.amount } }];
      case 'Withdraw':
        if (!state.open) throw new DomainError('ACCOUNT_NOT_FOUND', 'no such account');
        if (command.data.amount > state.balance) throw new DomainError('INSUFFICIENT_FUNDS', `balance ${state.balance} is below ${command.data.amount}`, ['amount']);
        return [{ type: 'Withdrawn', data: { amount: command.data.amount } }];
    }
  },
};
