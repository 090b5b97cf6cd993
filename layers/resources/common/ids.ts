/**
 * Identifiers of the Resources layer. Every id is `<prefix><body>` with body of [A-Za-z0-9_], never '-': the id is the
 * part of a stream name after the category (`Host-h_3f2a`), and '-' would make the category ambiguous. Ids are also
 * NATS-subject safe (no dots, spaces or wildcards).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const ID_PREFIX = {
  region: 'r_',
  zone: 'z_',
  host: 'h_',
  network: 'n_',
  image: 'i_',
  xnode: 'xn_',
  xnetwork: 'xnet_',
  ximage: 'xi_',
  rcontract: 'rc_',
  move: 'mv_',
} as const;
export type IdKind = keyof typeof ID_PREFIX;

const BODY = '[A-Za-z0-9_]{1,60}';
export const idPattern = (kind: IdKind) => new RegExp(`^${ID_PREFIX[kind]}${BODY}$`);

const idSchema = (kind: IdKind) =>
  z.string().regex(idPattern(kind), `a ${kind} id: "${ID_PREFIX[kind]}" followed by letters, digits or "_" (no "-")`);

export const RegionId = idSchema('region');
export const ZoneId = idSchema('zone');
export const HostId = idSchema('host');
export const NetworkId = idSchema('network');
export const ImageId = idSchema('image');
export const XNodeId = idSchema('xnode');
export const XNetworkId = idSchema('xnetwork');
export const XImageId = idSchema('ximage');
export const RContractId = idSchema('rcontract');
export const MoveId = idSchema('move');

/** Ids local to one stream (checkpoints, branches, devices): letters, digits, '_'. */
export const LocalId = z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'letters, digits or "_" (1–64)');
/** References to things of other layers (component ids, tenant ids): opaque but subject-safe. */
export const ForeignId = z.string().regex(/^[A-Za-z0-9_]{1,128}$/, 'letters, digits or "_" (1–128)');

/** Human names: trimmed, 1–100 printable characters. Uniqueness is case-insensitive (see names/). */
export const Name = z.string().trim().min(1, 'a name is required').max(100, 'at most 100 characters')
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters');

export const stream = {
  region: (id: string) => `Region-${id}`,
  zone: (id: string) => `Zone-${id}`,
  host: (id: string) => `Host-${id}`,
  network: (id: string) => `Network-${id}`,
  xnetwork: (id: string) => `XNetwork-${id}`,
  image: (id: string) => `Image-${id}`,
  ximage: (id: string) => `XImage-${id}`,
  rcontract: (id: string) => `RContract-${id}`,
  names: (scope: string) => `Names-${scope}`,
  move: (id: string) => `Move-${id}`,
};

/** The body of an id without its type prefix (`rc_7f3a` → `7f3a`). */
export const idBody = (id: string): string => id.slice(id.indexOf('_') + 1);

/** A deterministic id of the given kind derived from a seed (an event id, a contract id and an index…). */
export const deriveId = (kind: IdKind, ...seed: (string | number)[]): string =>
  ID_PREFIX[kind] + createHash('sha256').update(seed.join('\u0000')).digest('hex').slice(0, 20);

/** A deterministic command id (idempotency key) derived from the triggering event id and the step. */
export const deriveCommandId = (triggerEventId: string, step: string): string => {
  const id = `${triggerEventId}:${step}`;
  return id.length <= 200 ? id : createHash('sha256').update(id).digest('hex');
};
