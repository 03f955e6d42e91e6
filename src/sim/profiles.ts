/**
 * Device profiles for the virtual authenticator: a real model's published getInfo (a raw
 * capture or its FIDO MDS statement, see `fixtures/profiles/*.json` for provenance) plus the
 * behaviour settings where vendors differ (fido.md §14).
 *
 * Profiles are read from `fixtures/profiles/` at run time (DESIGN.md §1: fixtures are read
 * by `--simulate`), so adding a model is adding a JSON file.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename, dirname, join } from 'node:path';
import { KeytapError } from '../protocol/errors.ts';

/** Name of the profile used when none is given: a CTAP 2.1 YubiKey 5 NFC, factory state. */
export const DEFAULT_PROFILE = 'yubikey-5-nfc-5.7';

/** Vendor differences the simulator reproduces (fido.md §14). */
export interface ProfileBehaviour {
  /** pinRetries after setPIN / a correct PIN (CTAP 2.1 §6.5.2.1: 8 at most). Default 8. */
  maxPinRetries: number;
  /**
   * Status of the 3rd consecutive wrong PIN: 0x34 PIN_AUTH_BLOCKED (CTAP 2.1 §6.5.5.5), or
   * 0x31 PIN_INVALID on some firmware (fido.md §14.1). The 4th attempt is 0x34 either way.
   */
  thirdWrongPinStatus: 0x34 | 0x31;
  /** Reset is allowed only this long after power-up (Yubico 5000, others 10000; fido.md §10). */
  resetWindowMs: number;
  /** getPINRetries with no PIN set: 0x35 PIN_NOT_SET (YubiKey) or the retry counter (fido.md §14.3). */
  pinRetriesWithoutPin: 'error-0x35' | 'retries';
  /** Whether getPINRetries carries powerCycleState (key 0x04; some firmware omits it, fido.md §14.7). */
  powerCycleState: 'reported' | 'omitted';
  /** CTAPHID keepalive period while busy (OpenSK KEEPALIVE_DELAY_MS = 100). */
  keepaliveIntervalMs: number;
  /**
   * Answer to a correct-PIN token request while forcePINChange is set: 0x37
   * PIN_POLICY_VIOLATION (CTAP 2.1 §6.5.5.7, Chromium) or 0x31 (OpenSK; fido.md §14.2).
   */
  forcePinChangeTokenStatus: 0x37 | 0x31;
}

/** Where a profile's getInfo came from (written in each file). */
export interface ProfileProvenance {
  sourceKind: string;
  repo?: string;
  path?: string;
  commit?: string;
  url?: string;
  locator?: string;
  [k: string]: unknown;
}

/**
 * getInfo in CTAP 2.1 §6.4 member names (the JSON form of `getinfo-profiles.json`); the
 * authenticator turns it into the live response (clientPin, forcePINChange and minPINLength
 * come from state, not from here).
 */
export interface ProfileGetInfo {
  versions: string[];
  extensions?: string[];
  /** 32 hex digits. */
  aaguid: string;
  options?: Record<string, boolean>;
  maxMsgSize?: number;
  pinUvAuthProtocols?: number[];
  maxCredentialCountInList?: number;
  maxCredentialIdLength?: number;
  transports?: string[];
  algorithms?: Array<{ type: string; alg: number }>;
  maxSerializedLargeBlobArray?: number;
  forcePINChange?: boolean;
  minPINLength?: number;
  firmwareVersion?: number;
  maxCredBlobLength?: number;
  maxRPIDsForSetMinPINLength?: number;
  preferredPlatformUvAttempts?: number;
  uvModality?: number;
  certifications?: Record<string, number>;
  remainingDiscoverableCredentials?: number;
  [k: string]: unknown;
}

/** A loaded device profile. */
export interface DeviceProfile {
  name: string;
  model: string;
  vendor: string;
  aaguid: string;
  provenance: ProfileProvenance;
  /** INIT reply fields: device version (major, minor, build) and capability flags. */
  ctaphid: { deviceVersion: [number, number, number]; capabilities: number };
  behaviour: ProfileBehaviour;
  notes: string[];
  getInfo: ProfileGetInfo;
}

/** `loadProfile` was given a name that is not a profile. `details.validNames` lists them. */
export class UnknownProfileError extends KeytapError {
  constructor(name: string, validNames: string[]) {
    super('SIM_UNKNOWN_PROFILE', `unknown device profile "${name}"; valid profiles: ${validNames.join(', ')}`, {
      details: { profile: name, validNames },
    });
  }
}

/** A profile file exists but does not describe a usable profile. */
export class InvalidProfileError extends KeytapError {
  constructor(name: string, reason: string) {
    super('SIM_INVALID_PROFILE', `device profile "${name}" is invalid: ${reason}`, { details: { profile: name, reason } });
  }
}

/** `fixtures/profiles/` of this checkout (src/sim → ../../fixtures/profiles). */
export const PROFILES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'profiles');

/** Names of the profiles in `dir` (default `PROFILES_DIR`), sorted. */
export function listProfiles(dir: string = PROFILES_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

const BEHAVIOUR_DEFAULTS: ProfileBehaviour = {
  maxPinRetries: 8,
  thirdWrongPinStatus: 0x34,
  resetWindowMs: 10_000,
  pinRetriesWithoutPin: 'retries',
  powerCycleState: 'reported',
  keepaliveIntervalMs: 100,
  forcePinChangeTokenStatus: 0x37,
};

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) return parseInt(v.slice(2), 16);
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

/**
 * Loads the profile `name` (default `DEFAULT_PROFILE`) from `dir`, or a profile file when
 * `name` is a path (contains `/` or ends in `.json`; HIL rigs keep their own models). Throws
 * `UnknownProfileError` naming the valid names, or `InvalidProfileError`.
 */
export function loadProfile(name: string = DEFAULT_PROFILE, dir: string = PROFILES_DIR): DeviceProfile {
  if (name.includes('/') || name.endsWith('.json')) {
    if (!existsSync(name)) throw new UnknownProfileError(name, listProfiles(dir));
    let raw: any;
    try {
      raw = JSON.parse(readFileSync(name, 'utf8'));
    } catch (e) {
      throw new InvalidProfileError(name, `not JSON (${(e as Error).message})`);
    }
    return parseProfile(typeof raw?.name === 'string' ? raw.name : basename(name, '.json'), raw);
  }
  const valid = listProfiles(dir);
  if (!valid.includes(name)) throw new UnknownProfileError(name, valid);
  let raw: any;
  try {
    raw = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  } catch (e) {
    throw new InvalidProfileError(name, `not JSON (${(e as Error).message})`);
  }
  return parseProfile(name, raw);
}

/** Validates and normalises a profile object (hex-string numbers become numbers). */
export function parseProfile(name: string, raw: any): DeviceProfile {
  const gi = raw?.getInfo;
  if (!gi || !Array.isArray(gi.versions) || typeof gi.aaguid !== 'string' || !/^[0-9a-f]{32}$/i.test(gi.aaguid)) {
    throw new InvalidProfileError(name, 'getInfo needs versions[] and a 32-hex-digit aaguid');
  }
  if (!raw.provenance || typeof raw.provenance.sourceKind !== 'string') throw new InvalidProfileError(name, 'provenance.sourceKind is missing');
  const b = raw.behaviour ?? {};
  const behaviour: ProfileBehaviour = { ...BEHAVIOUR_DEFAULTS };
  for (const k of ['maxPinRetries', 'thirdWrongPinStatus', 'resetWindowMs', 'keepaliveIntervalMs', 'forcePinChangeTokenStatus'] as const) {
    if (b[k] === undefined) continue;
    const v = num(b[k]);
    if (v === undefined) throw new InvalidProfileError(name, `behaviour.${k} is not a number`);
    (behaviour as any)[k] = v;
  }
  if (behaviour.maxPinRetries < 1 || behaviour.maxPinRetries > 8) throw new InvalidProfileError(name, 'behaviour.maxPinRetries must be 1…8 (CTAP 2.1 §6.5.2.1)');
  if (![0x31, 0x34].includes(behaviour.thirdWrongPinStatus)) throw new InvalidProfileError(name, 'behaviour.thirdWrongPinStatus must be 0x31 or 0x34');
  if (![0x31, 0x37].includes(behaviour.forcePinChangeTokenStatus)) throw new InvalidProfileError(name, 'behaviour.forcePinChangeTokenStatus must be 0x31 or 0x37');
  if (b.pinRetriesWithoutPin !== undefined) {
    if (!['error-0x35', 'retries'].includes(b.pinRetriesWithoutPin)) throw new InvalidProfileError(name, "behaviour.pinRetriesWithoutPin must be 'error-0x35' or 'retries'");
    behaviour.pinRetriesWithoutPin = b.pinRetriesWithoutPin;
  }
  if (b.powerCycleState !== undefined) {
    if (!['reported', 'omitted'].includes(b.powerCycleState)) throw new InvalidProfileError(name, "behaviour.powerCycleState must be 'reported' or 'omitted'");
    behaviour.powerCycleState = b.powerCycleState;
  }
  const dv = raw.ctaphid?.deviceVersion;
  return {
    name,
    model: String(raw.model ?? name),
    vendor: String(raw.vendor ?? ''),
    aaguid: String(raw.aaguid ?? gi.aaguid),
    provenance: raw.provenance,
    ctaphid: {
      deviceVersion: Array.isArray(dv) && dv.length === 3 ? [dv[0] & 0xff, dv[1] & 0xff, dv[2] & 0xff] : [1, 0, 0],
      capabilities: num(raw.ctaphid?.capabilities) ?? 0x0d,
    },
    behaviour,
    notes: Array.isArray(raw.notes) ? raw.notes.map(String) : [],
    getInfo: gi,
  };
}
