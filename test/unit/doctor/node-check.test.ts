import { describe, expect, it } from 'vitest';
import { nodeCheck, nodeVersionOk } from '../../../src/cli/doctor/node-check.ts';
import { fixText, runCheck } from './fake-machine.ts';

describe('node check (environment.md: engines >=20.19, node-hid needs libusb-1.0)', () => {
  it('is ok on Node 20.20.2 with every native module loading', async () => {
    const r = await runCheck(nodeCheck, { nodeVersion: '20.20.2' });
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('node 20.20.2; native modules load');
    expect(r.details).toContain('node-hid: loads (USB FIDO keys)');
  });

  it('fails on Node 20.18 and names the minimum', async () => {
    const r = await runCheck(nodeCheck, { nodeVersion: '20.18.3' });
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('older than 20.19.0');
    expect(fixText(r)).toContain('Node.js 20.19 or later');
  });

  it('fails when node-hid cannot find libusb, and names the package', async () => {
    const r = await runCheck(nodeCheck, { modules: { 'node-hid': 'libusb-1.0.so.0: cannot open shared object file: No such file or directory' } });
    expect(r.status).toBe('fail');
    expect(r.summary).toBe('node-hid does not load (USB FIDO keys unavailable)');
    expect(fixText(r)).toBe('apt-get install libusb-1.0-0   (Fedora: dnf install libusb1)');
  });

  it('fails when pcsclite does not load, and says npm rebuild', async () => {
    const r = await runCheck(nodeCheck, { modules: { pcsclite: 'Could not locate the bindings file.' } });
    expect(r.status).toBe('fail');
    expect(fixText(r)).toContain('npm rebuild pcsclite');
  });

  it.each([
    ['20.19.0', true],
    ['v20.19.0', true],
    ['20.20.2', true],
    ['22.1.0', true],
    ['20.18.9', false],
    ['18.20.4', false],
  ])('nodeVersionOk(%s) = %s', (v, ok) => {
    expect(nodeVersionOk(v)).toBe(ok);
  });
});
