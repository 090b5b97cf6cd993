/**
 * Digest anchoring: the heads of every stream's hash chain (stream → revision, hash, position, event id), a root hash
 * over them, and an HMAC-SHA256 signature with the data directory's audit key (<data>/audit-hmac.key, 32 random
 * bytes, created once with mode 0600). An auditor keeps the document outside the system; `ledger audit verify
 * --against FILE` later proves every stream still holds, at the recorded revision, exactly the event whose chain hash
 * was recorded — so no event up to that point was altered, removed, inserted or reordered, and no stream was
 * truncated or deleted.
 *
 *   root = sha256("ledger-audit-digest/1\n" + for each stream in code-unit order: stream "\n" revision "\n" hash "\n")
 *   signature = HMAC-SHA256(key, canonical JSON of the document without `signature`)
 * The root alone proves the heads were not edited after export (recompute it); the signature says the document was
 * made by a holder of this data directory's key (it proves nothing to someone who does not trust that holder).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { canonical } from '../hash-chain.ts';

export const DIGEST_FORMAT = 'ledger-audit-digest/1';
export const AUDIT_KEY_FILE = 'audit-hmac.key';
/** Where `ledger audit digest` keeps a copy of the last digest it exported (the default of `verify`). */
export const lastDigestPath = (dataDir: string) => join(dataDir, 'audit', 'last-digest.json');

export interface ChainHead { revision: number; hash: string; position: number; eventId?: string }

export interface DigestDocument {
  format: typeof DIGEST_FORMAT;
  createdAt: string;
  store: string;
  headPosition: number;
  streams: number;
  events: number;
  root: string;
  heads: Record<string, ChainHead>;
  signature?: { alg: 'HMAC-SHA256'; keyId: string; value: string };
}

export function rootOf(heads: Record<string, ChainHead>): string {
  const h = createHash('sha256').update(`${DIGEST_FORMAT}\n`);
  for (const stream of Object.keys(heads).sort()) h.update(`${stream}\n${heads[stream].revision}\n${heads[stream].hash}\n`);
  return h.digest('hex');
}

/** The audit key of a data directory, created (atomically, mode 0600) when missing unless `create` is false. */
export function loadAuditKey(dataDir: string, create = true): Buffer | null {
  const path = join(dataDir, AUDIT_KEY_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (!create) return null;
    mkdirSync(dataDir, { recursive: true });
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(tmp, path); // EEXIST: another process made the key first; use that one
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      unlinkSync(tmp);
    }
    text = readFileSync(path, 'utf8');
  }
  if (statSync(path).mode & 0o077) chmodSync(path, 0o600);
  const hex = text.trim();
  if (!/^[0-9a-f]{64,}$/.test(hex)) throw new Error(`${path}: not an audit key (64+ hex digits); restore it from a backup — digests signed with it cannot be checked without it`);
  return Buffer.from(hex, 'hex');
}

const keyIdOf = (key: Buffer) => createHash('sha256').update('ledger-audit-key-id\u0000').update(key).digest('hex').slice(0, 16);
const unsigned = (doc: DigestDocument) => { const { signature: _s, ...rest } = doc; return canonical(rest); };

export function makeDigest(heads: Record<string, ChainHead>, info: { store: string; headPosition: number; events: number; createdAt?: string }, key: Buffer | null): DigestDocument {
  const sorted: Record<string, ChainHead> = {};
  for (const s of Object.keys(heads).sort()) sorted[s] = heads[s];
  const doc: DigestDocument = {
    format: DIGEST_FORMAT, createdAt: info.createdAt ?? new Date().toISOString(), store: info.store, headPosition: info.headPosition,
    streams: Object.keys(sorted).length, events: info.events, root: rootOf(sorted), heads: sorted,
  };
  if (key) doc.signature = { alg: 'HMAC-SHA256', keyId: keyIdOf(key), value: createHmac('sha256', key).update(unsigned(doc)).digest('hex') };
  return doc;
}

export type SignatureCheck = 'valid' | 'invalid' | 'other-key' | 'unsigned' | 'no-key';

/** Checks a digest document's shape, its root and (with the key) its signature. Throws on a malformed document. */
export function checkDigest(doc: unknown, key: Buffer | null): { doc: DigestDocument; rootValid: boolean; signature: SignatureCheck } {
  const d = doc as DigestDocument;
  if (!d || typeof d !== 'object' || d.format !== DIGEST_FORMAT || typeof d.heads !== 'object' || d.heads === null || typeof d.root !== 'string') {
    throw new Error(`not an audit digest (expected a JSON document with "format": "${DIGEST_FORMAT}")`);
  }
  for (const [stream, h] of Object.entries(d.heads)) {
    if (!h || !Number.isInteger(h.revision) || h.revision < 0 || typeof h.hash !== 'string' || !/^[0-9a-f]{64}$/.test(h.hash)) {
      throw new Error(`audit digest: the head of ${stream} is malformed`);
    }
  }
  const rootValid = rootOf(d.heads) === d.root;
  let signature: SignatureCheck = 'unsigned';
  if (d.signature) {
    if (!key) signature = 'no-key';
    else if (d.signature.keyId !== keyIdOf(key)) signature = 'other-key';
    else {
      const expected = createHmac('sha256', key).update(unsigned(d)).digest();
      const given = Buffer.from(String(d.signature.value), 'hex');
      signature = given.length === expected.length && timingSafeEqual(given, expected) ? 'valid' : 'invalid';
    }
  }
  return { doc: d, rootValid, signature };
}

export function readDigest(path: string): unknown {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (error) {
    throw new Error(`cannot read the digest ${path}: ${(error as Error).message}`);
  }
  try { return JSON.parse(text); } catch { throw new Error(`${path} is not JSON: not an audit digest`); }
}

/** Writes a file atomically (temp file + rename). */
export function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** The document as written: keys sorted, indented (what is signed is the canonical form, so layout is free). */
export const formatDigest = (doc: DigestDocument): string => `${JSON.stringify(JSON.parse(canonical(doc)), null, 2)}\n`;
