import { describe, expect, it } from 'vitest';
import { PassThrough, Writable } from 'node:stream';
import { createPinPrompter } from '../../../src/cli/prompt.ts';
import { exitCodeFor } from '../../../src/cli/backend.ts';

function streams(stdinText?: string) {
  const input = new PassThrough() as unknown as NodeJS.ReadStream;
  if (stdinText !== undefined) (input as unknown as PassThrough).end(stdinText);
  let err = '';
  const output = new Writable({ write: (c, _e, cb) => ((err += c.toString()), cb()) }) as unknown as NodeJS.WriteStream;
  return { input, output, err: () => err };
}
const text = (p: { exposeSecret(): Uint8Array }) => new TextDecoder().decode(p.exposeSecret());

describe('CLI PIN sources (docs/pin-management.md §5)', () => {
  it('--pin-stdin reads the current PIN, then the new PIN, one per line', async () => {
    const s = streams('4826\nn3w-PIN\n');
    const p = createPinPrompter({ pinStdin: true, env: {}, input: s.input, output: s.output });
    expect(text(await p.currentPin())).toBe('4826');
    expect(text(await p.newPin())).toBe('n3w-PIN');
    p.close();
    expect(s.err()).toBe('');
  });

  it('--pin-stdin with too few lines is a usage error', async () => {
    const s = streams('4826\n');
    const p = createPinPrompter({ pinStdin: true, env: {}, input: s.input, output: s.output });
    await p.currentPin();
    await expect(p.newPin()).rejects.toMatchObject({ code: 'CLI_USAGE' });
    p.close();
  });

  it('KEYTAP_PIN / KEYTAP_NEW_PIN come before stdin, and say nothing', async () => {
    const s = streams('x\n');
    const p = createPinPrompter({ pinStdin: true, env: { KEYTAP_PIN: 'a1b2', KEYTAP_NEW_PIN: 'c3d4' }, input: s.input, output: s.output });
    expect([text(await p.currentPin()), text(await p.newPin())]).toEqual(['a1b2', 'c3d4']);
    expect(s.err()).toBe('');
  });

  it('a PIN argument works but warns on stderr, once, without echoing it', async () => {
    const s = streams();
    const p = createPinPrompter({ pinArg: 'secret-1', newPinArg: 'secret-2', env: {}, input: s.input, output: s.output });
    await p.currentPin();
    await p.newPin();
    expect(s.err().match(/warning/g)?.length).toBe(1);
    expect(s.err()).not.toContain('secret');
  });

  it('no terminal and no source: a usage error naming the options; confirm() is false', async () => {
    const s = streams();
    const p = createPinPrompter({ env: {}, input: s.input, output: s.output });
    await expect(p.currentPin()).rejects.toMatchObject({ code: 'CLI_USAGE', message: expect.stringContaining('--pin-stdin') });
    expect(await p.confirm('Reset?')).toBe(false);
  });

  it.each([
    ['PIN_INVALID', 2],
    ['PIN_SOFT_BLOCKED', 3],
    ['PIN_BLOCKED', 4],
    ['PIN_POLICY_VIOLATION', 5],
    ['DEVICE_NOT_FOUND', 6],
    ['DEVICE_REMOVED', 6],
    ['CONFIRMATION_REQUIRED', 7],
    ['TIMEOUT', 1],
  ])('exit code for %s is %i', (code, exit) => {
    expect(exitCodeFor(code)).toBe(exit);
  });
});
