/**
 * Queries over the `projects` read model (see projects.ts). Pages are keyed by `seq` (the global position of the
 * creating event): stable, increasing, and cheap to seek with the indexes the projection creates.
 */
import type Database from 'better-sqlite3';
import { projectsChangeCounter } from './projects.ts';

export type UserStatus = 'active' | 'suspended';
export type ProjectStatus = 'active' | 'archived';

export interface UserRow { userId: string; seq: number; name: string; status: UserStatus; createdAt: string; updatedAt: string }
export interface ProjectRow {
  projectId: string; seq: number; ownerId: string; name: string; description: string | null; status: ProjectStatus;
  quotas: { cpuCores: number | null; ramMiB: number | null; diskGiB: number | null; components: number | null };
  createdAt: string; updatedAt: string;
}
export interface Page<T> { rows: T[]; hasNextPage: boolean }

interface RawProject {
  project_id: string; seq: number; owner_id: string; name: string; description: string | null; status: ProjectStatus;
  quota_cpu_cores: number | null; quota_ram_mib: number | null; quota_disk_gib: number | null; quota_components: number | null;
  created_at: string; updated_at: string;
}
interface RawUser { user_id: string; seq: number; name: string; status: UserStatus; created_at: string; updated_at: string }

export const toProject = (r: RawProject): ProjectRow => ({
  projectId: r.project_id, seq: r.seq, ownerId: r.owner_id, name: r.name, description: r.description, status: r.status,
  quotas: { cpuCores: r.quota_cpu_cores, ramMiB: r.quota_ram_mib, diskGiB: r.quota_disk_gib, components: r.quota_components },
  createdAt: r.created_at, updatedAt: r.updated_at,
});
export const toUser = (r: RawUser): UserRow => ({ userId: r.user_id, seq: r.seq, name: r.name, status: r.status, createdAt: r.created_at, updatedAt: r.updated_at });

/**
 * Reads are cached in memory (rows are shared: treat them as read-only) and the whole cache is dropped when the
 * projects tables change through this process's projection (a change counter bumped inside its transaction: exact,
 * so read-your-writes holds) or through another connection, e.g. a separate projector process (SQLite's
 * `PRAGMA data_version`, looked at most every `otherWritersCheckMs`, 20 ms by default).
 */
export class ProjectsReadModel {
  private readonly s;
  private readonly changes: { n: number };
  private readonly dataVersion: Database.Statement;
  private readonly cache = new Map<string, unknown>();
  private seenChanges = -1;
  private seenDataVersion = -1;
  private dataVersionCheckedAt = 0;

  constructor(db: Database.Database, private readonly maxCached = 10_000, private readonly otherWritersCheckMs = 20) {
    this.changes = projectsChangeCounter(db);
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.s = {
      user: db.prepare('SELECT * FROM projects_users WHERE user_id = ?'),
      users: db.prepare('SELECT * FROM projects_users WHERE seq > ? ORDER BY seq LIMIT ?'),
      userCount: db.prepare('SELECT count(*) FROM projects_users').pluck(),
      project: db.prepare('SELECT * FROM projects_projects WHERE project_id = ?'),
      isMember: db.prepare('SELECT 1 FROM projects_members WHERE user_id = ? AND project_id = ?').pluck(),
      projectsOf: db.prepare(`SELECT p.* FROM projects_members m JOIN projects_projects p ON p.project_id = m.project_id
        WHERE m.user_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`),
      activeProjectsOf: db.prepare(`SELECT p.* FROM projects_members m JOIN projects_projects p ON p.project_id = m.project_id
        WHERE m.user_id = ? AND m.seq > ? AND p.status = 'active' ORDER BY m.seq LIMIT ?`),
      projectCountOf: db.prepare('SELECT count(*) FROM projects_members WHERE user_id = ?').pluck(),
      activeProjectCountOf: db.prepare(`SELECT count(*) FROM projects_members m JOIN projects_projects p ON p.project_id = m.project_id
        WHERE m.user_id = ? AND p.status = 'active'`).pluck(),
      components: db.prepare('SELECT component_id FROM projects_components WHERE project_id = ? ORDER BY seq').pluck(),
      componentCount: db.prepare('SELECT count(*) FROM projects_components WHERE project_id = ?').pluck(),
    };
  }

  /** Drops the cache when the tables changed since it was filled. */
  private fresh(): void {
    const now = Date.now();
    if (now - this.dataVersionCheckedAt >= this.otherWritersCheckMs || now < this.dataVersionCheckedAt) {
      this.dataVersionCheckedAt = now;
      const dv = this.dataVersion.get() as number;
      if (dv !== this.seenDataVersion) { this.cache.clear(); this.seenDataVersion = dv; }
    }
    if (this.changes.n !== this.seenChanges) {
      this.cache.clear();
      this.seenChanges = this.changes.n;
    }
  }

  /** Changes whenever what this read model answers may have changed (see the class comment for other writers). */
  version(): string {
    this.fresh();
    return `${this.seenChanges}.${this.seenDataVersion}`;
  }

  private cached<T>(key: string, read: () => T): T {
    this.fresh();
    if (this.cache.has(key)) return this.cache.get(key) as T;
    const value = read();
    if (this.cache.size >= this.maxCached) this.cache.clear();
    this.cache.set(key, value);
    return value;
  }

  user(userId: string): UserRow | null {
    return this.cached(`u\u0000${userId}`, () => {
      const r = this.s.user.get(userId) as RawUser | undefined;
      return r ? toUser(r) : null;
    });
  }

  users(after: number, first: number): Page<UserRow> {
    const rows = (this.s.users.all(after, first + 1) as RawUser[]).map(toUser);
    return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  userCount(): number { return this.s.userCount.get() as number }

  project(projectId: string): ProjectRow | null {
    return this.cached(`p\u0000${projectId}`, () => {
      const r = this.s.project.get(projectId) as RawProject | undefined;
      return r ? toProject(r) : null;
    });
  }

  isMember(userId: string, projectId: string): boolean {
    return this.cached(`m\u0000${userId}\u0000${projectId}`, () => this.s.isMember.get(userId, projectId) === 1);
  }

  /** A user's projects in creation order, after the member-row `seq` `after`. */
  projectsOf(userId: string, after: number, first: number, includeArchived: boolean): Page<ProjectRow> {
    return this.cached(`l\u0000${userId}\u0000${after}\u0000${first}\u0000${includeArchived}`, () => {
      const stmt = includeArchived ? this.s.projectsOf : this.s.activeProjectsOf;
      const rows = (stmt.all(userId, after, first + 1) as RawProject[]).map(toProject);
      return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
    });
  }

  projectCountOf(userId: string, includeArchived: boolean): number {
    return this.cached(`c\u0000${userId}\u0000${includeArchived}`, () => (includeArchived ? this.s.projectCountOf : this.s.activeProjectCountOf).get(userId) as number);
  }

  componentIds(projectId: string): string[] { return this.s.components.all(projectId) as string[] }
  componentCount(projectId: string): number { return this.s.componentCount.get(projectId) as number }
}
