/**
 * Keyboard-wedge readers (reference/readers.md §10): HID boot keyboard input reports
 * `[modifiers, reserved, k1..k6]`, decoded on key-down edges (a key newly present in this
 * report), not levels, so "11" does not collapse and a modifier change repeats nothing.
 * A line ends at Enter (0x28 or keypad Enter 0x58).
 */
const SHIFT = 0x02 | 0x20;
const DIGITS = '1234567890';
const SHIFTED_DIGITS = '!@#$%^&*()';

function usageToChar(usage: number, shift: boolean): string | null {
  if (usage >= 0x04 && usage <= 0x1d) {
    const c = String.fromCharCode(0x61 + usage - 0x04);
    return shift ? c.toUpperCase() : c;
  }
  if (usage >= 0x1e && usage <= 0x27) return (shift ? SHIFTED_DIGITS : DIGITS)[usage - 0x1e]!;
  if (usage >= 0x59 && usage <= 0x62) return DIGITS[usage - 0x59]!; // keypad 1..9, 0
  switch (usage) {
    case 0x2b:
      return '\t';
    case 0x2c:
      return ' ';
    case 0x2d:
      return shift ? '_' : '-';
    case 0x2e:
      return shift ? '+' : '=';
    case 0x38:
      return shift ? '?' : '/';
    case 0x33:
      return shift ? ':' : ';';
    case 0x37:
      return shift ? '>' : '.';
    case 0x36:
      return shift ? '<' : ',';
    default:
      return null;
  }
}

/** Streaming decoder: feed each 8-byte input report; a finished line comes back once. */
export class BootKeyboardDecoder {
  private pressed = new Set<number>();
  private line = '';
  /** Reports dropped because they were not 8 bytes. */
  badReports = 0;

  /** @param maxLength longest line kept (default 64); beyond it characters are dropped. */
  constructor(private readonly maxLength = 64) {}

  /** Returns the line when this report's new key-down is Enter, else null. */
  push(report: Uint8Array): string | null {
    if (report.length !== 8) {
      this.badReports++;
      return null;
    }
    const shift = (report[0]! & SHIFT) !== 0;
    const now = new Set<number>();
    let done: string | null = null;
    for (let i = 2; i < 8; i++) {
      const u = report[i]!;
      // 0x00 no key, 0x01 rollover error: not keys.
      if (u <= 0x01) continue;
      now.add(u);
      if (this.pressed.has(u)) continue;
      if (u === 0x28 || u === 0x58) {
        done = this.line;
        this.line = '';
        continue;
      }
      const c = usageToChar(u, shift);
      if (c !== null && this.line.length < this.maxLength) this.line += c;
    }
    this.pressed = now;
    return done;
  }

  /** Discards a partial line (e.g. after a timeout between keys). */
  reset(): void {
    this.line = '';
    this.pressed.clear();
  }
}

/** Encodes text + Enter as press/release report pairs (simulator and tests); letters/digits only. */
export function encodeBootKeyboardLine(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const press = (mod: number, u: number): void => {
    out.push(Uint8Array.of(mod, 0, u, 0, 0, 0, 0, 0));
    out.push(new Uint8Array(8));
  };
  for (const ch of text) {
    const d = DIGITS.indexOf(ch);
    if (d >= 0) press(0, 0x1e + d);
    else if (/[a-z]/.test(ch)) press(0, 0x04 + ch.charCodeAt(0) - 0x61);
    else if (/[A-Z]/.test(ch)) press(0x02, 0x04 + ch.charCodeAt(0) - 0x41);
    else throw new RangeError(`cannot encode ${JSON.stringify(ch)}`);
  }
  press(0, 0x28);
  return out;
}
