/**
 * What an XNode consumes of its host, by state. The single table the decider, the RRegister and the docs use.
 *
 * | state        | cpuCores | cpuMHz | ramMiB | diskGiB | diskIops | why |
 * |--------------|----------|--------|--------|---------|----------|-----|
 * | provisioning | ✓        | ✓      | ✓      | ✓       | ✓        | being built: the whole reservation is taken up front |
 * | running      | ✓        | ✓      | ✓      | ✓       | ✓        | |
 * | stopped      | ✓        | ✓      | ✓      | ✓       | ✓        | keeps its reservation, so PowerOn never fails for capacity |
 * | hibernated   | –        | –      | –      | ✓       | –        | memory saved to disk; CPU and RAM given back (Activate re-checks them) |
 * | failed       | ✓        | ✓      | ✓      | ✓       | ✓        | kept until released: a restart must not find its place taken |
 * | fenced       | –        | –      | –      | ✓       | –        | superseded HA replica: never runs again; disk kept for resync/forensics until released |
 * | released     | –        | –      | –      | –       | –        | everything given back |
 *
 * A BNode is the whole bare-metal machine: in every state but `released` it consumes the whole host (it cannot
 * hibernate, and a fenced or failed machine cannot be lent to someone else).
 */
import { ZERO, type Resources } from '../common/quantities.ts';

export const XNODE_STATES = ['provisioning', 'running', 'stopped', 'hibernated', 'failed', 'fenced', 'released'] as const;
export type XNodeState = (typeof XNODE_STATES)[number];
export type XNodeKind = 'VNode' | 'CNode' | 'BNode';

type Held = 'all' | 'disk' | 'none';
export const CONSUMPTION: Readonly<Record<XNodeState, Held>> = {
  provisioning: 'all', running: 'all', stopped: 'all', hibernated: 'disk', failed: 'all', fenced: 'disk', released: 'none',
};

export function consumption(kind: XNodeKind, size: Resources, state: XNodeState): Resources {
  const held = kind === 'BNode' ? (state === 'released' ? 'none' : 'all') : CONSUMPTION[state];
  if (held === 'all') return size;
  if (held === 'disk') return { ...ZERO, diskGiB: size.diskGiB };
  return ZERO;
}

/** States in which a slice still exists on its host (everything but released). */
export const isLive = (state: XNodeState): boolean => state !== 'released';
