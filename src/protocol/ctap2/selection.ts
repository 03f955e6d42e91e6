/** authenticatorSelection (0x0B; CTAP 2.1 §6.9): no parameters, status-only reply after a touch. */
import { emptyCommand } from './empty-command.ts';

export const Selection = emptyCommand(0x0b, 'authenticatorSelection');
