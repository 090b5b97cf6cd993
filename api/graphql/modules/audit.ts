/**
 * The audit part of the API: `auditLog(filter)` (operators only), the same timeline as `ledger audit log`
 * (core/audit/log.ts), over the `audit` read model that `ledger serve` projects (declared here).
 */
import { queryAuditLog, validateFilter, type AuditEntry, type AuditFilter } from '../../../core/audit/log.ts';
import { categoryOf } from '../../../schema/envelope.ts';
import { auditProjection } from '../../../projections/audit.ts';
import { requireOperator } from '../access.ts';
import type { ApiContext } from '../context.ts';
import { badInput } from '../errors.ts';
import { defineModule } from '../module.ts';
import { pageArgs, type PageArgs } from '../relay.ts';

const LIST = 'auditLog';

interface FilterInput { stream?: string | null; category?: string | null; tenantId?: string | null; actor?: string | null; correlationId?: string | null; from?: string | null; to?: string | null }

export function filterOf(input: FilterInput | null | undefined): AuditFilter {
  const i = input ?? {};
  const f: AuditFilter = {};
  if (i.stream != null) f.stream = i.stream;
  if (i.category != null) f.category = i.category;
  if (i.tenantId != null) f.tenant = i.tenantId;
  if (i.actor != null) f.actor = i.actor;
  if (i.correlationId != null) f.correlation = i.correlationId;
  if (i.from != null) f.from = i.from;
  if (i.to != null) f.to = i.to;
  try { return validateFilter(f); } catch (error) { throw badInput(`filter: ${(error as Error).message}`); }
}

const auditNode = (e: AuditEntry) => ({
  eventId: e.eventId, recordedAt: e.recordedAt, occurredAt: e.occurredAt,
  actor: { kind: e.actor.kind.toUpperCase(), id: e.actor.id }, tenantId: e.tenantId ?? null,
  stream: e.streamId, category: categoryOf(e.streamId), revision: e.revision, type: e.type, summary: e.summary,
  correlationId: e.correlationId, causationId: e.causationId ?? null, commandId: e.commandId ?? null,
  data: JSON.stringify(e.data ?? null),
});

export const module = defineModule({
  name: 'audit',
  schema: ['audit.graphql'],
  projections: [auditProjection],
  resolvers: {
    Query: {
      auditLog: async (_root: unknown, args: PageArgs & { filter?: FilterInput | null }, ctx: ApiContext) => {
        requireOperator(ctx, 'auditLog');
        const filter = filterOf(args.filter);
        const { first, after } = pageArgs(ctx.cursors, LIST, args);
        const page = first === 0
          ? { entries: [], nextCursor: null }
          : await queryAuditLog(ctx.ledger.store, ctx.ledger.readModels, filter, { limit: first, after });
        const cursor = (position: number) => ctx.cursors.encode(LIST, position);
        const nodes = page.entries.map(auditNode);
        const end = page.nextCursor ?? (page.entries.length ? page.entries[page.entries.length - 1].position : null);
        return {
          edges: nodes.map((node, i) => ({ node, cursor: cursor(page.entries[i].position) })),
          nodes,
          pageInfo: {
            hasNextPage: page.nextCursor !== null,
            hasPreviousPage: after > 0,
            startCursor: page.entries.length ? cursor(page.entries[0].position) : null,
            endCursor: end === null ? null : cursor(end),
          },
        };
      },
    },
  },
});
