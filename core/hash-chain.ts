/**
 * The per-stream audit hash chain: hash_n = sha256(hash_{n-1} ‖ canonical(event_n)), hash_{-1} = "".
 * canonical(event) is the stream name, revision, type and the canonical (RFC 8785) JSON of data and metadata
 * (without the hash itself), joined by newlines; the body text is stored exactly as hashed.
 */
import { createHash } from 'node:crypto';
import canonicalizeJson from 'canonicalize';

export const GENESIS_HASH = '';

/** RFC 8785 canonical JSON of a value. */
export const canonical = (value: unknown): string => {
  const text = (canonicalizeJson as unknown as (v: unknown) => string | undefined)(value);
  if (text === undefined) throw new Error('value cannot be canonicalized');
  return text;
};

export function chainHash(prevHash: string, streamId: string, revision: number, type: string, body: string): string {
  return createHash('sha256').update(prevHash).update('\n').update(streamId).update('\n').update(String(revision))
    .update('\n').update(type).update('\n').update(body).digest('hex');
}
