/**
 * The application service of the Projects layer: who may send which command, input validation, id generation and
 * idempotency keys. Deciders stay pure; this is where the actor is checked against the streams' owners.
 *
 *   - Users are created and managed by operators only.
 *   - Projects are created by a tenant (the token's user, who becomes the owner) and changed by their owner or an
 *     operator. A tenant asking about another tenant's project gets exactly the answer it gets for a project that
 *     does not exist (same code, same text).
 *   - A suspended user changes nothing.
 *   - Component links are made by the Components layer (system/operator actors).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DomainError, fold, type Decider } from '../../core/decider.ts';
import type { Ledger } from '../../core/ledger.ts';
import type { Actor } from '../../schema/envelope.ts';
import { ComponentId, Description, Name, newProjectId, newUserId, ProjectId, Quotas, Reason, stream, UserId } from './ids.ts';
import { projectDecider, type ProjectState } from './project/decider.ts';
import { userDecider, type UserState } from './user/decider.ts';

export { AccessDeniedError, InvalidInputError, type InputIssue } from '../../core/service-errors.ts';
import { AccessDeniedError, IdempotencyKey, parseInput } from '../../core/service-errors.ts';

export type { CommandMeta } from '../../core/command-meta.ts';
import type { CommandMeta } from '../../core/command-meta.ts';

export interface Outcome { id: string; position: number; duplicate: boolean }


const parse = <T>(schema: z.ZodType<T>, input: unknown): T => parseInput(schema, input, { onePerField: true });

const optionalKey = (meta: CommandMeta) => meta.idempotencyKey === undefined ? undefined : parse(z.object({ idempotencyKey: IdempotencyKey }), { idempotencyKey: meta.idempotencyKey }).idempotencyKey;
const commandIdOf = (actor: Actor, op: string, key: string | undefined) => {
  if (key === undefined) return undefined;
  const id = `${actor.kind}:${actor.id}:${op}:${key}`;
  return id.length <= 200 ? id : createHash('sha256').update(id).digest('hex');
};

const notFound = (projectId: string) => new DomainError('PROJECT_NOT_FOUND', `project ${projectId} does not exist`, ['projectId']);

const CreateUserInput = z.object({ name: Name }).strict();
const RenameUserInput = z.object({ userId: UserId, name: Name }).strict();
const SuspendUserInput = z.object({ userId: UserId, reason: Reason.optional() }).strict();
const ReactivateUserInput = z.object({ userId: UserId }).strict();
const CreateProjectInput = z.object({ name: Name, description: Description.optional() }).strict();
const RenameProjectInput = z.object({ projectId: ProjectId, name: Name }).strict();
const ArchiveProjectInput = z.object({ projectId: ProjectId, reason: Reason.optional() }).strict();
const SetQuotasInput = z.object({
  projectId: ProjectId,
  quotas: z.object({
    cpuCores: Quotas.shape.cpuCores.optional(), ramMiB: Quotas.shape.ramMiB.optional(),
    diskGiB: Quotas.shape.diskGiB.optional(), components: Quotas.shape.components.optional(),
  }).strict(),
}).strict();
const LinkInput = z.object({ projectId: ProjectId, componentId: ComponentId }).strict();
const UnlinkInput = z.object({ projectId: ProjectId, componentId: ComponentId, reason: Reason.optional() }).strict();

export class ProjectsService {
  constructor(private readonly ledger: Pick<Ledger, 'execute' | 'load' | 'store'>) {}

  // ── users (operator only) ──────────────────────────────────────────────────────────────────────────────

  async createUser(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'create users');
    const { name } = parse(CreateUserInput, input);
    const key = optionalKey(meta);
    const userId = key === undefined ? newUserId() : newUserId(actor.kind, actor.id, key);
    const r = await this.ledger.execute(userDecider, stream.user(userId), { type: 'CreateUser', data: { userId, name } }, this.ctx(actor, meta, commandIdOf(actor, 'userCreate', key)));
    return { id: userId, position: r.position, duplicate: r.duplicate };
  }

  async renameUser(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'rename users');
    const data = parse(RenameUserInput, input);
    return this.onUser(actor, data.userId, { type: 'RenameUser', data }, meta);
  }

  async suspendUser(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'suspend users');
    const data = parse(SuspendUserInput, input);
    return this.onUser(actor, data.userId, { type: 'SuspendUser', data }, meta);
  }

  async reactivateUser(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireOperator(actor, 'reactivate users');
    const data = parse(ReactivateUserInput, input);
    return this.onUser(actor, data.userId, { type: 'ReactivateUser', data }, meta);
  }

  // ── projects (owner, or operator) ──────────────────────────────────────────────────────────────────────

  async createProject(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    if (actor.kind !== 'tenant') throw new AccessDeniedError('projects are created by their owner: use a tenant token');
    const { name, description } = parse(CreateProjectInput, input);
    const key = optionalKey(meta);
    await this.requireActiveUser(actor.id);
    const projectId = key === undefined ? newProjectId() : newProjectId(actor.id, key);
    const r = await this.ledger.execute(projectDecider, stream.project(projectId), {
      type: 'CreateProject', data: { projectId, ownerId: actor.id, name, ...(description !== undefined && { description }) },
    }, this.ctx(actor, meta, commandIdOf(actor, 'projectCreate', key)));
    return { id: projectId, position: r.position, duplicate: r.duplicate };
  }

  async renameProject(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    const data = parse(RenameProjectInput, input);
    return this.onProject(actor, data.projectId, { type: 'RenameProject', data }, meta);
  }

  async archiveProject(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    const data = parse(ArchiveProjectInput, input);
    return this.onProject(actor, data.projectId, { type: 'ArchiveProject', data }, meta);
  }

  /** Replaces the quotas: a field left out or null is unlimited. */
  async setProjectQuotas(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    const { projectId, quotas } = parse(SetQuotasInput, input);
    const full = { cpuCores: quotas.cpuCores ?? null, ramMiB: quotas.ramMiB ?? null, diskGiB: quotas.diskGiB ?? null, components: quotas.components ?? null };
    return this.onProject(actor, projectId, { type: 'SetProjectQuotas', data: { projectId, quotas: full } }, meta);
  }

  /** For the Components layer (system or operator actors; a tenant's request goes through the component's process). */
  async linkComponent(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireSystem(actor);
    const data = parse(LinkInput, input);
    return this.onProject(actor, data.projectId, { type: 'LinkComponent', data }, meta);
  }

  async unlinkComponent(actor: Actor, input: unknown, meta: CommandMeta = {}): Promise<Outcome> {
    requireSystem(actor);
    const data = parse(UnlinkInput, input);
    return this.onProject(actor, data.projectId, { type: 'UnlinkComponent', data }, meta);
  }

  /**
   * The project's state if `actor` may see it, else null (for a tenant: only its own projects). A project's existence
   * and owner never change once created, so a cached "yes" stands; a "no" is confirmed against the store (another
   * process may have created the project since the command handler cached the stream).
   */
  async visibleProject(actor: Actor, projectId: string): Promise<ProjectState | null> {
    if (!ProjectId.safeParse(projectId).success) return null;
    const visible = (state: ProjectState) => state.status !== 'none' && (actor.kind !== 'tenant' || state.ownerId === actor.id);
    const { state } = await this.ledger.load(projectDecider, stream.project(projectId));
    if (visible(state)) return state;
    const fresh = await this.fresh(projectDecider, stream.project(projectId));
    return visible(fresh) ? fresh : null;
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────────────────────

  private ctx(actor: Actor, meta: CommandMeta, commandId?: string) {
    return {
      actor,
      ...(actor.kind === 'tenant' && { tenantId: actor.id }),
      ...(meta.correlationId !== undefined && { correlationId: meta.correlationId }),
      ...(meta.causationId !== undefined && { causationId: meta.causationId }),
      ...(commandId !== undefined && { commandId }),
    };
  }

  private async onUser(actor: Actor, userId: string, command: Parameters<typeof userDecider.decide>[0], meta: CommandMeta): Promise<Outcome> {
    const r = await this.ledger.execute(userDecider, stream.user(userId), command, this.ctx(actor, meta));
    return { id: userId, position: r.position, duplicate: r.duplicate };
  }

  private async onProject(actor: Actor, projectId: string, command: Parameters<typeof projectDecider.decide>[0], meta: CommandMeta): Promise<Outcome> {
    const state = await this.visibleProject(actor, projectId);
    if (!state) throw notFound(projectId);
    if (actor.kind === 'tenant') await this.requireActiveUser(actor.id);
    const ctx = this.ctx(actor, meta);
    // A tenant's change to its own project carries the tenant; an operator's carries the owner as tenant.
    const r = await this.ledger.execute(projectDecider, stream.project(projectId), command, { ...ctx, tenantId: state.ownerId });
    return { id: projectId, position: r.position, duplicate: r.duplicate };
  }

  /** A stream's state folded from the store now (not from a cache: a user may be suspended by another process). */
  private async fresh<S>(decider: Decider<S, any, any>, streamId: string): Promise<S> {
    let state = decider.initialState();
    for (let from = 0; ;) {
      const batch = await this.ledger.store.readStream(streamId, { fromRevision: from, maxCount: 1000 });
      state = fold(decider, batch as any[], state);
      if (batch.length < 1000) return state;
      from = batch[batch.length - 1].revision + 1;
    }
  }

  private async requireActiveUser(userId: string): Promise<UserState> {
    const state = await this.fresh(userDecider, stream.user(userId));
    if (state.status === 'none') throw new DomainError('USER_NOT_FOUND', 'the user of this token does not exist', []);
    if (state.status === 'suspended') throw new DomainError('USER_SUSPENDED', 'the user of this token is suspended and can change nothing', []);
    return state;
  }
}

function requireOperator(actor: Actor, what: string) {
  if (actor.kind !== 'operator') throw new AccessDeniedError(`only operators may ${what}`);
}
function requireSystem(actor: Actor) {
  if (actor.kind !== 'operator' && actor.kind !== 'system') throw new AccessDeniedError('component links are made by the Components layer');
}
