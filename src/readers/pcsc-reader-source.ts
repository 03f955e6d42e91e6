/**
 * Badge readers over PC/SC (DESIGN.md §4): every reader pcscd knows becomes a reader device
 * (id `pcsc:<name>`; pcscd's name already ends in its index, "Virtual PCD 00 01"); a card
 * arriving gives `card.present` once (UID from GET DATA `FF CA 00 00 00`, ATR, card name from
 * the PC/SC part 3 table), leaving gives `card.removed`. ISO 14443-4 cards and phones are not
 * forced through an AID: the UID comes from GET DATA for every card. A card that also answers
 * SELECT of the FIDO AID is offered as an NFC authenticator. pcscd going away is a state: the
 * monitor reconnects and readers come back.
 */
import { PcscMonitor, type PcscEvent, type PcscMonitorOptions } from '../drivers/pcsc/pcsc-monitor.ts';
import type { DeviceEvent } from '../drivers/device-source.ts';
import type { ApduTransport } from '../protocol/iso7816/apdu-transport.ts';
import { decodeResponseApdu, followUp, selectAidApdu } from '../protocol/iso7816/apdu.ts';
import { FIDO_AID } from '../protocol/iso7816/nfcctap.ts';
import { StatusWord } from '../protocol/iso7816/status-words.ts';
import { parseAtr, type ParsedAtr } from '../protocol/rfid/atr.ts';
import { toHex } from '../util/bytes.ts';
import { Deadline, systemClock, type Clock } from '../util/deadline.ts';
import { CtapNfcTransport } from '../fido/nfc-transport.ts';
import type { CardEvent, NfcAuthenticatorDevice, ReaderDevice, ReaderSource, ReaderSourceDevice } from './types.ts';
import { readerAllowed, type ReaderRules } from './reader-rules.ts';

export interface PcscReaderSourceOptions extends PcscMonitorOptions {
  /** Allow/deny rules (default: deny known security keys' CCID interfaces). */
  rules?: ReaderRules;
  /** Probe 14443-4 cards for the FIDO applet (default true). Storage cards are never probed. */
  probeFido?: boolean;
  /** Budget for reading one card (connect + GET DATA + probe), default 3000 ms. */
  readTimeoutMs?: number;
  /** Wall clock for event times (default Date.now). */
  clock?: Clock;
  /** Injected monitor (tests); default a new `PcscMonitor`. */
  monitor?: PcscMonitor;
  /** Diagnostics sink (no secrets pass through here). */
  log?: (msg: string, details?: Record<string, unknown>) => void;
}

type CardState = { gen: number; reading: boolean; removedDuringRead: boolean; present: CardEvent | null; fido: NfcAuthenticatorDevice | null };

export class PcscReaderSource implements ReaderSource {
  readonly monitor: PcscMonitor;
  private readonly devices = new Map<string, ReaderSourceDevice>();
  private readonly cardsByReader = new Map<string, CardState>();
  private readonly deviceListeners = new Set<(e: DeviceEvent<ReaderSourceDevice>) => void>();
  private readonly cardListeners = new Set<(e: CardEvent) => void>();
  private unwatch: (() => void) | null = null;
  private readonly clock: Clock;
  /** Cards read so far and UID read failures (diagnostics). */
  stats = { cards: 0, uidFailures: 0, fidoKeys: 0 };

  constructor(private readonly options: PcscReaderSourceOptions = {}) {
    this.monitor = options.monitor ?? new PcscMonitor(options);
    this.clock = options.clock ?? systemClock;
  }

  start(): void {
    if (this.unwatch) return;
    this.unwatch = this.monitor.watch((e) => this.onEvent(e));
    this.monitor.start();
  }

  async list(): Promise<ReaderSourceDevice[]> {
    return [...this.devices.values()];
  }

  watch(listener: (event: DeviceEvent<ReaderSourceDevice>) => void): () => void {
    this.deviceListeners.add(listener);
    return () => this.deviceListeners.delete(listener);
  }

  cards(listener: (event: CardEvent) => void): () => void {
    this.cardListeners.add(listener);
    return () => this.cardListeners.delete(listener);
  }

  /** Cards currently present, one per reader. */
  presentCards(): CardEvent[] {
    return [...this.cardsByReader.values()].flatMap((c) => (c.present ? [c.present] : []));
  }

  async close(): Promise<void> {
    this.unwatch?.();
    this.unwatch = null;
    await this.monitor.close();
    this.deviceListeners.clear();
    this.cardListeners.clear();
  }

  private emitDevice(e: DeviceEvent<ReaderSourceDevice>): void {
    if (e.type === 'detached') this.devices.delete(e.device.id);
    else this.devices.set(e.device.id, e.device);
    for (const l of [...this.deviceListeners]) safe(() => l(e));
  }

  private emitCard(e: CardEvent): void {
    for (const l of [...this.cardListeners]) safe(() => l(e));
  }

  private onEvent(e: PcscEvent): void {
    if (e.type === 'service') {
      this.options.log?.(e.up ? 'pcscd available' : 'pcscd unavailable; retrying', e.error ? { error: e.error } : undefined);
      return;
    }
    const name = e.name;
    if (!readerAllowed({ name }, this.options.rules)) return;
    const id = `pcsc:${name}`;
    switch (e.type) {
      case 'reader-attached': {
        const dev: ReaderDevice = { id, kind: 'reader', transport: 'pcsc', name, protocol: 'pcsc' };
        this.emitDevice({ type: 'attached', device: dev });
        return;
      }
      case 'reader-detached': {
        this.cardGone(name);
        const dev = this.devices.get(id);
        if (dev) this.emitDevice({ type: 'detached', device: dev });
        return;
      }
      case 'card-inserted':
        void this.cardArrived(name, e.atr);
        return;
      case 'card-removed':
        this.cardGone(name);
        return;
    }
  }

  private async cardArrived(name: string, atrBytes: Uint8Array): Promise<void> {
    const prev = this.cardsByReader.get(name);
    const st: CardState = { gen: (prev?.gen ?? 0) + 1, reading: true, removedDuringRead: false, present: null, fido: null };
    this.cardsByReader.set(name, st);
    let atr: ParsedAtr | null = null;
    try {
      atr = parseAtr(atrBytes);
    } catch {
      // Unparseable ATR: still a card; its UID may be readable.
    }
    let uid: Uint8Array | null = null;
    let fidoVersion: string | null = null;
    const deadline = Deadline.in(this.options.readTimeoutMs ?? 3000);
    // Three attempts: another PC/SC client's transaction on the same card can make one
    // SCardTransmit fail ("Transaction failed", 0x80100016), and a card pcscd is still powering
    // refuses SCardConnect ("Card is unpowered", 0x80100067), while the card is still there.
    const RETRY_MS = [20, 150];
    let held: ApduTransport | null = null;
    for (let attempt = 0; attempt < 3 && uid === null && fidoVersion === null && !st.removedDuringRead && this.cardsByReader.get(name) === st; attempt++) {
      let conn: ApduTransport | null = null;
      try {
        conn = await this.monitor.connect(name, { deadline });
        uid = await readUid(conn, deadline);
        if ((this.options.probeFido ?? true) && atr?.kind !== 'pcsc-storage') {
          const r = decodeResponseApdu(await conn.transmit(selectAidApdu(FIDO_AID), { deadline }));
          if (r.sw === StatusWord.SUCCESS) fidoVersion = new TextDecoder().decode(r.data);
        }
        // Keep the connection until the event is out: disconnecting first would put a pcscd
        // round trip between the UID in hand and card.present.
        held = conn;
        conn = null;
        break;
      } catch (err) {
        this.options.log?.('reading card failed', { reader: name, attempt: attempt + 1, error: err instanceof Error ? err.message : String(err) });
        await conn?.close().catch(() => {});
        conn = null;
        if (attempt < RETRY_MS.length) await new Promise((r) => setTimeout(r, RETRY_MS[attempt]));
      } finally {
        await conn?.close().catch(() => {});
      }
    }
    const release = (): void => void held?.close().catch(() => {});
    if (uid === null) this.stats.uidFailures++;
    st.reading = false;
    if (this.cardsByReader.get(name) !== st) return release();
    if (st.removedDuringRead && uid === null) {
      this.cardsByReader.delete(name);
      return release();
    }
    this.stats.cards++;
    const readerId = `pcsc:${name}`;
    const ev: CardEvent = {
      type: 'card.present',
      reader: readerId,
      readerName: name,
      uid: uid ? toHex(uid) : null,
      atr: toHex(atrBytes),
      cardType: atr?.cardType ?? 'Unknown',
      standard: atr?.standard ?? 'Unknown',
      time: new Date(this.clock()).toISOString(),
      ...(fidoVersion !== null ? { fido: true } : {}),
    };
    st.present = ev;
    this.emitCard(ev);
    release();
    if (fidoVersion !== null && !st.removedDuringRead) {
      this.stats.fidoKeys++;
      const dev: NfcAuthenticatorDevice = {
        id: `nfc:${name}`,
        kind: 'authenticator',
        transport: 'nfc',
        name: `FIDO key on ${name}`,
        reader: readerId,
        version: fidoVersion,
        open: async (signal) => {
          const c = await this.monitor.connect(name, { signal, deadline: Deadline.in(this.options.readTimeoutMs ?? 3000) });
          try {
            return await CtapNfcTransport.open(c, { signal });
          } catch (e) {
            await c.close().catch(() => {});
            throw e;
          }
        },
      };
      st.fido = dev;
      this.emitDevice({ type: 'attached', device: dev });
    }
    if (st.removedDuringRead) this.cardGone(name);
  }

  private cardGone(name: string): void {
    const st = this.cardsByReader.get(name);
    if (!st) return;
    if (st.reading) {
      st.removedDuringRead = true;
      return;
    }
    this.cardsByReader.delete(name);
    if (st.fido) this.emitDevice({ type: 'detached', device: st.fido });
    if (st.present) this.emitCard({ ...st.present, type: 'card.removed', time: new Date(this.clock()).toISOString() });
  }
}

/** GET DATA UID (`FF CA 00 00 00`), following 6CXX; null when the card/reader refuses. */
export async function readUid(conn: ApduTransport, deadline: Deadline): Promise<Uint8Array | null> {
  let cmd: Uint8Array = Uint8Array.of(0xff, 0xca, 0x00, 0x00, 0x00);
  for (let i = 0; i < 3; i++) {
    const r = decodeResponseApdu(await conn.transmit(cmd, { deadline }));
    if (r.sw === StatusWord.SUCCESS) return r.data.length > 0 ? r.data : null;
    const f = followUp(cmd, r);
    if (f.kind !== 'resend') return null;
    cmd = f.apdu;
  }
  return null;
}

function safe(f: () => void): void {
  try {
    f();
  } catch {
    // A listener's bug must not stop discovery.
  }
}
