/**
 * What every reader source (PC/SC, serial, HID, virtual) gives the agent: reader devices and
 * NFC authenticators through the `DeviceSource` seam, and card taps as `CardEvent`s. Card UIDs
 * and ATRs are hex (DESIGN.md §5: "as readers print them").
 */
import type { DeviceSource } from '../drivers/device-source.ts';
import type { CtapTransport } from '../fido/ctap-transport.ts';

export type ReaderTransport = 'pcsc' | 'serial' | 'hid' | 'virtual';

/** A badge reader as listed in `devices.list`. */
export interface ReaderDevice {
  /** Stable id: `pcsc:<reader name>` (the name carries pcscd's index), `serial:<path>`, `hid:<vid:pid:serial|path>`, `virtual:<name>`. */
  id: string;
  kind: 'reader';
  transport: ReaderTransport;
  name: string;
  /** Serial/HID protocol: `em4100`, `pn532`, `pcprox`, `keyboard`, or `pcsc`. */
  protocol: string;
  path?: string;
  vendorId?: number;
  productId?: number;
}

/** A FIDO key tapped on a PC/SC reader (it answered SELECT of the FIDO AID). */
export interface NfcAuthenticatorDevice {
  /** `nfc:<reader name>`. */
  id: string;
  kind: 'authenticator';
  transport: 'nfc';
  name: string;
  /** The reader device id it sits on. */
  reader: string;
  /** SELECT reply, "FIDO_2_0" or "U2F_V2". */
  version: string;
  /** Connects to the card and selects the applet; the caller closes the transport. */
  open(signal?: AbortSignal): Promise<CtapTransport>;
}

export type ReaderSourceDevice = ReaderDevice | NfcAuthenticatorDevice;

/** A tap in (`card.present`) or out (`card.removed`). */
export interface CardEvent {
  type: 'card.present' | 'card.removed';
  /** Reader device id. */
  reader: string;
  readerName: string;
  /** UID hex (lower case); null when the reader could not read it (the ATR still identifies the card type). */
  uid: string | null;
  /** ATR hex ('' for readers that have none: serial, HID). */
  atr: string;
  /** Card name from the PC/SC part 3 ATR table, "ISO 14443-4", "EM4100", "H10301 (Wiegand 26)", ... */
  cardType: string;
  /** RF standard label, e.g. "ISO 14443 A part 3". */
  standard: string;
  /** ISO 8601 time of the event. */
  time: string;
  /** Wiegand 26 fields for pcProx/H10301 cards. */
  facility?: number;
  cardNumber?: number;
  /** True when the card answered SELECT of the FIDO AID (it is also offered as an authenticator). */
  fido?: boolean;
}

/** A reader source: devices through `DeviceSource`, taps through `cards`. */
export interface ReaderSource extends DeviceSource<ReaderSourceDevice> {
  /** Subscribes to card events; returns the unsubscribe function. */
  cards(listener: (event: CardEvent) => void): () => void;
  /** Starts discovery (idempotent). */
  start(): void;
}
