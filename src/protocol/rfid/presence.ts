/**
 * Tap in / tap out from readers that repeat frames while a card is in the field (EM4100,
 * PN532 polling, pcProx polling): `present` once per arrival, `removed` after a quiet period.
 * Pure: the caller passes `now` and calls `tick` from its own timer.
 */
export type PresenceEvent = { type: 'present'; uid: string } | { type: 'removed'; uid: string };

export class PresenceTracker {
  private current: { uid: string; lastSeen: number } | null = null;

  /** @param quietMs how long without a frame means the card left (default 500 ms). */
  constructor(readonly quietMs = 500) {}

  /** The card currently in the field, if any. */
  get uid(): string | null {
    return this.current?.uid ?? null;
  }

  /** A frame for `uid` arrived at `now`. A different card first removes the old one. */
  seen(uid: string, now: number): PresenceEvent[] {
    const cur = this.current;
    if (cur && cur.uid === uid) {
      cur.lastSeen = now;
      return [];
    }
    const out: PresenceEvent[] = [];
    if (cur) out.push({ type: 'removed', uid: cur.uid });
    this.current = { uid, lastSeen: now };
    out.push({ type: 'present', uid });
    return out;
  }

  /** Removes the card once `quietMs` passed since its last frame. */
  tick(now: number): PresenceEvent[] {
    const cur = this.current;
    if (cur && now - cur.lastSeen >= this.quietMs) {
      this.current = null;
      return [{ type: 'removed', uid: cur.uid }];
    }
    return [];
  }

  /** When the next `tick` could remove the card (for scheduling a timer), or null. */
  nextDeadline(): number | null {
    return this.current ? this.current.lastSeen + this.quietMs : null;
  }

  /** Forgets the card (port closed): returns its removal, if one was present. */
  clear(): PresenceEvent[] {
    const cur = this.current;
    this.current = null;
    return cur ? [{ type: 'removed', uid: cur.uid }] : [];
  }
}
