import { describe, expect, it } from 'vitest';
import { fidoHidCheck } from '../../../src/cli/doctor/fido-hid-check.ts';
import type { HidDeviceInfo } from '../../../src/drivers/hid-connection.ts';
import { fromHex } from '../../../src/util/bytes.ts';
import { fixText, runCheck, type FakeMachine } from './fake-machine.ts';

const yubikey: HidDeviceInfo = { path: '/dev/hidraw3', vendorId: 0x1050, productId: 0x0407, manufacturer: 'Yubico', product: 'YubiKey OTP+FIDO+CCID', usagePage: 0xf1d0, usage: 1 };
const RULE = '/etc/udev/rules.d/70-keytap.rules';
const KEYTAP_GID = 998;

function machine(node: { mode: number; uid?: number; gid?: number }, extra: FakeMachine = {}): FakeMachine {
  return { hid: { ok: true, devices: [yubikey] }, ...extra, files: { '/dev/hidraw3': { kind: 'char', ...node }, ...extra.files } };
}

describe('FIDO HID check (fido.md §12: uaccess covers only the active seat)', () => {
  it('is ok with no keys plugged in, and says whether the udev rule is installed', async () => {
    const r = await runCheck(fidoHidCheck, {});
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('no FIDO HID keys plugged in');
    expect(r.details.join('\n')).toMatch(/udev rule not installed.*70-keytap\.rules/);
    const installed = await runCheck(fidoHidCheck, { files: { [RULE]: {} } });
    expect(installed.details).toContain(`udev rule installed: ${RULE}`);
  });

  it('is ok when the key is 0660 root:keytap and the user is in group keytap', async () => {
    const r = await runCheck(fidoHidCheck, machine({ mode: 0o660, gid: KEYTAP_GID }, { user: { groups: [1000, KEYTAP_GID] }, files: { [RULE]: {} } }));
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('1 FIDO key(s), all accessible');
    expect(r.details[0]).toBe('Yubico YubiKey OTP+FIDO+CCID 1050:0407 at /dev/hidraw3 0660 root:keytap; alice: read/write ok');
  });

  it('fails for a root-only node without the rule: install systemd/70-keytap.rules and reload udev', async () => {
    const r = await runCheck(fidoHidCheck, machine({ mode: 0o600 }));
    expect(r.status).toBe('fail');
    expect(r.summary).toBe('FIDO key /dev/hidraw3 not accessible by user alice');
    const fix = fixText(r);
    expect(fix).toContain('install -m 0644 /opt/keytap/systemd/70-keytap.rules /etc/udev/rules.d/70-keytap.rules');
    expect(fix).toContain('udevadm control --reload && udevadm trigger');
    expect(fix).toContain('usermod -aG keytap alice');
  });

  it('as root, judges the keytap service account by mode bits (root itself can open anything)', async () => {
    const r = await runCheck(fidoHidCheck, machine({ mode: 0o600 }, { user: { uid: 0, gid: 0, groups: [0], name: 'root' } }));
    expect(r.status).toBe('fail');
    expect(r.summary).toBe('FIDO key /dev/hidraw3 not accessible by user keytap');
    expect(r.details[0]).toContain('root: read/write ok, keytap: NO ACCESS');
    expect(fixText(r)).toContain('/etc/udev/rules.d/70-keytap.rules');
    expect(fixText(r)).toContain('systemctl restart keytap');
    const fixed = await runCheck(fidoHidCheck, machine({ mode: 0o660, gid: KEYTAP_GID }, { user: { uid: 0, gid: 0, groups: [0], name: 'root' }, files: { [RULE]: {} } }));
    expect(fixed.status).toBe('ok');
  });

  it('with the rule applied (0660 root:keytap) but the user outside the group, says usermod', async () => {
    const r = await runCheck(fidoHidCheck, machine({ mode: 0o660, gid: KEYTAP_GID }, { user: { uid: 1001, gid: 1001, groups: [1001], name: 'bob' }, files: { [RULE]: {} } }));
    expect(r.status).toBe('fail');
    expect(fixText(r)).not.toContain('install -m 0644');
    expect(r.fix).toEqual(['usermod -aG keytap bob, then log out and in again']);
  });

  it('with the rule installed but not applied, and no 60-fido-id.rules, names the missing systemd rule and udevadm trigger', async () => {
    const r = await runCheck(fidoHidCheck, machine({ mode: 0o600 }, { files: { [RULE]: {} } }));
    expect(r.status).toBe('fail');
    const fix = fixText(r);
    expect(fix).toContain('60-fido-id.rules');
    expect(fix).toContain('udevadm trigger');
    const withFidoId = await runCheck(fidoHidCheck, machine({ mode: 0o600 }, { files: { [RULE]: {}, '/usr/lib/udev/rules.d/60-fido-id.rules': {} } }));
    expect(fixText(withFidoId)).not.toContain('60-fido-id.rules');
    expect(fixText(withFidoId)).toContain('udevadm trigger');
  });

  it('names systemd-sysusers when the keytap group does not exist', async () => {
    const group = ['root:x:0:', 'alice:x:1000:'].join('\n');
    const r = await runCheck(fidoHidCheck, machine({ mode: 0o600 }, { files: { '/etc/group': { content: group } } }));
    expect(fixText(r)).toContain('systemd-sysusers /opt/keytap/systemd/keytap.sysusers');
  });

  it('without node-hid, still finds FIDO nodes from sysfs descriptors and judges them (fido.md §12 vector)', async () => {
    // python-fido2 tests/test_hid.py: usage page 0xF1D0, usage 1, 64-byte reports; the other is a mouse.
    const fido = fromHex('06d0f10901a1010920150026ff007508954081020921150026ff00750895409102c0');
    const mouse = fromHex('05010902a1010901a100050919012903150025019503750181029501750581010501093009311581257f750895028106c0c0');
    const r = await runCheck(fidoHidCheck, {
      hid: { ok: false, error: 'cannot load node-hid: libusb-1.0.so.0: cannot open shared object file' },
      files: {
        '/sys/class/hidraw/hidraw0/device/report_descriptor': { bytes: mouse },
        '/sys/class/hidraw/hidraw2/device/report_descriptor': { bytes: fido },
        '/dev/hidraw0': { kind: 'char', mode: 0o600 },
        '/dev/hidraw2': { kind: 'char', mode: 0o600 },
      },
    });
    expect(r.status).toBe('fail');
    expect(r.details[0]).toBe('FIDO key at /dev/hidraw2 (from sysfs) 0600 root:root; alice: NO ACCESS');
    expect(r.details.join('\n')).not.toContain('hidraw0');
    const fix = fixText(r);
    expect(fix).toContain('apt-get install libusb-1.0-0');
    expect(fix).toContain('/etc/udev/rules.d/70-keytap.rules');
  });

  it('fails when HID enumeration fails for lack of libusb, and names the package', async () => {
    const r = await runCheck(fidoHidCheck, { hid: { ok: false, error: 'libusb-1.0.so.0: cannot open shared object file: No such file or directory' } });
    expect(r.status).toBe('fail');
    expect(fixText(r)).toContain('apt-get install libusb-1.0-0');
  });
});
