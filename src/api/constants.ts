/**
 * Fixed names of the agent's wire protocol (DESIGN.md §5 "The contract"). Extend, never rename.
 */

/** The WebSocket subprotocol the agent speaks; the server picks it explicitly (`handleProtocols`). */
export const SUBPROTOCOL = 'keytap.v1';

/** Version of the JSON-RPC method set returned by `initialize` (semver; minor bumps add methods). */
export const PROTOCOL_VERSION = '1.0.0';

/** Default loopback TCP port (127.0.0.1 and ::1). */
export const DEFAULT_PORT = 7391;

/** The socket file name inside the runtime directory. */
export const SOCKET_NAME = 'keytap.sock';

/** The token file name beside the socket. */
export const TOKEN_FILE_NAME = 'tokens.json';

/** Roles a connection can hold. `admin` may do everything `client` may, plus reset, config and simulator control. */
export type Role = 'client' | 'admin';
export const ROLES: readonly Role[] = ['client', 'admin'];

/** Notification topics (prefixes of notification method names) for `events.subscribe`. */
export const TOPICS = ['device', 'card', 'fido', 'request'] as const;
export type Topic = (typeof TOPICS)[number];
