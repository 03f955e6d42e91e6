/**
 * Parses Linux `/proc/net/tcp` and `/proc/net/tcp6` into listening sockets. Read from /proc
 * rather than probed by connecting, because the question is *which address* a port is bound
 * to (vpcd binds 0.0.0.0, readers.md §4), which a loopback connect cannot tell.
 *
 * Format (proc(5)): `sl local_address rem_address st ...`, addresses as hex `ADDR:PORT`, the
 * IPv4 address one little-endian 32-bit word, IPv6 four such words; state 0A is LISTEN.
 */
import type { TcpListener } from './doctor-env.ts';

const LISTEN = '0A';

/** Listening sockets in one /proc/net/tcp{,6} text; `family` says how to read the address. */
export function parseProcNetTcp(text: string, family: 4 | 6): TcpListener[] {
  const out: TcpListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== LISTEN) continue;
    const [addrHex, portHex] = f[1]!.split(':');
    if (!addrHex || !portHex) continue;
    const address = family === 4 ? ipv4FromProc(addrHex) : ipv6FromProc(addrHex);
    if (address === null) continue;
    out.push({ address, port: parseInt(portHex, 16) });
  }
  return out;
}

function wordBytes(hex8: string): number[] {
  // Each 32-bit word is printed as the host's (little-endian) integer.
  const b: number[] = [];
  for (let i = 6; i >= 0; i -= 2) b.push(parseInt(hex8.slice(i, i + 2), 16));
  return b;
}

function ipv4FromProc(hex: string): string | null {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return null;
  return wordBytes(hex).join('.');
}

function ipv6FromProc(hex: string): string | null {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return null;
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) bytes.push(...wordBytes(hex.slice(w * 8, w * 8 + 8)));
  // IPv4-mapped (::ffff:a.b.c.d) reads better as the IPv4 address.
  if (bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compressIpv6(groups);
}

function compressIpv6(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Whether an address accepts connections from other machines (any-address binds). */
export function isWildcardAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** Whether an address is loopback only. */
export function isLoopbackAddress(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}
