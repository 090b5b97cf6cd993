/**
 * A cache of serialized query answers, for the queries consoles repeat (a tenant's `viewer { projects { … } }`).
 *
 * Key: the caller (token subject) + the query text + variables + operation name. Stamp: the versions of the modules
 * whose fields the query resolves, read BEFORE executing. An answer is cached only when the operation is a query,
 * answered without errors, and every field it resolves is declared cacheable by its module (see GraphQLModule
 * `cacheable`); it is served only while the stamp is unchanged, so a cached answer is never older than the state
 * those versions describe. Authentication and the rate limit still run for every request.
 */
import { getNamedType, isCompositeType, Kind, TypeInfo, visit, visitWithTypeInfo, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Ledger } from '../../core/ledger.ts';
import type { AssembledApi } from './schema.ts';

interface Entry { stamp: string; body: string }
/** Per document: null = not cacheable, else the modules whose versions make the stamp. */
type Plan = { modules: string[] } | null;

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private readonly plans = new WeakMap<DocumentNode, Plan>();
  private readonly versions: Map<string, (ledger: Ledger) => string | number>;
  private readonly cacheableFields = new Map<string, string>(); // Type.field → module
  hits = 0;
  misses = 0;

  constructor(private readonly ledger: Ledger, private readonly api: AssembledApi, private readonly maxEntries = 5000, private readonly maxBodyBytes = 256 * 1024) {
    this.versions = new Map();
    for (const m of api.modules) {
      if (!m.cacheable) continue;
      this.versions.set(m.name, m.cacheable.version);
      for (const f of m.cacheable.fields) {
        if (api.owners.get(f) !== m.name) throw new Error(`module ${m.name} declares ${f} cacheable but does not resolve it`);
        this.cacheableFields.set(f, m.name);
      }
    }
  }

  static key(subject: string, body: { query?: unknown; variables?: unknown; operationName?: unknown }): string | null {
    if (typeof body?.query !== 'string') return null;
    const vars = body.variables === undefined || body.variables === null ? '' : JSON.stringify(body.variables);
    return `${subject}\u0000${body.query}\u0000${vars}\u0000${typeof body.operationName === 'string' ? body.operationName : ''}`;
  }

  /** The stamp of `document`'s modules now, or null when the document is not cacheable. */
  stampOf(document: DocumentNode, operationName: string | undefined): string | null {
    let plan = this.plans.get(document);
    if (plan === undefined) { plan = this.plan(this.api.schema, document, operationName); this.plans.set(document, plan); }
    if (!plan) return null;
    return plan.modules.map((m) => `${m}:${this.versions.get(m)!(this.ledger)}`).join('|');
  }

  /** The stamp for modules without a document (a lookup before parsing): the stored entry says which. */
  get(key: string): string | null {
    const e = this.entries.get(key);
    if (!e) { this.misses++; return null; }
    const now = e.stamp.split('|').map((part) => {
      const name = part.slice(0, part.indexOf(':'));
      const version = this.versions.get(name);
      return version ? `${name}:${version(this.ledger)}` : '';
    }).join('|');
    if (now !== e.stamp) { this.entries.delete(key); this.misses++; return null; }
    this.hits++;
    return e.body;
  }

  set(key: string, stamp: string, body: string): void {
    if (body.length > this.maxBodyBytes) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { stamp, body });
  }

  get size() { return this.entries.size; }

  private plan(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): Plan {
    const ops = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const op = operationName ? ops.find((o) => o.kind === Kind.OPERATION_DEFINITION && o.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
    if (!op || op.kind !== Kind.OPERATION_DEFINITION || op.operation !== 'query') return null;
    const modules = new Set<string>();
    let ok = true;
    const typeInfo = new TypeInfo(schema);
    visit(document, visitWithTypeInfo(typeInfo, {
      Field: (node) => {
        const parent = typeInfo.getParentType();
        if (!parent || node.name.value.startsWith('__')) return;
        if (!isCompositeType(getNamedType(parent))) return;
        const key = `${parent.name}.${node.name.value}`;
        const owner = this.api.owners.get(key);
        if (owner === undefined) return; // a plain property of its parent: no resolver, no state of its own
        const cacheableBy = this.cacheableFields.get(key);
        if (!cacheableBy) ok = false; else modules.add(cacheableBy);
      },
    }));
    return ok && modules.size > 0 ? { modules: [...modules].sort() } : null;
  }
}
