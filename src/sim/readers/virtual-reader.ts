/**
 * An in-process virtual badge reader (`keytap serve --simulate`): a reader device that taps
 * cards in and out on command (`sim.card.present` / `sim.card.remove`, `keytap sim card ...`),
 * so a newcomer sees a key and a reader at once. Cards carry an ATR (default MIFARE Classic 1K)
 * and get the same card name lookup as PC/SC cards.
 */
import type { DeviceEvent } from '../../drivers/device-source.ts';
import { parseAtr } from '../../protocol/rfid/atr.ts';
import { fromHex, toHex } from '../../util/bytes.ts';
import { systemClock, type Clock } from '../../util/deadline.ts';
import type { CardEvent, ReaderDevice, ReaderSource, ReaderSourceDevice } from '../../readers/types.ts';
import { DEFAULT_BADGE_ATR } from '../vpcd/virtual-card.ts';

export class VirtualReaderSource implements ReaderSource {
  readonly device: ReaderDevice;
  private current: CardEvent | null = null;
  private readonly deviceListeners = new Set<(e: DeviceEvent<ReaderSourceDevice>) => void>();
  private readonly cardListeners = new Set<(e: CardEvent) => void>();

  constructor(
    name = 'Virtual Badge Reader',
    private readonly clock: Clock = systemClock,
  ) {
    this.device = { id: `virtual:${name}`, kind: 'reader', transport: 'virtual', name, protocol: 'virtual' };
  }

  start(): void {}

  async list(): Promise<ReaderSourceDevice[]> {
    return [this.device];
  }
  watch(listener: (e: DeviceEvent<ReaderSourceDevice>) => void): () => void {
    this.deviceListeners.add(listener);
    return () => this.deviceListeners.delete(listener);
  }
  cards(listener: (e: CardEvent) => void): () => void {
    this.cardListeners.add(listener);
    return () => this.cardListeners.delete(listener);
  }

  /** The card in the field, if any. */
  get card(): CardEvent | null {
    return this.current;
  }

  /**
   * Taps a card in (hex UID, optional hex ATR). A card already present is removed first, as
   * swapping badges on a reader does. Throws `RangeError` on bad hex.
   */
  present(uidHex: string, atrHex?: string): CardEvent {
    const uid = fromHex(uidHex);
    if (uid.length === 0 || uid.length > 10) throw new RangeError('a UID is 1..10 bytes');
    const atr = atrHex ? fromHex(atrHex) : DEFAULT_BADGE_ATR;
    const parsed = parseAtr(atr);
    this.remove();
    const ev: CardEvent = {
      type: 'card.present',
      reader: this.device.id,
      readerName: this.device.name,
      uid: toHex(uid),
      atr: toHex(atr),
      cardType: parsed.cardType,
      standard: parsed.standard,
      time: new Date(this.clock()).toISOString(),
    };
    this.current = ev;
    this.emit(ev);
    return ev;
  }

  /** Taps the card out; returns it, or null when the field was empty. */
  remove(): CardEvent | null {
    const cur = this.current;
    if (!cur) return null;
    this.current = null;
    const ev: CardEvent = { ...cur, type: 'card.removed', time: new Date(this.clock()).toISOString() };
    this.emit(ev);
    return ev;
  }

  async close(): Promise<void> {
    this.deviceListeners.clear();
    this.cardListeners.clear();
  }

  private emit(e: CardEvent): void {
    for (const l of [...this.cardListeners]) {
      try {
        l(e);
      } catch {
        // A listener's bug must not stop the reader.
      }
    }
  }
}
