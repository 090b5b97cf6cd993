import { busContract } from './contract.ts';
import { InProcessBus } from './in-process.ts';

busContract('in-process', async () => new InProcessBus()).run();
