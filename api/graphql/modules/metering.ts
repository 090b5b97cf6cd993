/**
 * Metering in the tenant console: `Project.usage(period)` and `Component.usage(period)`, the same numbers as the
 * billing export (projections/metering/usage.ts). Scoping comes from the types they extend: a Project or Component
 * object only reaches a resolver when the caller may see it (visibleProject / visibleComponent).
 */
import { floorHour, isPeriod, periodEnd } from '../../../layers/metering/period.ts';
import { meteringIndexProjection } from '../../../projections/metering/index-projection.ts';
import { usageOf } from '../../../projections/metering/usage.ts';
import { requirePrincipal } from '../access.ts';
import type { ApiContext } from '../context.ts';
import { badInput } from '../errors.ts';
import { defineModule } from '../module.ts';

async function usage(ctx: ApiContext, scope: Parameters<typeof usageOf>[3], period: string) {
  requirePrincipal(ctx);
  if (typeof period !== 'string' || !isPeriod(period)) throw badInput('period must be YYYY-MM (a UTC calendar month), e.g. "2025-01"');
  const { ledger } = ctx;
  await ctx.settle(await ledger.store.headPosition());
  const position = ledger.projections.statuses().find((s) => s.name === meteringIndexProjection.name)?.position ?? 0;
  return usageOf(ledger.store, ledger.readModels, position, scope, period, { asOf: Math.min(periodEnd(period), floorHour(Date.now())) });
}

export const module = defineModule({
  name: 'metering',
  schema: ['metering.graphql'],
  projections: [meteringIndexProjection],
  resolvers: {
    Project: {
      usage: (project: { id: string }, { period }: { period: string }, ctx: ApiContext) => usage(ctx, { kind: 'project', projectId: project.id }, period),
    },
    Component: {
      usage: (component: { id: string }, { period }: { period: string }, ctx: ApiContext) => usage(ctx, { kind: 'component', componentId: component.id }, period),
    },
  } as any,
});
