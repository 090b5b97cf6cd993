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
  // ECB enciphers each 16-byte block on its own and, without padding, hands it back at once: one long-lived
  // cipher and decipher serve every cursor (creating a cipher per cursor costs more than the rest of a page).
  private readonly cipher;
  private readonly decipher;
  /** Recent encodings (list → sort key → cursor): the same rows are paged through again and again. */
  private readonly memo = new Map<string, Map<number, string>>();
  private memoSize = 0;

  constructor(secret: Uint8Array | string) {
    const key = createHash('sha256').update('ledger-cursor-v1\u0000').update(secret).digest();
    this.cipher = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
    this.decipher = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  }

  encode(list: string, sortKey: number): string {
    let byKey = this.memo.get(list);
    const hit = byKey?.get(sortKey);
    if (hit !== undefined) return hit;
    const cursor = this.encrypt(list, sortKey);
    if (this.memoSize >= 50_000) { this.memo.clear(); this.memoSize = 0; byKey = undefined; }
    if (!byKey) { byKey = new Map(); this.memo.set(list, byKey); }
    byKey.set(sortKey, cursor);
    this.memoSize++;
    return cursor;
  }

  private encrypt(list: string, sortKey: number): string {
    const block = Buffer.alloc(16);
    block[0] = 0xc1; block[1] = 1;
    tag(list).copy(block, 2);
    block.writeBigUInt64BE(BigInt(sortKey), 8);
    return this.cipher.update(block).toString('base64url');
  }

  /** The sort key of a cursor of `list`, or a BAD_USER_INPUT error. */
  decode(list: string, cursor: string): number {
    const invalid = () => badInput('invalid cursor: pass a cursor (endCursor, edges.cursor) of this same list');
    if (!/^[A-Za-z0-9_-]{22}$/.test(cursor)) throw invalid();
    const raw = Buffer.from(cursor, 'base64url');
    if (raw.length !== 16) throw invalid();
    const block = this.decipher.update(raw);
    if (block.length !== 16) throw invalid();
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

/**
 * A connection object. Cursors and totalCount are getters: computed only when a query asks for them, and read as
 * plain properties (so graphql-jit's compiled property access works as well as graphql-js's default resolver).
 */
export function connection<Row, Node>(codec: CursorCodec, list: string, page: { rows: Row[]; hasNextPage: boolean },
  opts: { after: number; sortKey: (row: Row) => number; node: (row: Row) => Node; totalCount: () => number | Promise<number> }) {
  const rows = page.rows;
  const cursorOf = (i: number) => codec.encode(list, opts.sortKey(rows[i]));
  const nodes = rows.map(opts.node);
  const edges = nodes.map((node, i) => ({ node, get cursor() { return cursorOf(i); } }));
  return {
    edges,
    nodes,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: opts.after > 0,
      get startCursor() { return rows.length ? cursorOf(0) : null; },
      get endCursor() { return rows.length ? cursorOf(rows.length - 1) : null; },
    },
    get totalCount() { return opts.totalCount(); },
  };
}
