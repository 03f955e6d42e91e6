/**
 * APDU round trips of keytap's vpcd card through the real pcscd: GET DATA `FF CA 00 00 00` from
 * a pcsclite client to a `VirtualBadgeCard` behind `VpcdCardClient`, with the TCP_QUICKACK relay
 * (`quickAck: 'auto'`, the default) and without it (`'off'`: a plain Node socket with
 * setNoDelay, which pays vpcd's Nagle + delayed-ACK stall; reference/environment.md). Also a
 * whole NFC CTAP2 getInfo (SELECT + NFCCTAP_MSG + GET RESPONSEs) through CtapNfcTransport.
 *
 *   npx tsx bench/readers-apdu.ts [N=200]
 */
import { existsSync } from 'node:fs';
import { PcscMonitor } from '../src/drivers/pcsc/pcsc-monitor.ts';
import { VpcdCardClient } from '../src/sim/vpcd/vpcd-card-client.ts';
import { VirtualBadgeCard } from '../src/sim/vpcd/virtual-card.ts';
import { FidoNfcCard } from '../src/sim/vpcd/fido-nfc-card.ts';
import { VirtualAuthenticator } from '../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv } from '../src/sim/env.ts';
import { CtapNfcTransport } from '../src/fido/nfc-transport.ts';
import { CtapHidCmd } from '../src/protocol/ctaphid/constants.ts';

const N = Number(process.argv[2] ?? 200);
const READER = 'Virtual PCD 00 01';
const PORT = 35964;
if (!existsSync('/run/pcscd/pcscd.comm')) {
  console.log('pcscd is not running (start it with `pcscd -f -e &`); nothing measured');
  process.exit(0);
}
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const line = (name: string, xs: number[]): string => `${name.padEnd(56)} p50 ${pct(xs, 50).toFixed(3)} ms  p99 ${pct(xs, 99).toFixed(3)} ms  (n=${xs.length})`;

const monitor = new PcscMonitor();
const present = new Set<string>();
monitor.watch((e) => {
  if (e.type === 'card-inserted') present.add(e.name);
  if (e.type === 'card-removed') present.delete(e.name);
});
monitor.start();

async function withCard<T>(card: VirtualBadgeCard | FidoNfcCard, quickAck: 'auto' | 'off', fn: () => Promise<T>): Promise<T> {
  const client = new VpcdCardClient(card, { port: PORT, quickAck });
  client.on('error', () => {});
  await client.insert();
  const end = Date.now() + 5000;
  while (!present.has(READER) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  try {
    return await fn();
  } finally {
    client.close();
    while (present.has(READER) && Date.now() < end + 5000) await new Promise((r) => setTimeout(r, 20));
  }
}

for (const mode of ['auto', 'off'] as const) {
  const n = mode === 'off' ? Math.min(N, 50) : N;
  const xs = await withCard(new VirtualBadgeCard(Uint8Array.of(0x62, 0x32, 0x2b, 0x1f)), mode, async () => {
    const conn = await monitor.connect(READER);
    const out: number[] = [];
    try {
      for (let i = 0; i < n + 10; i++) {
        const t0 = performance.now();
        await conn.transmit(Uint8Array.of(0xff, 0xca, 0, 0, 0));
        if (i >= 10) out.push(performance.now() - t0);
      }
    } finally {
      await conn.close();
    }
    return out;
  });
  console.log(line(`GET DATA round trip, quickAck ${mode === 'auto' ? 'relay' : 'off (plain Node socket)'}`, xs));
  const auth = new VirtualAuthenticator({ env: createSimEnv({ touchPolicy: 'auto' }) });
  const ys = await withCard(new FidoNfcCard(auth), mode, async () => {
    const out: number[] = [];
    for (let i = 0; i < Math.min(n, 30) + 3; i++) {
      const t0 = performance.now();
      const t = await CtapNfcTransport.open(await monitor.connect(READER));
      await t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x04));
      await t.close();
      if (i >= 3) out.push(performance.now() - t0);
    }
    return out;
  });
  console.log(line(`NFC getInfo (connect+SELECT+MSG+GET RESPONSE), ${mode === 'auto' ? 'relay' : 'off'}`, ys));
}
await monitor.close();
process.exit(0);
