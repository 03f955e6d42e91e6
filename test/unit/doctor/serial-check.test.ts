import { describe, expect, it } from 'vitest';
import { serialCheck, serialPathOf } from '../../../src/cli/doctor/serial-check.ts';
import { ETC_GROUP, fixText, runCheck } from './fake-machine.ts';

const DIALOUT = 20;
const port = { kind: 'char' as const, mode: 0o660, uid: 0, gid: DIALOUT };

describe('serial ports check (readers.md §6, §7)', () => {
  it('is ok when nothing is configured or visible', async () => {
    const r = await runCheck(serialCheck, {});
    expect(r.status).toBe('ok');
    expect(r.summary).toMatch(/no serial ports/);
    expect(r.details).toContain('alice is not in group dialout');
  });

  it('is ok when a visible port is accessible through dialout', async () => {
    const r = await runCheck(serialCheck, { files: { '/dev/ttyUSB0': port }, user: { groups: [1000, DIALOUT] } });
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('1 port(s): /dev/ttyUSB0');
    expect(r.details).toContain('/dev/ttyUSB0 (visible) 0660 root:dialout; alice: read/write ok');
    expect(r.details).toContain('alice is in group dialout');
  });

  it('warns for a visible port the user cannot open, and says usermod -aG dialout', async () => {
    const r = await runCheck(serialCheck, { files: { '/dev/ttyUSB0': port, '/dev/ttyS0': port } });
    expect(r.status).toBe('warn');
    expect(r.summary).toBe('/dev/ttyUSB0 not accessible by user alice');
    expect(fixText(r)).toContain('usermod -aG dialout alice');
  });

  it('fails for a configured port that is not accessible, and for one that does not exist', async () => {
    const noAccess = await runCheck(serialCheck, { files: { '/dev/ttyACM0': port } }, { serial: ['/dev/ttyACM0:em4100'] });
    expect(noAccess.status).toBe('fail');
    expect(noAccess.details[0]).toMatch(/^\/dev\/ttyACM0 \(configured\)/);
    const missing = await runCheck(serialCheck, { files: { '/dev/serial/by-id/usb-RDM6300-if00': port } }, { serial: ['/dev/ttyUSB7:em4100:9600'] });
    expect(missing.status).toBe('fail');
    expect(missing.summary).toBe('configured serial port /dev/ttyUSB7 does not exist');
    expect(missing.details[0]).toContain('usb-RDM6300-if00');
    expect(fixText(missing)).toContain('/dev/serial/by-id/');
  });

  it('tells a user already in dialout in /etc/group to log in again', async () => {
    const group = ETC_GROUP.replace('dialout:x:20:', 'dialout:x:20:alice');
    const r = await runCheck(serialCheck, { files: { '/dev/ttyUSB0': port, '/etc/group': { content: group } } });
    expect(r.status).toBe('warn');
    expect(fixText(r)).toMatch(/log out and in again/);
    expect(fixText(r)).not.toContain('usermod');
  });

  it('as root, judges the keytap account for configured ports', async () => {
    const r = await runCheck(serialCheck, { files: { '/dev/ttyUSB0': port }, user: { uid: 0, gid: 0, groups: [0], name: 'root' } }, { serial: ['/dev/ttyUSB0:pn532'] });
    expect(r.status).toBe('fail');
    expect(r.summary).toBe('/dev/ttyUSB0 not accessible by user keytap');
    expect(fixText(r)).toContain('usermod -aG dialout keytap');
  });

  it('takes the path out of PATH:PROTOCOL[:BAUD], keeping colons in by-path names', () => {
    expect(serialPathOf('/dev/ttyUSB0')).toBe('/dev/ttyUSB0');
    expect(serialPathOf('/dev/ttyUSB0:em4100')).toBe('/dev/ttyUSB0');
    expect(serialPathOf('/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0:pn532:115200')).toBe('/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0');
  });
});
