/**
 * Node.js and the native modules (environment.md): Node >= 20.19 (yargs 18, vite 8 and
 * @noble/hashes 2 need it), and node-hid, pcsclite and serialport's bindings load. node-hid's
 * prebuilds link libusb-1.0.so.0, which minimal images lack; then `require` fails.
 */
import { result, type CheckContext, type CheckResult, type DoctorCheck } from './check.ts';

/** The oldest supported Node (package.json `engines`). */
export const MIN_NODE = [20, 19, 0] as const;

/** Whether `version` (`20.20.2`, with or without `v`) is at least {@link MIN_NODE}. */
export function nodeVersionOk(version: string): boolean {
  const parts = version.replace(/^v/, '').split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const a = parts[i] ?? 0;
    const b = MIN_NODE[i];
    if (a !== b) return a > b;
  }
  return true;
}

/** Native modules and what to do when each fails to load. */
export const NATIVE_MODULES: Array<{ name: string; purpose: string; fix: (error: string) => string }> = [
  {
    name: 'node-hid',
    purpose: 'USB FIDO keys',
    fix: (e) => (/libusb/i.test(e) ? 'apt-get install libusb-1.0-0   (Fedora: dnf install libusb1)' : /libudev/i.test(e) ? 'apt-get install libudev1' : 'npm rebuild node-hid'),
  },
  {
    name: 'pcsclite',
    purpose: 'PC/SC readers and NFC keys',
    fix: (e) => (/libpcsclite/i.test(e) ? 'apt-get install libpcsclite1' : 'npm rebuild pcsclite   (needs libpcsclite-dev, python3, make, g++)'),
  },
  { name: '@serialport/bindings-cpp', purpose: 'serial badge readers', fix: () => 'npm rebuild @serialport/bindings-cpp' },
];

export const nodeCheck: DoctorCheck = {
  id: 'node',
  title: 'Node.js and native modules',
  async run(ctx: CheckContext): Promise<CheckResult> {
    const { env } = ctx;
    const details: string[] = [];
    const fix: string[] = [];
    const problems: string[] = [];
    const versionOk = nodeVersionOk(env.nodeVersion);
    details.push(`node ${env.nodeVersion} (need >= ${MIN_NODE.join('.')})`);
    if (!versionOk) {
      problems.push(`Node ${env.nodeVersion} is older than ${MIN_NODE.join('.')}`);
      fix.push(`install Node.js ${MIN_NODE[0]}.${MIN_NODE[1]} or later (e.g. from nodesource or the distribution's nodejs package)`);
    }
    for (const m of NATIVE_MODULES) {
      const err = await env.loadModule(m.name);
      if (err === null) {
        details.push(`${m.name}: loads (${m.purpose})`);
      } else {
        details.push(`${m.name}: FAILS to load: ${err}`);
        problems.push(`${m.name} does not load (${m.purpose} unavailable)`);
        fix.push(m.fix(err));
      }
    }
    if (problems.length) return result(this, 'fail', problems.join('; '), details, fix);
    return result(this, 'ok', `node ${env.nodeVersion}; native modules load`, details);
  },
};
