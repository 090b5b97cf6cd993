/**
 * From events to usage segments. A metered resource (XNode, XNetwork, XImage) is a sequence of segments
 * [start, end) in which what it holds (its quantity vector, by meter) and its state stay the same. Every change
 * (a state transition, a resize, a checkpoint taken…) ends the current segment and starts the next; a release ends
 * the last one. The time of a change is the event's `metadata.occurredAt`; an event claiming a time before the
 * start of the current segment takes effect at that start (segments never run backwards).
 *
 * Segments are bitemporal: each records the log positions at which its start and its end became known
 * (`posStart`, `posEnd`). So the usage of any period *as the ledger knew it at any position* can be computed from the
 * same segments — what closed periods and their corrections need.
 */
import { consumption, type XNodeKind, type XNodeState } from '../../layers/resources/host/consumption.ts';
import type { Resources } from '../../layers/resources/common/quantities.ts';
import { METER_COUNT } from '../../layers/metering/meters.ts';

export type ResourceKind = XNodeKind | 'XNetwork' | 'XImage';

export interface ResourceInfo {
  id: string;
  kind: ResourceKind;
  stream: string;
  regionId: string;
  zoneId?: string;
  /** The host of an XNode, the physical network of an XNetwork. */
  placeId?: string;
  contractId?: string;
  /** The CContract of an HA slice (`ha.componentId`). */
  componentId?: string;
  replica?: number;
  epoch?: number;
}

export interface Segment {
  state: string;
  /** Quantity held per meter (METERS order), in the meter's source unit. */
  q: number[];
  /** Size template of the component the slice serves, when known (normal / standard / enhanced). */
  template: string | null;
  start: number;
  /** Exclusive end; meaningless while open (posEnd = -1). */
  end: number;
  posStart: number;
  posEnd: number;
}

export interface MeteredResource {
  info: ResourceInfo;
  segments: Segment[];
}

/** Event types that start, change or end segments. */
export const XNODE_METERED_EVENTS = [
  'XNodeSliced', 'XNodeProvisioned', 'XNodePoweredOn', 'XNodePoweredOff', 'XNodeHibernated', 'XNodeActivated',
  'XNodeFailed', 'XNodeFenced', 'XNodeReleased', 'XNodeResized',
] as const;
export const XNETWORK_METERED_EVENTS = ['XNetworkCreated', 'XNetworkAllocationChanged', 'XNetworkDeleted'] as const;
export const XIMAGE_METERED_EVENTS = ['XImageAllocated', 'XImageCheckpointTaken', 'XImageCheckpointDeleted', 'XImageReleased'] as const;
export const METERED_EVENTS: readonly string[] = [...XNODE_METERED_EVENTS, ...XNETWORK_METERED_EVENTS, ...XIMAGE_METERED_EVENTS];
export const METERED_CATEGORIES = ['Host', 'XNetwork', 'XImage'] as const;

const zeroQ = (): number[] => new Array(METER_COUNT).fill(0);
function xnodeQ(kind: XNodeKind, size: Resources, state: XNodeState): number[] {
  const c = consumption(kind, size, state);
  const q = zeroQ();
  q[0] = c.cpuCores; q[1] = c.cpuMHz; q[2] = c.ramMiB; q[3] = c.diskGiB; q[4] = c.diskIops;
  return q;
}

/** Size template of a component as of a log position (null: none known). */
export type TemplateOf = (componentId: string | undefined, contractId: string | undefined, position: number) => string | null;

/**
 * Folds the metered events of some streams (in log order per stream) into resources and their segments.
 * `apply` returns false for events it does not meter.
 */
export class SegmentFolder {
  readonly resources = new Map<string, MeteredResource>();
  constructor(private readonly templateOf: TemplateOf = () => null) {}

  apply(stream: string, type: string, data: any, occurredAt: number, position: number): boolean {
    switch (type) {
      case 'XNodeSliced': {
        const r = this.resource(data.xnodeId, stream, () => ({
          id: data.xnodeId, kind: data.kind, stream, regionId: data.regionId, zoneId: data.zoneId, placeId: data.hostId,
          contractId: data.contractId, componentId: data.ha?.componentId, replica: data.ha?.replica, epoch: data.ha?.epoch,
        }));
        this.change(r, data.state, xnodeQ(data.kind, data.size, data.state), occurredAt, position);
        return true;
      }
      case 'XNodeProvisioned': case 'XNodePoweredOn': case 'XNodePoweredOff': case 'XNodeHibernated':
      case 'XNodeActivated': case 'XNodeFailed': case 'XNodeFenced': case 'XNodeResized': {
        const r = this.resource(data.xnodeId, stream, () => ({
          id: data.xnodeId, kind: data.kind, stream, regionId: data.regionId, zoneId: data.zoneId, placeId: data.hostId,
          contractId: data.contractId, componentId: data.ha?.componentId, replica: data.ha?.replica, epoch: data.ha?.epoch,
        }));
        this.change(r, data.state, xnodeQ(data.kind, data.size, data.state), occurredAt, position);
        return true;
      }
      case 'XNodeReleased': {
        const r = this.resources.get(data.xnodeId);
        if (r) this.end(r, occurredAt, position);
        return true;
      }
      case 'XNetworkCreated': case 'XNetworkAllocationChanged': {
        const r = this.resource(data.xnetworkId, stream, () => ({
          id: data.xnetworkId, kind: 'XNetwork', stream, regionId: data.regionId, zoneId: data.zoneId, placeId: data.networkId, contractId: data.contractId,
        }));
        const q = zeroQ();
        q[5] = data.publicIps.length; q[6] = data.bandwidthMbps;
        this.change(r, 'active', q, occurredAt, position);
        return true;
      }
      case 'XNetworkDeleted': {
        const r = this.resources.get(data.xnetworkId);
        if (r) this.end(r, occurredAt, position);
        return true;
      }
      case 'XImageAllocated': case 'XImageCheckpointTaken': case 'XImageCheckpointDeleted': {
        const r = this.resource(data.ximageId, stream, () => ({
          id: data.ximageId, kind: 'XImage', stream, regionId: data.regionId, contractId: data.contractId,
        }));
        const q = zeroQ();
        q[7] = type === 'XImageAllocated' ? 0 : data.usage.sizeGiB;
        this.change(r, 'active', q, occurredAt, position);
        return true;
      }
      case 'XImageReleased': {
        const r = this.resources.get(data.ximageId);
        if (r) this.end(r, occurredAt, position);
        return true;
      }
      default: return false;
    }
  }

  private resource(id: string, stream: string, info: () => ResourceInfo): MeteredResource {
    let r = this.resources.get(id);
    if (!r) { r = { info: info(), segments: [] }; this.resources.set(id, r); }
    return r;
  }

  private change(r: MeteredResource, state: string, q: number[], occurredAt: number, position: number) {
    const open = this.open(r);
    const at = open && occurredAt < open.start ? open.start : occurredAt;
    if (open) { open.end = at; open.posEnd = position; }
    r.segments.push({ state, q, template: this.templateOf(r.info.componentId, r.info.contractId, position), start: at, end: 0, posStart: position, posEnd: -1 });
  }

  private end(r: MeteredResource, occurredAt: number, position: number) {
    const open = this.open(r);
    if (!open) return;
    open.end = occurredAt < open.start ? open.start : occurredAt;
    open.posEnd = position;
  }

  private open(r: MeteredResource): Segment | undefined {
    const last = r.segments[r.segments.length - 1];
    return last && last.posEnd === -1 ? last : undefined;
  }
}
