/**
 * The operator GraphQL API of the Resources layer against a real server (buildServer on a free port, temporary data
 * dir), with the Resources processes running: physical planning, slices, host status, RContracts (all or nothing),
 * moves, `host(id, asOf)`, bad input as userErrors with stable codes and nothing appended, and tenants kept out.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryCheckpointStore } from '../core/checkpoint.ts';
import { startResources, type ResourcesRuntime } from '../layers/resources/runtime.ts';
import { startApi, type ApiHarness } from './harness/api.ts';
import { RESOURCE_SECRETS, resourceRootFields, resourcesIsolationCases } from './resources-isolation-cases.ts';

let api: ApiHarness;
let runtime: ResourcesRuntime;
let tenant: string;
const DIGEST = `sha256:${'d'.repeat(64)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  api = await startApi();
  runtime = await startResources(api.ledger, { checkpoints: new MemoryCheckpointStore(), health: false, log: () => {} });
  const userId = await api.createUser('Tess Tenant');
  tenant = await api.tenantToken(userId);
});
test.after(async () => { await runtime?.stop(); await api?.close(); });

/** Runs an operator mutation and returns its payload, failing on GraphQL errors. */
async function m(query: string, variables?: Record<string, unknown>): Promise<any> {
  const r = await api.gql(query, variables);
  assert.equal(r.body.errors, undefined, r.text);
  return Object.values(r.body.data)[0];
}
async function q(query: string, variables?: Record<string, unknown>): Promise<any> {
  const r = await api.gql(query, variables);
  assert.equal(r.body.errors, undefined, r.text);
  return r.body.data;
}

const HOST_FIELDS = 'id name type status area reachable zone { id name } region { id name } resources { cpuCores cpuMHz ramMiB diskGiB diskIops } capacity { cpuCores ramMiB diskGiB } used { cpuCores } free { cpuCores ramMiB diskGiB } liveXNodes';
const ids: Record<string, string> = {};

test('an operator builds a topology: regions, zones, hosts of every type, a network with public IPs, an image', async () => {
  const eu = await m('mutation { regionRegister(input: { name: "Europe", description: "EU", id: "r_eu" }) { region { id name status } userErrors { code } } }');
  assert.equal(eu, { region: { id: 'r_eu', name: 'Europe', status: 'ACTIVE' }, userErrors: [] });
  const us = await m('mutation { regionRegister(input: { name: "America", idempotencyKey: "us-1" }) { region { id } userErrors { code } } }');
  assert.match(us.region.id, /^r_[0-9a-f]{20}$/);
  ids.us = us.region.id;
  const za = await m('mutation { zoneRegister(input: { regionId: "r_eu", name: "eu-a", id: "z_eua" }) { zone { id name region { id } } userErrors { code } } }');
  assert.equal(za.zone, { id: 'z_eua', name: 'eu-a', region: { id: 'r_eu' } });
  const zb = await m(`mutation { zoneRegister(input: { regionId: "${ids.us}", name: "us-b" }) { zone { id } userErrors { code } } }`);
  ids.zb = zb.zone.id;

  const vm = await m(`mutation { hostRegister(input: { zoneId: "z_eua", name: "eu-a-vm-01", type: VM, area: "dc1/row1/rack1", id: "h_vm1",
      resources: { cpuCores: 32, cpuMHz: 76800, ramMiB: 131072, diskGiB: 2000, diskIops: 100000 },
      reserved: { cpuCores: 2, ramMiB: 8192, diskGiB: 100 }, allocationRatios: { cpuCores: 4, ramMiB: 1.5 } }) { host { ${HOST_FIELDS} } userErrors { code message } } }`);
  assert.equal(vm.host, {
    id: 'h_vm1', name: 'eu-a-vm-01', type: 'VM', status: 'ONLINE', area: 'dc1/row1/rack1', reachable: true,
    zone: { id: 'z_eua', name: 'eu-a' }, region: { id: 'r_eu', name: 'Europe' },
    resources: { cpuCores: 32, cpuMHz: 76800, ramMiB: 131072, diskGiB: 2000, diskIops: 100000 },
    capacity: { cpuCores: 120, ramMiB: 184320, diskGiB: 1900 }, used: { cpuCores: 0 }, free: { cpuCores: 120, ramMiB: 184320, diskGiB: 1900 }, liveXNodes: 0,
  });
  await m('mutation { hostRegister(input: { zoneId: "z_eua", name: "eu-a-cm-01", type: CM, area: "dc1/row1/rack2", id: "h_cm1", resources: { cpuCores: 16, cpuMHz: 0, ramMiB: 65536, diskGiB: 500 } }) { host { id } userErrors { code } } }');
  await m(`mutation { hostRegister(input: { zoneId: "${ids.zb}", name: "us-b-bm-01", type: BM, area: "dc9/row1/rack1", id: "h_bm1", resources: { cpuCores: 64, cpuMHz: 0, ramMiB: 262144, diskGiB: 4000 } }) { host { id } userErrors { code } } }`);
  const net = await m(`mutation { networkRegister(input: { zoneId: "z_eua", name: "eu-a-public", bandwidthMbps: 10000, switchSegments: 100, id: "n_pub",
      publicIpPool: { cidrs: ["203.0.113.0/29"], excluded: ["203.0.113.1"] } }) { network { id poolSize freeIps freeBandwidthMbps zone { id } region { id } publicIpPool { cidrs excluded } } userErrors { code message } } }`);
  assert.equal(net.network, { id: 'n_pub', poolSize: 5, freeIps: 5, freeBandwidthMbps: 10000, zone: { id: 'z_eua' }, region: { id: 'r_eu' }, publicIpPool: { cidrs: ['203.0.113.0/29'], excluded: ['203.0.113.1'] } });
  const img = await m(`mutation { imageRegister(input: { regionId: "r_eu", name: "debian-12", kind: OS, format: QCOW2, os: { family: "debian", version: "12" }, sizeGiB: 2, digest: "${DIGEST}", id: "i_deb12" }) { image { id kind format arch os { family version } status region { id } } userErrors { code message } } }`);
  assert.equal(img.image, { id: 'i_deb12', kind: 'OS', format: 'QCOW2', arch: 'X86_64', os: { family: 'debian', version: '12' }, status: 'ACTIVE', region: { id: 'r_eu' } });

  // lists and filters
  const d = await q(`{
    regions { totalCount nodes { id zones { totalCount } capacity { hosts free { cpuCores } } } }
    vms: hosts(filter: { type: VM }) { totalCount nodes { id } }
    eu: hosts(filter: { regionId: "r_eu" }) { totalCount nodes { id } }
    rack: hosts(filter: { areaPrefix: "dc1/row1/" }) { nodes { id } }
    big: hosts(filter: { minFree: { cpuCores: 50 } }) { nodes { id } }
    online: hosts(filter: { status: [ONLINE] }) { totalCount }
    zone(id: "z_eua") { hosts { nodes { id type } } capacity { hosts capacity { cpuCores } } }
    capacity { hosts free { cpuCores } }
    paged: hosts(first: 2) { pageInfo { hasNextPage endCursor } nodes { id } }
  }`);
  assert.equal(d.regions.totalCount, 2);
  assert.equal(d.regions.nodes[0], { id: 'r_eu', zones: { totalCount: 1 }, capacity: { hosts: 2, free: { cpuCores: 136 } } });
  assert.equal(d.vms, { totalCount: 1, nodes: [{ id: 'h_vm1' }] });
  assert.equal(d.eu.nodes.map((n: any) => n.id), ['h_vm1', 'h_cm1']);
  assert.equal(d.rack.nodes.map((n: any) => n.id), ['h_vm1', 'h_cm1']);
  assert.equal(d.big.nodes.map((n: any) => n.id), ['h_vm1', 'h_bm1']);
  assert.equal(d.online.totalCount, 3);
  assert.equal(d.zone.hosts.nodes, [{ id: 'h_vm1', type: 'VM' }, { id: 'h_cm1', type: 'CM' }]);
  assert.equal(d.zone.capacity, { hosts: 2, capacity: { cpuCores: 136 } });
  assert.equal(d.capacity, { hosts: 3, free: { cpuCores: 200 } });
  const next = await q('query($after: String) { hosts(first: 2, after: $after) { pageInfo { hasNextPage } nodes { id } } }', { after: d.paged.pageInfo.endCursor });
  assert.equal([d.paged.pageInfo.hasNextPage, next.hosts.nodes], [true, [{ id: 'h_bm1' }]]);
  const node = await q('{ node(id: "h_bm1") { __typename ... on Host { type zone { region { id } } } } }');
  assert.equal(node.node, { __typename: 'Host', type: 'BM', zone: { region: { id: ids.us } } });
});

test('slices: cut at an exact place, power, hibernate; host drain, maintenance, online, retire', async () => {
  const s = await m('mutation { xnodeSlice(input: { hostId: "h_cm1", size: { cpuCores: 4, ramMiB: 8192, diskGiB: 50 }, imageId: "i_deb12", id: "xn_web" }) { xnode { id kind state size { cpuCores } consumes { cpuCores diskGiB } host { id free { cpuCores } } zone { id } region { id } } userErrors { code } } }');
  assert.equal(s.xnode, { id: 'xn_web', kind: 'CNODE', state: 'PROVISIONING', size: { cpuCores: 4 }, consumes: { cpuCores: 4, diskGiB: 50 }, host: { id: 'h_cm1', free: { cpuCores: 12 } }, zone: { id: 'z_eua' }, region: { id: 'r_eu' } });
  const notReady = await m('mutation { xnodePower(input: { xnodeId: "xn_web", action: OFF }) { xnode { state } userErrors { field code } } }');
  assert.equal(notReady.userErrors, [{ field: ['input', 'xnodeId'], code: 'XNODE_NOT_READY' }]);
  const bm = await m('mutation { xnodeSlice(input: { hostId: "h_bm1" }) { xnode { id kind size { cpuCores ramMiB } } userErrors { code } } }');
  assert.equal([bm.xnode.kind, bm.xnode.size], ['BNODE', { cpuCores: 64, ramMiB: 262144 }]);

  const drained = await m('mutation { hostDrain(input: { hostId: "h_cm1", reason: "rack work" }) { host { status statusReason } userErrors { code } } }');
  assert.equal(drained.host, { status: 'DRAINING', statusReason: 'rack work' });
  const refused = await m('mutation { xnodeSlice(input: { hostId: "h_cm1", size: { cpuCores: 1, ramMiB: 512, diskGiB: 5 } }) { xnode { id } userErrors { field code message } } }');
  assert.equal([refused.xnode, refused.userErrors[0].code, refused.userErrors[0].field], [null, 'HOST_DRAINING', ['input', 'hostId']]);
  assert.equal((await m('mutation { hostMaintenance(input: { hostId: "h_cm1" }) { host { status } userErrors { code } } }')).host.status, 'MAINTENANCE');
  assert.equal((await m('mutation { hostOnline(input: { hostId: "h_cm1" }) { host { status } userErrors { code } } }')).host.status, 'ONLINE');

  const busy = await m('mutation { hostRetire(input: { hostId: "h_cm1" }) { host { status } userErrors { field code message } } }');
  assert.equal([busy.host, busy.userErrors[0].code, busy.userErrors[0].field], [null, 'HOST_HAS_SLICES', ['input', 'force']]);
  assert.match(busy.userErrors[0].message, /1 provisioning/);
  const gone = await m('mutation { hostRetire(input: { hostId: "h_cm1", force: true, reason: "end of life" }) { host { status liveXNodes used { cpuCores } } userErrors { code } } }');
  assert.equal(gone.host, { status: 'RETIRED', liveXNodes: 0, used: { cpuCores: 0 } });
  const x = await q('{ xnode(id: "xn_web") { state stateReason } }');
  assert.equal(x.xnode, { state: 'RELEASED', stateReason: 'end of life' });
});

test('host(id, asOf): the host as the ledger had recorded it then', async () => {
  await m('mutation { hostRegister(input: { zoneId: "z_eua", name: "eu-a-vm-02", type: VM, area: "dc1/row2/rack1", id: "h_vm2", resources: { cpuCores: 8, cpuMHz: 0, ramMiB: 16384, diskGiB: 200 } }) { host { id } userErrors { code } } }');
  await sleep(5);
  const t1 = new Date().toISOString();
  await sleep(5);
  await m('mutation { xnodeSlice(input: { hostId: "h_vm2", size: { cpuCores: 6, ramMiB: 4096, diskGiB: 20 }, id: "xn_db" }) { xnode { id } userErrors { code } } }');
  await m('mutation { hostDrain(input: { hostId: "h_vm2" }) { host { id } userErrors { code } } }');
  const d = await q(`query($t1: DateTime, $t0: DateTime) {
    then: host(id: "h_vm2", asOf: $t1) { status free { cpuCores } liveXNodes asOf revision xnodes { totalCount } }
    now: host(id: "h_vm2") { status free { cpuCores } liveXNodes asOf xnodes { nodes { id state } } }
    before: host(id: "h_vm2", asOf: $t0) { id }
    later: host(id: "h_vm2", asOf: "2999-01-01T00:00:00Z") { status free { cpuCores } revision xnodes { nodes { id state consumes { cpuCores } } } }
  }`, { t1, t0: '2000-01-01T00:00:00Z' });
  assert.equal(d.then, { status: 'ONLINE', free: { cpuCores: 8 }, liveXNodes: 0, asOf: t1, revision: 0, xnodes: { totalCount: 0 } });
  assert.equal(d.now, { status: 'DRAINING', free: { cpuCores: 2 }, liveXNodes: 1, asOf: null, xnodes: { nodes: [{ id: 'xn_db', state: 'PROVISIONING' }] } });
  assert.equal(d.before, null);
  assert.equal(d.later, { status: 'DRAINING', free: { cpuCores: 2 }, revision: 2, xnodes: { nodes: [{ id: 'xn_db', state: 'PROVISIONING', consumes: { cpuCores: 6 } }] } });
  const bad = await api.gql('{ host(id: "h_vm2", asOf: "yesterday") { id } }');
  assert.ok(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED'].includes(bad.body.errors[0].extensions.code), bad.text);
  assert.match(bad.text, /UTC ISO 8601/);
  await m('mutation { hostOnline(input: { hostId: "h_vm2" }) { host { id } userErrors { code } } }');
});

const RC_FIELDS = 'id status compensated tenantId reserved { cpuCores bandwidthMbps publicIps checkpoints } failure { code } items { index kind status sliceId failure { code } host { id } xnode { id state } xnetwork { id publicIps } ximage { id quota { checkpoints } } }';
const openItems = (cores: number) => `[
  { compute: { hostId: "h_vm1", size: { cpuCores: ${cores}, ramMiB: 8192, diskGiB: 50 }, imageId: "i_deb12" } },
  { network: { networkId: "n_pub", cidr: "10.8.0.0/24", public: true, bandwidthMbps: 300, publicIps: 2 } },
  { image: { regionId: "r_eu", quota: { checkpoints: 5, sizeGiB: 200 } } } ]`;

test('rcontractOpen: compute + network + image, all or nothing', async () => {
  const opened = await m(`mutation { rcontractOpen(input: { id: "rc_web1", tenantId: "u_ann", items: ${openItems(4)} }) { rcontract { id status } userErrors { code message } } }`);
  assert.equal(opened.rcontract, { id: 'rc_web1', status: 'OPENING' });
  await runtime.settle();
  await api.ledger.settle();
  const ok = (await q(`{ rcontract(id: "rc_web1") { ${RC_FIELDS} } }`)).rcontract;
  assert.equal([ok.status, ok.compensated, ok.tenantId, ok.reserved], ['ACTIVE', false, 'u_ann', { cpuCores: 4, bandwidthMbps: 300, publicIps: 2, checkpoints: 5 }]);
  assert.equal(ok.items.map((i: any) => [i.kind, i.status]), [['COMPUTE', 'CONFIRMED'], ['NETWORK', 'CONFIRMED'], ['IMAGE', 'CONFIRMED']]);
  assert.equal(ok.items[0].xnode, { id: 'xn_web1_0', state: 'PROVISIONING' });
  assert.equal(ok.items[1].xnetwork, { id: 'xnet_web1_1', publicIps: ['203.0.113.2', '203.0.113.3'] });
  assert.equal(ok.items[2].ximage, { id: 'xi_web1_2', quota: { checkpoints: 5 } });

  // 500 cores do not fit: the network slice and the image quota taken meanwhile are given back
  const headBefore = await api.head();
  await m(`mutation { rcontractOpen(input: { id: "rc_big", items: ${openItems(500)} }) { rcontract { id } userErrors { code } } }`);
  await runtime.settle();
  await api.ledger.settle();
  assert.ok(await api.head() > headBefore);
  const failed = (await q(`{ rcontract(id: "rc_big") { ${RC_FIELDS} } network(id: "n_pub") { freeIps usedBandwidthMbps } }`));
  assert.equal([failed.rcontract.status, failed.rcontract.compensated, failed.rcontract.failure.code], ['FAILED', true, 'INSUFFICIENT_CAPACITY']);
  assert.equal(failed.rcontract.items.map((i: any) => i.status), ['FAILED', 'RELEASED', 'RELEASED']);
  assert.equal(failed.network, { freeIps: 3, usedBandwidthMbps: 300 }, 'only rc_web1 holds network capacity');
  const list = await q('{ rcontracts(filter: { status: [FAILED] }) { totalCount nodes { id } } all: rcontracts { totalCount } }');
  assert.equal([list.rcontracts.nodes, list.all.totalCount], [[{ id: 'rc_big' }], 2]);

  const ended = await m('mutation { rcontractTerminate(input: { rcontractId: "rc_web1", reason: "done" }) { rcontract { status } userErrors { code } } }');
  assert.equal(ended.rcontract.status, 'TERMINATING');
  await runtime.settle();
  await api.ledger.settle();
  const after = await q('{ rcontract(id: "rc_web1") { status items { status } } network(id: "n_pub") { freeIps usedBandwidthMbps } host(id: "h_vm1") { used { cpuCores } } }');
  assert.equal(after, { rcontract: { status: 'TERMINATED', items: [{ status: 'RELEASED' }, { status: 'RELEASED' }, { status: 'RELEASED' }] }, network: { freeIps: 5, usedBandwidthMbps: 0 }, host: { used: { cpuCores: 0 } } });
});

test('xnodeMove: the move is recorded and run; a target without room fails it, the source untouched', async () => {
  await m('mutation { xnodeSlice(input: { hostId: "h_vm1", size: { cpuCores: 16, ramMiB: 8192, diskGiB: 50 }, id: "xn_mv" }) { xnode { id } userErrors { code } } }');
  const early = await m('mutation { xnodeMove(input: { xnodeId: "xn_mv", targetHostId: "h_vm2" }) { move { id } userErrors { field code } } }');
  assert.equal(early.userErrors, [{ field: ['input', 'source'], code: 'MOVE_SOURCE_STATE' }], 'a provisioning slice does not move');
  await api.ledger.execute((await import('../layers/resources/host/decider.ts')).hostDecider, 'Host-h_vm1', { type: 'ReportXNodeObserved', data: { hostId: 'h_vm1', xnodeId: 'xn_mv', observed: 'running', generation: 1, observedAt: '2025-03-01T10:00:00Z' } }, { actor: { kind: 'agent', id: 'h_vm1' } });
  const mv = await m('mutation { xnodeMove(input: { xnodeId: "xn_mv", targetHostId: "h_vm2", id: "mv_full" }) { move { id mode phase finished sourceHost { id } targetHost { id } } userErrors { code } } }');
  assert.equal(mv.move, { id: 'mv_full', mode: 'MOVE', phase: 'RESERVING', finished: false, sourceHost: { id: 'h_vm1' }, targetHost: { id: 'h_vm2' } });
  await runtime.settle();
  await api.ledger.settle();
  const d = await q('{ move(id: "mv_full") { phase finished failure { code } source { state } target { id } } }');
  assert.equal(d.move, { phase: 'FAILED', finished: true, failure: { code: 'INSUFFICIENT_CAPACITY' }, source: { state: 'RUNNING' }, target: null });
});

test('bad input: userErrors with stable codes and the input field; nothing is appended', async () => {
  const cases: [string, string, { code: string; field: string[] | null }][] = [
    ['empty name', 'mutation { regionRegister(input: { name: "  " }) { region { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'name'] }],
    ['id with "-"', 'mutation { regionRegister(input: { name: "x", id: "r_eu-2" }) { region { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'id'] }],
    ['region name taken', 'mutation { regionRegister(input: { name: "EUROPE" }) { region { id } userErrors { field code message } } }', { code: 'NAME_TAKEN', field: ['input', 'name'] }],
    ['region exists', 'mutation { regionRegister(input: { name: "Elsewhere", id: "r_eu" }) { region { id } userErrors { field code message } } }', { code: 'REGION_EXISTS', field: ['input', 'id'] }],
    ['unknown region', 'mutation { zoneRegister(input: { regionId: "r_nowhere", name: "z" }) { zone { id } userErrors { field code message } } }', { code: 'REGION_NOT_FOUND', field: ['input', 'regionId'] }],
    ['zone name taken', 'mutation { zoneRegister(input: { regionId: "r_eu", name: "EU-A" }) { zone { id } userErrors { field code message } } }', { code: 'NAME_TAKEN', field: ['input', 'name'] }],
    ['negative cores', 'mutation { hostRegister(input: { zoneId: "z_eua", name: "h", type: VM, area: "a", resources: { cpuCores: -1, cpuMHz: 0, ramMiB: 1, diskGiB: 1 } }) { host { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'resources', 'cpuCores'] }],
    ['bad area', 'mutation { hostRegister(input: { zoneId: "z_eua", name: "h", type: VM, area: "rack 1", resources: { cpuCores: 1, cpuMHz: 0, ramMiB: 1, diskGiB: 1 } }) { host { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'area'] }],
    ['reserve over resources', 'mutation { hostRegister(input: { zoneId: "z_eua", name: "h9", type: VM, area: "a", resources: { cpuCores: 1, cpuMHz: 0, ramMiB: 1, diskGiB: 1 }, reserved: { cpuCores: 2 } }) { host { id } userErrors { field code message } } }', { code: 'RESERVE_EXCEEDS_RESOURCES', field: ['input', 'reserved', 'cpuCores'] }],
    ['BM with a reserve', 'mutation { hostRegister(input: { zoneId: "z_eua", name: "h8", type: BM, area: "a", resources: { cpuCores: 4, cpuMHz: 0, ramMiB: 1, diskGiB: 1 }, reserved: { cpuCores: 1 } }) { host { id } userErrors { field code message } } }', { code: 'BM_NO_RESERVE', field: ['input', 'reserved'] }],
    ['host name taken', 'mutation { hostRegister(input: { zoneId: "z_eua", name: "EU-A-VM-01", type: VM, area: "a", resources: { cpuCores: 1, cpuMHz: 0, ramMiB: 1, diskGiB: 1 } }) { host { id } userErrors { field code message } } }', { code: 'NAME_TAKEN', field: ['input', 'name'] }],
    ['network without a place', 'mutation { networkRegister(input: { name: "n", bandwidthMbps: 1, switchSegments: 1 }) { network { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'zoneId'] }],
    ['bad CIDR', 'mutation { networkRegister(input: { zoneId: "z_eua", name: "n", bandwidthMbps: 1, switchSegments: 1, publicIpPool: { cidrs: ["203.0.113.5/24"] } }) { network { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'publicIpPool', 'cidrs', '0'] }],
    ['no segments', 'mutation { networkRegister(input: { zoneId: "z_eua", name: "n", bandwidthMbps: 1, switchSegments: 0 }) { network { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'switchSegments'] }],
    ['bad digest', 'mutation { imageRegister(input: { regionId: "r_eu", name: "i", kind: OS, format: RAW, sizeGiB: 1, digest: "md5:x" }) { image { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'digest'] }],
    ['PXE OS image', `mutation { imageRegister(input: { regionId: "r_eu", name: "i", kind: OS, format: PXE, sizeGiB: 1, digest: "${DIGEST}" }) { image { id } userErrors { field code message } } }`, { code: 'IMAGE_FORMAT', field: ['input', 'format'] }],
    ['slice too big', 'mutation { xnodeSlice(input: { hostId: "h_vm1", size: { cpuCores: 1000, ramMiB: 1, diskGiB: 1 } }) { xnode { id } userErrors { field code message } } }', { code: 'INSUFFICIENT_CAPACITY', field: ['input', 'size', 'cpuCores'] }],
    ['slice without size', 'mutation { xnodeSlice(input: { hostId: "h_vm1" }) { xnode { id } userErrors { field code message } } }', { code: 'SIZE_REQUIRED', field: ['input', 'size'] }],
    ['slice of a fraction', 'mutation { xnodeSlice(input: { hostId: "h_vm1", size: { cpuCores: 0, ramMiB: 1, diskGiB: 1 } }) { xnode { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'size', 'cpuCores'] }],
    ['slice on no host', 'mutation { xnodeSlice(input: { hostId: "h_none", size: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } }) { xnode { id } userErrors { field code message } } }', { code: 'HOST_NOT_FOUND', field: ['input', 'hostId'] }],
    ['slice of an unknown image', 'mutation { xnodeSlice(input: { hostId: "h_vm1", imageId: "i_none", size: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } }) { xnode { id } userErrors { field code message } } }', { code: 'IMAGE_NOT_FOUND', field: ['input', 'imageId'] }],
    ['power an unknown slice', 'mutation { xnodePower(input: { xnodeId: "xn_none", action: ON }) { xnode { id } userErrors { field code message } } }', { code: 'XNODE_NOT_FOUND', field: ['input', 'xnodeId'] }],
    ['item with two kinds', 'mutation { rcontractOpen(input: { items: [{ compute: { hostId: "h_vm1" }, image: { regionId: "r_eu", quota: { checkpoints: 1, sizeGiB: 1 } } }] }) { rcontract { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'items', '0'] }],
    ['no items', 'mutation { rcontractOpen(input: { items: [] }) { rcontract { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'items'] }],
    ['item on no host', 'mutation { rcontractOpen(input: { items: [{ compute: { hostId: "h_none", size: { cpuCores: 1, ramMiB: 1, diskGiB: 1 } } }] }) { rcontract { id } userErrors { field code message } } }', { code: 'HOST_NOT_FOUND', field: ['input', 'items', '0', 'compute', 'hostId'] }],
    ['item with a bad CIDR', 'mutation { rcontractOpen(input: { items: [{ network: { networkId: "n_pub", cidr: "10.0.0.1/24", bandwidthMbps: 1 } }] }) { rcontract { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'items', '0', 'network', 'cidr'] }],
    ['private network with public IPs', 'mutation { rcontractOpen(input: { items: [{ network: { networkId: "n_pub", cidr: "10.0.0.0/24", bandwidthMbps: 1, publicIps: 1 } }] }) { rcontract { id } userErrors { field code message } } }', { code: 'XNETWORK_NOT_PUBLIC', field: ['input', 'items', '0', 'network', 'publicIps'] }],
    ['contract exists', `mutation { rcontractOpen(input: { id: "rc_web1", items: [{ image: { regionId: "r_eu", quota: { checkpoints: 1, sizeGiB: 1 } } }] }) { rcontract { id } userErrors { field code message } } }`, { code: 'RCONTRACT_EXISTS', field: ['input', 'id'] }],
    ['terminate nothing', 'mutation { rcontractTerminate(input: { rcontractId: "rc_none" }) { rcontract { id } userErrors { field code message } } }', { code: 'RCONTRACT_NOT_FOUND', field: ['input', 'rcontractId'] }],
    ['drain nothing', 'mutation { hostDrain(input: { hostId: "h_none" }) { host { id } userErrors { field code message } } }', { code: 'HOST_NOT_FOUND', field: ['input', 'hostId'] }],
    ['retire a retired host', 'mutation { hostDrain(input: { hostId: "h_cm1" }) { host { id } userErrors { field code message } } }', { code: 'HOST_RETIRED', field: ['input', 'hostId'] }],
    ['move to the same host', 'mutation { xnodeMove(input: { xnodeId: "xn_mv", targetHostId: "h_vm1" }) { move { id } userErrors { field code message } } }', { code: 'MOVE_SAME_HOST', field: ['input', 'target', 'hostId'] }],
    ['move to no host', 'mutation { xnodeMove(input: { xnodeId: "xn_mv", targetHostId: "h_none" }) { move { id } userErrors { field code message } } }', { code: 'HOST_NOT_FOUND', field: ['input', 'targetHostId'] }],
    ['idempotency key with spaces', 'mutation { regionRegister(input: { name: "Asia", idempotencyKey: "a b" }) { region { id } userErrors { field code message } } }', { code: 'INVALID_INPUT', field: ['input', 'idempotencyKey'] }],
  ];
  for (const [name, query, expected] of cases) {
    const head = await api.head();
    const r = await api.gql(query);
    assert.equal(r.body.errors, undefined, `${name}: ${r.text}`);
    const payload = Object.values(r.body.data)[0] as { userErrors: { field: string[] | null; code: string; message: string }[] } & Record<string, unknown>;
    assert.ok(payload.userErrors.length >= 1, `${name}: no userErrors: ${r.text}`);
    assert.equal({ code: payload.userErrors[0].code, field: payload.userErrors[0].field }, expected, `${name}: ${r.text}`);
    assert.ok(payload.userErrors[0].message.length > 5, `${name}: a message people can read`);
    assert.ok(Object.entries(payload).every(([k, v]) => k === 'userErrors' || v === null), `${name}: no object returned`);
    assert.is(await api.head(), head, `${name}: something was appended`);
  }
  // GraphQL-level type errors never reach the service either
  const head = await api.head();
  const typeError = await api.gql('mutation { xnodeSlice(input: { hostId: "h_vm1", size: { cpuCores: "many", ramMiB: 1, diskGiB: 1 } }) { userErrors { code } } }');
  assert.equal(typeError.status, 400);
  assert.is(await api.head(), head);
});

test('idempotency keys: the same key registers once and answers with the same object', async () => {
  const query = 'mutation { regionRegister(input: { name: "Asia", idempotencyKey: "asia-1" }) { region { id name } userErrors { code } } }';
  const a = await m(query);
  const head = await api.head();
  const b = await m(query);
  assert.equal(a, b);
  assert.is(await api.head(), head, 'the repeat appended nothing');
});

test('tenants: every Resources query and mutation is refused (FORBIDDEN) or null, the same for real and missing ids', async () => {
  const probe = async (name: string, query: string, realId: string, ghostId: string, extra: Record<string, unknown> = {}) => {
    const head = await api.head();
    const real = await api.gql(query, { id: realId, ...extra }, tenant);
    const ghost = await api.gql(query, { id: ghostId, ...extra }, tenant);
    assert.equal(real.status, ghost.status, `${name}: HTTP status differs`);
    assert.equal(real.text.split(realId).join('<ID>'), ghost.text.split(ghostId).join('<ID>'), `${name}: answers differ for a real id and a missing one`);
    for (const s of RESOURCE_SECRETS) assert.not.ok(real.text.includes(s), `${name} reveals ${s}`);
    assert.is(await api.head(), head, `${name}: something was appended`);
    return real;
  };
  const cases = resourcesIsolationCases({ api: () => api, tenantToken: () => tenant, probe });
  const missing = resourceRootFields().filter((f) => !(f in cases));
  assert.equal(missing, [], `Resources root fields without a tenant case: ${missing.join(', ')}`);
  for (const [name, run] of Object.entries(cases)) {
    try { await run(); } catch (e) { throw new Error(`${name}: ${(e as Error).message}`); }
  }
  // and the operator still sees what the tenant could not
  const d = await q('{ regions(first: 100) { nodes { name } } }');
  assert.ok(d.regions.nodes.some((n: any) => n.name === 'iso-secret-region'));
});

test.run();
