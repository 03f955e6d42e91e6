/**
 * authenticatorClientPIN (0x06; CTAP 2.1 §6.5.5). Request and response keys per
 * CTAP 2.1 §6.5.5 (fido.md §4). Encrypted members (newPinEnc, pinHashEnc, the encrypted
 * token) stay plain bytes here: the PIN/UV auth protocol in `pin/pin-protocol.ts` makes
 * and opens them.
 */
import { encodeCbor } from '../cbor.ts';
import { CoseKeyError, decodeCoseEc2Key, encodeCoseEc2Key, type CoseEc2PublicKey } from '../cose.ts';
import type { CtapCommand } from './command.ts';
import { Ctap2FieldError, ctapMap, decodeCtapMap, Fields, stripUndefined as strip } from './fields.ts';
import { CtapStatus } from './status.ts';

/** clientPIN subcommands (CTAP 2.1 §6.5.5), spec spellings. */
export const ClientPinSubcommand = {
  getPINRetries: 0x01,
  getKeyAgreement: 0x02,
  setPIN: 0x03,
  changePIN: 0x04,
  /** Legacy CTAP 2.0 token request (no permissions). */
  getPinToken: 0x05,
  getPinUvAuthTokenUsingUvWithPermissions: 0x06,
  getUVRetries: 0x07,
  getPinUvAuthTokenUsingPinWithPermissions: 0x09,
} as const;
export type ClientPinSubcommandValue = (typeof ClientPinSubcommand)[keyof typeof ClientPinSubcommand];

/** pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7; 0x40 is CTAP 2.2). */
export const PinUvAuthPermission = {
  makeCredential: 0x01,
  getAssertion: 0x02,
  credentialManagement: 0x04,
  bioEnrollment: 0x08,
  largeBlobWrite: 0x10,
  authenticatorConfig: 0x20,
  persistentCredentialManagementReadOnly: 0x40,
} as const;

/** clientPIN request keys (CTAP 2.1 §6.5.5; 0x07 and 0x08 are unused). */
export const ClientPinRequestKey = {
  pinUvAuthProtocol: 0x01,
  subCommand: 0x02,
  keyAgreement: 0x03,
  pinUvAuthParam: 0x04,
  newPinEnc: 0x05,
  pinHashEnc: 0x06,
  permissions: 0x09,
  rpId: 0x0a,
} as const;

/** clientPIN response keys (CTAP 2.1 §6.5.5). */
export const ClientPinResponseKey = {
  keyAgreement: 0x01,
  pinUvAuthToken: 0x02,
  pinRetries: 0x03,
  powerCycleState: 0x04,
  uvRetries: 0x05,
} as const;

export interface ClientPinRequest {
  /** 1 or 2; required by every subcommand except getPINRetries/getUVRetries (CTAP 2.1 §6.5.5). */
  pinUvAuthProtocol?: number;
  subCommand: number;
  /** The platform's key-agreement key. */
  keyAgreement?: CoseEc2PublicKey;
  pinUvAuthParam?: Uint8Array;
  /** encrypt(shared, pad64(newPin)). */
  newPinEnc?: Uint8Array;
  /** encrypt(shared, LEFT(SHA-256(pin), 16)). */
  pinHashEnc?: Uint8Array;
  permissions?: number;
  rpId?: string;
}

export interface ClientPinResponse {
  /** The authenticator's key-agreement key (getKeyAgreement). Not yet checked to be on the curve. */
  keyAgreement?: CoseEc2PublicKey;
  /** The ENCRYPTED pinUvAuthToken; decrypt it with the shared secret. */
  pinUvAuthToken?: Uint8Array;
  pinRetries?: number;
  /** True when a power cycle is needed before the next PIN attempt (optional; some firmware omits it). */
  powerCycleState?: boolean;
  uvRetries?: number;
}

const NAME = 'authenticatorClientPIN';
const Q = ClientPinRequestKey;
const R = ClientPinResponseKey;

function coseField(f: Fields, key: number, name: string): CoseEc2PublicKey | undefined {
  const v = f.map.get(key);
  if (v === undefined) return undefined;
  try {
    return decodeCoseEc2Key(v, name);
  } catch (e) {
    if (e instanceof CoseKeyError) {
      throw new Ctap2FieldError(`${f.command}: ${e.message}`, { command: f.command, field: name, key, status: CtapStatus.INVALID_PARAMETER, cause: e });
    }
    throw e;
  }
}

export const ClientPin: CtapCommand<ClientPinRequest, ClientPinResponse> = {
  code: 0x06,
  name: NAME,
  encodeRequest(req) {
    return encodeCbor(
      ctapMap([
        [Q.pinUvAuthProtocol, req.pinUvAuthProtocol],
        [Q.subCommand, req.subCommand],
        [Q.keyAgreement, req.keyAgreement && encodeCoseEc2Key(req.keyAgreement)],
        [Q.pinUvAuthParam, req.pinUvAuthParam],
        [Q.newPinEnc, req.newPinEnc],
        [Q.pinHashEnc, req.pinHashEnc],
        [Q.permissions, req.permissions],
        [Q.rpId, req.rpId],
      ]),
    );
  },
  decodeRequest(params) {
    const f = new Fields(decodeCtapMap(params, `${NAME} request`).map, `${NAME} request`);
    return strip({
      pinUvAuthProtocol: f.optUint(Q.pinUvAuthProtocol, 'pinUvAuthProtocol'),
      subCommand: f.uint(Q.subCommand, 'subCommand'),
      keyAgreement: coseField(f, Q.keyAgreement, 'keyAgreement'),
      pinUvAuthParam: f.optBytes(Q.pinUvAuthParam, 'pinUvAuthParam'),
      newPinEnc: f.optBytes(Q.newPinEnc, 'newPinEnc'),
      pinHashEnc: f.optBytes(Q.pinHashEnc, 'pinHashEnc'),
      permissions: f.optUint(Q.permissions, 'permissions'),
      rpId: f.optText(Q.rpId, 'rpId'),
    });
  },
  encodeResponse(res) {
    const m = ctapMap([
      [R.keyAgreement, res.keyAgreement && encodeCoseEc2Key(res.keyAgreement)],
      [R.pinUvAuthToken, res.pinUvAuthToken],
      [R.pinRetries, res.pinRetries],
      [R.powerCycleState, res.powerCycleState],
      [R.uvRetries, res.uvRetries],
    ]);
    // Status-only replies carry no body (setPIN, changePIN).
    return m.size === 0 ? new Uint8Array(0) : encodeCbor(m);
  },
  decodeResponse(body) {
    const f = new Fields(decodeCtapMap(body, `${NAME} response`).map, `${NAME} response`);
    return strip({
      keyAgreement: coseField(f, R.keyAgreement, 'keyAgreement'),
      pinUvAuthToken: f.optBytes(R.pinUvAuthToken, 'pinUvAuthToken'),
      pinRetries: f.optUint(R.pinRetries, 'pinRetries'),
      powerCycleState: f.optBool(R.powerCycleState, 'powerCycleState'),
      uvRetries: f.optUint(R.uvRetries, 'uvRetries'),
    });
  },
};
