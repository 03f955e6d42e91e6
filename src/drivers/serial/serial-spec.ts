/**
 * `--serial PATH:PROTOCOL[:BAUD]` (repeatable) and the config file's `serial` entries. Parsed
 * from the right, so device paths with colons work
 * (`/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0:em4100:9600`).
 */
import { KeytapError } from '../../protocol/errors.ts';

export type SerialProtocol = 'em4100' | 'pn532';

export const SERIAL_PROTOCOLS: readonly SerialProtocol[] = ['em4100', 'pn532'];

/** Default line speeds: EM4100 ASCII readers 9600 8N1; PN532 HSU 115200 8N1 (readers.md §6, §7). */
export const DEFAULT_BAUD: Readonly<Record<SerialProtocol, number>> = { em4100: 9600, pn532: 115200 };

export interface SerialPortSpec {
  path: string;
  protocol: SerialProtocol;
  baudRate: number;
}

/** Parses `PATH:PROTOCOL[:BAUD]`. Throws `KeytapError` CLI_USAGE with what was wrong. */
export function parseSerialSpec(text: string): SerialPortSpec {
  const parts = text.split(':');
  let baud: number | undefined;
  if (parts.length >= 3 && /^\d+$/.test(parts[parts.length - 1]!) && SERIAL_PROTOCOLS.includes(parts[parts.length - 2]!.toLowerCase() as SerialProtocol)) {
    baud = Number(parts.pop());
  }
  const proto = parts.pop()?.toLowerCase();
  const path = parts.join(':');
  if (!proto || !SERIAL_PROTOCOLS.includes(proto as SerialProtocol)) {
    throw new KeytapError('CLI_USAGE', `--serial ${JSON.stringify(text)}: expected PATH:PROTOCOL[:BAUD] with PROTOCOL one of ${SERIAL_PROTOCOLS.join(', ')}`);
  }
  if (!path) throw new KeytapError('CLI_USAGE', `--serial ${JSON.stringify(text)}: the device path is empty`);
  if (baud !== undefined && (baud < 50 || baud > 4_000_000)) throw new KeytapError('CLI_USAGE', `--serial ${JSON.stringify(text)}: baud rate ${baud} out of range`);
  const protocol = proto as SerialProtocol;
  return { path, protocol, baudRate: baud ?? DEFAULT_BAUD[protocol] };
}
