import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Fleet } from './fleet.ts';
import { areaDistance, Planner, shareOf, type PlacementRequest } from './placement.ts';

const CAP = { cpuCores: 32, cpuMHz: 0, ramMiB: 65536, diskGiB: 1000, diskIops: 0 };
const SIZE = { cpuCores: 4, cpuMHz: 0, ramMiB: 8192, diskGiB: 100, diskIops: 0 };

/** 2 regions × 2 zones × 2 rows × 2 racks × 2 hosts. */
function fleet(): Fleet {
  const f = new Fleet();
  for (const r of ['r_a', 'r_b']) for (const z of [1, 2]) for (const row of [1, 2]) for (const rack of [1, 2]) for (const n of [1, 2]) {
    f.addHost({ hostId: `h_${r}_${z}_${row}_${rack}_${n}`, regionId: r, zoneId: `z_${r}${z}`, area: `dc${z}/row${row}/rack${rack}`, type: 'VM', capacity: CAP });
  }
  return f;
}
const req = (extra: Partial<PlacementRequest>): PlacementRequest => ({ componentId: 'c_x', size: SIZE, hostTypes: ['VM'], access: 'Full', replicas: [0, 1], placed: [], ...extra });

test('area distance', () => {
  assert.is(areaDistance(['dc1', 'row1', 'rack1'], ['dc1', 'row1', 'rack1']), 0);
  assert.is(areaDistance(['dc1', 'row1', 'rack1'], ['dc1', 'row1', 'rack2']), 1);
  assert.is(areaDistance(['dc1', 'row1', 'rack1'], ['dc1', 'row2', 'rack1']), 2);
  assert.is(areaDistance(['dc1', 'row1', 'rack1'], ['dc2', 'row1', 'rack1']), 3);
});

test('required anti-affinity: regions for Full, zones for Region, distant areas for Zone', () => {
  const f = fleet();
  const p = new Planner(f);
  const full = p.plan(req({ access: 'Full' }));
  assert.ok(full.ok);
  assert.is(new Set(full.choices.map((c) => c.host.regionId)).size, 2);
  assert.not.ok(p.plan(req({ access: 'Full', replicas: [0, 1, 2] })).ok, 'three replicas cannot span two regions');
  const region = p.plan(req({ access: 'Region', regionId: 'r_a' }));
  assert.ok(region.ok);
  assert.equal(new Set(region.choices.map((c) => c.host.zoneId)), new Set(['z_r_a1', 'z_r_a2']));
  const zone = p.plan(req({ access: 'Zone', zoneId: 'z_r_a1', replicas: [0, 1, 2, 3] }));
  assert.ok(zone.ok);
  const areas = zone.choices.map((c) => c.host.area);
  assert.is(new Set(areas).size, 4);
  // the second replica goes to the other row (distance 2), not the neighbouring rack (distance 1)
  assert.is(areaDistance(areas[0].split('/'), areas[1].split('/')), 2);
  // replicas already placed keep their domains
  const more = p.plan(req({ access: 'Region', regionId: 'r_a', replicas: [1], placed: [{ hostId: 'h_x', regionId: 'r_a', zoneId: 'z_r_a1', area: 'dc1/row1/rack1' }] }));
  assert.ok(more.ok);
  assert.is(more.choices[0].host.zoneId, 'z_r_a2');
  const none = p.plan(req({ access: 'Region', regionId: 'r_a', replicas: [2], placed: [{ hostId: 'h_x', regionId: 'r_a', zoneId: 'z_r_a1', area: 'a' }, { hostId: 'h_y', regionId: 'r_a', zoneId: 'z_r_a2', area: 'a' }] }));
  assert.not.ok(none.ok);
  if (!none.ok) assert.is(none.code, 'NO_FAILURE_DOMAIN');
});

test('bin-pack fills hosts in order; spread uses the emptiest', () => {
  const f = fleet();
  const p = new Planner(f, { policy: 'binpack' });
  const seen = new Set<string>();
  for (let i = 0; i < 16; i++) {
    const out = p.plan(req({ access: 'Zone', zoneId: 'z_r_a1', replicas: [0] }));
    assert.ok(out.ok);
    if (out.ok) { f.reserve(out.choices[0].host.hostId, null, SIZE); seen.add(out.choices[0].host.hostId); }
  }
  assert.is(seen.size, 2, `16 × 4 cores fill two 32-core hosts, got ${[...seen].join(', ')}`);
  const g = fleet();
  const s = new Planner(g, { policy: 'spread' });
  const spread = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const out = s.plan(req({ access: 'Zone', zoneId: 'z_r_a1', replicas: [0] }));
    if (out.ok) { g.reserve(out.choices[0].host.hostId, null, SIZE); spread.add(out.choices[0].host.hostId); }
  }
  assert.is(spread.size, 8);
});

test('filters: unreachable, draining and full hosts are skipped and counted; reasons explain', () => {
  const f = fleet();
  for (const h of f.hosts) if (h.zoneId === 'z_r_a1') { if (h.area.endsWith('rack1')) h.reachable = false; else h.admin = 'draining'; }
  for (const m of f.hosts.flatMap((h) => h.memberships)) m.pool.dirty = true;
  const p = new Planner(f);
  const out = p.plan(req({ access: 'Zone', zoneId: 'z_r_a1', replicas: [0] }));
  assert.not.ok(out.ok);
  if (!out.ok) {
    assert.is(out.code, 'NO_CAPACITY');
    assert.match(out.message, /no host in scope/);
  }
  const ok = p.plan(req({ access: 'Region', regionId: 'r_a', replicas: [0] }));
  assert.ok(ok.ok);
  if (ok.ok) {
    assert.is(ok.choices[0].host.zoneId, 'z_r_a2');
    assert.ok(ok.reasons.candidates > 0);
    assert.ok(ok.reasons.top.length >= 1);
    assert.match(ok.reasons.why, /replica 0 → h_r_a_2/);
  }
  const big = p.plan(req({ access: 'Full', replicas: [0], size: { ...SIZE, cpuCores: 33 } }));
  assert.not.ok(big.ok);
});

test('feasibility: bigger than any host, scope without hosts, too few failure domains', () => {
  const p = new Planner(fleet());
  assert.equal(p.feasibility({ size: SIZE, hostTypes: ['VM'], access: 'Full', replicas: 2 }), { ok: true });
  const big = p.feasibility({ size: { ...SIZE, ramMiB: 1_000_000 }, hostTypes: ['VM'], access: 'Full', replicas: 1 });
  assert.is(!big.ok && big.code, 'SIZE_EXCEEDS_ANY_HOST');
  const nowhere = p.feasibility({ size: SIZE, hostTypes: ['VM'], access: 'Region', regionId: 'r_zz', replicas: 1 });
  assert.is(!nowhere.ok && nowhere.code, 'NO_CAPACITY_IN_SCOPE');
  const few = p.feasibility({ size: SIZE, hostTypes: ['VM'], access: 'Region', regionId: 'r_a', replicas: 3 });
  assert.is(!few.ok && few.code, 'INSUFFICIENT_FAILURE_DOMAINS');
  const noType = p.feasibility({ size: SIZE, hostTypes: ['BM'], access: 'Full', replicas: 1 });
  assert.is(!noType.ok && noType.code, 'SIZE_EXCEEDS_ANY_HOST');
});

test('parallel schedulers: each bin-packs its own share of a pool first, then the others\' from the end', () => {
  // two views of one fleet (each scheduler process has its own), 16 hosts in zone z_r_a1 region-wide pools
  const views = [fleet(), fleet()];
  const planners = views.map((f, index) => new Planner(f, { policy: 'binpack', share: { index, of: 2 } }));
  const zoneHosts = views[0].hosts.filter((h) => h.zoneId === 'z_r_a1').map((h) => h.hostId);
  const own = (k: number) => new Set(zoneHosts.filter((h) => shareOf(h, 2) === k));
  assert.ok(own(0).size > 0 && own(1).size > 0, 'both shares hold hosts of the zone');
  const placedBy: string[][] = [[], []];
  // each places (one replica of 4 cores, Region access: zone pools) until its own share of the zone is full
  for (let k = 0; k < 2; k++) {
    for (let i = 0; i < own(k).size * 8; i++) {
      const out = planners[k].plan(req({ access: 'Region', regionId: 'r_a', replicas: [0] }));
      assert.ok(out.ok);
      if (!out.ok) return;
      const host = out.choices[0].host.hostId;
      if (out.choices[0].host.zoneId !== 'z_r_a1') continue;
      views[k].reserve(host, null, SIZE);
      placedBy[k].push(host);
    }
  }
  for (let k = 0; k < 2; k++) for (const h of placedBy[k]) assert.ok(own(k).has(h), `scheduler ${k} placed on ${h}, outside its share, while its share had room`);
  // scheduler 0's share is full (in its own view): it goes on with scheduler 1's hosts, from the last one
  const next = planners[0].plan(req({ access: 'Zone', zoneId: 'z_r_a1', replicas: [0] }));
  assert.ok(next.ok);
  if (next.ok) {
    const others = views[0].hosts.filter((h) => h.zoneId === 'z_r_a1' && shareOf(h.hostId, 2) === 1);
    const area = next.choices[0].host.area;
    const inArea = others.filter((h) => h.area === area).map((h) => h.hostId).sort();
    assert.ok(own(1).has(next.choices[0].host.hostId));
    assert.is(next.choices[0].host.hostId, inArea[inArea.length - 1], 'the last of the other share in that area first');
  }
  // without a share (one scheduler), the order is the plain one
  assert.is(shareOf('h_r_a_1_1_1_1', 1), 0);
});

test.run();
