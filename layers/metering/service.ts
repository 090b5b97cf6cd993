/**
 * The application service of the Metering layer: operators publish price books, close periods and re-rate closed
 * ones. Validates input (SchemaError naming every wrong field), sends the command to the Billing stream, and reads
 * the book back (versions, closes, re-ratings, with their log positions).
 */
import { CommandHandler } from '../../core/command-handler.ts';
import type { EventStore } from '../../core/event-store/port.ts';
import type { Actor } from '../../schema/envelope.ts';
import { validateCommand } from '../../schema/registry.ts';
import { ClosePeriod, PublishPriceBook, ReratePeriod } from './commands.ts';
import { billingDecider } from './decider.ts';
import type { BillingEvent } from './events.ts';
import { BILLING_STREAM } from './ids.ts';
import type { PriceBookData } from './pricebook.ts';

export interface BillingBook {
  books: (PriceBookData & { version: number; reason?: string; publishedAt: string; position: number })[];
  closes: { period: string; closedAt: string; position: number; reason?: string }[];
  rerates: { period: string; version: number; reason: string; at: string; position: number }[];
  closedThrough?: string;
}

export class BillingService {
  private readonly handler: CommandHandler<any, any, any>;
  constructor(private readonly store: EventStore) {
    this.handler = new CommandHandler(store, billingDecider);
  }

  async publish(actor: Actor, input: { book: unknown; reason?: string }, occurredAt?: string) {
    const data = validateCommand(PublishPriceBook, 'PublishPriceBook', input);
    const r = await this.handler.handle(BILLING_STREAM, { type: 'PublishPriceBook', data }, { actor, occurredAt });
    const e = r.events[0] as unknown as BillingEvent | undefined;
    return { version: e?.type === 'PriceBookPublished' ? e.data.version : undefined, position: r.position };
  }

  async close(actor: Actor, input: { period: string; closedAt: string; reason?: string }) {
    const data = validateCommand(ClosePeriod, 'ClosePeriod', input);
    const r = await this.handler.handle(BILLING_STREAM, { type: 'ClosePeriod', data }, { actor, occurredAt: data.closedAt });
    return { closed: r.events.length > 0, position: r.position };
  }

  async rerate(actor: Actor, input: { period: string; version: number; reason: string }, occurredAt?: string) {
    const data = validateCommand(ReratePeriod, 'ReratePeriod', input);
    const r = await this.handler.handle(BILLING_STREAM, { type: 'ReratePeriod', data }, { actor, occurredAt });
    return { position: r.position };
  }

  async book(): Promise<BillingBook> {
    const out: BillingBook = { books: [], closes: [], rerates: [] };
    let from = 0;
    for (;;) {
      const batch = await this.store.readStream(BILLING_STREAM, { fromRevision: from, maxCount: 1000 });
      for (const s of batch) {
        const e = s as unknown as BillingEvent & { metadata: { occurredAt: string }; position: number };
        if (e.type === 'PriceBookPublished') out.books.push({ ...e.data, publishedAt: e.metadata.occurredAt, position: s.position });
        else if (e.type === 'PeriodClosed') { out.closes.push({ period: e.data.period, closedAt: e.data.closedAt, position: s.position, ...(e.data.reason && { reason: e.data.reason }) }); out.closedThrough = e.data.period; }
        else if (e.type === 'PeriodRerated') out.rerates.push({ ...e.data, at: e.metadata.occurredAt, position: s.position });
      }
      if (batch.length < 1000) break;
      from = batch[batch.length - 1].revision + 1;
    }
    return out;
  }
}
