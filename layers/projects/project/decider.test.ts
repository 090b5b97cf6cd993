import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spec } from '../../../core/spec.ts';
import { validateCommand, validateEvent } from '../../../schema/registry.ts';
import { UNLIMITED } from '../ids.ts';
import { CreateProject, SetProjectQuotas } from './commands.ts';
import { projectDecider } from './decider.ts';
import type { ProjectEvent } from './events.ts';

const project = spec(projectDecider);
const created: ProjectEvent = { type: 'ProjectCreated', data: { projectId: 'p_web', ownerId: 'u_ada', name: 'web shop' } };
const archived: ProjectEvent = { type: 'ProjectArchived', data: { projectId: 'p_web' } };
const linked = (componentId: string): ProjectEvent => ({ type: 'ProjectComponentLinked', data: { projectId: 'p_web', componentId } });
const quotas = { cpuCores: 16, ramMiB: 65_536, diskGiB: 500, components: 2 };
const quotasSet: ProjectEvent = { type: 'ProjectQuotasSet', data: { projectId: 'p_web', quotas, previous: UNLIMITED } };

test('create a project; retried create does nothing; a different create on the same id is refused', () => {
  project.given([]).when({ type: 'CreateProject', data: { projectId: 'p_web', ownerId: 'u_ada', name: 'web shop' } }).then([created]);
  project.given([]).when({ type: 'CreateProject', data: { projectId: 'p_web', ownerId: 'u_ada', name: 'web shop', description: 'the shop' } })
    .then([{ type: 'ProjectCreated', data: { projectId: 'p_web', ownerId: 'u_ada', name: 'web shop', description: 'the shop' } }]);
  project.given([created]).when({ type: 'CreateProject', data: { projectId: 'p_web', ownerId: 'u_ada', name: 'web shop' } }).thenNothing();
  project.given([created]).when({ type: 'CreateProject', data: { projectId: 'p_web', ownerId: 'u_bob', name: 'web shop' } }).thenThrows('PROJECT_EXISTS');
});

test('rename; same name does nothing; unknown or archived projects are refused', () => {
  project.given([created]).when({ type: 'RenameProject', data: { projectId: 'p_web', name: 'shop' } })
    .then([{ type: 'ProjectRenamed', data: { projectId: 'p_web', name: 'shop', previousName: 'web shop' } }]);
  project.given([created]).when({ type: 'RenameProject', data: { projectId: 'p_web', name: 'web shop' } }).thenNothing();
  project.given([]).when({ type: 'RenameProject', data: { projectId: 'p_web', name: 'x' } }).thenThrows('PROJECT_NOT_FOUND');
  project.given([created, archived]).when({ type: 'RenameProject', data: { projectId: 'p_web', name: 'x' } }).thenThrows('PROJECT_ARCHIVED');
});

test('archive only without components; archiving twice does nothing', () => {
  project.given([created]).when({ type: 'ArchiveProject', data: { projectId: 'p_web', reason: 'done' } })
    .then([{ type: 'ProjectArchived', data: { projectId: 'p_web', reason: 'done' } }]);
  project.given([created, archived]).when({ type: 'ArchiveProject', data: { projectId: 'p_web' } }).thenNothing();
  project.given([created, linked('c_1')]).when({ type: 'ArchiveProject', data: { projectId: 'p_web' } }).thenThrows('PROJECT_HAS_COMPONENTS');
  project.given([created, linked('c_1'), { type: 'ProjectComponentUnlinked', data: { projectId: 'p_web', componentId: 'c_1' } }])
    .when({ type: 'ArchiveProject', data: { projectId: 'p_web' } }).then([archived]);
});

test('set quotas records the previous ones; the same quotas do nothing; not below the components held', () => {
  project.given([created]).when({ type: 'SetProjectQuotas', data: { projectId: 'p_web', quotas } }).then([quotasSet]);
  project.given([created, quotasSet]).when({ type: 'SetProjectQuotas', data: { projectId: 'p_web', quotas: { ...quotas } } }).thenNothing();
  project.given([created, quotasSet]).when({ type: 'SetProjectQuotas', data: { projectId: 'p_web', quotas: UNLIMITED } })
    .then([{ type: 'ProjectQuotasSet', data: { projectId: 'p_web', quotas: UNLIMITED, previous: quotas } }]);
  project.given([created, linked('c_1'), linked('c_2')]).when({ type: 'SetProjectQuotas', data: { projectId: 'p_web', quotas: { ...UNLIMITED, components: 1 } } })
    .thenThrows('QUOTA_BELOW_USAGE');
  project.given([created, archived]).when({ type: 'SetProjectQuotas', data: { projectId: 'p_web', quotas } }).thenThrows('PROJECT_ARCHIVED');
});

test('link and unlink components: idempotent, within the component quota, never into an archived project', () => {
  project.given([created]).when({ type: 'LinkComponent', data: { projectId: 'p_web', componentId: 'c_1' } }).then([linked('c_1')]);
  project.given([created, linked('c_1')]).when({ type: 'LinkComponent', data: { projectId: 'p_web', componentId: 'c_1' } }).thenNothing();
  project.given([created, quotasSet, linked('c_1'), linked('c_2')]).when({ type: 'LinkComponent', data: { projectId: 'p_web', componentId: 'c_3' } })
    .thenThrows('QUOTA_EXCEEDED');
  project.given([created, archived]).when({ type: 'LinkComponent', data: { projectId: 'p_web', componentId: 'c_1' } }).thenThrows('PROJECT_ARCHIVED');
  project.given([created, linked('c_1')]).when({ type: 'UnlinkComponent', data: { projectId: 'p_web', componentId: 'c_1', reason: 'released' } })
    .then([{ type: 'ProjectComponentUnlinked', data: { projectId: 'p_web', componentId: 'c_1', reason: 'released' } }]);
  project.given([created]).when({ type: 'UnlinkComponent', data: { projectId: 'p_web', componentId: 'c_1' } }).thenNothing();
  project.given([]).when({ type: 'UnlinkComponent', data: { projectId: 'p_web', componentId: 'c_1' } }).thenThrows('PROJECT_NOT_FOUND');
  const state = [created, linked('c_1'), linked('c_2')].reduce(projectDecider.evolve, projectDecider.initialState());
  assert.equal(state.components, ['c_1', 'c_2']);
});

test('schemas refuse malformed input', () => {
  assert.throws(() => validateCommand(CreateProject, 'CreateProject', { projectId: 'p_a', ownerId: 'u-x', name: 'x' }), /ownerId/);
  assert.throws(() => validateCommand(SetProjectQuotas, 'SetProjectQuotas', { projectId: 'p_a', quotas: { ...UNLIMITED, cpuCores: -1 } }), /cpuCores/);
  assert.throws(() => validateCommand(SetProjectQuotas, 'SetProjectQuotas', { projectId: 'p_a', quotas: { ...UNLIMITED, ramMiB: 1.5 } }), /ramMiB/);
  assert.throws(() => validateCommand(SetProjectQuotas, 'SetProjectQuotas', { projectId: 'p_a', quotas: { cpuCores: 1 } }), /ramMiB/);
  assert.throws(() => validateEvent('ProjectComponentLinked', { projectId: 'p_a', componentId: 'c.1' }), /componentId/);
  assert.equal(validateEvent('ProjectQuotasSet', quotasSet.data).data, quotasSet.data);
});

test.run();
