/**
 * Test harness for the API: a real server (buildServer) listening on a free loopback port over a ledger in a fresh
 * temporary data directory, tokens, and small GraphQL helpers. Close it in test.after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { issueToken, loadTokenSecret } from '../../api/auth/tokens.ts';
import { discoverModules } from '../../api/graphql/schema.ts';
import { buildServer, projectionsOf, type ApiOptions } from '../../api/server.ts';
import { loadConfig } from '../../core/config.ts';
import { openLedger, type Ledger } from '../../core/ledger.ts';

/** body is the parsed JSON answer (`{ data, errors }`), loosely typed for tests. */
export interface GqlResponse<T = any> { status: number; body: { data: T; errors: any[] } & Record<string, any>; headers: Headers; text: string }

export interface ApiHarness {
  dir: string;
  ledger: Ledger;
  app: FastifyInstance;
  /** http://127.0.0.1:<port> */
  base: string;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  wsUrl: string;
  operatorToken: string;
  /** Log lines (parsed JSON) when started with captureLogs. */
  logs: Record<string, any>[];
  tenantToken(userId: string): Promise<string>;
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string | null, headers?: Record<string, string>): Promise<GqlResponse<T>>;
  /** Creates a user through the API (operator) and returns its id. */
  createUser(name: string): Promise<string>;
  /** Creates a project through the API (tenant) and returns its id. */
  createProject(tenantToken: string, name: string): Promise<string>;
  head(): Promise<number>;
  close(): Promise<void>;
}

export async function startApi(options: ApiOptions & { captureLogs?: boolean; env?: Record<string, string> } = {}): Promise<ApiHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-api-'));
  const config = loadConfig({ LEDGER_DATA_DIR: dir, LEDGER_LOG_LEVEL: 'silent', ...options.env });
  const modules = options.modules ?? await discoverModules();
  const ledger = await openLedger(config, { projections: projectionsOf(modules) });
  const logs: Record<string, any>[] = [];
  const logger = options.logger ?? (options.captureLogs
    ? { level: 'info', stream: new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } }) }
    : false);
  let app: FastifyInstance;
  try {
    app = await buildServer(ledger, { ...options, modules, logger });
    await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (error) {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const { port } = app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const secret = options.tokenSecret ?? loadTokenSecret(config);
  const operatorToken = await issueToken(secret, { kind: 'operator', name: 'test_operator' });

  const gql: ApiHarness['gql'] = async (query, variables, token = operatorToken, headers = {}) => {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: JSON.stringify({ query, ...(variables && { variables }) }),
    });
    const text = await res.text();
    let body: any;
    try { body = JSON.parse(text); } catch { body = { raw: text }; }
    return { status: res.status, body, headers: res.headers, text };
  };

  const h: ApiHarness = {
    dir, ledger, app, base, url: `${base}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql`, operatorToken, logs,
    tenantToken: (userId) => issueToken(secret, { kind: 'tenant', userId }),
    gql,
    async createUser(name) {
      const r = await gql('mutation($name: String!) { userCreate(input: { name: $name }) { user { id } userErrors { code message } } }', { name });
      const id = r.body.data?.userCreate?.user?.id;
      if (!id) throw new Error(`userCreate failed: ${r.text}`);
      return id;
    },
    async createProject(token, name) {
      const r = await gql('mutation($name: String!) { projectCreate(input: { name: $name }) { project { id } userErrors { code message } } }', { name }, token);
      const id = r.body.data?.projectCreate?.project?.id;
      if (!id) throw new Error(`projectCreate failed: ${r.text}`);
      return id;
    },
    head: () => ledger.store.headPosition(),
    async close() {
      await app.close();
      await ledger.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}
