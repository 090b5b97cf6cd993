/**
 * The ledger-side command gateway host agents report through: request/reply on `cmd.agent.<hostId>.report`
 * (outside `ledger.>`, so the bus does not store requests).
 *
 * Each request is `{ type, data, cause? }` with type `ReportXNodeObserved` or `ReportXNodeCopy` (the only commands an
 * agent may send); `cause` names the Host event the agent was enacting (its eventId and correlationId), so the report
 * joins the conversation that asked for the slice (core/causation.ts). A report without a cause (reconciliation,
 * self-fencing) starts a conversation of its own. The gateway
 *   1. parses the payload with zod (and the command's own schema through `resourceCommand`);
 *   2. checks the sender may report for that host: the host of the subject must be the host named in the data, and
 *      `authorize` (when given) must agree. Who may publish on `cmd.agent.<hostId>.report` is NATS's job in the
 *      distributed profile: each agent has its own credentials allowed to publish only on its own subject (see
 *      docs/host-agent.md). In the embedded profile the in-process bus is trusted;
 *   3. checks the `cause`: it must be one of the host stream's last CAUSE_WINDOW events, with the same correlationId.
 *      A cause that is not there (another host's event, an invented id, one too old to look for) is not trusted: the
 *      report is recorded as a conversation of its own, and the gateway logs and counts it (`stats.causesDropped`).
 *      The report itself still counts, because what the agent observed is true whatever it names as the reason.
 *   4. executes the command on the host's stream with a deterministic commandId (hash of subject and payload), so a
 *      retried request never records anything twice;
 *   5. replies `{ ok: true, commandId, events, duplicate }` or `{ ok: false, error: { code, message } }`.
 * Malformed and unauthorised requests are refused (never executed), logged, counted, and published on
 * `ledger.gateway.refused` for operators.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Bus, Message, Server } from '../core/bus/port.ts';
import type { Ledger } from '../core/ledger.ts';
import type { EventStore } from '../core/event-store/port.ts';
import { causedBy } from '../core/causation.ts';
import { resourceCommand } from '../layers/resources/index.ts';
import { canonicalJson } from './drivers/port.ts';

export const REPORT_SUBJECTS = 'cmd.agent.*.report';
export const reportSubject = (hostId: string): string => `cmd.agent.${hostId}.report`;
export const REFUSED_SUBJECT = 'ledger.gateway.refused';
export const AGENT_COMMANDS = ['ReportXNodeObserved', 'ReportXNodeCopy'] as const;
/** How many of the host stream's last events a report's `cause` is looked for in. */
export const CAUSE_WINDOW = 500;

const Id = z.string().min(1).max(200);
export const AgentReportSchema = z.object({
  type: z.enum(AGENT_COMMANDS),
  data: z.record(z.string(), z.unknown()),
  /** The event the agent was enacting when it observed this. */
  cause: z.object({ eventId: Id, correlationId: Id }).strict().optional(),
}).strict();
export type AgentReport = { type: (typeof AGENT_COMMANDS)[number]; data: Record<string, unknown>; cause?: { eventId: string; correlationId: string } };

export type ReportReply =
  | { ok: true; commandId: string; events: string[]; duplicate: boolean }
  | { ok: false; error: { code: string; message: string } };

export interface Refusal {
  at: string;
  subject: string;
  hostId?: string;
  code: string;
  message: string;
}

export interface CommandGatewayOptions {
  /** Bus to serve on (default: the ledger's). */
  bus?: Bus;
  /** Extra check of the sender (e.g. a header token); return true to accept, or a reason to refuse. */
  authorize?: (hostId: string, request: Message) => true | string | Promise<true | string>;
  /** Queue group shared by every gateway (default `ledger-gateway`). */
  queue?: string;
  log?: (line: string) => void;
}

export interface CommandGateway {
  readonly stats: { accepted: number; duplicates: number; refused: number; rejected: number; causesDropped: number };
  /** The last 100 refusals (malformed, unauthorised) and rejections (the decider said no). */
  readonly refusals: Refusal[];
  close(): Promise<void>;
}

const HOST_TOKEN = /^h_[A-Za-z0-9_]{1,60}$/;

/**
 * Whether `cause` is one of the last CAUSE_WINDOW events of `stream`, with the correlationId it claims. Reads
 * newest first, in pages, so the usual cause (the event the agent just enacted) costs one small read.
 */
export async function causeOnStream(store: Pick<EventStore, 'readStream'>, stream: string, cause: { eventId: string; correlationId: string }): Promise<boolean> {
  let from: number | undefined;
  for (let seen = 0; seen < CAUSE_WINDOW;) {
    const page = await store.readStream(stream, { direction: 'backwards', maxCount: seen === 0 ? 20 : 100, ...(from !== undefined && { fromRevision: from }) });
    for (const e of page) {
      if (e.metadata.eventId === cause.eventId) return (e.metadata.correlationId ?? e.metadata.eventId) === cause.correlationId;
    }
    seen += page.length;
    if (page.length === 0 || page[page.length - 1].revision === 0) return false;
    from = page[page.length - 1].revision - 1;
  }
  return false;
}

export async function startCommandGateway(ledger: Pick<Ledger, 'execute' | 'bus' | 'store'>, opts: CommandGatewayOptions = {}): Promise<CommandGateway> {
  const bus = opts.bus ?? ledger.bus;
  if (!bus) throw new Error('startCommandGateway: the ledger was opened without a bus (openLedger(config, { bus: true }))');
  const log = opts.log ?? ((l: string) => console.error(`${new Date().toISOString()} gateway: ${l}`));
  const stats = { accepted: 0, duplicates: 0, refused: 0, rejected: 0, causesDropped: 0 };
  const refusals: Refusal[] = [];

  const refuse = (request: Message, code: string, message: string, hostId?: string, decided = false): ReportReply => {
    if (decided) stats.rejected++; else stats.refused++;
    const r: Refusal = { at: new Date().toISOString(), subject: request.subject, ...(hostId && { hostId }), code, message: message.slice(0, 1000) };
    refusals.push(r);
    if (refusals.length > 100) refusals.shift();
    log(`${decided ? 'rejected' : 'refused'} ${request.subject}: ${code} ${message}`);
    if (!decided) bus.publish(REFUSED_SUBJECT, r, { timeoutMs: 2_000 }).catch(() => { /* best effort: logged above */ });
    return { ok: false, error: { code, message } };
  };

  const server: Server = await bus.serve(REPORT_SUBJECTS, async (request): Promise<ReportReply> => {
    const tokens = request.subject.split('.');
    const subjectHost = tokens[2] ?? '';
    if (tokens.length !== 4 || !HOST_TOKEN.test(subjectHost)) return refuse(request, 'BAD_SUBJECT', `not a report subject of a host: ${request.subject}`);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(request.data));
    } catch {
      return refuse(request, 'MALFORMED', `payload is not JSON (${request.data.length} bytes)`, subjectHost);
    }
    const env = AgentReportSchema.safeParse(json);
    if (!env.success) return refuse(request, 'MALFORMED', env.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; '), subjectHost);
    let routed: ReturnType<typeof resourceCommand>;
    try {
      routed = resourceCommand(env.data.type, env.data.data);
    } catch (e) {
      return refuse(request, 'MALFORMED', e instanceof Error ? e.message : String(e), subjectHost);
    }
    const hostId = routed.command.data.hostId as string;
    if (hostId !== subjectHost) return refuse(request, 'UNAUTHORISED', `an agent reporting on ${request.subject} may only report for ${subjectHost}, not ${hostId}`, subjectHost);
    if (opts.authorize) {
      const ok = await opts.authorize(hostId, request);
      if (ok !== true) return refuse(request, 'UNAUTHORISED', ok, subjectHost);
    }
    const commandId = `agent-${createHash('sha256').update(`${request.subject}\n${canonicalJson(routed.command)}`).digest('hex').slice(0, 32)}`;
    try {
      let cause = env.data.cause;
      if (cause && !await causeOnStream(ledger.store, routed.stream, cause)) {
        stats.causesDropped++;
        log(`${request.subject}: cause ${cause.eventId} (correlation ${cause.correlationId}) is not among the last ${CAUSE_WINDOW} events of ${routed.stream}; the report is recorded without it`);
        cause = undefined;
      }
      const r = await ledger.execute(routed.decider, routed.stream, routed.command, {
        actor: { kind: 'agent', id: hostId }, commandId,
        ...(cause ? causedBy({ metadata: cause }) : { correlationId: commandId }),
      });
      if (r.duplicate) stats.duplicates++; else stats.accepted++;
      return { ok: true, commandId, events: r.events.map((e) => e.type), duplicate: r.duplicate };
    } catch (e) {
      const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'ERROR';
      return refuse(request, code, e instanceof Error ? e.message : String(e), hostId, true);
    }
  }, { queue: opts.queue ?? 'ledger-gateway' });

  return { stats, refusals, close: () => server.close() };
}
