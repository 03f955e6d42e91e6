/**
 * The FIDO operations the agent brokers: the subset of `FidoClient` (src/fido/fido-client.ts)
 * it calls. Declared here structurally so the broker can be tested with a fake and so
 * src/main.ts decides how a client is built over a transport (`(t) => new FidoClient(t)`).
 */
import type { CtapTransport } from '../fido/ctap-transport.ts';
import type { PinStatus } from '../fido/pin-status.ts';
import type { AssertionResult, GetAssertionParams, MakeCredentialParams, MakeCredentialResult } from '../fido/fido-client.ts';
import type { Pin } from '../protocol/secret.ts';
import type { Deadline } from '../util/deadline.ts';
import type { ProgressStatus } from '../api/types.ts';

export interface FidoOpOptions {
  signal?: AbortSignal;
  deadline?: Deadline;
  onProgress?: (p: ProgressStatus) => void;
}

export interface FidoOps {
  getInfo(o?: FidoOpOptions): Promise<unknown>;
  pinStatus(o?: FidoOpOptions): Promise<PinStatus>;
  setPin(newPin: Pin, o?: FidoOpOptions): Promise<PinStatus>;
  changePin(current: Pin, next: Pin, o?: FidoOpOptions & { confirmLastAttempt?: boolean }): Promise<PinStatus>;
  verifyPin(pin: Pin, o?: FidoOpOptions & { confirmLastAttempt?: boolean }): Promise<PinStatus>;
  reset(o?: FidoOpOptions): Promise<PinStatus>;
  makeCredential(p: MakeCredentialParams, o?: FidoOpOptions): Promise<MakeCredentialResult>;
  getAssertion(p: GetAssertionParams, o?: FidoOpOptions): Promise<AssertionResult[]>;
  wink(o?: FidoOpOptions): Promise<void>;
}

/** Builds the FIDO client for one transaction over an opened transport. */
export type FidoClientFactory = (transport: CtapTransport) => FidoOps;
