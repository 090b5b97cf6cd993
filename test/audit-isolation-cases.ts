/**
 * Tenant isolation cases for the root fields of the audit GraphQL module (operators only): a tenant gets FORBIDDEN
 * for `auditLog`, whatever the filter names (its own id, another tenant's, one that does not exist), and the answers
 * for a real id and a ghost id are identical. For the schema-wide walk of test/api-isolation.test.ts:
 *   Object.assign(cases, auditIsolationCases({ api: () => api, tenantToken: () => bobToken, probe }));
 */
import * as assert from 'uvu/assert';
import type { ApiHarness, GqlResponse } from './harness/api.ts';

export interface AuditIsolationEnv {
  api(): ApiHarness;
  tenantToken(): string;
  probe(name: string, query: string, realId: string, ghostId: string, extra?: Record<string, unknown>): Promise<GqlResponse>;
}

export function auditIsolationCases(env: AuditIsolationEnv): Record<string, () => Promise<void>> {
  return {
    'Query.auditLog': async () => {
      const api = env.api();
      const users = await api.ledger.store.readAll({ filter: { categories: ['User'] }, maxCount: 10 });
      const realUser = (users[0]?.data as { userId?: string } | undefined)?.userId ?? 'u_00000000000000000000';
      for (const field of ['tenantId', 'actor', 'correlationId']) {
        const query = `query($id: String!) { auditLog(filter: { ${field}: $id }) { nodes { eventId type data } } }`;
        const r = await env.probe(`auditLog(${field})`, query, realUser, 'u_00000000000000000000');
        assert.is(r.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', r.text);
        assert.is(r.body.data?.auditLog ?? null, null);
      }
      const plain = await api.gql('{ auditLog { nodes { eventId } } }', undefined, env.tenantToken());
      assert.is(plain.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', plain.text);
    },
  };
}
