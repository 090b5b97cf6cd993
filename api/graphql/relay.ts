/**
 * Relay cursor connections: `first` (default 20, at most 100) and `after`. Cursors are opaque: one AES block
 * (magic, version, a tag of the list they belong to, the row's sort key) encrypted with a key derived from the
 * server secret, so a cursor reveals nothing (not even global positions) and one list's cursor is refused by another.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { badInput } from './errors.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export class CursorCodec {
  private readonly key: Buffer;

  constructor(secret: Uint8Array | string) {
    this.key = createHash('sha256').update('ledger-cursor-v1\u0000').update(secret).digest();
  }

  encode(list: string, sortKey: number): string {
    const block = Buffer.alloc(16);
    block[0] = 0xc1; block[1] = 1;
    tag(list).copy(block, 2);
    block.writeBigUInt64BE(BigInt(sortKey), 8);
    const c = createCipheriv('aes-256-ecb', this.key, null).setAutoPadding(false);
    return Buffer.concat([c.update(block), c.final()]).toString('base64url');
  }

  /** The sort key of a cursor of `list`, or a BAD_USER_INPUT error. */
  decode(list: string, cursor: string): number {
    const invalid = () => badInput('invalid cursor: pass a cursor (endCursor, edges.cursor) of this same list');
    if (!/^[A-Za-z0-9_-]{22}$/.test(cursor)) throw invalid();
    const raw = Buffer.from(cursor, 'base64url');
    if (raw.length !== 16) throw invalid();
    const d = createDecipheriv('aes-256-ecb', this.key, null).setAutoPadding(false);
    const block = Buffer.concat([d.update(raw), d.final()]);
    if (block[0] !== 0xc1 || block[1] !== 1 || !block.subarray(2, 8).equals(tag(list))) throw invalid();
    const key = block.readBigUInt64BE(8);
    if (key > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid();
    return Number(key);
  }
}

const tags = new Map<string, Buffer>();
function tag(list: string): Buffer {
  let t = tags.get(list);
  if (!t) { t = createHash('sha256').update(list).digest().subarray(0, 6); tags.set(list, t); }
  return t;
}

export interface PageArgs { first?: number | null; after?: string | null }

/** Checks `first` and decodes `after`: the number of rows wanted and the sort key to start after (0: the beginning). */
export function pageArgs(codec: CursorCodec, list: string, args: PageArgs): { first: number; after: number } {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badInput(`first must be between 0 and ${MAX_PAGE_SIZE} (got ${first})`);
  }
  const after = args.after === undefined || args.after === null ? 0 : codec.decode(list, args.after);
  return { first, after };
}

/** A connection object; cursors and totalCount are computed only when asked for. */
export function connection<Row, Node>(codec: CursorCodec, list: string, page: { rows: Row[]; hasNextPage: boolean },
  opts: { after: number; sortKey: (row: Row) => number; node: (row: Row) => Node; totalCount: () => number }) {
  const nodes = page.rows.map(opts.node);
  const cursorAt = (i: number) => () => codec.encode(list, opts.sortKey(page.rows[i]));
  return {
    edges: nodes.map((node, i) => ({ node, cursor: cursorAt(i) })),
    nodes,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: opts.after > 0,
      startCursor: page.rows.length ? cursorAt(0) : null,
      endCursor: page.rows.length ? cursorAt(page.rows.length - 1) : null,
    },
    totalCount: opts.totalCount,
  };
}
