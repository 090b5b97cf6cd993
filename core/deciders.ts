/**
 * Registers the decider of every category of the layers that exist, in the decider registry. Imported by the tools
 * that fold arbitrary streams (`ledger state`, audit, GraphQL `asOf`). A layer either registers its own from its index
 * (Components does) — then it is imported here — or its deciders are registered here.
 */
import { registerDecider } from './decider-registry.ts';
import { resourceDeciders } from '../layers/resources/index.ts';
import { userDecider } from '../layers/projects/user/decider.ts';
import { projectDecider } from '../layers/projects/project/decider.ts';
import { billingDecider } from '../layers/metering/decider.ts';
import '../layers/components/index.ts'; // registers ComponentType and CContract

for (const [category, decider] of Object.entries(resourceDeciders)) registerDecider(category, decider);
registerDecider('User', userDecider);
registerDecider('Project', projectDecider);
registerDecider('Billing', billingDecider);

export { deciderFor, deciderForStream, registeredCategories } from './decider-registry.ts';
