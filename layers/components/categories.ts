/** The categories (stream kinds) of the Components layer. Imported by every events.ts so the registry knows them first. */
import { defineCategory } from '../../schema/registry.ts';

defineCategory('ComponentType', 'components', 'A component type (cloud host, cloud disk, cache, RDBMS, object store…): distribution, access, HA, resource pool, size templates; for Flat types the pool and the instances carved in it.');
defineCategory('CContract', 'components', 'A tenant\'s component contract: needs, HA and access scope, replica slots with their fencing epochs, the scheduler\'s placement decisions with reasons, lifecycle, estimated vs. actual usage.');
