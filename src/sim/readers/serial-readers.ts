/**
 * Virtual serial badge readers (DESIGN.md §7: "serial readers, frames as real readers send
 * them"): an EM4100 ASCII reader that repeats its frame while a tag is in the field, and a PN532
 * that answers the HSU command set keytap uses. Both write through a callback, so tests put
 * them behind a real PTY (socat) and the agent's serial driver cannot tell the difference.
 */
import { encodeEm4100Frame, type Em4100Variant } from '../../protocol/rfid/em4100.ts';
import { encodePn532Command, PN532_ACK, Pn532Cmd, Pn532FrameDecoder, Pn532Tfi } from '../../protocol/rfid/pn532.ts';

/** An RDM6300 / ID-12 that sends its frame every `repeatMs` while a tag is present. */
export class VirtualEm4100Reader {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly variant: Em4100Variant = 'rdm6300',
    private readonly repeatMs = 100,
  ) {}

  /** Puts a tag (5 data bytes) in the field, or takes it away (null). */
  setTag(data: Uint8Array | null): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!data) return;
    const frame = encodeEm4100Frame(data, this.variant);
    this.write(frame);
    this.timer = setInterval(() => this.write(frame), this.repeatMs);
  }

  close(): void {
    this.setTag(null);
  }
}

/** A PN532 behind HSU: ACK, then the response, for the commands keytap sends. */
export class VirtualPn532 {
  private readonly decoder = new Pn532FrameDecoder();
  private uid: Uint8Array | null = null;
  /** Commands received, by code (tests check the conversation). */
  readonly received: number[] = [];

  /**
   * @param coalesce send the ACK and the response in one write (real UARTs and PTYs often merge
   *   them into one read; the host must not lose the second frame). Default false.
   */
  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly options: { coalesce?: boolean } = {},
  ) {}

  /** Puts a type A card with this UID in the field, or none. */
  setCard(uid: Uint8Array | null): void {
    this.uid = uid;
  }

  /** Feeds bytes from the host. */
  push(chunk: Uint8Array): void {
    for (const f of this.decoder.push(chunk)) {
      if (f.kind !== 'info' || f.tfi !== Pn532Tfi.HOST_TO_PN532) continue;
      this.received.push(f.code);
      if (!this.options.coalesce) this.write(PN532_ACK);
      const reply = (data: number[]): void => {
        const frame = encodePn532Command(f.code + 1, data, Pn532Tfi.PN532_TO_HOST);
        this.write(this.options.coalesce ? Uint8Array.from([...PN532_ACK, ...frame]) : frame);
      };
      switch (f.code) {
        case Pn532Cmd.GetFirmwareVersion:
          reply([0x32, 0x01, 0x06, 0x07]);
          break;
        case Pn532Cmd.InListPassiveTarget:
          if (this.uid) reply([0x01, 0x01, 0x00, 0x04, 0x08, this.uid.length, ...this.uid]);
          else reply([0x00]);
          break;
        case Pn532Cmd.InRelease:
          reply([0x00]);
          break;
        default:
          // SAMConfiguration, RFConfiguration and others: empty success.
          reply([]);
      }
    }
  }
}
