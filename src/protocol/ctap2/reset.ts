/**
 * authenticatorReset (0x07; CTAP 2.1 §6.6): no parameters, status-only reply. Needs user
 * presence within the window after power-up (5 s Yubico, 10 s OpenSK/Nitrokey; fido.md §10).
 */
import { emptyCommand } from './empty-command.ts';

export const Reset = emptyCommand(0x07, 'authenticatorReset');
