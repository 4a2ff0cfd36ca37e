/**
 * Where a follower of a PostgreSQL changes table (gallery_changes, feedback_changes: a bigserial
 * `seq` per change, appended by triggers) has read to. A change's sequence number is taken when it
 * is written but seen only once its transaction commits, so a lower number can appear after a
 * higher one was read (two nodes writing at once): every read looks back LOOK_BACK numbers and
 * keeps only the changes not applied yet.
 */
export const LOOK_BACK = 256;

export class ChangeCursor {
  private seq = 0;
  /** Sequence numbers applied within LOOK_BACK of `seq`. */
  private readonly applied = new Set<number>();

  /** After a full load: everything up to `seq` is in. */
  loadedUpTo(seq: number): void {
    this.seq = seq;
  }

  /** The sequence number to read the changes after. */
  get readFrom(): number {
    return Math.max(0, this.seq - LOOK_BACK);
  }

  /** The changes of a read not applied yet. */
  fresh<C extends { seq: number }>(changes: readonly C[]): C[] {
    return changes.filter((c) => !this.applied.has(c.seq));
  }

  /** Marks changes applied; returns the sequence number now reached. */
  markApplied(changes: readonly { seq: number }[]): number {
    for (const c of changes) this.applied.add(c.seq);
    this.seq = Math.max(this.seq, ...changes.map((c) => c.seq));
    for (const s of this.applied) if (s <= this.seq - LOOK_BACK) this.applied.delete(s);
    return this.seq;
  }
}
