import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.ts';
import { openLedger, type Ledger } from '../core/ledger.ts';
import { ProjectsService } from '../layers/projects/service.ts';
import { projectsProjection } from './projects.ts';
import { ProjectsReadModel } from './projects-read.ts';
import { rebuildProjection } from './runner.ts';

let dir: string;
let ledger: Ledger;
const operator = { kind: 'operator', id: 'op' } as const;
const system = { kind: 'system', id: 'components' } as const;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'projects-proj-'));
  ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir }), { projections: [projectsProjection] });
});
test.after(async () => { await ledger.close(); rmSync(dir, { recursive: true, force: true }); });

test('users, projects, membership and component links; pages in creation order; rebuild gives the same digest', async () => {
  const svc = new ProjectsService(ledger);
  const ada = (await svc.createUser(operator, { name: 'Ada' })).id;
  const bob = (await svc.createUser(operator, { name: 'Bob' })).id;
  const adaActor = { kind: 'tenant', id: ada } as const;
  const projects: string[] = [];
  for (let i = 0; i < 5; i++) projects.push((await svc.createProject(adaActor, { name: `p${i}` })).id);
  const bobs = (await svc.createProject({ kind: 'tenant', id: bob }, { name: 'bob' })).id;
  await svc.renameProject(adaActor, { projectId: projects[0], name: 'first' });
  await svc.setProjectQuotas(adaActor, { projectId: projects[1], quotas: { cpuCores: 4, components: 2 } });
  await svc.linkComponent(system, { projectId: projects[1], componentId: 'c_1' });
  await svc.linkComponent(system, { projectId: projects[1], componentId: 'c_2' });
  await svc.unlinkComponent(system, { projectId: projects[1], componentId: 'c_1', reason: 'released' });
  await svc.archiveProject(adaActor, { projectId: projects[4] });
  await svc.suspendUser(operator, { userId: bob, reason: 'test' });
  await ledger.settle();

  const read = new ProjectsReadModel(ledger.readModels);
  assert.equal(read.user(bob)?.status, 'suspended');
  assert.equal(read.project(projects[0])?.name, 'first');
  assert.equal(read.project(projects[1])?.quotas, { cpuCores: 4, ramMiB: null, diskGiB: null, components: 2 });
  assert.equal(read.componentIds(projects[1]), ['c_2']);
  assert.equal(read.project(projects[4])?.status, 'archived');
  assert.ok(read.isMember(ada, projects[0]));
  assert.not.ok(read.isMember(ada, bobs));
  const page1 = read.projectsOf(ada, 0, 2, false);
  assert.equal(page1.rows.map((r) => r.projectId), projects.slice(0, 2));
  assert.ok(page1.hasNextPage);
  const page2 = read.projectsOf(ada, page1.rows[1].seq, 10, false);
  assert.equal(page2.rows.map((r) => r.projectId), projects.slice(2, 4), 'archived ones left out');
  assert.not.ok(page2.hasNextPage);
  assert.equal(read.projectsOf(ada, page1.rows[1].seq, 10, true).rows.length, 3);
  assert.equal(read.projectCountOf(ada, false), 4);
  assert.equal(read.projectCountOf(ada, true), 5);

  const rebuilt = await rebuildProjection(ledger.store, projectsProjection);
  assert.equal(rebuilt.digest, ledger.projections.digest('projects'));
  rebuilt.db.close();
});

test('service: only operators manage users; another tenant\'s project is "does not exist"; bad input names the field', async () => {
  const svc = new ProjectsService(ledger);
  const u = (await svc.createUser(operator, { name: 'Cy' })).id;
  const v = (await svc.createUser(operator, { name: 'Di' })).id;
  const p = (await svc.createProject({ kind: 'tenant', id: u }, { name: 'cy' })).id;
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (e) => e.code);
  assert.equal(await code(svc.createUser({ kind: 'tenant', id: u }, { name: 'x' })), 'FORBIDDEN');
  assert.equal(await code(svc.createProject(operator, { name: 'x' })), 'FORBIDDEN');
  assert.equal(await code(svc.linkComponent({ kind: 'tenant', id: u }, { projectId: p, componentId: 'c_9' })), 'FORBIDDEN');
  const foreign = await svc.renameProject({ kind: 'tenant', id: v }, { projectId: p, name: 'x' }).catch((e) => e);
  const ghost = await svc.renameProject({ kind: 'tenant', id: v }, { projectId: 'p_ghost', name: 'x' }).catch((e) => e);
  assert.equal([foreign.code, foreign.message.replace(p, 'ID')], [ghost.code, ghost.message.replace('p_ghost', 'ID')]);
  const bad = await svc.createProject({ kind: 'tenant', id: u }, { name: '', description: 'x'.repeat(2000) }).catch((e) => e);
  assert.equal(bad.code, 'INVALID_INPUT');
  assert.equal(bad.issues.map((i: any) => i.field), [['name'], ['description']]);
  const ghostUser = await svc.createProject({ kind: 'tenant', id: 'u_ghost' }, { name: 'x' }).catch((e) => e);
  assert.equal(ghostUser.code, 'USER_NOT_FOUND');
});


test('the read cache notices changes committed by another connection (another process)', async () => {
  const svc = new ProjectsService(ledger);
  const u = (await svc.createUser(operator, { name: 'Eve' })).id;
  const p = (await svc.createProject({ kind: 'tenant', id: u }, { name: 'before' })).id;
  await ledger.settle();
  const read = new ProjectsReadModel(ledger.readModels);
  assert.equal(read.project(p)?.name, 'before');
  assert.equal(read.project(p)?.name, 'before'); // cached
  const Database = (await import('better-sqlite3')).default;
  const other = new Database(join(dir, 'readmodels.sqlite'));
  other.prepare('UPDATE projects_projects SET name = ? WHERE project_id = ?').run('after', p);
  other.close();
  await new Promise((r) => setTimeout(r, 25)); // other writers are looked for every 20 ms
  assert.equal(read.project(p)?.name, 'after');
  await svc.renameProject({ kind: 'tenant', id: u }, { projectId: p, name: 'renamed' });
  await ledger.settle();
  assert.equal(read.project(p)?.name, 'renamed', 'and changes applied by this process\'s projection');
});


test('authorization checks see writes by other processes (suspension, a project created elsewhere)', async () => {
  const { CommandHandler } = await import('../core/command-handler.ts');
  const { SqliteEventStore } = await import('../core/event-store/sqlite.ts');
  const { userDecider } = await import('../layers/projects/user/decider.ts');
  const { projectDecider } = await import('../layers/projects/project/decider.ts');
  const svc = new ProjectsService(ledger);
  const u = (await svc.createUser(operator, { name: 'Fay' })).id;
  const tenant = { kind: 'tenant', id: u } as const;
  const p = (await svc.createProject(tenant, { name: 'mine' })).id;
  // the server's handler has seen (and cached) the user as active and a project id as missing
  const missing = 'p_madeelsewhere';
  assert.equal(await svc.visibleProject(tenant, missing), null);
  const other = new SqliteEventStore({ path: join(dir, 'events.sqlite') });
  try {
    await new CommandHandler(other, projectDecider).handle(`Project-${missing}`, { type: 'CreateProject', data: { projectId: missing, ownerId: u, name: 'elsewhere' } }, { actor: tenant, tenantId: u });
    assert.equal((await svc.visibleProject(tenant, missing))?.name, 'elsewhere');
    await new CommandHandler(other, userDecider).handle(`User-${u}`, { type: 'SuspendUser', data: { userId: u } }, { actor: operator });
  } finally { await other.close(); }
  const refused = await svc.renameProject(tenant, { projectId: p, name: 'x' }).catch((e) => e.code);
  assert.equal(refused, 'USER_SUSPENDED');
});

test.run();
