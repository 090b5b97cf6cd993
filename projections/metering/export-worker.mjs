// Bootstrap of the export's second thread (see parallel.ts): TypeScript sources run through tsx, as in the CLI.
// Module hooks are per thread, so the worker registers tsx's loader itself.
import { register } from 'tsx/esm/api';

register();
const { runWorker } = await import('./export-worker.ts');
await runWorker();
