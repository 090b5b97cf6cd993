/** The bus contract against a real nats-server -js (started by the harness), plus what only a server can show. */
import * as assert from 'uvu/assert';
import { busContract, until } from '../core/bus/contract.ts';
import { connectNatsBus } from '../core/bus/nats.ts';
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts';

let server: NatsServerHandle;
const contract = busContract('nats', async () => connectNatsBus({ servers: server.url, name: 'bus-contract' }));
contract.before(async () => { server = await startNatsServer(); });
contract.after(async () => { await server?.stop(); });
contract.run();
