/**
 * Converts libfido2's captured wire data (fixtures/traces/sources/libfido2/, BSD-2-Clause,
 * Yubico AB) into keytap traces: fixtures/traces/hid/<model>/<scenario>.trace.
 *
 *   npx tsx scripts/convert-wiredata.ts          # (re)write the traces
 *   npx tsx scripts/convert-wiredata.ts --check  # exit 1 if a committed trace is out of date
 *
 * The captures hold device→host reports only (fido.md §15), so every host message becomes a
 * `=> *` wildcard line ("any one host message") and the scenario tables below say which
 * replies follow it, in the order keytap's CtapHidTransport + FidoClient ask for them. Frames on
 * foreign channels are rewritten to the channel INIT allocates (00220002, fido.md §15 rule 5).
 * The generated traces are fixtures and are committed; test/unit/trace/wiredata-fixtures.test.ts
 * re-runs this conversion and fails when they drift.
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeTrace } from '../src/protocol/trace/serialize-trace.ts';
import { literalPattern, type Trace, type TraceEntry } from '../src/protocol/trace/trace-model.ts';
import { fromHex, toHex } from '../src/util/bytes.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE_DIR = join(ROOT, 'fixtures/traces/sources/libfido2');
export const OUT_DIR = join(ROOT, 'fixtures/traces');
const LICENSE_PATH = 'fixtures/traces/sources/libfido2/LICENSE-libfido2.txt';
const CID = '00220002';

type Macros = Map<string, Uint8Array[]>;

/** Parses one wiredata file: `[NAME]` headers, then hex lines (64-byte reports; a short tail is zero-padded). */
export function parseWiredata(text: string): Macros {
  const out: Macros = new Map();
  let cur: Uint8Array[] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const h = /^\[(\w+)\]$/.exec(line);
    if (h) {
      cur = [];
      out.set(h[1]!, cur);
      continue;
    }
    if (!cur) throw new Error(`hex before the first [NAME]: ${line.slice(0, 20)}`);
    const b = fromHex(line);
    const r = new Uint8Array(Math.max(64, b.length));
    r.set(b);
    cur.push(r);
  }
  return out;
}

/** One step: the host sends one message (`=> *`), the device answers with these frames. */
interface Step {
  note: string;
  replies: Reply[];
}
/** A reply: frames of a macro (all, or a slice of its messages), normalised to CID 00220002 unless `foreign`. */
interface Reply {
  macro: string;
  /** Which message of a multi-message macro (CREDMAN lists, BIO_ENROLL), by index of init frame. */
  message?: number;
  /** Keep the captured channel and mark the frames unsolicited (`<~`): a foreign-CID test. */
  foreign?: boolean;
  /** A documented edit of the capture (see DERIVATIONS). */
  derive?: keyof typeof DERIVATIONS;
}

/**
 * Edits of captured frames, each one byte and documented in the trace. The captured getInfo
 * says clientPin:false; PIN-state scenarios need the same key with a PIN set, which differs in
 * exactly the clientPin value (CBOR false 0xf4 → true 0xf5).
 */
const DERIVATIONS = {
  clientPinTrue: {
    text: 'getInfo with options.clientPin true: the captured reply with the clientPin value byte f4 (false) changed to f5 (true)',
    apply(frames: Uint8Array[]): Uint8Array[] {
      const needle = fromHex('69636c69656e7450696e'); // "clientPin"
      const out = frames.map((f) => f.slice());
      for (const f of out) {
        const hex = toHex(f);
        const at = hex.indexOf(toHex(needle) + 'f4');
        if (at >= 0 && at % 2 === 0) {
          f[at / 2 + needle.length] = 0xf5;
          return out;
        }
      }
      throw new Error('clientPin:false not found in one frame of the getInfo capture');
    },
  },
} as const;

interface Scenario {
  file: string;
  model: string;
  source: 'fido2-2020' | 'fido2-2026' | 'u2f' | 'regress';
  title: string;
  steps: Step[];
}

const init: Step = { note: 'CTAPHID_INIT on the broadcast channel (the nonce is spliced in at replay)', replies: [{ macro: 'WIREDATA_CTAP_INIT' }] };
const info: Step = { note: 'authenticatorGetInfo (0x04)', replies: [{ macro: 'WIREDATA_CTAP_CBOR_INFO' }] };
const infoPin: Step = { note: 'authenticatorGetInfo (0x04), clientPin true (derived)', replies: [{ macro: 'WIREDATA_CTAP_CBOR_INFO', derive: 'clientPinTrue' }] };
const retries: Step = { note: 'clientPIN getPINRetries (0x06/0x01) -> {3: 8}', replies: [{ macro: 'WIREDATA_CTAP_CBOR_RETRIES' }] };
const authkey: Step = { note: 'clientPIN getKeyAgreement (0x06/0x02) -> the authenticator COSE key', replies: [{ macro: 'WIREDATA_CTAP_CBOR_AUTHKEY' }] };
const token: Step = { note: 'clientPIN getPinToken (0x06/0x05) -> 16-byte encrypted token (protocol 1 size)', replies: [{ macro: 'WIREDATA_CTAP_CBOR_PINTOKEN' }] };
const status = (what: string): Step => ({ note: `${what} -> status-only OK (00)`, replies: [{ macro: 'WIREDATA_CTAP_CBOR_STATUS' }] });
const ka = { macro: 'WIREDATA_CTAP_KEEPALIVE' };
const times = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);

const Y = 'yubikey-5-fw5.2.1';
/** Scenario tables: the replies keytap's client asks for, in order (fido.md §15 per-operation sequences). */
export const SCENARIOS: Scenario[] = [
  { file: 'get-info', model: Y, source: 'fido2-2020', title: 'FidoClient.getInfo()', steps: [init, info] },
  {
    file: 'get-info-foreign-cid',
    model: Y,
    source: 'fido2-2020',
    title: 'getInfo while another application talks to the key: its reply on channel 00120004 arrives first and must be ignored',
    steps: [init, { note: 'authenticatorGetInfo; a foreign-channel frame comes first', replies: [{ macro: 'WIREDATA_CTAP_CBOR_CREDMAN_META', foreign: true }, { macro: 'WIREDATA_CTAP_CBOR_INFO' }] }],
  },
  { file: 'pin-status-no-pin', model: Y, source: 'fido2-2020', title: 'FidoClient.pinStatus() on a key without a PIN (getInfo clientPin false: retries are not polled)', steps: [init, info] },
  { file: 'pin-retries', model: Y, source: 'fido2-2020', title: 'FidoClient.pinStatus() on a key with a PIN: getInfo, getPINRetries -> ok, 8 retries', steps: [init, infoPin, retries] },
  {
    file: 'set-pin',
    model: Y,
    source: 'fido2-2020',
    title: 'FidoClient.setPin(): getInfo, getKeyAgreement, setPIN, then the verified state (getInfo, getPINRetries)',
    steps: [init, info, authkey, status('clientPIN setPIN (0x06/0x03)'), infoPin, retries],
  },
  {
    file: 'change-pin',
    model: Y,
    source: 'fido2-2020',
    title: 'FidoClient.changePin(): getInfo, getPINRetries, getKeyAgreement, changePIN, then the verified state',
    steps: [init, infoPin, retries, authkey, status('clientPIN changePIN (0x06/0x04)'), infoPin, retries],
  },
  {
    file: 'verify-pin',
    model: Y,
    source: 'fido2-2020',
    title: 'FidoClient.verifyPin(): getInfo, getPINRetries, getKeyAgreement, getPinToken, then the retries again',
    steps: [init, infoPin, retries, authkey, token, retries],
  },
  {
    file: 'reset',
    model: Y,
    source: 'fido2-2020',
    title: 'FidoClient.reset(): authenticatorReset with three UPNEEDED keepalives, then the state (getInfo: no PIN)',
    steps: [init, { note: 'authenticatorReset (0x07): keepalive UPNEEDED x3, then OK', replies: [...times(3, ka), { macro: 'WIREDATA_CTAP_CBOR_STATUS' }] }, info],
  },
  {
    file: 'make-credential',
    model: Y,
    source: 'fido2-2020',
    title: 'FidoClient.makeCredential() without PIN: keepalive UPNEEDED x3, then a packed attestation',
    steps: [init, info, { note: 'authenticatorMakeCredential (0x01)', replies: [...times(3, ka), { macro: 'WIREDATA_CTAP_CBOR_CRED' }] }],
  },
  {
    file: 'get-assertion',
    model: Y,
    source: 'fido2-2020',
    title: 'FidoClient.getAssertion() without PIN: one assertion (64-byte credential id, counter 9)',
    steps: [init, info, { note: 'authenticatorGetAssertion (0x02)', replies: [{ macro: 'WIREDATA_CTAP_CBOR_ASSERT' }] }],
  },
  {
    file: 'make-credential-pin',
    model: Y,
    source: 'fido2-2020',
    title: 'FidoClient.makeCredential() with a PIN: state check, getKeyAgreement, getPinToken, then makeCredential with keepalives',
    steps: [init, infoPin, retries, authkey, token, { note: 'authenticatorMakeCredential (0x01) with pinUvAuthParam', replies: [...times(3, ka), { macro: 'WIREDATA_CTAP_CBOR_CRED' }] }],
  },
  {
    file: 'get-assertion-pin',
    model: Y,
    source: 'fido2-2020',
    title: 'FidoClient.getAssertion() with a PIN: state check, getKeyAgreement, getPinToken, then getAssertion',
    steps: [init, infoPin, retries, authkey, token, { note: 'authenticatorGetAssertion (0x02) with pinUvAuthParam', replies: [{ macro: 'WIREDATA_CTAP_CBOR_ASSERT' }] }],
  },
  {
    file: 'credman-metadata',
    model: Y,
    source: 'fido2-2020',
    title: 'credentialManagement getCredsMetadata (transport level): {1: 0, 2: 25}',
    steps: [init, { note: 'authenticatorCredentialManagement (0x0A) getCredsMetadata', replies: [{ macro: 'WIREDATA_CTAP_CBOR_CREDMAN_META' }] }],
  },
  {
    file: 'credman-rps',
    model: Y,
    source: 'fido2-2020',
    title: 'credentialManagement enumerateRPs (transport level): three RPs in three messages',
    steps: [init, ...[0, 1, 2].map((m) => ({ note: m ? 'enumerateRPsGetNextRP' : 'enumerateRPsBegin', replies: [{ macro: 'WIREDATA_CTAP_CBOR_CREDMAN_RPLIST', message: m }] }))],
  },
  {
    file: 'credman-credentials',
    model: Y,
    source: 'fido2-2020',
    title: 'credentialManagement enumerateCredentials (transport level): five credentials in five messages',
    steps: [init, ...[0, 1, 2, 3, 4].map((m) => ({ note: m ? 'enumerateCredentialsGetNextCredential' : 'enumerateCredentialsBegin', replies: [{ macro: 'WIREDATA_CTAP_CBOR_CREDMAN_RKLIST', message: m }] }))],
  },
  { file: 'bio-info', model: Y, source: 'fido2-2020', title: 'bioEnrollment getFingerprintSensorInfo (transport level)', steps: [init, { note: 'authenticatorBioEnrollment (0x09)', replies: [{ macro: 'WIREDATA_CTAP_CBOR_BIO_INFO' }] }] },
  {
    file: 'bio-enroll',
    model: Y,
    source: 'fido2-2020',
    title: 'bioEnrollment enrollBegin + 2x enrollCaptureNextSample (transport level), keepalives between',
    steps: [init, ...[0, 1, 2].map((m) => ({ note: m ? 'enrollCaptureNextSample' : 'enrollBegin', replies: [{ macro: 'WIREDATA_CTAP_CBOR_BIO_ENROLL', message: m }] }))],
  },
  { file: 'bio-enum', model: Y, source: 'fido2-2020', title: 'bioEnrollment enumerateEnrollments (transport level)', steps: [init, { note: 'authenticatorBioEnrollment enumerateEnrollments', replies: [{ macro: 'WIREDATA_CTAP_CBOR_BIO_ENUM' }] }] },
  { file: 'large-blob-get', model: Y, source: 'fido2-2020', title: 'largeBlobs get (transport level): a 485-byte serialized array', steps: [init, { note: 'authenticatorLargeBlobs (0x0C) get', replies: [{ macro: 'WIREDATA_CTAP_CBOR_LARGEBLOB_GET_ARRAY' }] }] },
  {
    file: 'u2f-register',
    model: Y,
    source: 'u2f',
    title: 'U2F register over CTAPHID_MSG: five 6985 (touch needed) answers while polling, then the registration',
    steps: [init, ...times(5, { note: 'U2F_REGISTER -> SW 6985 conditions not satisfied (touch the key)', replies: [{ macro: 'WIREDATA_CTAP_U2F_6985' }] }), { note: 'U2F_REGISTER -> registration + 9000', replies: [{ macro: 'WIREDATA_CTAP_U2F_REGISTER' }] }],
  },
  {
    file: 'u2f-authenticate',
    model: Y,
    source: 'u2f',
    title: 'U2F authenticate over CTAPHID_MSG: four 6985 answers, then the signature (counter 44)',
    steps: [init, ...times(4, { note: 'U2F_AUTHENTICATE -> SW 6985', replies: [{ macro: 'WIREDATA_CTAP_U2F_6985' }] }), { note: 'U2F_AUTHENTICATE -> signature + 9000', replies: [{ macro: 'WIREDATA_CTAP_U2F_AUTH' }] }],
  },
  {
    file: 'make-credential-localhost',
    model: Y,
    source: 'regress',
    title: 'makeCredential for rp "localhost" (libfido2 regress/cred.c)',
    steps: [init, { note: 'authenticatorGetInfo (0x04), from the same key as fido2-2020', replies: [{ macro: 'WIREDATA_CTAP_CBOR_INFO' }] }, { note: 'authenticatorMakeCredential (0x01)', replies: [{ macro: 'REGRESS_WIREDATA_MAKECRED' }] }],
  },
  {
    file: 'make-credential-enterprise-attestation',
    model: Y,
    source: 'regress',
    title: 'makeCredential with enterprise attestation, epAtt true (libfido2 regress/cred.c)',
    steps: [init, { note: 'authenticatorGetInfo (0x04), from the same key as fido2-2020', replies: [{ macro: 'WIREDATA_CTAP_CBOR_INFO' }] }, { note: 'authenticatorMakeCredential (0x01), enterpriseAttestation', replies: [{ macro: 'REGRESS_WIREDATA_MAKECRED_ENTATTEST' }] }],
  },
  { file: 'get-info', model: 'libfido2-synthetic-ctap2.3', source: 'fido2-2026', title: 'FidoClient.getInfo() of a hand-made CTAP 2.3 getInfo (26 keys, not a real device)', steps: [init, info] },
];

const SOURCES: Record<Scenario['source'], { file: string; text: string }> = {
  'fido2-2020': { file: 'libfido2-wiredata-fido2-2020.txt', text: 'libfido2 fuzz/wiredata_fido2.h before commit 2a64743: device->host reports captured from a real authenticator (INIT reply: firmware 5.2.1)' },
  'fido2-2026': { file: 'libfido2-wiredata-fido2-2026.txt', text: 'libfido2 fuzz/wiredata_fido2.h at 8ee8e5a2: the INIT reply is a capture, CBOR_INFO is a hand-made CTAP 2.3 getInfo' },
  u2f: { file: 'libfido2-wiredata-u2f.txt', text: 'libfido2 fuzz/wiredata_u2f.h at 8ee8e5a2: U2F device->host reports' },
  regress: { file: 'libfido2-regress-cred.txt', text: 'libfido2 regress/cred.c at 8ee8e5a2 (REGRESS_WIREDATA_MAKECRED*), INIT and getInfo from fuzz/wiredata_fido2.h before 2a64743' },
};

function splitMessages(frames: Uint8Array[]): Uint8Array[][] {
  const msgs: Uint8Array[][] = [];
  for (const f of frames) {
    if (f[4]! & 0x80 && f[4] !== 0xbb) msgs.push([f]);
    else if (f[4] === 0xbb) msgs.push([f]);
    else msgs[msgs.length - 1]!.push(f);
  }
  // keepalives belong to the message after them
  const out: Uint8Array[][] = [];
  let pending: Uint8Array[] = [];
  for (const m of msgs) {
    if (m[0]![4] === 0xbb) pending.push(...m);
    else {
      out.push([...pending, ...m]);
      pending = [];
    }
  }
  if (pending.length) out.push(pending);
  return out;
}

function normalise(frame: Uint8Array): Uint8Array {
  const f = frame.slice();
  // INIT replies stay on the broadcast channel; everything else moves to the allocated channel.
  if (toHex(f.subarray(0, 4)) !== 'ffffffff') f.set(fromHex(CID), 0);
  return f;
}

/** Builds every trace: relative path -> text. Reads only `sourceDir`. */
export function convertWiredata(sourceDir: string = SOURCE_DIR): Map<string, string> {
  const macros = new Map<Scenario['source'], Macros>();
  const load = (s: Scenario['source']): Macros => {
    if (!macros.has(s)) {
      const m = parseWiredata(readFileSync(join(sourceDir, SOURCES[s].file), 'utf8'));
      // regress traces reuse INIT and INFO of the 2020 capture (the same key)
      if (s === 'regress' || s === 'u2f') for (const [k, v] of parseWiredata(readFileSync(join(sourceDir, SOURCES['fido2-2020'].file), 'utf8'))) if (!m.has(k)) m.set(k, v);
      macros.set(s, m);
    }
    return macros.get(s)!;
  };
  const out = new Map<string, string>();
  for (const sc of SCENARIOS) {
    const m = load(sc.source);
    const entries: TraceEntry[] = [{ kind: 'comment', line: 0, text: sc.title }];
    const used = new Set<string>();
    const derived = new Set<string>();
    for (const step of sc.steps) {
      entries.push({ kind: 'comment', line: 0, text: step.note }, { kind: 'send', line: 0 });
      for (const r of step.replies) {
        let frames = m.get(r.macro);
        if (!frames) throw new Error(`${sc.file}: macro ${r.macro} not in ${SOURCES[sc.source].file}`);
        used.add(r.macro);
        if (r.message !== undefined) frames = splitMessages(frames)[r.message]!;
        if (r.derive) {
          frames = DERIVATIONS[r.derive].apply(frames);
          derived.add(DERIVATIONS[r.derive].text);
        }
        entries.push({ kind: 'comment', line: 0, text: `[${r.macro}${r.message !== undefined ? ` message ${r.message + 1}` : ''}]${r.foreign ? ' on its captured (foreign) channel' : ''}${r.derive ? ' (derived)' : ''}` });
        for (const f of frames) entries.push({ kind: r.foreign ? 'unsolicited' : 'recv', line: 0, data: literalPattern(r.foreign ? f : normalise(f), 64) });
      }
    }
    const fields: Array<[string, string]> = [
      ['transport', 'hid'],
      ['device', sc.model === Y ? 'YubiKey 5 series, firmware 5.2.1 (per the INIT reply; the model is not recorded in the capture)' : 'none: hand-made CTAP 2.3 getInfo from libfido2 (not a real device)'],
      ['provenance', `${SOURCES[sc.source].text}; macros ${[...used].join(', ')}; host requests not captured (=> * lines); channels normalised to ${CID} (fido.md §15)`],
      ['license', `BSD-2-Clause, Copyright (c) Yubico AB; see ${LICENSE_PATH}`],
      ['scenario', sc.file],
      ['generated-by', 'scripts/convert-wiredata.ts (do not edit by hand; re-run the script)'],
    ];
    for (const d of derived) fields.push(['derived', d]);
    const trace: Trace = { header: { version: 1, transport: 'hid', device: fields[1]![1], provenance: fields[2]![1], license: fields[3]![1], fields }, entries };
    out.set(`hid/${sc.model}/${sc.file}.trace`, serializeTrace(trace));
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [rel, text] of convertWiredata()) {
    const path = join(OUT_DIR, rel);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
    if (current === text) continue;
    if (check) {
      console.error(`out of date: fixtures/traces/${rel}`);
      stale++;
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      console.log(`wrote fixtures/traces/${rel}`);
    }
  }
  if (stale) process.exit(1);
}
