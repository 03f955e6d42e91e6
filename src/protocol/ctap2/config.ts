/**
 * authenticatorConfig (0x0D; CTAP 2.1 §6.11). Needs a pinUvAuthToken with the
 * authenticatorConfig permission (0x20); check getInfo 0x1F before offering a subcommand.
 */
import { encodeCbor, type CborMap } from '../cbor.ts';
import { concatBytes } from '../../util/bytes.ts';
import type { CtapCommand } from './command.ts';
import { ctapMap, decodeCtapMap, Fields, stripUndefined } from './fields.ts';

/** Subcommands (CTAP 2.1 §6.11). */
export const ConfigSubcommand = {
  enableEnterpriseAttestation: 0x01,
  toggleAlwaysUv: 0x02,
  setMinPINLength: 0x03,
  vendorPrototype: 0xff,
} as const;

/** setMinPINLength parameter keys (CTAP 2.1 §6.11.4; 0x04 is CTAP 2.2). */
export const SetMinPinLengthKey = {
  newMinPINLength: 0x01,
  minPinLengthRPIDs: 0x02,
  forceChangePin: 0x03,
  pinComplexityPolicy: 0x04,
} as const;

export interface SetMinPinLengthParams {
  newMinPINLength?: number;
  minPinLengthRPIDs?: string[];
  forceChangePin?: boolean;
  pinComplexityPolicy?: boolean;
}

export interface ConfigRequest {
  /** 0x01 */
  subCommand: number;
  /** 0x02; build setMinPINLength's with `encodeSetMinPinLengthParams`. */
  subCommandParams?: CborMap;
  /** 0x03 */
  pinUvAuthProtocol?: number;
  /** 0x04: authenticate(token, configAuthMessage(subCommand, subCommandParams)). */
  pinUvAuthParam?: Uint8Array;
}

const NAME = 'authenticatorConfig';
const S = SetMinPinLengthKey;

export function encodeSetMinPinLengthParams(p: SetMinPinLengthParams): CborMap {
  return ctapMap([
    [S.newMinPINLength, p.newMinPINLength],
    [S.minPinLengthRPIDs, p.minPinLengthRPIDs],
    [S.forceChangePin, p.forceChangePin],
    [S.pinComplexityPolicy, p.pinComplexityPolicy],
  ]);
}

export function decodeSetMinPinLengthParams(m: CborMap): SetMinPinLengthParams {
  const f = new Fields(m, `${NAME} setMinPINLength`, 'subCommandParams.');
  return stripUndefined({
    newMinPINLength: f.optUint(S.newMinPINLength, 'newMinPINLength'),
    minPinLengthRPIDs: f.optArray(S.minPinLengthRPIDs, 'minPinLengthRPIDs', (v, at) => at.text(v)),
    forceChangePin: f.optBool(S.forceChangePin, 'forceChangePin'),
    pinComplexityPolicy: f.optBool(S.pinComplexityPolicy, 'pinComplexityPolicy'),
  });
}

/**
 * The message authenticated for authenticatorConfig (CTAP 2.1 §6.11):
 * `0xff × 32 ‖ 0x0d ‖ subCommand ‖ cbor(subCommandParams)` (params omitted when absent).
 */
export function configAuthMessage(subCommand: number, subCommandParams?: CborMap): Uint8Array {
  const prefix = new Uint8Array(34).fill(0xff);
  prefix[32] = 0x0d;
  prefix[33] = subCommand;
  return subCommandParams ? concatBytes(prefix, encodeCbor(subCommandParams)) : prefix;
}

export const AuthenticatorConfig: CtapCommand<ConfigRequest, void> = {
  code: 0x0d,
  name: NAME,
  encodeRequest(r) {
    return encodeCbor(
      ctapMap([
        [0x01, r.subCommand],
        [0x02, r.subCommandParams],
        [0x03, r.pinUvAuthProtocol],
        [0x04, r.pinUvAuthParam],
      ]),
    );
  },
  decodeRequest(params) {
    const f = new Fields(decodeCtapMap(params, `${NAME} request`).map, `${NAME} request`);
    return stripUndefined({
      subCommand: f.uint(0x01, 'subCommand'),
      subCommandParams: f.optMap(0x02, 'subCommandParams')?.map,
      pinUvAuthProtocol: f.optUint(0x03, 'pinUvAuthProtocol'),
      pinUvAuthParam: f.optBytes(0x04, 'pinUvAuthParam'),
    });
  },
  encodeResponse: () => new Uint8Array(0),
  decodeResponse: (body) => {
    decodeCtapMap(body, `${NAME} response`);
  },
};
