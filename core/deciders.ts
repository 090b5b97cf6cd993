/**
 * Registers the decider of every category of the layers that exist, in the decider registry. Imported by the tools
 * that fold arbitrary streams (`ledger state`, audit, GraphQL `asOf`). A new layer adds its line here (or calls
 * registerDecider from its own index).
 */
import { registerDecider } from './decider-registry.ts';
import { resourceDeciders } from '../layers/resources/index.ts';
import { userDecider } from '../layers/projects/user/decider.ts';
import { projectDecider } from '../layers/projects/project/decider.ts';

for (const [category, decider] of Object.entries(resourceDeciders)) registerDecider(category, decider);
registerDecider('User', userDecider);
registerDecider('Project', projectDecider);

export { deciderFor, deciderForStream, registeredCategories } from './decider-registry.ts';
