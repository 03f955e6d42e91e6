/**
 * Counters for the Prometheus text endpoint (`GET /metrics` on the loopback HTTP server and the
 * unix socket; DESIGN.md §8 "fleets"). Labels are method names and stable error codes only.
 */
export class Metrics {
  readonly requests = new Map<string, number>();
  readonly errors = new Map<string, number>();
  connections = 0;
  connectionsTotal = 0;
  upgradesRefused = new Map<string, number>();
  notificationsSent = 0;

  countRequest(method: string): void {
    this.requests.set(method, (this.requests.get(method) ?? 0) + 1);
  }

  countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  countRefused(reason: string): void {
    this.upgradesRefused.set(reason, (this.upgradesRefused.get(reason) ?? 0) + 1);
  }

  /** Prometheus text exposition format 0.0.4. */
  render(gauges: { devices: Record<string, number> }): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, label: string, m: Map<string, number>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [k, v] of [...m].sort()) lines.push(`${name}{${label}="${escapeLabel(k)}"} ${v}`);
    };
    counter('keytap_requests_total', 'JSON-RPC requests received, by method.', 'method', this.requests);
    counter('keytap_errors_total', 'JSON-RPC error responses, by stable error code.', 'code', this.errors);
    counter('keytap_upgrades_refused_total', 'HTTP upgrades refused before the WebSocket handshake, by reason.', 'reason', this.upgradesRefused);
    lines.push('# HELP keytap_connections Connected clients.', '# TYPE keytap_connections gauge', `keytap_connections ${this.connections}`);
    lines.push('# HELP keytap_connections_total Connections accepted since start.', '# TYPE keytap_connections_total counter', `keytap_connections_total ${this.connectionsTotal}`);
    lines.push('# HELP keytap_notifications_sent_total Notifications sent to clients.', '# TYPE keytap_notifications_sent_total counter', `keytap_notifications_sent_total ${this.notificationsSent}`);
    lines.push('# HELP keytap_devices Devices present, by kind.', '# TYPE keytap_devices gauge');
    for (const [k, v] of Object.entries(gauges.devices).sort()) lines.push(`keytap_devices{kind="${escapeLabel(k)}"} ${v}`);
    return `${lines.join('\n')}\n`;
  }
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
