/**
 * What metering needs besides the slices' own events, each with the log position it became known at, so every
 * question can be asked "as of" a position: price books, closed periods and re-ratings (the Billing stream); who
 * holds a contract, which component a slice serves and its size template, which project a component belongs to,
 * and the names of users, projects and regions.
 */
import { ratedBook, type RatedBook } from '../../layers/metering/pricebook.ts';
import { previousPeriod } from '../../layers/metering/period.ts';
import { epochsOf, type Epoch } from './rating.ts';
import type { ResourceInfo } from './segments.ts';

export const CONTEXT_EVENTS = [
  'PriceBookPublished', 'PeriodClosed', 'PeriodRerated',
  'RContractOpened', 'ComponentRequested', 'ComponentResizeRequested',
  'ProjectCreated', 'ProjectRenamed', 'ProjectComponentLinked',
  'UserCreated', 'UserRenamed', 'RegionRegistered', 'RegionRenamed',
] as const;
/** The categories of the context events (a narrower read than the whole log). */
export const CONTEXT_CATEGORIES = ['Billing', 'RContract', 'CContract', 'Project', 'User', 'Region'] as const;

interface At<T> { pos: number; value: T }
const latest = <T>(list: At<T>[] | undefined, pos: number): T | undefined => {
  if (!list) return undefined;
  for (let i = list.length - 1; i >= 0; i--) if (list[i].pos <= pos) return list[i].value;
  return undefined;
};
const push = <T>(map: Map<string, At<T>[]>, key: string, pos: number, value: T) => {
  const list = map.get(key);
  if (list) list.push({ pos, value }); else map.set(key, [{ pos, value }]);
};

export interface Attribution {
  /** The component the slice serves (its root, for replicas held by child components). */
  componentId?: string;
  projectId?: string;
  userId?: string;
}

export class MeteringContext {
  readonly books: { pos: number; book: RatedBook }[] = [];
  readonly closes: { pos: number; period: string; closedAt: string }[] = [];
  readonly rerates: { pos: number; period: string; version: number; reason: string }[] = [];
  private readonly contracts = new Map<string, { pos: number; tenantId?: string; holderComponent?: string }>();
  private readonly components = new Map<string, { pos: number; parentId?: string; projectId?: string; tenantId?: string; typeName?: string }>();
  private readonly templates = new Map<string, At<string | null>[]>();
  private readonly links = new Map<string, At<string>[]>();
  private readonly projectOwners = new Map<string, string>();
  private readonly projectNames = new Map<string, At<string>[]>();
  private readonly userNames = new Map<string, At<string>[]>();
  private readonly regionNames = new Map<string, At<string>[]>();
  private readonly epochCache = new Map<string, Epoch[]>();
  /** Highest position fed in. */
  position = 0;

  add(type: string, data: any, pos: number): void {
    if (pos > this.position) this.position = pos;
    switch (type) {
      case 'PriceBookPublished': this.books.push({ pos, book: ratedBook(data.version, data) }); this.epochCache.clear(); break;
      case 'PeriodClosed': this.closes.push({ pos, period: data.period, closedAt: data.closedAt }); this.epochCache.clear(); break;
      case 'PeriodRerated': this.rerates.push({ pos, period: data.period, version: data.version, reason: data.reason }); this.epochCache.clear(); break;
      case 'RContractOpened':
        this.contracts.set(data.contractId, { pos, tenantId: data.tenantId, holderComponent: data.holder?.kind === 'ccontract' ? data.holder.id : undefined });
        break;
      case 'ComponentRequested':
        this.components.set(data.componentId, { pos, parentId: data.parent?.componentId, projectId: data.projectId, tenantId: data.tenantId, typeName: data.type?.name });
        push(this.templates, data.componentId, pos, data.sizeName ?? null);
        break;
      case 'ComponentResizeRequested': push(this.templates, data.componentId, pos, data.sizeName ?? null); break;
      case 'ProjectCreated':
        this.projectOwners.set(data.projectId, data.ownerId);
        push(this.projectNames, data.projectId, pos, data.name);
        break;
      case 'ProjectRenamed': push(this.projectNames, data.projectId, pos, data.name); break;
      case 'ProjectComponentLinked': push(this.links, data.componentId, pos, data.projectId); break;
      case 'UserCreated': case 'UserRenamed': push(this.userNames, data.userId, pos, data.name); break;
      case 'RegionRegistered': case 'RegionRenamed': push(this.regionNames, data.regionId, pos, data.name); break;
      default: break;
    }
  }

  // ── periods ──────────────────────────────────────────────────────────────────────────────────────────────────

  /** Every period up to this one was closed at or before `pos` (undefined: none). */
  closedThrough(pos: number): string | undefined {
    let through: string | undefined;
    for (const c of this.closes) if (c.pos <= pos && (through === undefined || c.period > through)) through = c.period;
    return through;
  }
  /** Position at which `period` was closed (by its own PeriodClosed or a later one), or undefined. */
  closePosition(period: string): number | undefined {
    for (const c of this.closes) if (c.period >= period) return c.pos;
    return undefined;
  }
  closeOf(period: string): { pos: number; period: string; closedAt: string } | undefined {
    for (const c of this.closes) if (c.period >= period) return c;
    return undefined;
  }
  isClosedAt(period: string, pos: number): boolean {
    const c = this.closePosition(period);
    return c !== undefined && c <= pos;
  }

  /**
   * The price epochs for `period` as known at `pos`: a re-rating recorded by then prices the whole period with its
   * book; otherwise the books published by then — or, for a period closed by then, by its close.
   */
  epochs(period: string, pos: number): Epoch[] {
    const key = `${period}@${pos}`;
    let e = this.epochCache.get(key);
    if (!e) {
      let rerate: { pos: number; version: number } | undefined;
      for (const r of this.rerates) if (r.period === period && r.pos <= pos && (!rerate || r.pos > rerate.pos)) rerate = r;
      const book = rerate ? this.books.find((b) => b.book.version === rerate!.version)?.book : undefined;
      const close = this.closePosition(period);
      const maxPos = close !== undefined && close <= pos ? close : pos;
      e = epochsOf(this.books, maxPos, book);
      this.epochCache.set(key, e);
    }
    return e;
  }
  /** Re-ratings recorded in (after, upTo]. */
  reratesBetween(after: number, upTo: number) {
    return this.rerates.filter((r) => r.pos > after && r.pos <= upTo);
  }
  /** The newest book published at or before `pos`. */
  latestBook(pos: number): RatedBook | undefined {
    let best: RatedBook | undefined;
    for (const b of this.books) if (b.pos <= pos && (!best || b.book.version > best.version)) best = b.book;
    return best;
  }

  // ── who ──────────────────────────────────────────────────────────────────────────────────────────────────────

  /** The component a slice serves: its fencing token's component, else the CContract holding its RContract. */
  directComponent(info: Pick<ResourceInfo, 'componentId' | 'contractId'>): string | undefined {
    if (info.componentId) return info.componentId;
    return info.contractId ? this.contracts.get(info.contractId)?.holderComponent : undefined;
  }
  rootComponent(componentId: string): string {
    let c = componentId;
    for (let i = 0; i < 32; i++) {
      const parent = this.components.get(c)?.parentId;
      if (!parent || parent === c) break;
      c = parent;
    }
    return c;
  }
  templateOf(componentId: string | undefined, contractId: string | undefined, pos: number): string | null {
    const c = this.directComponent({ componentId, contractId });
    if (!c) return null;
    return latest(this.templates.get(c), pos) ?? latest(this.templates.get(this.rootComponent(c)), pos) ?? null;
  }
  attribution(info: Pick<ResourceInfo, 'componentId' | 'contractId'>, pos: number): Attribution {
    const direct = this.directComponent(info);
    const componentId = direct ? this.rootComponent(direct) : undefined;
    const comp = componentId ? this.components.get(componentId) : undefined;
    const projectId = componentId ? latest(this.links.get(componentId), pos) ?? comp?.projectId : undefined;
    const contract = info.contractId ? this.contracts.get(info.contractId) : undefined;
    const userId = comp?.tenantId ?? (projectId ? this.projectOwners.get(projectId) : undefined) ?? contract?.tenantId;
    return { componentId, projectId, userId };
  }
  componentType(componentId: string): string | undefined { return this.components.get(componentId)?.typeName; }
  userName(userId: string, pos: number) { return latest(this.userNames.get(userId), pos); }
  projectName(projectId: string, pos: number) { return latest(this.projectNames.get(projectId), pos); }
  regionName(regionId: string, pos: number) { return latest(this.regionNames.get(regionId), pos); }
}

/**
 * The cuts of an export of `period` at head position `head`:
 *   - closed period: its close position; open period: the head;
 *   - corrections (when the period before is closed): what was recorded after that close, up to the cut.
 */
export function cutsOf(ctx: MeteringContext, period: string, head: number): { cut: number; closed: boolean; correctionsAfter?: number; previous: string } {
  const close = ctx.closePosition(period);
  const closed = close !== undefined && close <= head;
  const cut = closed ? close! : head;
  const previous = previousPeriod(period);
  const prevClose = ctx.closePosition(previous);
  return { cut, closed, previous, ...(prevClose !== undefined && prevClose <= cut && { correctionsAfter: prevClose }) };
}
