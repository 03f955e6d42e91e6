/**
 * Real pcscd + vsmartcard vpcd with keytap's own virtual cards (reference/readers.md §4).
 * Every pcscd/vpcd test lives in this ONE file: vpcd's ports 35963/35964 hold one card each,
 * and one test kills and restarts pcscd, so these must not run in parallel with each other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { requireService, pcscdProbe, pythonModule } from '../helpers/services.ts';
import { PcscReaderSource } from '../../src/readers/pcsc-reader-source.ts';
import type { CardEvent, NfcAuthenticatorDevice, ReaderSourceDevice } from '../../src/readers/types.ts';
import type { DeviceEvent } from '../../src/drivers/device-source.ts';
import { VpcdCardClient } from '../../src/sim/vpcd/vpcd-card-client.ts';
import { VirtualBadgeCard } from '../../src/sim/vpcd/virtual-card.ts';
import { FidoNfcCard } from '../../src/sim/vpcd/fido-nfc-card.ts';
import { VirtualAuthenticator } from '../../src/sim/authenticator/virtual-authenticator.ts';
import { createSimEnv } from '../../src/sim/env.ts';
import { CtapHidCmd } from '../../src/protocol/ctaphid/constants.ts';
import { fromHex, toBase64Url } from '../../src/util/bytes.ts';
import { Pin } from '../../src/protocol/secret.ts';
import { runAgent } from '../../src/main.ts';
import { KeytapClient, KeytapRpcError } from '../../src/client/keytap-client.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const gate = await requireService('pcscd', pcscdProbe);
const pyGate = await requireService('python3-fido2', pythonModule('fido2.pcsc'));

const READER0 = 'Virtual PCD 00 00';
const READER1 = 'Virtual PCD 00 01';
/** pcscd polls every 400 ms; connect → PRESENT takes up to ~480 ms. Allow a generous margin. */
const PRESENCE_MS = 5000;

// readers.md §1 ATRs and §2 UIDs.
const CARDS: Array<[string, string, string, string]> = [
  ['MIFARE Classic 1K', '62322b1f', '3B8F8001804F0CA000000306030001000000006A', 'ISO 14443 A part 3'],
  ['MIFARE Classic 4K', 'a1b2c3d4', '3B8F8001804F0CA0000003060300020000000069', 'ISO 14443 A part 3'],
  ['MIFARE Ultralight', '043c513a003e80', '3B8F8001804F0CA0000003060300030000000068', 'ISO 14443 A part 3'],
  ['MIFARE Ultralight EV1', '04a1b2c3d4e580', '3B8F8001804F0CA00000030603003D0000000056', 'ISO 14443 A part 3'],
  ['FeliCa', '0102030405060708', '3B8F8001804F0CA00000030611003B0000000042', 'FeliCa'],
  ['MIFARE DESFire', '04112233445566', '3B8180018080', 'ISO 14443-4'],
];

describe.skipIf(gate.skip)('PC/SC badge readers through real pcscd + vpcd', () => {
  let source: PcscReaderSource;
  const cardEvents: CardEvent[] = [];
  const deviceEvents: DeviceEvent<ReaderSourceDevice>[] = [];
  const waiters = new Set<() => void>();
  const clients: VpcdCardClient[] = [];
  const children: ChildProcess[] = [];

  function until<T>(pick: () => T | undefined | Promise<T | undefined>, what: string, ms = PRESENCE_MS): Promise<T> {
    return new Promise((resolve, reject) => {
      let busy = false;
      const check = (): void => {
        if (busy) return;
        busy = true;
        void Promise.resolve(pick()).then((v) => {
          busy = false;
          if (v !== undefined && waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(t);
            clearInterval(poll);
            resolve(v);
          }
        });
      };
      // Also re-check periodically: an async pick may depend on the agent, not on our events.
      const poll = setInterval(check, 50);
      const t = setTimeout(() => {
        waiters.delete(check);
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      waiters.add(check);
      check();
    });
  }
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  const cardEvent = (type: CardEvent['type'], uid: string, after: number): Promise<CardEvent> =>
    until(() => cardEvents.slice(after).find((e) => e.type === type && e.uid === uid), `${type} ${uid}`);
  const readersPresent = (): boolean => {
    const ids = new Set(deviceEventsNow());
    return ids.has(`pcsc:${READER0}`) && ids.has(`pcsc:${READER1}`);
  };
  const deviceEventsNow = (): string[] => {
    const ids = new Set<string>();
    for (const e of deviceEvents) {
      if (e.type === 'detached') ids.delete(e.device.id);
      else ids.add(e.device.id);
    }
    return [...ids];
  };
  function card(c: VirtualBadgeCard | FidoNfcCard, port = 35963): VpcdCardClient {
    const client = new VpcdCardClient(c, { port, backoffMs: { initial: 50, max: 300 } });
    client.on('error', () => {});
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    source = new PcscReaderSource({ backoffMs: { initial: 50, max: 250 } });
    source.cards((e) => {
      cardEvents.push(e);
      notify();
    });
    source.watch((e) => {
      deviceEvents.push(e);
      notify();
    });
    source.start();
    await until(() => (readersPresent() ? true : undefined), 'both vpcd readers');
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await source?.close();
    ensurePcscdRunning();
  });

  it.each(CARDS)('a %s badge gives its UID, ATR and card name, then taps out (PC/SC part 3 ATR, readers.md §1)', async (name, uid, atr, standard) => {
    const mark = cardEvents.length;
    const client = card(new VirtualBadgeCard(fromHex(uid), fromHex(atr)));
    await client.insert();
    const ev = await cardEvent('card.present', uid, mark);
    expect(ev.reader).toBe(`pcsc:${READER0}`);
    expect(ev.atr).toBe(atr.toLowerCase());
    expect(ev.cardType).toBe(name);
    expect(ev.standard).toBe(standard);
    expect(ev.fido).toBeUndefined();
    // Exactly one present per arrival even though pcscd keeps polling the ATR.
    client.remove();
    const out = await cardEvent('card.removed', uid, mark);
    expect(out.cardType).toBe(name);
    expect(cardEvents.slice(mark).filter((e) => e.uid === uid).map((e) => e.type)).toEqual(['card.present', 'card.removed']);
  });

  it('two badges on two readers at once are told apart by reader and UID', async () => {
    const mark = cardEvents.length;
    const a = card(new VirtualBadgeCard(fromHex('11223344')), 35963);
    const b = card(new VirtualBadgeCard(fromHex('55667788')), 35964);
    await Promise.all([a.insert(), b.insert()]);
    const [ea, eb] = await Promise.all([cardEvent('card.present', '11223344', mark), cardEvent('card.present', '55667788', mark)]);
    expect(ea.reader).toBe(`pcsc:${READER0}`);
    expect(eb.reader).toBe(`pcsc:${READER1}`);
    expect(source.presentCards().map((c) => c.uid).sort()).toEqual(['11223344', '55667788']);
    a.remove();
    b.remove();
    await Promise.all([cardEvent('card.removed', '11223344', mark), cardEvent('card.removed', '55667788', mark)]);
  });

  it('tapping the same badge again gives a new card.present (one per arrival)', async () => {
    const mark = cardEvents.length;
    const c = card(new VirtualBadgeCard(fromHex('0a0b0c0d')));
    for (let i = 0; i < 2; i++) {
      await c.insert();
      await until(() => (cardEvents.slice(mark).filter((e) => e.type === 'card.present' && e.uid === '0a0b0c0d').length === i + 1 ? true : undefined), `present #${i + 1}`);
      c.remove();
      await until(() => (cardEvents.slice(mark).filter((e) => e.type === 'card.removed' && e.uid === '0a0b0c0d').length === i + 1 ? true : undefined), `removed #${i + 1}`);
    }
  });

  it('a FIDO key tapped on the reader is offered as an NFC authenticator (CTAP 2.1 §11.3.3)', async () => {
    const mark = cardEvents.length;
    const devMark = deviceEvents.length;
    const auth = new VirtualAuthenticator({ env: createSimEnv({ touchPolicy: 'auto' }) });
    const client = card(new FidoNfcCard(auth));
    await client.insert();
    const dev = (await until(
      () => deviceEvents.slice(devMark).find((e) => e.type === 'attached' && e.device.kind === 'authenticator')?.device,
      'NFC authenticator attached',
    )) as NfcAuthenticatorDevice;
    expect(dev.transport).toBe('nfc');
    expect(dev.reader).toBe(`pcsc:${READER0}`);
    expect(dev.version).toBe('FIDO_2_0');
    const present = cardEvents.slice(mark).find((e) => e.type === 'card.present' && e.fido);
    expect(present?.cardType).toBe('ISO 14443-4');
    // The reader answers GET DATA for the key too: its random NFCID1 (first byte 08).
    expect(present?.uid).toMatch(/^08[0-9a-f]{6}$/);
    // getInfo through CtapNfcTransport over the real PC/SC stack.
    const t = await dev.open();
    try {
      const reply = await t.exchange(CtapHidCmd.CBOR, Uint8Array.of(0x04));
      expect(reply[0]).toBe(0x00);
      expect(reply.length).toBeGreaterThan(50);
      expect(t.kind).toBe('nfc');
    } finally {
      await t.close();
    }
    client.remove();
    await until(() => deviceEvents.slice(devMark).find((e) => e.type === 'detached' && e.device.id === dev.id), 'NFC authenticator detached');
  });

  it.skipIf(pyGate.skip)('python3-fido2 CtapPcscDevice drives the virtual authenticator: getInfo, retries, change PIN, wrong PIN with retries left', async () => {
    // The HIL contract form: keytap simulate --vpcd HOST:PORT --authenticator --pin PIN.
    const sim = spawn(process.execPath, ['bin/keytap.js', 'simulate', '--vpcd', '127.0.0.1:35963', '--authenticator', '--pin', '123456'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(sim);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      sim.stdout.on('data', (b) => {
        out += b;
        if (out.includes('connected vpcd 127.0.0.1:35963')) resolve();
      });
      sim.on('exit', (code) => reject(new Error(`simulate exited ${code}`)));
    });
    const r = await runPython(PY_FIDO, [READER0]);
    const mark = cardEvents.length;
    sim.kill('SIGTERM');
    await new Promise((res) => sim.once('exit', res));
    // Leave the reader empty for the next test (pcscd notices within one 400 ms poll).
    await until(() => cardEvents.slice(mark).find((e) => e.type === 'card.removed' && e.readerName === READER0), 'simulated key removed');
    expect(r.error).toBeUndefined();
    expect(r.versions).toContain('FIDO_2_0');
    expect(r.clientPin).toBe(true);
    expect(r.retries0).toBe(8);
    expect(r.changed).toBe(true);
    expect(r.wrongPinError).toBe('PIN_INVALID');
    expect(r.retriesAfterWrong).toBe(7);
    expect(r.tokenWithNewPin).toBe(true);
    expect(r.retriesAfterGood).toBe(8);
  });

  it("keytap's own fido.* methods drive an NFC key through the agent: info, PIN status/change/verify (wrong PIN with retries left), makeCredential, getAssertion, reset, set PIN", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-nfc-agent-'));
    const tokenFile = join(dir, 'tokens.json');
    const running = await runAgent({ flags: { hid: false, listen: '127.0.0.1:0', socket: false, tokenFile, logLevel: 'silent', readers: { pcsc: true } }, env: {} });
    const auth = new VirtualAuthenticator({ env: createSimEnv({ touchPolicy: 'auto' }), initialPin: Pin.fromString('123456') });
    const client = card(new FidoNfcCard(auth));
    const url = `ws://127.0.0.1:${running.agent.addresses!.tcp[0]!.port}/`;
    const c = await KeytapClient.connect({ url, tokenFile, role: 'client', subscribe: ['card', 'device'] });
    try {
      const taps: any[] = [];
      c.on('card.present', (p) => taps.push(p));
      await client.insert();
      let nfc: any;
      await until(async () => {
        nfc = (await c.devicesList()).devices.find((d) => d.kind === 'authenticator' && d.transport === 'nfc');
        return nfc ? true : undefined;
      }, 'NFC key in devices.list');
      expect(nfc.name).toContain(READER0);
      const info = await c.fidoInfo(nfc.id);
      expect(info.versions).toContain('FIDO_2_0');
      expect(await c.pinStatus(nfc.id)).toMatchObject({ state: 'ok', retriesLeft: 8 });
      expect(await c.changePin(nfc.id, '123456', '654321')).toMatchObject({ state: 'ok', retriesLeft: 8 });
      const wrong = await c.verifyPin(nfc.id, '000000').then(
        () => null,
        (e: KeytapRpcError) => e,
      );
      expect(wrong?.code).toBe('PIN_INVALID');
      expect(wrong?.details.retriesLeft).toBe(7);
      expect(await c.verifyPin(nfc.id, '654321')).toMatchObject({ state: 'ok', retriesLeft: 8 });
      expect(auth.pinState.pinRetries).toBe(8);
      // Enrolment and login over NFC: the attestation reply is long enough to need 61XX + GET RESPONSE.
      const cdh = toBase64Url(new Uint8Array(32).fill(7));
      const mc = await c.makeCredential({ device: nfc.id, rpId: 'example.com', clientDataHash: cdh, user: { id: toBase64Url(Uint8Array.of(1, 2, 3)), name: 'alice' }, pin: '654321' });
      expect(mc.fmt).toBe('packed');
      const ga = await c.getAssertion({ device: nfc.id, rpId: 'example.com', clientDataHash: cdh, allowCredentials: [mc.credentialId], pin: '654321' });
      expect(ga.assertions[0]!.credentialId).toBe(mc.credentialId);
      expect(ga.assertions[0]!.signature.length).toBeGreaterThan(60);
      // Reset (admin; within the key's 10 s power-up window) and set a new PIN, over NFC too.
      const admin = await KeytapClient.connect({ url, tokenFile, role: 'admin' });
      try {
        expect(await admin.reset(nfc.id)).toMatchObject({ state: 'no-pin' });
        expect(await admin.setPin(nfc.id, '111111')).toMatchObject({ state: 'ok', retriesLeft: 8 });
        // WINK is a CTAPHID command with no NFC equivalent: a typed refusal, not a hang.
        const w = await admin.wink(nfc.id).then(
          () => null,
          (e: KeytapRpcError) => e,
        );
        expect(w?.code).toBe('UNSUPPORTED');
      } finally {
        admin.close();
      }
      expect(taps.some((t) => t.card?.fido === true && t.cardType === 'ISO 14443-4')).toBe(true);
    } finally {
      c.close();
      client.remove();
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keytap readers --json lists the vpcd readers; keytap badge read --json prints the tapped card', async () => {
    const list = await runCli(['readers', '--direct', '--json']);
    expect(list.code).toBe(0);
    const j = JSON.parse(list.stdout);
    expect(j.pcscd).toBe(true);
    expect(j.readers.map((r: { id: string }) => r.id)).toEqual(expect.arrayContaining([`pcsc:${READER0}`, `pcsc:${READER1}`]));
    const reading = runCli(['badge', 'read', '--direct', '--json', '--timeout', '15', '--reader', '00 01$']);
    const c = card(new VirtualBadgeCard(fromHex('043c513a003e80'), fromHex('3B8F8001804F0CA0000003060300030000000068')), 35964);
    await c.insert();
    const r = await reading;
    c.remove();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ uid: '043c513a003e80', cardType: 'MIFARE Ultralight', atr: '3b8f8001804f0ca0000003060300030000000068', readerName: READER1 });
  });

  it('keytap badge read exits 1 when no badge is tapped in time', async () => {
    const r = await runCli(['badge', 'read', '--direct', '--json', '--timeout', '0.5', '--reader', 'no such reader']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('TIMEOUT');
  });

  it('pcscd killed and restarted mid-run: readers go and return, taps work again, no crash', async () => {
    const pid = pcscdPid();
    expect(pid).not.toBeNull();
    const devMark = deviceEvents.length;
    process.kill(pid!, 'SIGTERM');
    await until(() => (deviceEventsNow().some((id) => id.startsWith('pcsc:Virtual PCD')) ? undefined : true), 'readers detached');
    expect(deviceEvents.slice(devMark).filter((e) => e.type === 'detached').length).toBeGreaterThanOrEqual(2);
    // Down for a moment: the source keeps retrying, nothing throws.
    await new Promise((r) => setTimeout(r, 300));
    expect(source.monitor.serviceUp).toBe(false);
    startPcscd();
    await until(() => (readersPresent() ? true : undefined), 'readers back after restart');
    expect(source.monitor.serviceUp).toBe(true);
    const mark = cardEvents.length;
    const c = card(new VirtualBadgeCard(fromHex('deadbeef')));
    await c.insert();
    const ev = await cardEvent('card.present', 'deadbeef', mark);
    expect(ev.cardType).toBe('MIFARE Classic 1K');
    c.remove();
    await cardEvent('card.removed', 'deadbeef', mark);
  });
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['bin/keytap.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    const t = setTimeout(() => p.kill(), 25_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

function pcscdPid(): number | null {
  const r = spawnSync('pidof', ['pcscd'], { encoding: 'utf8' });
  const pid = Number(r.stdout.trim().split(/\s+/)[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function startPcscd(): void {
  const p = spawn('pcscd', ['-f', '-e'], { detached: true, stdio: 'ignore' });
  p.unref();
}

// Leave the machine as we found it: pcscd running with its socket.
function ensurePcscdRunning(): void {
  if (pcscdPid() === null) startPcscd();
  for (let i = 0; i < 50 && !existsSync('/run/pcscd/pcscd.comm'); i++) spawnSync('sleep', ['0.1']);
}

function runPython(script: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (err += b));
    const t = setTimeout(() => p.kill(), 20_000);
    p.on('close', (code) => {
      clearTimeout(t);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`python exited ${code}: ${err || out}`));
      }
    });
  });
}

// python3-fido2 0.9.1 (Debian): the old API (fido2.ctap2.ClientPin).
const PY_FIDO = String.raw`
import json, sys, time
from fido2.pcsc import CtapPcscDevice
from fido2.ctap2 import Ctap2, ClientPin
from fido2.ctap import CtapError
out = {}
try:
    devs = []
    for i in range(50):
        devs = list(CtapPcscDevice.list_devices(sys.argv[1]))
        if devs: break
        time.sleep(0.1)
    ctap = Ctap2(devs[0])
    out['versions'] = ctap.info.versions
    out['clientPin'] = ctap.info.options.get('clientPin')
    cp = ClientPin(ctap)
    out['retries0'] = cp.get_pin_retries()[0]
    cp.change_pin('123456', '654321')
    out['changed'] = True
    try:
        cp.get_pin_token('000000', ClientPin.PERMISSION.GET_ASSERTION, 'example.com')
    except CtapError as e:
        out['wrongPinError'] = 'PIN_INVALID' if e.code == CtapError.ERR.PIN_INVALID else str(e)
    out['retriesAfterWrong'] = cp.get_pin_retries()[0]
    tok = cp.get_pin_token('654321', ClientPin.PERMISSION.GET_ASSERTION, 'example.com')
    out['tokenWithNewPin'] = len(tok) > 0
    out['retriesAfterGood'] = cp.get_pin_retries()[0]
except Exception as e:
    out['error'] = repr(e)
print(json.dumps(out))
`;
