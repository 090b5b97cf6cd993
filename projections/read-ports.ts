/**
 * Read ports of the shared registers: what the API's resolvers ask the projects, RRegister and CRegister read models.
 * The embedded SQLite classes (projects-read.ts, rregister-read.ts, cregister-read.ts) implement them synchronously;
 * the Redis readers of the distributed profile (redis/readers.ts) answer with promises. Resolvers await either, so
 * the SQLite path keeps its synchronous reads.
 */
import type { CRegisterReadModel } from './cregister-read.ts';
import type { ProjectsReadModel } from './projects-read.ts';
import type { RRegisterReadModel } from './rregister-read.ts';

export type MaybePromise<T> = T | Promise<T>;

/** The public methods of `T`, each answering either synchronously or with a promise. */
type Port<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => MaybePromise<R> : never };

export type ProjectsRead = Port<Omit<ProjectsReadModel, 'version'>> & {
  /** Changes whenever what the model answers may have changed (the response cache's stamp); synchronous. */
  version(): string;
};
export type RRegisterRead = Port<RRegisterReadModel>;
export type CRegisterRead = Port<CRegisterReadModel>;
