/** authenticatorGetAssertion (0x02; CTAP 2.1 §6.2) and authenticatorGetNextAssertion (0x08; §6.3). */
import { encodeCbor, type CborMap } from '../cbor.ts';
import type { CtapCommand } from './command.ts';
import {
  credentialDescriptorItem,
  decodeCredentialDescriptor,
  decodeUserEntity,
  encodeCredentialDescriptor,
  encodeUserEntity,
  type CredentialDescriptor,
  type UserEntity,
} from './entities.ts';
import { ctapMap, decodeCtapMap, Fields, recordToMap, stripUndefined } from './fields.ts';
import type { CtapOptions } from './make-credential.ts';

export interface GetAssertionRequest {
  /** 0x01 */
  rpId: string;
  /** 0x02, 32 bytes. */
  clientDataHash: Uint8Array;
  /** 0x03 */
  allowList?: CredentialDescriptor[];
  /** 0x04 */
  extensions?: CborMap;
  /** 0x05 (`up`, `uv`). */
  options?: CtapOptions;
  /** 0x06: authenticate(token, clientDataHash). */
  pinUvAuthParam?: Uint8Array;
  /** 0x07 */
  pinUvAuthProtocol?: number;
}

export interface GetAssertionResponse {
  /** 0x01; may be omitted when the allowList had exactly one entry. */
  credential?: CredentialDescriptor;
  /** 0x02 */
  authData: Uint8Array;
  /** 0x03 */
  signature: Uint8Array;
  /** 0x04, for discoverable credentials. */
  user?: UserEntity;
  /** 0x05, in the first response only. */
  numberOfCredentials?: number;
  /** 0x06 */
  userSelected?: boolean;
  /** 0x07 */
  largeBlobKey?: Uint8Array;
  /** 0x08 (CTAP 2.2) */
  unsignedExtensionOutputs?: CborMap;
}

const NAME = 'authenticatorGetAssertion';

function encodeAssertion(r: GetAssertionResponse): Uint8Array {
  return encodeCbor(
    ctapMap([
      [0x01, r.credential && encodeCredentialDescriptor(r.credential)],
      [0x02, r.authData],
      [0x03, r.signature],
      [0x04, r.user && encodeUserEntity(r.user)],
      [0x05, r.numberOfCredentials],
      [0x06, r.userSelected],
      [0x07, r.largeBlobKey],
      [0x08, r.unsignedExtensionOutputs],
    ]),
  );
}

function decodeAssertion(body: Uint8Array, name: string): GetAssertionResponse {
  const f = new Fields(decodeCtapMap(body, `${name} response`).map, `${name} response`);
  const cred = f.optMap(0x01, 'credential');
  const user = f.optMap(0x04, 'user');
  return stripUndefined({
    credential: cred && decodeCredentialDescriptor(cred),
    authData: f.bytes(0x02, 'authData'),
    signature: f.bytes(0x03, 'signature'),
    user: user && decodeUserEntity(user),
    numberOfCredentials: f.optUint(0x05, 'numberOfCredentials'),
    userSelected: f.optBool(0x06, 'userSelected'),
    largeBlobKey: f.optBytes(0x07, 'largeBlobKey'),
    unsignedExtensionOutputs: f.optMap(0x08, 'unsignedExtensionOutputs')?.map,
  });
}

export const GetAssertion: CtapCommand<GetAssertionRequest, GetAssertionResponse> = {
  code: 0x02,
  name: NAME,
  encodeRequest(r) {
    return encodeCbor(
      ctapMap([
        [0x01, r.rpId],
        [0x02, r.clientDataHash],
        [0x03, r.allowList?.map(encodeCredentialDescriptor)],
        [0x04, r.extensions],
        [0x05, recordToMap(r.options)],
        [0x06, r.pinUvAuthParam],
        [0x07, r.pinUvAuthProtocol],
      ]),
    );
  },
  decodeRequest(params) {
    const f = new Fields(decodeCtapMap(params, `${NAME} request`).map, `${NAME} request`);
    return stripUndefined({
      rpId: f.text(0x01, 'rpId'),
      clientDataHash: f.bytes(0x02, 'clientDataHash'),
      allowList: f.optArray(0x03, 'allowList', credentialDescriptorItem),
      extensions: f.optMap(0x04, 'extensions')?.map,
      options: f.optBoolRecord(0x05, 'options'),
      pinUvAuthParam: f.optBytes(0x06, 'pinUvAuthParam'),
      pinUvAuthProtocol: f.optUint(0x07, 'pinUvAuthProtocol'),
    });
  },
  encodeResponse: encodeAssertion,
  decodeResponse: (body) => decodeAssertion(body, NAME),
};

/** getNextAssertion: no parameters; the response has the getAssertion layout. */
export const GetNextAssertion: CtapCommand<void, GetAssertionResponse> = {
  code: 0x08,
  name: 'authenticatorGetNextAssertion',
  encodeRequest: () => new Uint8Array(0),
  decodeRequest: () => undefined,
  encodeResponse: encodeAssertion,
  decodeResponse: (body) => decodeAssertion(body, 'authenticatorGetNextAssertion'),
};
