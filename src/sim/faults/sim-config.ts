/**
 * authenticatorConfig setMinPINLength (CTAP 2.1 §6.11.4) sent to a simulated key through its
 * own CTAP surface, for `sim.pin.setState {forcePinChange, minPinLength}`: a PIN/UV auth token
 * with the authenticatorConfig permission (0x20), then the config command. Used by the control
 * plane only; the FIDO client offers no config operation to MFA clients.
 */
import type { CtapTransport } from '../../fido/ctap-transport.ts';
import { CtapHidCmd } from '../../protocol/ctaphid/constants.ts';
import { frameRequest, parseResponse } from '../../protocol/ctap2/frame.ts';
import type { CtapCommand } from '../../protocol/ctap2/command.ts';
import { GetInfo } from '../../protocol/ctap2/get-info.ts';
import { ClientPin, ClientPinSubcommand, PinUvAuthPermission } from '../../protocol/ctap2/client-pin.ts';
import { AuthenticatorConfig, ConfigSubcommand, configAuthMessage, encodeSetMinPinLengthParams } from '../../protocol/ctap2/config.ts';
import { encryptPinHash, pinProtocol } from '../../protocol/pin/pin-protocol.ts';
import type { Pin } from '../../protocol/secret.ts';

/** Sets forceChangePin and/or a new minimum PIN length on a key whose PIN is `pin`. */
export async function configureMinPinLength(transport: CtapTransport, pin: Pin, p: { forceChangePin?: boolean; newMinPINLength?: number }): Promise<void> {
  const call = async <Req, Res>(cmd: CtapCommand<Req, Res>, req: Req): Promise<Res> =>
    parseResponse(cmd, await transport.exchange(CtapHidCmd.CBOR, frameRequest(cmd, req)));
  const info = await call(GetInfo, undefined);
  const protocol = pinProtocol(info.pinUvAuthProtocols?.includes(2) ? 2 : 1);
  const { keyAgreement: peer } = await call(ClientPin, { pinUvAuthProtocol: protocol.version, subCommand: ClientPinSubcommand.getKeyAgreement });
  const { keyAgreement, sharedSecret } = protocol.encapsulate(peer!);
  const resp = await call(ClientPin, {
    pinUvAuthProtocol: protocol.version,
    subCommand: ClientPinSubcommand.getPinUvAuthTokenUsingPinWithPermissions,
    keyAgreement,
    pinHashEnc: encryptPinHash(protocol, sharedSecret, pin.exposeSecret()),
    permissions: PinUvAuthPermission.authenticatorConfig,
  });
  const token = protocol.decrypt(sharedSecret, resp.pinUvAuthToken!);
  sharedSecret.wipe();
  try {
    const subCommandParams = encodeSetMinPinLengthParams(p);
    await call(AuthenticatorConfig, {
      subCommand: ConfigSubcommand.setMinPINLength,
      subCommandParams,
      pinUvAuthProtocol: protocol.version,
      pinUvAuthParam: protocol.authenticate(token, configAuthMessage(ConfigSubcommand.setMinPINLength, subCommandParams)),
    });
  } finally {
    token.wipe();
  }
}
