import type { Verdict } from "./invariants.ts";
import type { OutboxRow } from "./outbox.ts";

/**
 * The NATS outage as it happened. Wall-clock ms; the services' clock is the wall clock plus
 * `clockOffsetMs`.
 */
export interface NatsOutage {
  /** NATS's kill returned (the process had exited). */
  killedAt: number;
  /** NATS was started again (no publish can be acknowledged before this). */
  startedAt: number;
  /** NATS accepted connections again. */
  readyAt: number;
  clockOffsetMs: number;
  /** The subject of the exhausted event the spend made during the outage. */
  markerSubject: string;
}

/** A relay's update that commits just after NATS died may carry an acknowledgement from before. */
const MARK_GRACE_MS = 1000;

/**
 * NATS's outage held publishes: events written to the outboxes while it was down (at least the
 * exhausted event of the spend made for that purpose) were published only once it was back, and
 * nothing was marked published while there was no NATS to acknowledge it. Without an outage
 * every event is published milliseconds after its commit, and this fails.
 */
export function natsHeldVerdict(rows: OutboxRow[], o: NatsOutage): Verdict {
  const wall = (r: OutboxRow) => r.createdAtShifted - o.clockOffsetMs;
  const written = rows.filter((r) => wall(r) >= o.killedAt && wall(r) < o.startedAt);
  const held = written.filter((r) => r.publishedAt !== null && r.publishedAt >= o.startedAt);
  const problems: string[] = [];
  if (held.length === 0)
    problems.push(
      `none of the ${written.length} events written while NATS was down waited for it: the outage held no publish (the fault did not take effect)`,
    );
  const marker = written.find((r) => r.subject === o.markerSubject);
  if (marker === undefined)
    problems.push(`the spend made during the outage wrote no ${o.markerSubject} event while NATS was down`);
  else if (marker.publishedAt === null || marker.publishedAt < o.startedAt) {
    problems.push(
      `${o.markerSubject} (${marker.eventId}) published at ${marker.publishedAt === null ? "never" : `${marker.publishedAt - o.startedAt} ms from NATS's start`}: not held by the outage`,
    );
  }
  for (const r of rows) {
    if (r.publishedAt !== null && r.publishedAt > o.killedAt + MARK_GRACE_MS && r.publishedAt < o.startedAt) {
      problems.push(
        `${r.service} ${r.eventId} (${r.subject}) marked published ${((r.publishedAt - o.killedAt) / 1000).toFixed(1)}s into the outage, with no NATS to acknowledge it`,
      );
    }
  }
  const firstAfter = held.length === 0 ? NaN : Math.min(...held.map((r) => (r.publishedAt ?? NaN) - o.startedAt));
  return {
    name: "NATS's outage held publishes: events written while it was down were published only after it was back",
    ok: problems.length === 0,
    figures: `${written.length} events written during the outage, ${held.length} published after it (the first ${(firstAfter / 1000).toFixed(1)}s after NATS started)`,
    problems,
  };
}

/** The campaign's stop by the outage's exhausted event, from its audit log (services' clock). */
export interface OutagePause {
  changedAtShifted: number;
  sourceId: string;
}

/**
 * The exhaustion made while NATS was down stopped its campaign only through NATS: after NATS was
 * started again (a lower bound no outage-free run meets: there the stop follows the spend by
 * milliseconds), by that very event, within `slackMs` of NATS being ready.
 */
export function outagePauseVerdict(
  pause: OutagePause | undefined,
  marker: OutboxRow | undefined,
  o: NatsOutage,
  slackMs: number,
): Verdict {
  const problems: string[] = [];
  const at = pause === undefined ? NaN : pause.changedAtShifted - o.clockOffsetMs;
  if (pause === undefined)
    problems.push("the campaign of the brand exhausted during the outage never stopped on budget.exhausted");
  else {
    if (at < o.startedAt)
      problems.push(
        `stopped ${o.startedAt - at} ms before NATS was started again: not through the event the outage held (the fault did not take effect)`,
      );
    if (at > o.readyAt + slackMs)
      problems.push(`stopped ${at - o.readyAt} ms after NATS was ready (more than ${slackMs} ms)`);
    if (marker !== undefined && pause.sourceId !== `nats:${marker.eventId}`)
      problems.push(`stopped by ${pause.sourceId}, not by the outage's event nats:${marker.eventId}`);
  }
  return {
    name: `a budget exhausted while NATS was down stops its campaign after NATS is back, within ${slackMs / 1000}s`,
    ok: problems.length === 0,
    figures: `stopped ${((at - o.startedAt) / 1000).toFixed(1)}s after NATS started (ready after ${((o.readyAt - o.startedAt) / 1000).toFixed(1)}s)`,
    problems,
  };
}
