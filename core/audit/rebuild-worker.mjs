// Bootstrap of a rebuild's second thread (see rebuild.ts): TypeScript sources run through tsx, as in the CLI.
// Module hooks are per thread, so the worker registers tsx's loader itself.
import { register } from 'tsx/esm/api';

register();
const { runRebuildWorker } = await import('./rebuild-worker.ts');
await runRebuildWorker();
