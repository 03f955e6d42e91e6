import { describe, expect, it, vi } from 'vitest';
import { CtapNfcTransport } from '../../src/fido/nfc-transport.ts';
import { FidoNfcCard } from '../../src/sim/vpcd/fido-nfc-card.ts';
import { VirtualBadgeCard } from '../../src/sim/vpcd/virtual-card.ts';
import type { CborHandler } from '../../src/sim/ctaphid-device.ts';
import type { ApduTransport } from '../../src/protocol/iso7816/apdu-transport.ts';
import { CtapHidCmd } from '../../src/protocol/ctaphid/constants.ts';
import { ApduStatusError } from '../../src/protocol/iso7816/errors.ts';
import { decodeCommandApdu } from '../../src/protocol/iso7816/apdu.ts';
import { build14443_4Atr } from '../../src/protocol/rfid/atr.ts';
import { fromHex, toHex } from '../../src/util/bytes.ts';

/** An in-process "reader": hands APDUs to a virtual card and records them. */
function wire(card: { transmit(a: Uint8Array): Uint8Array | Promise<Uint8Array> }): ApduTransport & { sent: Uint8Array[]; closed: boolean } {
  const t = {
    descriptor: 'in-process',
    sent: [] as Uint8Array[],
    closed: false,
    async transmit(a: Uint8Array) {
      t.sent.push(a);
      return card.transmit(a);
    },
    async close() {
      t.closed = true;
    },
  };
  return t;
}

/** Echo authenticator: status 00 ‖ the request reversed, optionally slow with UP-needed keepalives. */
function echo(delayMs = 0): CborHandler & { requests: Uint8Array[] } {
  const h = {
    requests: [] as Uint8Array[],
    async handleCbor(req: Uint8Array, o: { signal: AbortSignal; onKeepalive: (s: 1 | 2) => void }) {
      h.requests.push(req);
      if (delayMs) {
        o.onKeepalive(2);
        await new Promise((r) => setTimeout(r, delayMs));
      }
      return Uint8Array.of(0x00, ...Array.from(req).reverse());
    },
  };
  return h;
}

describe('CtapNfcTransport ↔ FidoNfcCard (CTAP 2.1 §11.3)', () => {
  it('SELECT answers FIDO_2_0 and the transport reports CBOR|NMSG', async () => {
    const t = await CtapNfcTransport.open(wire(new FidoNfcCard(echo())));
    expect(t.version).toBe('FIDO_2_0');
    expect(t.capabilities).toBe(0x04 | 0x08);
    expect(t.kind).toBe('nfc');
  });

  it.each([1, 250, 251, 600, 1200, 7609])('a %i-byte CBOR request chains in and a long reply comes back through 61XX', async (n) => {
    const h = echo();
    const link = wire(new FidoNfcCard(h));
    const t = await CtapNfcTransport.open(link);
    const payload = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
    const reply = await t.exchange(CtapHidCmd.CBOR, payload);
    expect(toHex(h.requests[0]!)).toBe(toHex(payload));
    expect(reply[0]).toBe(0);
    expect(toHex(reply.subarray(1))).toBe(toHex(Uint8Array.from(payload).reverse()));
    const cmds = link.sent.slice(1).map((a) => decodeCommandApdu(a));
    expect(cmds.filter((c) => c.cla === 0x90).length).toBe(Math.ceil(n / 250) - 1);
    expect(cmds.filter((c) => c.ins === 0xc0).length).toBe(Math.ceil((n + 1) / 256) - 1);
  });

  it('extended APDUs carry the request in one command', async () => {
    const h = echo();
    const link = wire(new FidoNfcCard(h));
    const t = await CtapNfcTransport.open(link, { extended: true });
    const payload = new Uint8Array(1000).fill(3);
    const reply = await t.exchange(CtapHidCmd.CBOR, payload);
    expect(reply.length).toBe(1001);
    expect(link.sent.length).toBe(2);
  });

  it('a slow request answers 91 00 and the host polls NFCCTAP_GETRESPONSE, reporting UP needed once', async () => {
    const link = wire(new FidoNfcCard(echo(120), { keepaliveAfterMs: 20 }));
    const t = await CtapNfcTransport.open(link);
    const ka: string[] = [];
    const reply = await t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x04), { onKeepalive: (s) => ka.push(s) });
    expect(toHex(reply)).toBe('0004');
    expect(ka).toEqual(['up-needed']);
    expect(link.sent.some((a) => a[0] === 0x80 && a[1] === 0x11)).toBe(true);
  });

  it('aborting while the key waits for a touch stops the NFCCTAP_GETRESPONSE polling with CANCELLED', async () => {
    const link = wire(new FidoNfcCard(echo(300), { keepaliveAfterMs: 10 }));
    const t = await CtapNfcTransport.open(link);
    const ac = new AbortController();
    const p = t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x01), { signal: ac.signal, onKeepalive: () => ac.abort() });
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(link.sent.filter((a) => a[1] === 0x11).length).toBe(0);
  });

  it('a card without the FIDO applet is refused with APDU_STATUS 6A82', async () => {
    const err = await CtapNfcTransport.open(wire(new VirtualBadgeCard(fromHex('62322b1f'), build14443_4Atr(Uint8Array.of(0x80))))).catch((e) => e);
    expect(err).toBeInstanceOf(ApduStatusError);
    expect(err.code).toBe('APDU_STATUS');
    expect(err.details.sw).toBe('6a82');
  });

  it('class FF GET DATA is answered with the key\'s UID, as a reader does (PC/SC part 3)', async () => {
    const card = new FidoNfcCard(echo(), { uid: fromHex('08a1b2c3') });
    expect(toHex(await card.transmit(fromHex('ffca000000')))).toBe('08a1b2c39000');
    expect(new FidoNfcCard(echo()).uid[0]).toBe(0x08);
  });

  it('NFCCTAP_MSG before SELECT is refused; close releases the card', async () => {
    const card = new FidoNfcCard(echo());
    expect(toHex(await card.transmit(fromHex('80108000010400')))).toBe('6985');
    const link = wire(card);
    const t = await CtapNfcTransport.open(link);
    await t.close();
    expect(link.closed).toBe(true);
    await expect(t.exchange(CtapHidCmd.CBOR, Uint8Array.of(4))).rejects.toMatchObject({ code: 'DEVICE_REMOVED' });
  });

  it('WINK has no NFC equivalent (UNSUPPORTED)', async () => {
    const t = await CtapNfcTransport.open(wire(new FidoNfcCard(echo())));
    await expect(t.exchange(CtapHidCmd.WINK, new Uint8Array(0))).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });
});

describe('VirtualBadgeCard (readers.md §2)', () => {
  const card = new VirtualBadgeCard(fromHex('043c513a003e80'));
  it.each([
    ['GET DATA UID', 'ffca000000', '043c513a003e809000'],
    ['GET DATA UID with a short Le gets 6C07', 'ffca000004', '6c07'],
    ['GET DATA ATS on a storage card', 'ffca010000', '6a81'],
    ['SELECT of an AID', '00a4040008a0000006472f000100', '6a82'],
    ['unknown INS', '00b0000010', '6d00'],
    ['truncated APDU', '00a4', '6700'],
  ])('%s', (_n, c, r) => expect(toHex(card.transmit(fromHex(c)))).toBe(r));
  it('GET DATA ATS on a 14443-4 card returns the historical bytes', () => {
    const c = new VirtualBadgeCard(fromHex('04112233445566'), fromHex('3B8180018080'));
    expect(toHex(c.transmit(fromHex('ffca010000')))).toBe('809000');
  });
  it('fromSpec parses UID[:ATR]', () => {
    const c = VirtualBadgeCard.fromSpec('62322B1F:3B8180018080');
    expect(toHex(c.uid)).toBe('62322b1f');
    expect(toHex(c.atr)).toBe('3b8180018080');
    expect(toHex(VirtualBadgeCard.fromSpec('62322b1f').atr)).toBe('3b8f8001804f0ca000000306030001000000006a');
    expect(() => VirtualBadgeCard.fromSpec('')).toThrow();
  });
});
