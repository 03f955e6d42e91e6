#!/usr/bin/env node
// Import-boundary lint (DESIGN.md §1): walks src/, resolves relative imports, and fails on
//  - protocol importing anything outside src/protocol and src/util, or any I/O module;
//  - drivers importing agent or sim;
//  - agent importing concrete drivers or sim (src/main.ts wires them);
//  - sim importing the agent;
//  - any import cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const src = join(root, 'src');
const files = [];
(function walk(d) {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
})(src);

const IO_MODULES = /^(node:)?(fs|net|dgram|child_process|http|https|tls|worker_threads|fs\/promises)$|^(node-hid|pcsclite|serialport|ws|pino|yargs)/;
const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const graph = new Map();
const errors = [];
const area = (f) => relative(src, f).split('/')[0];

for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const deps = [];
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    // `import type` is erased at run time but still a design dependency: check it too.
    const from = area(f);
    if (spec.startsWith('.')) {
      const target = resolve(dirname(f), spec);
      deps.push(target);
      const to = relative(src, target).split('/')[0];
      const rel = relative(root, f);
      if (from === 'protocol' && !['protocol', 'util'].includes(to)) errors.push(`${rel}: protocol may not import ${to} (${spec})`);
      if (from === 'util' && !['protocol', 'util'].includes(to)) errors.push(`${rel}: util may not import ${to} (${spec})`);
      if (from === 'drivers' && ['agent', 'sim', 'cli'].includes(to)) errors.push(`${rel}: drivers may not import ${to} (${spec})`);
      if (from === 'agent' && ['drivers', 'sim', 'cli'].includes(to)) errors.push(`${rel}: agent may not import concrete ${to} (${spec}); wire it in src/main.ts`);
      if (from === 'sim' && ['agent', 'cli'].includes(to)) errors.push(`${rel}: sim may not import ${to} (${spec})`);
      if (['fido', 'readers'].includes(from) && ['agent', 'sim', 'cli'].includes(to)) errors.push(`${rel}: ${from} may not import ${to} (${spec})`);
      if (from === 'api' && !['api', 'protocol', 'util'].includes(to)) errors.push(`${rel}: api may not import ${to} (${spec})`);
    } else if (from === 'protocol' && IO_MODULES.test(spec)) {
      errors.push(`${relative(root, f)}: protocol is pure and may not import ${spec}`);
    }
  }
  graph.set(f, deps);
}

// Cycle detection (Tarjan-free DFS with colours).
const colour = new Map();
const stack = [];
function visit(n) {
  colour.set(n, 1);
  stack.push(n);
  for (const d of graph.get(n) ?? []) {
    if (!graph.has(d)) continue;
    if (colour.get(d) === 1) {
      const cyc = stack.slice(stack.indexOf(d)).concat(d).map((x) => relative(root, x));
      errors.push(`import cycle: ${cyc.join(' -> ')}`);
    } else if (!colour.get(d)) visit(d);
  }
  stack.pop();
  colour.set(n, 2);
}
for (const f of graph.keys()) if (!colour.get(f)) visit(f);

if (errors.length) {
  console.error(errors.join('\n'));
  console.error(`\n${errors.length} import rule violation(s)`);
  process.exit(1);
}
console.log(`imports ok: ${files.length} files, no boundary violations, no cycles`);
