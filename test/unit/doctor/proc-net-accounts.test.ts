import { describe, expect, it } from 'vitest';
import { modeAllows, parseGroupFile, parsePasswdFile } from '../../../src/cli/doctor/accounts.ts';
import { isLoopbackAddress, isWildcardAddress, parseProcNetTcp } from '../../../src/cli/doctor/proc-net.ts';

// Lines as the kernel prints them (proc(5)); 8C7B = 35963, 1CDF = 7391, 0A = LISTEN, 01 = ESTABLISHED.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:8C7B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1CDF 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1235 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1CDF 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 1236 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:8C7C 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2234 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1CDF 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2235 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2236 1 0000000000000000 100 0 0 10 0
`;

describe('/proc/net/tcp parsing (proc(5))', () => {
  it('keeps LISTEN sockets only and decodes little-endian IPv4 words', () => {
    expect(parseProcNetTcp(TCP, 4)).toEqual([
      { address: '0.0.0.0', port: 35963 },
      { address: '127.0.0.1', port: 7391 },
    ]);
  });

  it('decodes IPv6 wildcard, loopback and v4-mapped addresses', () => {
    expect(parseProcNetTcp(TCP6, 6)).toEqual([
      { address: '::', port: 35964 },
      { address: '::1', port: 7391 },
      { address: '127.0.0.1', port: 8080 },
    ]);
  });

  it('classifies wildcard and loopback addresses', () => {
    expect(isWildcardAddress('0.0.0.0')).toBe(true);
    expect(isWildcardAddress('::')).toBe(true);
    expect(isWildcardAddress('127.0.0.1')).toBe(false);
    expect(isLoopbackAddress('127.0.0.53')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('192.168.1.2')).toBe(false);
  });
});

describe('accounts', () => {
  it('parses /etc/group and /etc/passwd, skipping comments and malformed lines', () => {
    expect(parseGroupFile('# c\ndialout:x:20:alice,bob\nbad line\nkeytap:x:998:\n')).toEqual([
      { name: 'dialout', gid: 20, members: ['alice', 'bob'] },
      { name: 'keytap', gid: 998, members: [] },
    ]);
    expect(parsePasswdFile('keytap:x:998:998:keytap agent:/nonexistent:/usr/sbin/nologin\nbroken:x:y:z\n')).toEqual([{ name: 'keytap', uid: 998, gid: 998 }]);
  });

  it('decides access from owner, group and other bits like the kernel (root always)', () => {
    const node = { kind: 'char' as const, mode: 0o660, uid: 0, gid: 998 };
    expect(modeAllows(node, 998, [998], 'rw')).toBe(true);
    expect(modeAllows(node, 1000, [1000], 'rw')).toBe(false);
    expect(modeAllows(node, 0, [0], 'rw')).toBe(true);
    expect(modeAllows({ ...node, mode: 0o640 }, 998, [998], 'rw')).toBe(false);
    expect(modeAllows({ ...node, mode: 0o640 }, 998, [998], 'r')).toBe(true);
    // Owner bits win even when the group bits would allow more (kernel semantics).
    expect(modeAllows({ kind: 'file', mode: 0o060, uid: 1000, gid: 1000 }, 1000, [1000], 'rw')).toBe(false);
  });
});
