import { z } from 'zod';
import { defineEvent } from '../../schema/registry.ts';
import './categories.ts';
import { Period, UtcTime } from './period.ts';
import { PriceBookInput } from './pricebook.ts';

const Reason = z.string().trim().max(1000);

export const PriceBookPublished = defineEvent({
  type: 'PriceBookPublished', version: 1, category: 'Billing',
  description: 'A price book (version n) was published: unit prices per meter (or tiers), state weights, template weights (normal / standard / enhanced), currency. It prices usage from `effectiveFrom` on, in periods not yet closed; closed periods change only through PeriodRerated.',
  schema: PriceBookInput.extend({ version: z.number().int().min(1), reason: Reason.optional() }).strict(),
});
export const PeriodClosed = defineEvent({
  type: 'PeriodClosed', version: 1, category: 'Billing',
  description: 'A billing period (and every earlier one) was closed: its export is fixed as of this event, byte for byte. Usage recorded later for it appears as ChargeClass=Correction rows in the next export.',
  schema: z.object({ period: Period, closedAt: UtcTime, previous: Period.optional(), reason: Reason.optional() }).strict(),
});
export const PeriodRerated = defineEvent({
  type: 'PeriodRerated', version: 1, category: 'Billing',
  description: 'An operator re-rated a closed period with price book `version` (for the whole period), for `reason`. The difference appears as ChargeClass=Correction rows in the next export; the closed export does not change.',
  schema: z.object({ period: Period, version: z.number().int().min(1), reason: Reason.min(1, 'a reason is required') }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type BillingEvent =
  | { type: 'PriceBookPublished'; data: D<typeof PriceBookPublished> }
  | { type: 'PeriodClosed'; data: D<typeof PeriodClosed> }
  | { type: 'PeriodRerated'; data: D<typeof PeriodRerated> };
export const BILLING_EVENTS = ['PriceBookPublished', 'PeriodClosed', 'PeriodRerated'] as const;
