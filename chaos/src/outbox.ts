import { pgClient } from "@adbudget/testing";

/** One row of a service's outbox, times in ms. */
export interface OutboxRow {
  service: string;
  eventId: string;
  subject: string;
  /** The service's clock (shifted by CLOCK_OFFSET_MS): `writeOutbox`'s `nowMs`. */
  createdAtShifted: number;
  /** The database's clock (wall clock: the relay sets it with now()); null while unpublished. */
  publishedAt: number | null;
}

/** Every outbox row of each service's database. */
export async function readOutboxes(urls: Record<string, string>): Promise<OutboxRow[]> {
  const out: OutboxRow[] = [];
  for (const [service, url] of Object.entries(urls)) {
    const c = pgClient(url);
    await c.connect();
    try {
      const { rows } = await c.query<{
        event_id: string;
        subject: string;
        created_at: Date;
        published_at: Date | null;
      }>("select event_id::text, subject, created_at, published_at from outbox order by id");
      for (const r of rows) {
        out.push({
          service,
          eventId: r.event_id,
          subject: r.subject,
          createdAtShifted: r.created_at.getTime(),
          publishedAt: r.published_at?.getTime() ?? null,
        });
      }
    } finally {
      await c.end();
    }
  }
  return out;
}
