import { describe, expect, it } from 'vitest';
import { vpcdCheck, vpcdPortsFromReaderConf } from '../../../src/cli/doctor/vpcd-check.ts';
import { fixText, runCheck } from './fake-machine.ts';

const DEBIAN_CONF = 'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x8C7B\nLIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x8C7B\n';

describe('vpcd check (readers.md §4: vpcd binds 0.0.0.0)', () => {
  it('is ok when vpcd does not listen', async () => {
    const r = await runCheck(vpcdCheck, { listeners: [{ address: '127.0.0.1', port: 7391 }] });
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('vpcd not listening');
  });

  it('warns when 35963/35964 listen on 0.0.0.0, with the firewall range and the package to remove', async () => {
    const r = await runCheck(vpcdCheck, {
      files: { '/etc/reader.conf.d/vpcd': { content: DEBIAN_CONF } },
      listeners: [
        { address: '0.0.0.0', port: 35964 },
        { address: '0.0.0.0', port: 35963 },
      ],
    });
    expect(r.status).toBe('warn');
    expect(r.summary).toContain('0.0.0.0:35963, 0.0.0.0:35964');
    expect(r.details).toContain('vpcd configured in /etc/reader.conf.d/vpcd');
    expect(fixText(r)).toContain('apt-get remove vsmartcard-vpcd');
    expect(fixText(r)).toContain('--dport 35963:35964 ! -i lo -j DROP');
  });

  it('is ok when vpcd listens on loopback only', async () => {
    const r = await runCheck(vpcdCheck, { listeners: [{ address: '127.0.0.1', port: 35963 }] });
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('vpcd listening on loopback only (127.0.0.1:35963)');
  });

  it('follows a non-default port from reader.conf and sees IPv6 wildcards', async () => {
    const conf = DEBIAN_CONF.replace('0x8C7B', '40000');
    const r = await runCheck(vpcdCheck, { files: { '/etc/reader.conf.d/vpcd': { content: conf } }, listeners: [{ address: '::', port: 40001 }] });
    expect(r.status).toBe('warn');
    expect(r.summary).toContain('[::]:40001');
  });

  it('parses listen-mode reader.conf entries and ignores reversed mode and other drivers', () => {
    expect(vpcdPortsFromReaderConf(DEBIAN_CONF)).toEqual([35963, 35964]);
    expect(vpcdPortsFromReaderConf(DEBIAN_CONF.replace('/dev/null:0x8C7B', '127.0.0.1:35963'))).toEqual([]);
    expect(vpcdPortsFromReaderConf('DEVICENAME /dev/null:0x8C7B\nLIBPATH /usr/lib/pcsc/drivers/other.so\n')).toEqual([]);
  });
});
