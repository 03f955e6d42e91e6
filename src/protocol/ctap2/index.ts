/** The CTAP2 codecs in one import (no module here imports this index, so it adds no cycle). */
export { GetInfo, GetInfoKey, decodeAuthenticatorInfo, encodeAuthenticatorInfo, type AuthenticatorInfo, type PublicKeyCredentialParameters } from './get-info.ts';
export { ClientPin, ClientPinSubcommand, ClientPinRequestKey, ClientPinResponseKey, PinUvAuthPermission, type ClientPinRequest, type ClientPinResponse } from './client-pin.ts';
export { MakeCredential, type MakeCredentialRequest, type MakeCredentialResponse, type CtapOptions } from './make-credential.ts';
export { GetAssertion, GetNextAssertion, type GetAssertionRequest, type GetAssertionResponse } from './get-assertion.ts';
export { Reset } from './reset.ts';
export { Selection } from './selection.ts';
export { AuthenticatorConfig, ConfigSubcommand, SetMinPinLengthKey, configAuthMessage, encodeSetMinPinLengthParams, decodeSetMinPinLengthParams, type ConfigRequest, type SetMinPinLengthParams } from './config.ts';
export { frameRequest, parseResponse, parseRequest, frameResponse } from './frame.ts';
export { parseAuthData, encodeAuthData, AuthDataFlag, AuthDataError, type AuthenticatorData, type AttestedCredentialData, type AuthDataFields } from './auth-data.ts';
export { Ctap2FieldError } from './fields.ts';
export type { RpEntity, UserEntity, CredentialDescriptor } from './entities.ts';
export { CtapStatus, CtapError, ctapStatusName } from './status.ts';
export type { CtapCommand } from './command.ts';
