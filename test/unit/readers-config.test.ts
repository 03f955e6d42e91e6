import { describe, expect, it } from 'vitest';
import { parseSerialSpec } from '../../src/drivers/serial/serial-spec.ts';
import { DEFAULT_DENY, parseReaderRule, readerAllowed } from '../../src/readers/reader-rules.ts';
import { KeytapError } from '../../src/protocol/errors.ts';
import { checkReadersConfig, serialPortsFrom } from '../../src/readers/reader-config.ts';
import { resolveConfig } from '../../src/agent/config.ts';
import { flagsFromArgs } from '../../src/cli/commands/serve.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('--serial PATH:PROTOCOL[:BAUD], parsed from the right', () => {
  it.each([
    ['/dev/ttyUSB0:em4100', '/dev/ttyUSB0', 'em4100', 9600],
    ['/dev/ttyS1:pn532', '/dev/ttyS1', 'pn532', 115200],
    ['/dev/ttyUSB0:em4100:19200', '/dev/ttyUSB0', 'em4100', 19200],
    ['/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0:pn532:57600', '/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0', 'pn532', 57600],
    ['/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0:EM4100', '/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0', 'em4100', 9600],
  ])('%s', (text, path, protocol, baudRate) => {
    expect(parseSerialSpec(text)).toEqual({ path, protocol, baudRate });
  });
  it.each(['/dev/ttyUSB0', '/dev/ttyUSB0:wiegand', ':em4100', '/dev/ttyUSB0:9600', '/dev/ttyUSB0:em4100:1'])('rejects %s with CLI_USAGE', (text) => {
    expect(() => parseSerialSpec(text)).toThrow(KeytapError);
    try {
      parseSerialSpec(text);
    } catch (e) {
      expect((e as KeytapError).code).toBe('CLI_USAGE');
    }
  });
});

describe('reader allow/deny rules (DESIGN.md §4)', () => {
  it.each([
    ['Yubico YubiKey OTP+FIDO+CCID 00 00', false],
    ['Nitrokey Nitrokey 3 [CCID/ICCD Interface] 00 00', false],
    ['ACS ACR122U PICC Interface 00 00', true],
    ['Virtual PCD 00 00', true],
  ])('default rules: %s → %s', (name, ok) => expect(readerAllowed({ name })).toBe(ok));
  it('a YubiKey is denied by VID whatever its name', () => {
    expect(readerAllowed({ name: 'Some reader', vendorId: 0x1050, productId: 0x0407 })).toBe(false);
  });
  it('an allow list admits only matching readers; deny still wins', () => {
    const rules = { allow: [{ name: 'ACR122' }, { vidPid: '0c27:3bfa' }], deny: [{ name: 'ACR122U PICC Interface 01' }] };
    expect(readerAllowed({ name: 'ACS ACR122U PICC Interface 00 00' }, rules)).toBe(true);
    expect(readerAllowed({ name: 'ACS ACR122U PICC Interface 01 00' }, rules)).toBe(false);
    expect(readerAllowed({ name: 'pcProx', vendorId: 0x0c27, productId: 0x3bfa }, rules)).toBe(true);
    expect(readerAllowed({ name: 'Virtual PCD 00 00' }, rules)).toBe(false);
  });
  it('an explicit deny list replaces the defaults', () => {
    expect(readerAllowed({ name: 'Yubico YubiKey OTP+FIDO+CCID 00 00' }, { deny: [] })).toBe(true);
    expect(DEFAULT_DENY.length).toBeGreaterThan(0);
  });
  it('parses rule text', () => {
    expect(parseReaderRule('vidpid:1050:*')).toEqual({ vidPid: '1050:*' });
    expect(parseReaderRule('name:^ACS')).toEqual({ name: '^ACS' });
    expect(parseReaderRule('Virtual PCD')).toEqual({ name: 'Virtual PCD' });
    expect(() => parseReaderRule('vidpid:zz')).toThrow(RangeError);
    expect(() => parseReaderRule('name:(')).toThrow(SyntaxError);
  });
});

describe('the readers section of the agent config', () => {
  it('serial ports from the config file and from --serial add up; --no-pcsc turns PC/SC off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keytap-readers-config-'));
    try {
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ readers: { serial: [{ path: '/dev/ttyS1', protocol: 'pn532' }], allow: ['name:ACR'] } }));
      const flags = flagsFromArgs({ serial: ['/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0:em4100'], pcsc: false });
      const cfg = resolveConfig({ file, env: {}, flags: { ...flags, socket: false } });
      const readers = checkReadersConfig(cfg.readers);
      expect(readers.pcsc).toBe(false);
      expect(readers.allow).toEqual(['name:ACR']);
      expect(serialPortsFrom(readers)).toEqual([
        { path: '/dev/ttyS1', protocol: 'pn532', baudRate: 115200 },
        { path: '/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0', protocol: 'em4100', baudRate: 9600 },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it.each([
    [{ serial: ['/dev/ttyUSB0:wiegand'] }, 'readers.serial[0]'],
    [{ serial: [{ path: '/dev/x', protocol: 'em4100', baudRate: 1 }] }, 'readers.serial[0]'],
    [{ hid: [{ protocol: 'keyboard', vidPid: 'zz' }] }, 'readers.hid[0].vidPid'],
    [{ deny: ['name:('] }, 'readers.deny[0]'],
    [{ pcsc: 'yes' }, 'readers.pcsc'],
    [{ nfc: true }, 'readers'],
  ])('rejects %j naming %s (CONFIG_INVALID)', (raw, key) => {
    try {
      checkReadersConfig(raw);
      expect.unreachable();
    } catch (e) {
      expect((e as KeytapError).code).toBe('CONFIG_INVALID');
      expect((e as KeytapError).details.key).toBe(key);
    }
  });
});
