/**
 * Tenant isolation cases for every root field of the Resources GraphQL module (operators only): a tenant gets
 * FORBIDDEN for every list and mutation and null for every object by id, and the answers for real ids are exactly
 * the answers for ids that do not exist. Used by test/resources-api.test.ts and by the schema-wide walk of
 * test/api-isolation.test.ts (which requires a case for every root field).
 */
import * as assert from 'uvu/assert';
import { hostDecider } from '../layers/resources/host/decider.ts';
import { module as resourcesModule } from '../api/graphql/modules/resources.ts';
import type { ApiHarness, GqlResponse } from './harness/api.ts';

export interface IsolationEnv {
  api(): ApiHarness;
  /** A tenant's bearer token. */
  tenantToken(): string;
  /** Runs `query` as the tenant with `$id` = a real id and a ghost id: identical answers, no leak, nothing appended. */
  probe(name: string, query: string, realId: string, ghostId: string, extra?: Record<string, unknown>): Promise<GqlResponse>;
}

/** What the operator's fixture holds; its names must never reach a tenant. */
export const RESOURCE_SECRETS = ['iso-secret-region', 'iso-secret-zone', 'iso-secret-host', 'iso-secret-net', 'iso-secret-image'];

interface Fixture { region: string; zone: string; host: string; host2: string; xnode: string; network: string; image: string; rcontract: string; move: string }

/** Every Query/Mutation field the Resources module resolves. */
export const resourceRootFields = (): string[] => ['Query', 'Mutation']
  .flatMap((t) => Object.keys((resourcesModule.resolvers as Record<string, Record<string, unknown>>)[t] ?? {}).map((f) => `${t}.${f}`));

export function resourcesIsolationCases(env: IsolationEnv): Record<string, () => Promise<void>> {
  let fixture: Promise<Fixture> | undefined;
  const op = async (query: string, path: string): Promise<string> => {
    const r = await env.api().gql(query);
    const payload = r.body.data?.[path];
    const obj = payload && Object.values(payload).find((v) => v && typeof v === 'object' && 'id' in (v as object)) as { id: string } | undefined;
    if (!obj) throw new Error(`fixture ${path} failed: ${r.text}`);
    return obj.id;
  };
  const setup = () => fixture ??= (async (): Promise<Fixture> => {
    const region = await op('mutation { regionRegister(input: { name: "iso-secret-region" }) { region { id } userErrors { code message } } }', 'regionRegister');
    const zone = await op(`mutation { zoneRegister(input: { regionId: "${region}", name: "iso-secret-zone" }) { zone { id } userErrors { code message } } }`, 'zoneRegister');
    const hostQ = (name: string) => `mutation { hostRegister(input: { zoneId: "${zone}", name: "${name}", type: VM, area: "iso/r1", resources: { cpuCores: 8, cpuMHz: 0, ramMiB: 8192, diskGiB: 100 } }) { host { id } userErrors { code message } } }`;
    const host = await op(hostQ('iso-secret-host'), 'hostRegister');
    const host2 = await op(hostQ('iso-secret-host-2'), 'hostRegister');
    const network = await op(`mutation { networkRegister(input: { zoneId: "${zone}", name: "iso-secret-net", bandwidthMbps: 100, switchSegments: 4, publicIpPool: { addresses: ["198.51.100.7"] } }) { network { id } userErrors { code message } } }`, 'networkRegister');
    const image = await op(`mutation { imageRegister(input: { regionId: "${region}", name: "iso-secret-image", kind: OS, format: QCOW2, sizeGiB: 1, digest: "sha256:${'b'.repeat(64)}" }) { image { id } userErrors { code message } } }`, 'imageRegister');
    const xnode = await op(`mutation { xnodeSlice(input: { hostId: "${host}", size: { cpuCores: 1, ramMiB: 512, diskGiB: 5 } }) { xnode { id } userErrors { code message } } }`, 'xnodeSlice');
    await env.api().ledger.execute(hostDecider, `Host-${host}`, { type: 'ReportXNodeObserved', data: { hostId: host, xnodeId: xnode, observed: 'running', generation: 1, observedAt: '2025-03-01T10:00:00Z' } }, { actor: { kind: 'agent', id: host } });
    const rcontract = await op(`mutation { rcontractOpen(input: { items: [{ compute: { hostId: "${host}", size: { cpuCores: 1, ramMiB: 512, diskGiB: 5 } } }] }) { rcontract { id } userErrors { code message } } }`, 'rcontractOpen');
    const move = await op(`mutation { xnodeMove(input: { xnodeId: "${xnode}", targetHostId: "${host2}", mode: COPY }) { move { id } userErrors { code message } } }`, 'xnodeMove');
    return { region, zone, host, host2, xnode, network, image, rcontract, move };
  })();

  const forbidden = async (name: string, query: string, variables?: Record<string, unknown>) => {
    const head = await env.api().head();
    const r = await env.api().gql(query, variables, env.tenantToken());
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', `${name}: ${r.text}`);
    for (const s of RESOURCE_SECRETS) assert.not.ok(r.text.includes(s), `${name} reveals ${s}: ${r.text}`);
    assert.equal(await env.api().head(), head, `${name}: something was appended`);
  };
  /** A mutation aimed at a real object and at a ghost: FORBIDDEN both times, identical. */
  const refusedOn = async (name: string, query: string, real: string, ghost: string) => {
    const r = await env.probe(name, query, real, ghost);
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', `${name}: ${r.text}`);
  };
  /** An object read by id: null for a real id, exactly as for a ghost. */
  const nullFor = async (name: string, query: string, real: string, ghost: string, extra?: Record<string, unknown>) => {
    const r = await env.probe(name, query, real, ghost, extra);
    assert.equal(r.body.errors, undefined, `${name}: ${r.text}`);
    assert.ok(Object.values(r.body.data ?? {}).every((v) => v === null), `${name}: ${r.text}`);
  };
  const G = (prefix: string) => `${prefix}_00000000000000000000`;
  const f = async () => setup();

  return {
    // ── queries: lists are FORBIDDEN, objects by id are null ──
    'Query.regions': async () => { await f(); await forbidden('regions', '{ regions { totalCount nodes { id name } } }'); },
    'Query.region': async () => nullFor('region', 'query($id: ID!) { region(id: $id) { id name zones { totalCount } } }', (await f()).region, G('r')),
    'Query.zones': async () => { await f(); await forbidden('zones', '{ zones { nodes { id name } } }'); },
    'Query.zone': async () => nullFor('zone', 'query($id: ID!) { zone(id: $id) { id name } }', (await f()).zone, G('z')),
    'Query.hosts': async () => { await f(); await forbidden('hosts', '{ hosts(filter: { type: VM }) { totalCount nodes { id name free { cpuCores } } } }'); },
    'Query.host': async () => {
      const x = await f();
      await nullFor('host', 'query($id: ID!) { host(id: $id) { id name free { cpuCores ramMiB diskGiB } } }', x.host, G('h'));
      await nullFor('host(asOf)', 'query($id: ID!, $at: DateTime) { host(id: $id, asOf: $at) { id name } }', x.host, G('h'), { at: new Date().toISOString() });
    },
    'Query.xnodes': async () => { await f(); await forbidden('xnodes', '{ xnodes { nodes { id state } } }'); },
    'Query.xnode': async () => nullFor('xnode', 'query($id: ID!) { xnode(id: $id) { id state host { name } } }', (await f()).xnode, G('xn')),
    'Query.networks': async () => { await f(); await forbidden('networks', '{ networks { nodes { id name } } }'); },
    'Query.network': async () => nullFor('network', 'query($id: ID!) { network(id: $id) { id name freeIps } }', (await f()).network, G('n')),
    'Query.images': async () => { await f(); await forbidden('images', '{ images { nodes { id name } } }'); },
    'Query.image': async () => nullFor('image', 'query($id: ID!) { image(id: $id) { id name } }', (await f()).image, G('i')),
    'Query.rcontracts': async () => { await f(); await forbidden('rcontracts', '{ rcontracts { nodes { id status } } }'); },
    'Query.rcontract': async () => nullFor('rcontract', 'query($id: ID!) { rcontract(id: $id) { id status items { sliceId } } }', (await f()).rcontract, G('rc')),
    'Query.move': async () => nullFor('move', 'query($id: ID!) { move(id: $id) { id phase } }', (await f()).move, G('mv')),
    'Query.capacity': async () => { await f(); await forbidden('capacity', '{ capacity { hosts free { cpuCores } } }'); },
    'Query.node(resources)': async () => {
      const x = await f();
      const q = 'query($id: ID!) { node(id: $id) { __typename id } }';
      for (const [id, prefix] of [[x.region, 'r'], [x.zone, 'z'], [x.host, 'h'], [x.xnode, 'xn'], [x.network, 'n'], [x.image, 'i'], [x.rcontract, 'rc'], [x.move, 'mv']] as const) {
        await nullFor(`node(${prefix})`, q, id, G(prefix));
      }
    },
    // ── mutations: all operator-only ──
    'Mutation.regionRegister': () => forbidden('regionRegister', 'mutation { regionRegister(input: { name: "mallory" }) { region { id } userErrors { code } } }'),
    'Mutation.zoneRegister': async () => refusedOn('zoneRegister', 'mutation($id: ID!) { zoneRegister(input: { regionId: $id, name: "mallory" }) { zone { id } userErrors { code } } }', (await f()).region, G('r')),
    'Mutation.hostRegister': async () => refusedOn('hostRegister', 'mutation($id: ID!) { hostRegister(input: { zoneId: $id, name: "mallory", type: CM, area: "x", resources: { cpuCores: 1, cpuMHz: 0, ramMiB: 1, diskGiB: 1 } }) { host { id } userErrors { code } } }', (await f()).zone, G('z')),
    'Mutation.networkRegister': async () => refusedOn('networkRegister', 'mutation($id: ID!) { networkRegister(input: { zoneId: $id, name: "mallory", bandwidthMbps: 1, switchSegments: 1 }) { network { id } userErrors { code } } }', (await f()).zone, G('z')),
    'Mutation.imageRegister': async () => refusedOn('imageRegister', `mutation($id: ID!) { imageRegister(input: { regionId: $id, name: "mallory", kind: OS, format: RAW, sizeGiB: 1, digest: "sha256:${'c'.repeat(64)}" }) { image { id } userErrors { code } } }`, (await f()).region, G('r')),
    'Mutation.xnodeSlice': async () => refusedOn('xnodeSlice', 'mutation($id: ID!) { xnodeSlice(input: { hostId: $id, size: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } }) { xnode { id } userErrors { code } } }', (await f()).host, G('h')),
    'Mutation.xnodePower': async () => refusedOn('xnodePower', 'mutation($id: ID!) { xnodePower(input: { xnodeId: $id, action: OFF }) { xnode { id state } userErrors { code } } }', (await f()).xnode, G('xn')),
    'Mutation.xnodeRelease': async () => refusedOn('xnodeRelease', 'mutation($id: ID!) { xnodeRelease(input: { xnodeId: $id }) { xnode { id state } userErrors { code } } }', (await f()).xnode, G('xn')),
    'Mutation.xnodeMove': async () => {
      const x = await f();
      await refusedOn('xnodeMove', `mutation($id: ID!) { xnodeMove(input: { xnodeId: $id, targetHostId: "${x.host2}" }) { move { id } userErrors { code } } }`, x.xnode, G('xn'));
    },
    'Mutation.rcontractOpen': async () => refusedOn('rcontractOpen', 'mutation($id: ID!) { rcontractOpen(input: { items: [{ compute: { hostId: $id, size: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } } }] }) { rcontract { id } userErrors { code } } }', (await f()).host, G('h')),
    'Mutation.rcontractTerminate': async () => refusedOn('rcontractTerminate', 'mutation($id: ID!) { rcontractTerminate(input: { rcontractId: $id }) { rcontract { id status } userErrors { code } } }', (await f()).rcontract, G('rc')),
    'Mutation.hostDrain': async () => refusedOn('hostDrain', 'mutation($id: ID!) { hostDrain(input: { hostId: $id }) { host { id status } userErrors { code } } }', (await f()).host, G('h')),
    'Mutation.hostMaintenance': async () => refusedOn('hostMaintenance', 'mutation($id: ID!) { hostMaintenance(input: { hostId: $id }) { host { id status } userErrors { code } } }', (await f()).host, G('h')),
    'Mutation.hostOnline': async () => refusedOn('hostOnline', 'mutation($id: ID!) { hostOnline(input: { hostId: $id }) { host { id status } userErrors { code } } }', (await f()).host, G('h')),
    'Mutation.hostRetire': async () => refusedOn('hostRetire', 'mutation($id: ID!) { hostRetire(input: { hostId: $id, force: true }) { host { id status } userErrors { code } } }', (await f()).host, G('h')),
  };
}
