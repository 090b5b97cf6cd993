/**
 * A GraphQL module: one layer's (or concern's) part of the API. Modules are discovered from api/graphql/modules/*.ts
 * (each exports `module`), and each names its SDL files under schema/graphql/. See docs/graphql.md "Extending".
 */
import type { IResolvers } from 'mercurius';
import type { Ledger } from '../../core/ledger.ts';
import type { SqliteProjection } from '../../projections/runner.ts';
import type { ChangeFeed } from '../pubsub/change-feed.ts';
import type { ApiContext } from './context.ts';

export interface NodeType {
  /** The id prefix before the first "_" (`p` for `p_91be`). */
  prefix: string;
  typename: string;
  /** The object for `id` as the caller may see it (with `__typename`), or null: absent and not-yours look the same. */
  load(id: string, ctx: ApiContext): unknown | Promise<unknown>;
}

export interface GraphQLModule {
  name: string;
  /** SDL files of this module, relative to schema/graphql/. */
  schema: string[];
  /** Inline SDL (for small or test modules); prefer a file under schema/graphql/. */
  typeDefs?: string;
  resolvers: IResolvers<any, ApiContext>;
  nodeTypes?: NodeType[];
  /** Read models the resolvers query; `ledger serve` runs them. */
  projections?: SqliteProjection[];
  /** Event → subscription-topic mappings, published after the read models applied the events. */
  changeFeeds?: ChangeFeed[];
  /**
   * Declares which of this module's resolved fields (`Type.field`) answer only from state whose every change moves
   * `version(ledger)`. A query whose resolved fields are all declared so (fields without a resolver always qualify)
   * may be answered from the response cache while the versions stay the same. Declare nothing when unsure.
   */
  cacheable?: { fields: string[]; version(ledger: Ledger): string | number };
}

export const defineModule = (m: GraphQLModule): GraphQLModule => m;

/** One instance of something per ledger (a service, a read model with prepared statements), made on first use. */
export function perLedger<T>(factory: (ledger: Ledger) => T): (ledger: Ledger) => T {
  const made = new WeakMap<Ledger, T>();
  return (ledger) => {
    let v = made.get(ledger);
    if (v === undefined) { v = factory(ledger); made.set(ledger, v); }
    return v;
  };
}
