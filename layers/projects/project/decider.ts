/**
 * Project: create, rename, archive, set quotas, link/unlink components (CContracts). Ownership (who may send a
 * command) is checked by the application service (../service.ts); the decider keeps the project's own rules:
 * an archived project changes no more, a project with components cannot be archived, the component quota holds.
 */
import './events.ts';
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import { UNLIMITED, type Quotas } from '../ids.ts';
import type { ProjectCommand } from './commands.ts';
import type { ProjectEvent } from './events.ts';

export type ProjectStatus = 'none' | 'active' | 'archived';
export interface ProjectState {
  status: ProjectStatus;
  projectId?: string;
  ownerId?: string;
  name?: string;
  quotas: Quotas;
  /** Linked component ids, in link order. */
  components: string[];
}

const exists = (state: ProjectState, projectId: string) => {
  if (state.status === 'none') throw new DomainError('PROJECT_NOT_FOUND', `project ${projectId} does not exist`, ['projectId']);
  if (state.projectId !== projectId) throw new DomainError('PROJECT_MISMATCH', `command for project ${projectId} sent to the stream of ${state.projectId}`, ['projectId']);
};
const active = (state: ProjectState, projectId: string) => {
  exists(state, projectId);
  if (state.status === 'archived') throw new DomainError('PROJECT_ARCHIVED', `project ${projectId} is archived`, ['projectId']);
};
const sameQuotas = (a: Quotas, b: Quotas) =>
  a.cpuCores === b.cpuCores && a.ramMiB === b.ramMiB && a.diskGiB === b.diskGiB && a.components === b.components;

export const projectDecider: Decider<ProjectState, ProjectCommand, ProjectEvent> = {
  initialState: () => ({ status: 'none', quotas: UNLIMITED, components: [] }),
  evolve(state, event) {
    switch (event.type) {
      case 'ProjectCreated': return { status: 'active', projectId: event.data.projectId, ownerId: event.data.ownerId, name: event.data.name, quotas: UNLIMITED, components: [] };
      case 'ProjectRenamed': return { ...state, name: event.data.name };
      case 'ProjectArchived': return { ...state, status: 'archived' };
      case 'ProjectQuotasSet': return { ...state, quotas: event.data.quotas };
      case 'ProjectComponentLinked': return { ...state, components: [...state.components, event.data.componentId] };
      case 'ProjectComponentUnlinked': return { ...state, components: state.components.filter((c) => c !== event.data.componentId) };
      default: return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'CreateProject': {
        const { projectId, ownerId, name, description } = command.data;
        if (state.status !== 'none') {
          if (state.projectId === projectId && state.ownerId === ownerId && state.name === name) return []; // a retried create
          throw new DomainError('PROJECT_EXISTS', `project ${projectId} already exists`, ['projectId']);
        }
        return [{ type: 'ProjectCreated', data: { projectId, ownerId, name, ...(description !== undefined && description !== '' && { description }) } }];
      }
      case 'RenameProject': {
        active(state, command.data.projectId);
        if (state.name === command.data.name) return [];
        return [{ type: 'ProjectRenamed', data: { projectId: command.data.projectId, name: command.data.name, previousName: state.name! } }];
      }
      case 'ArchiveProject': {
        const { projectId, reason } = command.data;
        exists(state, projectId);
        if (state.status === 'archived') return [];
        if (state.components.length > 0) {
          throw new DomainError('PROJECT_HAS_COMPONENTS', `project ${projectId} still holds ${state.components.length} component(s); release them first`, ['projectId']);
        }
        return [{ type: 'ProjectArchived', data: { projectId, ...(reason !== undefined && reason !== '' && { reason }) } }];
      }
      case 'SetProjectQuotas': {
        const { projectId, quotas } = command.data;
        active(state, projectId);
        if (sameQuotas(state.quotas, quotas)) return [];
        if (quotas.components !== null && quotas.components < state.components.length) {
          throw new DomainError('QUOTA_BELOW_USAGE', `the project already holds ${state.components.length} components, more than ${quotas.components}`, ['quotas', 'components']);
        }
        return [{ type: 'ProjectQuotasSet', data: { projectId, quotas, previous: state.quotas } }];
      }
      case 'LinkComponent': {
        const { projectId, componentId } = command.data;
        active(state, projectId);
        if (state.components.includes(componentId)) return [];
        if (state.quotas.components !== null && state.components.length >= state.quotas.components) {
          throw new DomainError('QUOTA_EXCEEDED', `the project's quota of ${state.quotas.components} components is used up`, ['projectId']);
        }
        return [{ type: 'ProjectComponentLinked', data: { projectId, componentId } }];
      }
      case 'UnlinkComponent': {
        const { projectId, componentId, reason } = command.data;
        exists(state, projectId);
        if (!state.components.includes(componentId)) return []; // already unlinked: a retried step of a process
        return [{ type: 'ProjectComponentUnlinked', data: { projectId, componentId, ...(reason !== undefined && reason !== '' && { reason }) } }];
      }
    }
  },
};
