#!/usr/bin/env node
// keytap's executable. Runs the compiled build in dist/ when it is at least as new as every
// file in src/ (`npm ci` builds it), and otherwise the TypeScript sources through tsx, so a
// developer's edits take effect without a build step.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', '.build-stamp');

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const fresh = process.env.KEYTAP_FROM_SOURCE !== '1' && existsSync(stamp) && statSync(stamp).mtimeMs >= newestMtime(join(root, 'src'));
if (fresh) {
  await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
