import { LockMode, UniqueConstraintViolationException, type EntityManager } from "@mikro-orm/core";
import { OutboxEntity, outboxEntry, type Actor, type MikroORM, type OutboxMessage } from "@adbudget/kit";
import { AlreadyExistsError, EtagMismatchError, FailedPreconditionError, NotFoundError, uuidv7 } from "@adbudget/kit";
import { recordChange } from "./brand-changes.js";
import { etagOf, toProto } from "./brand-proto.js";
import { BrandEntity, type BrandRow } from "./entities.js";

export type BrandChange = "created" | "updated" | "archived";

export interface BrandPatch {
  name?: string;
  timeZone?: string;
  currencyCode?: string;
}

/**
 * Persistence of brands (MikroORM). Every method runs in its own forked EntityManager so
 * concurrent calls never share an identity map. Rules that need the stored state (unique name,
 * etag, archived) are enforced here, atomically with the write.
 */
export class BrandStore {
  /**
   * @param events builds the outbox message of a change; it is persisted in the same
   *   transaction as the change, so a committed change always has its event.
   */
  constructor(
    /** MikroORM, for the reads of the brand's other tables (its audit log: brand-changes.ts). */
    readonly orm: MikroORM,
    private readonly events: (row: BrandRow, type: BrandChange, now: Date, actor: Actor) => OutboxMessage,
    private readonly onEvents: () => void = () => undefined,
  ) {}

  private emit(em: EntityManager, row: BrandRow, type: BrandChange, now: Date, actor: Actor): void {
    em.create(OutboxEntity, outboxEntry(this.events(row, type, now, actor), now));
  }

  async create(fields: Required<BrandPatch>, now: Date, actor: Actor): Promise<BrandRow> {
    try {
      const row = await this.orm.em.fork().transactional(async (em) => {
        const row = em.create(BrandEntity, {
          id: uuidv7(now.getTime()),
          ...fields,
          archived: false,
          timeZoneLocked: false,
          version: 1,
          createdAt: now,
          updatedAt: now,
          archivedAt: null,
        });
        this.emit(em, row, "created", now, actor);
        recordChange(em, { action: "create", before: undefined, after: toProto(row), actor, now });
        return row;
      });
      this.onEvents();
      return row;
    } catch (err) {
      throw uniqueName(err, fields.name);
    }
  }

  async get(id: string): Promise<BrandRow> {
    const row = await this.orm.em.fork().findOne(BrandEntity, { id });
    if (row === null) throw new NotFoundError("brand", id);
    return row;
  }

  /**
   * One page in id order (UUIDv7: creation order), after the id `after`; only the brands `only`
   * when given, and only names starting with `namePrefix` when it is not empty.
   */
  async list(options: {
    after?: string;
    limit: number;
    showArchived: boolean;
    only?: ReadonlySet<string>;
    namePrefix?: string;
  }): Promise<BrandRow[]> {
    return this.orm.em.fork().find(
      BrandEntity,
      {
        ...(options.after !== undefined ? { id: { $gt: options.after } } : {}),
        ...(options.showArchived ? {} : { archived: false }),
        ...(options.only !== undefined
          ? { id: { ...(options.after !== undefined ? { $gt: options.after } : {}), $in: [...options.only] } }
          : {}),
        ...(options.namePrefix ? { name: { $like: `${likeLiteral(options.namePrefix)}%` } } : {}),
      },
      { orderBy: { id: "asc" }, limit: options.limit },
    );
  }

  /**
   * Applies a patch under a row lock, so the etag check and the write are one atomic step:
   * two concurrent updates with the same etag cannot both win.
   */
  async update(id: string, etag: string, patch: BrandPatch, now: Date, actor: Actor): Promise<BrandRow> {
    try {
      return await this.orm.em
        .fork()
        .transactional(async (em) => {
          const row = await em.findOne(BrandEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
          if (row === null) throw new NotFoundError("brand", id);
          if (etag !== "" && etag !== etagOf(row)) throw new EtagMismatchError("brand", id);
          if (row.archived) throw new FailedPreconditionError(`brand ${JSON.stringify(id)} is archived`);
          if (patch.timeZone !== undefined && patch.timeZone !== row.timeZone && row.timeZoneLocked) {
            throw new FailedPreconditionError(
              `brand ${JSON.stringify(id)} has recorded spend: its time zone can no longer change (accounted periods must not shift)`,
            );
          }
          const changed = Object.entries(patch).some(([k, v]) => row[k as keyof BrandPatch] !== v);
          if (!changed) return row;
          const before = toProto(row);
          em.assign(row, { ...patch, version: row.version + 1, updatedAt: now });
          this.emit(em, row, "updated", now, actor);
          recordChange(em, { action: "update", before, after: toProto(row), actor, now });
          return row;
        })
        .finally(() => this.onEvents());
    } catch (err) {
      throw uniqueName(err, patch.name ?? "");
    }
  }

  /**
   * Makes the zone final (the budget service calls this before a brand's first spend). Under the
   * row lock UpdateBrand takes too, so a zone change is either committed before (and is the zone
   * returned) or refused after. Not a user change: no new version, no event; but the flag ends
   * every later zone change, so the lock that flips it is in the brand's audit log.
   */
  async lockTimeZone(id: string, now: Date, actor: Actor): Promise<BrandRow> {
    return this.orm.em.fork().transactional(async (em) => {
      const row = await em.findOne(BrandEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (row === null) throw new NotFoundError("brand", id);
      if (row.timeZoneLocked) return row;
      const before = toProto(row);
      row.timeZoneLocked = true;
      recordChange(em, { action: "lock_time_zone", before, after: toProto(row), actor, now });
      return row;
    });
  }

  /** Archives once; archiving again returns the brand unchanged. */
  async archive(id: string, now: Date, actor: Actor): Promise<BrandRow> {
    return this.orm.em
      .fork()
      .transactional(async (em) => {
        const row = await em.findOne(BrandEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (row === null) throw new NotFoundError("brand", id);
        if (row.archived) return row;
        const before = toProto(row);
        em.assign(row, { archived: true, archivedAt: now, updatedAt: now, version: row.version + 1 });
        this.emit(em, row, "archived", now, actor);
        recordChange(em, { action: "archive", before, after: toProto(row), actor, now });
        return row;
      })
      .finally(() => this.onEvents());
  }
}

/**
 * `text` as a LIKE pattern that matches only itself: PostgreSQL's default escape character is
 * the backslash, so a prefix "50%_off" finds "50%_off sale" and not "50 and more off".
 */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function uniqueName(err: unknown, name: string): unknown {
  return err instanceof UniqueConstraintViolationException
    ? new AlreadyExistsError(`a brand named ${JSON.stringify(name)} already exists`)
    : err;
}
