/**
 * WebAuthn structures inside CTAP2 messages (CTAP 2.1 §6.1, §6.2; WebAuthn L2 §5.4, §5.8):
 * RP and user entities, credential descriptors and parameters, as text-keyed CBOR maps.
 */
import type { CborMap, CborValue } from '../cbor.ts';
import type { Fields, ItemContext } from './fields.ts';
import { stripUndefined } from './fields.ts';
import type { PublicKeyCredentialParameters } from './get-info.ts';

export type { PublicKeyCredentialParameters };

/** PublicKeyCredentialRpEntity: `id` required in CTAP2. */
export interface RpEntity {
  id: string;
  name?: string;
  /** Deprecated in WebAuthn L2; kept when a platform sends it. */
  icon?: string;
}

/** PublicKeyCredentialUserEntity. */
export interface UserEntity {
  id: Uint8Array;
  name?: string;
  displayName?: string;
  icon?: string;
}

/** PublicKeyCredentialDescriptor. */
export interface CredentialDescriptor {
  type: string;
  id: Uint8Array;
  transports?: string[];
}

function textMap(entries: Array<[string, CborValue]>): CborMap {
  const m: CborMap = new Map();
  for (const [k, v] of entries) if (v !== undefined) m.set(k, v);
  return m;
}

export function encodeRpEntity(rp: RpEntity): CborMap {
  return textMap([['id', rp.id], ['name', rp.name], ['icon', rp.icon]]);
}

export function decodeRpEntity(f: Fields): RpEntity {
  return stripUndefined({ id: f.text('id', 'id'), name: f.optText('name', 'name'), icon: f.optText('icon', 'icon') });
}

export function encodeUserEntity(u: UserEntity): CborMap {
  return textMap([['id', u.id], ['name', u.name], ['displayName', u.displayName], ['icon', u.icon]]);
}

export function decodeUserEntity(f: Fields): UserEntity {
  return stripUndefined({
    id: f.bytes('id', 'id'),
    name: f.optText('name', 'name'),
    displayName: f.optText('displayName', 'displayName'),
    icon: f.optText('icon', 'icon'),
  });
}

export function encodeCredentialDescriptor(d: CredentialDescriptor): CborMap {
  return textMap([['id', d.id], ['type', d.type], ['transports', d.transports]]);
}

export function decodeCredentialDescriptor(f: Fields): CredentialDescriptor {
  return stripUndefined({
    type: f.text('type', 'type'),
    id: f.bytes('id', 'id'),
    transports: f.optArray('transports', 'transports', (v, at) => at.text(v)),
  });
}

/** Array item decoder for descriptor lists (excludeList, allowList). */
export function credentialDescriptorItem(v: CborValue, at: ItemContext): CredentialDescriptor {
  return decodeCredentialDescriptor(at.map(v));
}

export function encodeCredentialParameters(p: PublicKeyCredentialParameters): CborMap {
  return textMap([['alg', p.alg], ['type', p.type]]);
}

export function credentialParametersItem(v: CborValue, at: ItemContext): PublicKeyCredentialParameters {
  const m = at.map(v);
  return { type: m.text('type', 'type'), alg: m.int('alg', 'alg') };
}
