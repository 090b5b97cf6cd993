/** The categories (stream kinds) of the Projects layer. Imported by every events.ts so the registry knows them first. */
import { defineCategory } from '../../schema/registry.ts';

defineCategory('User', 'projects', 'A user (tenant) of the cloud: name and lifecycle (active, suspended). Created and managed by operators.');
defineCategory('Project', 'projects', 'A project of one user: groups the CContracts of one purpose, holds its quotas; changed by its owner.');
defineCategory('Token', 'projects', 'An API token that was revoked (by its id, the JWT\'s jti): the API refuses it from then on.');
