/**
 * Host agent heartbeats: what an agent publishes every LEDGER_HEARTBEAT_INTERVAL_MS on
 * `ledger.agent.<hostId>.heartbeat`, and how the ledger reads it. The payload is validated with zod; a message
 * that does not parse, names another host than its subject, or comes from a host the ledger does not know is
 * logged and dropped by the monitor (monitor.ts), never acted on.
 */
import { z } from 'zod';
import type { Bus, Message, PublishAck } from '../../../core/bus/port.ts';
import { HostId } from '../common/ids.ts';
import { UtcTime } from '../common/time.ts';

/** Every heartbeat subject (what the monitor subscribes to). */
export const HEARTBEAT_SUBJECTS = 'ledger.agent.*.heartbeat';
export const heartbeatSubject = (hostId: string): string => `ledger.agent.${hostId}.heartbeat`;

const count = z.number().int().min(0).max(1_000_000_000);
export const Heartbeat = z.object({
  hostId: HostId,
  /** The agent's clock when it sent the beat (informative: the monitor times beats by their arrival). */
  sentAt: UtcTime,
  /** Increases by one per beat of one agent run (gaps show lost beats). */
  seq: count.optional(),
  agent: z.object({
    version: z.string().regex(/^[A-Za-z0-9_.+-]{1,40}$/).optional(),
    driver: z.enum(['libvirt', 'oci', 'ipmi', 'sim']).optional(),
    startedAt: UtcTime.optional(),
  }).strict().optional(),
  /** Load figures the agent measured (integers in named units). */
  load: z.object({
    cpuPercent: z.number().int().min(0).max(100_000).optional(),
    ramUsedMiB: count.optional(),
    diskUsedGiB: count.optional(),
    netMbps: count.optional(),
    xnodes: count.optional(),
  }).strict().optional(),
}).strict();
export type Heartbeat = z.infer<typeof Heartbeat>;

export type HeartbeatParse = { ok: true; heartbeat: Heartbeat } | { ok: false; reason: string };

/** Reads a heartbeat message: valid JSON, valid shape, and the host of the payload is the host of the subject. */
export function parseHeartbeat(message: Pick<Message, 'subject' | 'data'>): HeartbeatParse {
  const tokens = message.subject.split('.');
  const subjectHost = tokens.length === 4 && tokens[0] === 'ledger' && tokens[1] === 'agent' && tokens[3] === 'heartbeat' ? tokens[2] : undefined;
  if (subjectHost === undefined) return { ok: false, reason: `not a heartbeat subject: ${message.subject}` };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(message.data));
  } catch {
    return { ok: false, reason: `payload is not JSON (${message.data.length} bytes)` };
  }
  const parsed = Heartbeat.safeParse(json);
  if (!parsed.success) return { ok: false, reason: parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ') };
  if (parsed.data.hostId !== subjectHost) return { ok: false, reason: `payload names host ${parsed.data.hostId} but was sent on the subject of ${subjectHost}` };
  return { ok: true, heartbeat: parsed.data };
}

/** Publishes one heartbeat (for agents, and the sim driver); validates it first. */
export function publishHeartbeat(bus: Pick<Bus, 'publish'>, heartbeat: Heartbeat): Promise<PublishAck> {
  const beat = Heartbeat.parse(heartbeat);
  return bus.publish(heartbeatSubject(beat.hostId), beat);
}
