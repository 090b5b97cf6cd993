/**
 * One-line summaries of events for timelines: a layer may register its own (`registerSummary(type, fn)`); every
 * other event gets a generic line from its data (names, the slice, state transitions, sizes, reasons), leaving out
 * the id of the stream itself (the timeline shows the stream).
 */
import type { StoredEvent } from '../event-store/port.ts';
import { idOf } from '../../schema/envelope.ts';

type Summarizer = (event: StoredEvent) => string;
const custom = new Map<string, Summarizer>();

export function registerSummary(type: string, fn: Summarizer): void {
  custom.set(type, fn);
}

const MAX = 140;
const SIZE_KEYS = ['cpuCores', 'cpuMHz', 'ramMiB', 'diskGiB', 'diskIops'] as const;
const UNITS: Record<string, string> = { cpuCores: 'cores', cpuMHz: 'MHz', ramMiB: 'MiB', diskGiB: 'GiB', diskIops: 'IOPS', bandwidthMbps: 'Mbps' };
/** Fields shown first, in this order; the rest follow as `key=value` when there is room. */
const FIRST = ['name', 'previousName', 'xnodeId', 'observed', 'size', 'resources', 'ownerId', 'projectId', 'componentId', 'contractId', 'imageId', 'quotas'];
const TRANSITION = new Set(['from', 'to', 'state']);
const LAST = ['cause', 'reason', 'message'];
const SKIP = new Set(['capacity', 'generation', 'kind', 'zoneId', 'regionId', 'hostId', 'reserved', 'allocationRatios', 'previousCapacity', 'status', 'admin', 'reachable', 'observedGeneration', 'observedAt', 'drift', 'previous']);

const quantity = (v: Record<string, unknown>): string | undefined => {
  const parts: string[] = [];
  const keys = [...SIZE_KEYS.filter((k) => k in v), ...Object.keys(v).filter((k) => !(SIZE_KEYS as readonly string[]).includes(k))];
  for (const k of keys) {
    const x = v[k];
    if (typeof x !== 'number' && x !== null) return undefined;
    if (x === 0 && (k === 'cpuMHz' || k === 'diskIops')) continue;
    if (UNITS[k]) parts.push(`${x ?? '∞'} ${UNITS[k]}`);
    else parts.push(`${k} ${x ?? '∞'}`);
  }
  return parts.join(', ');
};

function show(v: unknown, depth = 0): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return /^[\w.:/@-]+$/.test(v) ? v : JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return v.length <= 3 && v.every((x) => x === null || typeof x !== 'object') ? `[${v.map((x) => show(x)).join(', ')}]` : `[${v.length} item${v.length > 1 ? 's' : ''}]`;
  }
  const o = v as Record<string, unknown>;
  if (Object.keys(o).some((k) => (SIZE_KEYS as readonly string[]).includes(k)) || 'components' in o) {
    const q = quantity(o);
    if (q !== undefined) return `(${q})`;
  }
  if (depth > 0) return '{…}';
  const entries = Object.entries(o).filter(([, x]) => x !== undefined);
  const shown = entries.slice(0, 3).map(([k, x]) => `${k} ${show(x, depth + 1)}`);
  return `{${shown.join(', ')}${entries.length > 3 ? ', …' : ''}}`;
}

export function summarize(event: StoredEvent): string {
  const fn = custom.get(event.type);
  if (fn) return fn(event);
  const data = event.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data === undefined ? '' : show(data);
  const d = data as Record<string, unknown>;
  const own = idOf(event.streamId);
  const parts: string[] = [];
  const used = new Set<string>();
  const take = (k: string, text: string) => { used.add(k); parts.push(text); };
  for (const k of FIRST) {
    if (d[k] === undefined || d[k] === own) continue;
    take(k, k === 'name' ? show(d[k]) : k === 'xnodeId' ? String(d[k]) : `${k} ${show(d[k])}`);
  }
  const from = d.from;
  const to = d.to ?? d.state;
  if (typeof from === 'string' && typeof to === 'string') parts.push(`${from} → ${to}`);
  else if (typeof to === 'string') parts.push(`state ${to}`);
  for (const k of TRANSITION) used.add(k);
  for (const [k, v] of Object.entries(d)) {
    if (used.has(k) || SKIP.has(k) || LAST.includes(k) || v === undefined || v === own) continue;
    if (/Id$/.test(k) && typeof v === 'string') { take(k, `${k} ${v}`); continue; }
    take(k, `${k}=${show(v)}`);
  }
  for (const k of LAST) if (d[k] !== undefined && !(k === 'cause' && d[k] === 'command')) take(k, k === 'cause' ? `(${show(d[k])})` : show(d[k]));
  const line = parts.join(' ');
  return line.length > MAX ? `${line.slice(0, MAX - 3)}...` : line;
}
