/** authenticatorMakeCredential (0x01; CTAP 2.1 §6.1). */
import { encodeCbor, type CborMap } from '../cbor.ts';
import type { CtapCommand } from './command.ts';
import {
  credentialDescriptorItem,
  credentialParametersItem,
  decodeRpEntity,
  decodeUserEntity,
  encodeCredentialDescriptor,
  encodeCredentialParameters,
  encodeRpEntity,
  encodeUserEntity,
  type CredentialDescriptor,
  type PublicKeyCredentialParameters,
  type RpEntity,
  type UserEntity,
} from './entities.ts';
import { ctapMap, decodeCtapMap, Fields, recordToMap, stripUndefined } from './fields.ts';

/** makeCredential / getAssertion options (`rk`, `up`, `uv`). CTAP 2.0 devices reject an explicit `uv: false`: omit it (fido.md §14.4). */
export type CtapOptions = Record<string, boolean>;

export interface MakeCredentialRequest {
  /** 0x01, 32 bytes. */
  clientDataHash: Uint8Array;
  /** 0x02 */
  rp: RpEntity;
  /** 0x03 */
  user: UserEntity;
  /** 0x04, in order of preference. */
  pubKeyCredParams: PublicKeyCredentialParameters[];
  /** 0x05 */
  excludeList?: CredentialDescriptor[];
  /** 0x06, extension identifier → input. */
  extensions?: CborMap;
  /** 0x07 */
  options?: CtapOptions;
  /** 0x08: authenticate(token, clientDataHash). */
  pinUvAuthParam?: Uint8Array;
  /** 0x09 */
  pinUvAuthProtocol?: number;
  /** 0x0A: 1 vendor-facilitated, 2 platform-managed. */
  enterpriseAttestation?: number;
}

export interface MakeCredentialResponse {
  /** 0x01, e.g. `packed`, `none`. */
  fmt: string;
  /** 0x02, parse with `parseAuthData`. */
  authData: Uint8Array;
  /** 0x03 */
  attStmt: CborMap;
  /** 0x04: enterprise attestation returned. */
  epAtt?: boolean;
  /** 0x05 */
  largeBlobKey?: Uint8Array;
  /** 0x06 (CTAP 2.2) */
  unsignedExtensionOutputs?: CborMap;
}

const NAME = 'authenticatorMakeCredential';

export const MakeCredential: CtapCommand<MakeCredentialRequest, MakeCredentialResponse> = {
  code: 0x01,
  name: NAME,
  encodeRequest(r) {
    return encodeCbor(
      ctapMap([
        [0x01, r.clientDataHash],
        [0x02, encodeRpEntity(r.rp)],
        [0x03, encodeUserEntity(r.user)],
        [0x04, r.pubKeyCredParams.map(encodeCredentialParameters)],
        [0x05, r.excludeList?.map(encodeCredentialDescriptor)],
        [0x06, r.extensions],
        [0x07, recordToMap(r.options)],
        [0x08, r.pinUvAuthParam],
        [0x09, r.pinUvAuthProtocol],
        [0x0a, r.enterpriseAttestation],
      ]),
    );
  },
  decodeRequest(params) {
    const f = new Fields(decodeCtapMap(params, `${NAME} request`).map, `${NAME} request`);
    return stripUndefined({
      clientDataHash: f.bytes(0x01, 'clientDataHash'),
      rp: decodeRpEntity(f.map_(0x02, 'rp')),
      user: decodeUserEntity(f.map_(0x03, 'user')),
      pubKeyCredParams: f.array(0x04, 'pubKeyCredParams', credentialParametersItem),
      excludeList: f.optArray(0x05, 'excludeList', credentialDescriptorItem),
      extensions: f.optMap(0x06, 'extensions')?.map,
      options: f.optBoolRecord(0x07, 'options'),
      pinUvAuthParam: f.optBytes(0x08, 'pinUvAuthParam'),
      pinUvAuthProtocol: f.optUint(0x09, 'pinUvAuthProtocol'),
      enterpriseAttestation: f.optUint(0x0a, 'enterpriseAttestation'),
    });
  },
  encodeResponse(r) {
    return encodeCbor(
      ctapMap([
        [0x01, r.fmt],
        [0x02, r.authData],
        [0x03, r.attStmt],
        [0x04, r.epAtt],
        [0x05, r.largeBlobKey],
        [0x06, r.unsignedExtensionOutputs],
      ]),
    );
  },
  decodeResponse(body) {
    const f = new Fields(decodeCtapMap(body, `${NAME} response`).map, `${NAME} response`);
    return stripUndefined({
      fmt: f.text(0x01, 'fmt'),
      authData: f.bytes(0x02, 'authData'),
      attStmt: f.map_(0x03, 'attStmt').map,
      epAtt: f.optBool(0x04, 'epAtt'),
      largeBlobKey: f.optBytes(0x05, 'largeBlobKey'),
      unsignedExtensionOutputs: f.optMap(0x06, 'unsignedExtensionOutputs')?.map,
    });
  },
};
