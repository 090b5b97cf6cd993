/**
 * The billing book: one stream (`Billing-main`) holding the price book versions, the closed periods and the
 * re-ratings, so one expected revision protects the rules that tie them together:
 *
 *   - versions are 1, 2, 3…; every version has the currency of the first;
 *   - a price book never takes effect inside a closed period (that would silently change a closed export):
 *     re-rate the period instead;
 *   - periods close in order: closing a period closes every earlier one; a period closes only after it ended;
 *   - only a closed period is re-rated, with a published version and a reason.
 */
import './events.ts';
import './commands.ts';
import { DomainError, type Decider } from '../../core/decider.ts';
import type { BillingCommand } from './commands.ts';
import type { BillingEvent } from './events.ts';
import { nextPeriod, periodEnd, periodStart } from './period.ts';
import { PriceBookInput } from './pricebook.ts';

export interface BillingState {
  versions: { version: number; effectiveFrom: string; currency: string }[];
  /** Every period up to and including this one is closed. */
  closedThrough?: string;
  rerates: { period: string; version: number }[];
}

export const billingDecider: Decider<BillingState, BillingCommand, BillingEvent> = {
  initialState: () => ({ versions: [], rerates: [] }),
  evolve(state, event) {
    switch (event.type) {
      case 'PriceBookPublished': {
        const d = event.data;
        return { ...state, versions: [...state.versions, { version: d.version, effectiveFrom: d.effectiveFrom, currency: d.currency }] };
      }
      case 'PeriodClosed': return { ...state, closedThrough: event.data.period };
      case 'PeriodRerated': return { ...state, rerates: [...state.rerates, { period: event.data.period, version: event.data.version }] };
      default: return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'PublishPriceBook': {
        const book = PriceBookInput.parse(command.data.book);
        const first = state.versions[0];
        if (first && first.currency !== book.currency) {
          throw new DomainError('CURRENCY_MISMATCH', `price books are in ${first.currency}; version ${state.versions.length + 1} may not switch to ${book.currency}`, ['book', 'currency']);
        }
        if (state.closedThrough !== undefined && Date.parse(book.effectiveFrom) < periodEnd(state.closedThrough)) {
          throw new DomainError('EFFECTIVE_IN_CLOSED_PERIOD',
            `a price book effective from ${book.effectiveFrom} would change closed periods (closed through ${state.closedThrough}); make it effective from ${nextPeriod(state.closedThrough)} or later, and re-rate a closed period explicitly (PeriodRerated)`,
            ['book', 'effectiveFrom']);
        }
        const version = state.versions.length + 1;
        return [{ type: 'PriceBookPublished', data: { ...book, version, ...(command.data.reason ? { reason: command.data.reason } : {}) } }];
      }
      case 'ClosePeriod': {
        const { period, closedAt, reason } = command.data;
        if (state.closedThrough !== undefined && period <= state.closedThrough) return [];
        if (Date.parse(closedAt) < periodEnd(period)) {
          throw new DomainError('PERIOD_NOT_ENDED', `period ${period} ends at ${new Date(periodEnd(period)).toISOString()}; it cannot be closed at ${closedAt}`, ['period']);
        }
        return [{ type: 'PeriodClosed', data: { period, closedAt, ...(state.closedThrough !== undefined && { previous: state.closedThrough }), ...(reason ? { reason } : {}) } }];
      }
      case 'ReratePeriod': {
        const { period, version, reason } = command.data;
        if (state.closedThrough === undefined || period > state.closedThrough) {
          throw new DomainError('PERIOD_NOT_CLOSED', `period ${period} is not closed${state.closedThrough ? ` (closed through ${state.closedThrough})` : ''}: an open period is rated with the price books in effect; nothing to re-rate`, ['period']);
        }
        if (!state.versions.some((v) => v.version === version)) {
          throw new DomainError('PRICE_BOOK_NOT_FOUND', `price book version ${version} does not exist (latest: ${state.versions.length || 'none'})`, ['version']);
        }
        return [{ type: 'PeriodRerated', data: { period, version, reason } }];
      }
      default: return [];
    }
  },
};

/** Start (ms) of the first period that is still open. */
export const firstOpenStart = (state: BillingState): number | undefined =>
  state.closedThrough === undefined ? undefined : periodStart(nextPeriod(state.closedThrough));
