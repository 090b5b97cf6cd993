import { z } from 'zod';
import { defineCommand } from '../../schema/registry.ts';
import './categories.ts';
import { Period, UtcTime } from './period.ts';
import { PriceBookInput } from './pricebook.ts';

export const PublishPriceBook = defineCommand({
  type: 'PublishPriceBook', category: 'Billing',
  description: 'Publish the next version of the price book (operator). Refused when it would take effect inside a closed period (re-rate that period instead) or change the currency.',
  schema: z.object({ book: PriceBookInput, reason: z.string().trim().max(1000).optional() }).strict(),
});
export const ClosePeriod = defineCommand({
  type: 'ClosePeriod', category: 'Billing',
  description: 'Close a billing period and every earlier one (operator): refused before the period has ended. Closing a closed period does nothing.',
  schema: z.object({ period: Period, closedAt: UtcTime, reason: z.string().trim().max(1000).optional() }).strict(),
});
export const ReratePeriod = defineCommand({
  type: 'ReratePeriod', category: 'Billing',
  description: 'Re-rate a closed period with a published price book version, for a stated reason (operator). The difference is billed as corrections.',
  schema: z.object({ period: Period, version: z.number().int().min(1), reason: z.string().trim().min(1, 'a reason is required').max(1000) }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type BillingCommand =
  | { type: 'PublishPriceBook'; data: D<typeof PublishPriceBook> }
  | { type: 'ClosePeriod'; data: D<typeof ClosePeriod> }
  | { type: 'ReratePeriod'; data: D<typeof ReratePeriod> };
export const billingCommandSchemas = { PublishPriceBook, ClosePeriod, ReratePeriod } as const;
