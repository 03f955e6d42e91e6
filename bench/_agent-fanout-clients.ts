/**
 * Helper process of bench/agent-fanout.ts: connects CLIENTS clients to URL with TOKEN,
 * subscribes them to `device`, prints `ready`, then `ack N` once every client has N events, and
 * at the end (stdin closes) a JSON line with every receipt time (epoch ms, sub-ms resolution).
 */
import { KeytapClient } from '../src/client/keytap-client.ts';

const [url, token, n] = process.argv.slice(2);
const CLIENTS = Number(n);
const now = (): number => performance.timeOrigin + performance.now();
const clients: KeytapClient[] = [];
for (let i = 0; i < CLIENTS; i++) clients.push(await KeytapClient.connect({ url, token, subscribe: ['device'] }));
const times: number[][] = clients.map(() => []);
let acked = 0;
clients.forEach((c, i) =>
  c.on('notification', () => {
    times[i].push(now());
    const min = Math.min(...times.map((t) => t.length));
    while (acked < min) process.stdout.write(`ack ${++acked}\n`);
  }),
);
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(`${JSON.stringify(times)}\n`);
  for (const c of clients) c.close();
  setTimeout(() => process.exit(0), 50);
});
