/**
 * vsmartcard's vpcd (readers.md §4): in listen mode it binds 0.0.0.0 on port and port+1
 * (default CHANNELID 0x8C7B = 35963/35964), so anyone on the LAN can insert a virtual card
 * into this machine's pcscd. That belongs on test machines only. Informational: it warns but
 * never fails.
 */
import { result, type CheckContext, type CheckResult, type DoctorCheck } from './check.ts';
import { isWildcardAddress } from './proc-net.ts';

/** vpcd's default base port (CHANNELID 0x8C7B); slots use base and base+1 (VPCDSLOTS=2). */
export const VPCD_DEFAULT_PORT = 0x8c7b;
const READER_CONF_DIR = '/etc/reader.conf.d';

/**
 * vpcd listen ports from one reader.conf file: a block whose LIBPATH is libifdvpcd and whose
 * DEVICENAME is `/dev/null:<port>` (listen mode). Reversed mode (`host:port`) listens nowhere.
 */
export function vpcdPortsFromReaderConf(text: string): number[] {
  if (!/libifdvpcd/i.test(text)) return [];
  const m = /^\s*DEVICENAME\s+\/dev\/null:(0x[0-9a-f]+|\d+)\s*$/im.exec(text);
  if (!m) return [];
  const base = m[1]!.toLowerCase().startsWith('0x') ? parseInt(m[1]!, 16) : parseInt(m[1]!, 10);
  return [base, base + 1];
}

export const vpcdCheck: DoctorCheck = {
  id: 'vpcd',
  title: 'vpcd (virtual readers)',
  async run(ctx: CheckContext): Promise<CheckResult> {
    const { env } = ctx;
    const confPorts: number[] = [];
    const confFiles: string[] = [];
    for (const name of (await env.list(READER_CONF_DIR)) ?? []) {
      const ports = vpcdPortsFromReaderConf((await env.readText(`${READER_CONF_DIR}/${name}`)) ?? '');
      if (ports.length) {
        confPorts.push(...ports);
        confFiles.push(`${READER_CONF_DIR}/${name}`);
      }
    }
    const ports = [...new Set([VPCD_DEFAULT_PORT, VPCD_DEFAULT_PORT + 1, ...confPorts])];
    const listening = (await env.tcpListeners()).filter((l) => ports.includes(l.port)).sort((a, b) => a.port - b.port || a.address.localeCompare(b.address));
    const details = confFiles.map((f) => `vpcd configured in ${f}`);
    if (listening.length === 0) return result(this, 'ok', 'vpcd not listening', details);
    const exposed = listening.filter((l) => isWildcardAddress(l.address));
    const where = listening.map((l) => `${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`).join(', ');
    if (exposed.length === 0) return result(this, 'ok', `vpcd listening on loopback only (${where})`, details);
    return result(
      this,
      'warn',
      `vpcd exposes virtual readers to the network (${where}): anyone on the LAN can insert a card`,
      [...details, 'vpcd is for test machines only (readers.md §4)'],
      [
        `on a workstation remove it: apt-get remove vsmartcard-vpcd, then restart pcscd`,
        `on a test machine firewall it: iptables -A INPUT -p tcp --dport ${Math.min(...exposed.map((l) => l.port))}:${Math.max(...exposed.map((l) => l.port))} ! -i lo -j DROP`,
        'or use reversed mode (DEVICENAME 127.0.0.1:PORT in the vpcd reader.conf), where vpcd connects out to the card instead of listening',
      ],
    );
  },
};
