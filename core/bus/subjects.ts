/**
 * NATS subject rules shared by both bus adapters: validation, wildcard matching (`*` = one token,
 * `>` = one or more trailing tokens) and overlap of two patterns.
 */
import { InvalidSubjectError } from './port.ts';

const BAD_CHARS = /[\s\u0000]/;

function tokens(subject: string, what: string): string[] {
  if (typeof subject !== 'string' || subject.length === 0) throw new InvalidSubjectError(String(subject), `${what} is empty`);
  if (BAD_CHARS.test(subject)) throw new InvalidSubjectError(subject, `${what} contains whitespace`);
  const parts = subject.split('.');
  if (parts.some((t) => t.length === 0)) throw new InvalidSubjectError(subject, `${what} has an empty token (leading, trailing or doubled ".")`);
  return parts;
}

/** A subject to publish or request on: no wildcards. */
export function assertSubject(subject: string): void {
  for (const t of tokens(subject, 'subject')) {
    if (t.includes('*') || t.includes('>')) throw new InvalidSubjectError(subject, 'wildcards are not allowed here (publish to a concrete subject)');
  }
}

/** A pattern to subscribe or serve on: `*` as a whole token, `>` as the whole last token. */
export function assertPattern(pattern: string): void {
  const parts = tokens(pattern, 'pattern');
  parts.forEach((t, i) => {
    if (t === '*') return;
    if (t === '>') {
      if (i !== parts.length - 1) throw new InvalidSubjectError(pattern, '">" must be the last token');
      return;
    }
    if (t.includes('*') || t.includes('>')) throw new InvalidSubjectError(pattern, 'a wildcard must be a whole token');
  });
}

/** Does `subject` (concrete) match `pattern`? */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const t = p[i];
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Can some concrete subject match both patterns? */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    const tx = x[i];
    const ty = y[i];
    if (tx === undefined && ty === undefined) return true;
    if (tx === '>') return ty !== undefined;
    if (ty === '>') return tx !== undefined;
    if (tx === undefined || ty === undefined) return false;
    if (tx !== '*' && ty !== '*' && tx !== ty) return false;
  }
}

/** Is every subject matching `pattern` also matched by one of `covers`? (Used to check a subscription lies in the stream.) */
export function patternWithin(pattern: string, covers: string[]): boolean {
  return covers.some((c) => patternCoveredBy(pattern, c));
}

function patternCoveredBy(pattern: string, cover: string): boolean {
  const p = pattern.split('.');
  const c = cover.split('.');
  for (let i = 0; i < c.length; i++) {
    const tc = c[i];
    const tp = p[i];
    if (tc === '>') return tp !== undefined;
    if (tp === undefined) return false;
    if (tp === '>') return false; // pattern reaches further than a fixed-length cover
    if (tc === '*') continue;
    if (tp === '*' || tp !== tc) return false;
  }
  return p.length === c.length;
}

/** Turns any text into one safe subject token (letters, digits, `_`, `-`; everything else becomes `_`). */
export function subjectToken(text: string): string {
  const t = text.replace(/[^A-Za-z0-9_-]/g, '_');
  return t.length ? t : '_';
}
