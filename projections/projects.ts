/**
 * The `projects` read model: users, projects, membership and project ↔ component links, from the User and Project
 * streams. Deterministic (times come from the events), so a rebuild from zero gives the same digest.
 * Queries over it live in projects-read.ts.
 */
import type Database from 'better-sqlite3';
import type { StoredEvent } from '../core/event-store/port.ts';
import type { SqliteProjection } from './runner.ts';
import '../layers/projects/user/events.ts';
import '../layers/projects/project/events.ts';
import type { UserEvent } from '../layers/projects/user/events.ts';
import type { ProjectEvent } from '../layers/projects/project/events.ts';

export const PROJECTS_TABLES = {
  users: 'projects_users',
  projects: 'projects_projects',
  members: 'projects_members',
  components: 'projects_components',
} as const;

/** Changes applied to each database's projects tables by this process (read caches compare it; see projects-read.ts). */
const changeCounters = new WeakMap<Database.Database, { n: number }>();
export function projectsChangeCounter(db: Database.Database): { n: number } {
  let c = changeCounters.get(db);
  if (!c) { c = { n: 0 }; changeCounters.set(db, c); }
  return c;
}

type Stmts = ReturnType<typeof prepare>;
const statements = new WeakMap<Database.Database, Stmts>();

function prepare(db: Database.Database) {
  return {
    insertUser: db.prepare(`INSERT INTO projects_users (user_id, seq, name, status, created_at, updated_at) VALUES (?, ?, ?, 'active', ?, ?)
      ON CONFLICT(user_id) DO NOTHING`),
    renameUser: db.prepare('UPDATE projects_users SET name = ?, updated_at = ? WHERE user_id = ?'),
    userStatus: db.prepare('UPDATE projects_users SET status = ?, updated_at = ? WHERE user_id = ?'),
    insertProject: db.prepare(`INSERT INTO projects_projects (project_id, seq, owner_id, name, description, status, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, 'active', ?, ?) ON CONFLICT(project_id) DO NOTHING`),
    insertMember: db.prepare(`INSERT INTO projects_members (user_id, seq, project_id, role) VALUES (?, ?, ?, ?)
      ON CONFLICT(user_id, project_id) DO NOTHING`),
    renameProject: db.prepare('UPDATE projects_projects SET name = ?, updated_at = ? WHERE project_id = ?'),
    archiveProject: db.prepare(`UPDATE projects_projects SET status = 'archived', updated_at = ? WHERE project_id = ?`),
    quotas: db.prepare(`UPDATE projects_projects SET quota_cpu_cores = ?, quota_ram_mib = ?, quota_disk_gib = ?, quota_components = ?, updated_at = ?
      WHERE project_id = ?`),
    link: db.prepare(`INSERT INTO projects_components (project_id, component_id, seq, linked_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(project_id, component_id) DO NOTHING`),
    unlink: db.prepare('DELETE FROM projects_components WHERE project_id = ? AND component_id = ?'),
    touch: db.prepare('UPDATE projects_projects SET updated_at = ? WHERE project_id = ?'),
  };
}

export const projectsProjection: SqliteProjection = {
  name: 'projects',
  version: 1,
  filter: { categories: ['User', 'Project'] },
  tables: [
    { name: PROJECTS_TABLES.users, orderBy: 'user_id' },
    { name: PROJECTS_TABLES.projects, orderBy: 'project_id' },
    { name: PROJECTS_TABLES.members, orderBy: 'user_id, project_id' },
    { name: PROJECTS_TABLES.components, orderBy: 'project_id, component_id' },
  ],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS projects_users (
        user_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, name TEXT NOT NULL, status TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS projects_projects (
        project_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, owner_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
        status TEXT NOT NULL, quota_cpu_cores INTEGER, quota_ram_mib INTEGER, quota_disk_gib INTEGER, quota_components INTEGER,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS projects_members (
        user_id TEXT NOT NULL, seq INTEGER NOT NULL, project_id TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (user_id, project_id));
      CREATE INDEX IF NOT EXISTS projects_members_by_user ON projects_members (user_id, seq);
      CREATE INDEX IF NOT EXISTS projects_members_by_project ON projects_members (project_id);
      CREATE TABLE IF NOT EXISTS projects_components (
        project_id TEXT NOT NULL, component_id TEXT NOT NULL, seq INTEGER NOT NULL, linked_at TEXT NOT NULL,
        PRIMARY KEY (project_id, component_id));
      CREATE INDEX IF NOT EXISTS projects_components_by_seq ON projects_components (project_id, seq);
    `);
    statements.delete(db);
    projectsChangeCounter(db).n++;
  },
  apply(db, stored: StoredEvent) {
    let s = statements.get(db);
    if (!s) { s = prepare(db); statements.set(db, s); }
    projectsChangeCounter(db).n++;
    const at = stored.metadata.occurredAt;
    const e = { type: stored.type, data: stored.data } as UserEvent | ProjectEvent;
    switch (e.type) {
      case 'UserCreated': s.insertUser.run(e.data.userId, stored.position, e.data.name, at, at); break;
      case 'UserRenamed': s.renameUser.run(e.data.name, at, e.data.userId); break;
      case 'UserSuspended': s.userStatus.run('suspended', at, e.data.userId); break;
      case 'UserReactivated': s.userStatus.run('active', at, e.data.userId); break;
      case 'ProjectCreated':
        s.insertProject.run(e.data.projectId, stored.position, e.data.ownerId, e.data.name, e.data.description ?? null, at, at);
        s.insertMember.run(e.data.ownerId, stored.position, e.data.projectId, 'owner');
        break;
      case 'ProjectRenamed': s.renameProject.run(e.data.name, at, e.data.projectId); break;
      case 'ProjectArchived': s.archiveProject.run(at, e.data.projectId); break;
      case 'ProjectQuotasSet': {
        const q = e.data.quotas;
        s.quotas.run(q.cpuCores, q.ramMiB, q.diskGiB, q.components, at, e.data.projectId);
        break;
      }
      case 'ProjectComponentLinked': s.link.run(e.data.projectId, e.data.componentId, stored.position, at); s.touch.run(at, e.data.projectId); break;
      case 'ProjectComponentUnlinked': s.unlink.run(e.data.projectId, e.data.componentId); s.touch.run(at, e.data.projectId); break;
      default: break; // other event types of these categories (added later) are not part of this read model
    }
  },
};
