/**
 * A minimal HID report-descriptor parser (HID 1.11 §6.2.2): enough to tell a FIDO interface
 * (top-level usage page 0xF1D0, usage 1; CTAP 2.1 §11.2.8.1) from anything else, and to read its
 * input/output report sizes (libfido2 and python-fido2 read them from the descriptor instead of
 * assuming 64).
 */

/** What the descriptor says about the first top-level collection. */
export interface ReportDescriptorSummary {
  usagePage: number;
  usage: number;
  /** Bytes per input report (sum of size × count of Input items, rounded up). */
  inputReportSize: number;
  /** Bytes per output report. */
  outputReportSize: number;
  /** True when the descriptor declares report IDs (FIDO interfaces do not). */
  hasReportIds: boolean;
}

/** FIDO Alliance usage page (CTAP 2.1 §11.2.8.1). */
export const FIDO_USAGE_PAGE = 0xf1d0;
/** CTAPHID usage within the FIDO page. */
export const FIDO_USAGE_CTAPHID = 0x01;

const TYPE_MAIN = 0;
const TYPE_GLOBAL = 1;
const TYPE_LOCAL = 2;

/**
 * Parses `desc`. Returns null when it is malformed or has no top-level collection.
 * Only the first top-level collection's reports are counted (a FIDO interface has one).
 */
export function parseReportDescriptor(desc: Uint8Array): ReportDescriptorSummary | null {
  let usagePage = 0;
  let reportSize = 0;
  let reportCount = 0;
  let hasReportIds = false;
  let localUsage: number | null = null;
  let depth = 0;
  let top: { usagePage: number; usage: number } | null = null;
  let inBits = 0;
  let outBits = 0;
  let firstDone = false;
  let i = 0;
  while (i < desc.length) {
    const prefix = desc[i]!;
    if (prefix === 0xfe) {
      // Long item: bDataSize, bLongItemTag, data. Not used by FIDO descriptors; skip it.
      if (i + 2 >= desc.length) return null;
      i += 3 + desc[i + 1]!;
      continue;
    }
    const sizeCode = prefix & 3;
    const size = sizeCode === 3 ? 4 : sizeCode;
    const type = (prefix >> 2) & 3;
    const tag = prefix >> 4;
    if (i + 1 + size > desc.length) return null;
    let value = 0;
    for (let k = 0; k < size; k++) value |= desc[i + 1 + k]! << (8 * k);
    value >>>= 0;
    i += 1 + size;
    if (type === TYPE_GLOBAL) {
      if (tag === 0x0) usagePage = value;
      else if (tag === 0x7) reportSize = value;
      else if (tag === 0x9) reportCount = value;
      else if (tag === 0x8) hasReportIds = true;
    } else if (type === TYPE_LOCAL) {
      // A 4-byte usage carries its own page in the high half (HID 1.11 §6.2.2.8).
      if (tag === 0x0) localUsage = size === 4 ? value & 0xffff : value;
      if (tag === 0x0 && size === 4 && top === null && depth === 0) usagePage = value >>> 16;
    } else if (type === TYPE_MAIN) {
      if (tag === 0xa) {
        if (depth === 0 && top === null) top = { usagePage, usage: localUsage ?? 0 };
        depth++;
      } else if (tag === 0xc) {
        if (depth === 0) return null;
        depth--;
        if (depth === 0 && top !== null) firstDone = true;
      } else if (!firstDone && depth > 0) {
        if (tag === 0x8) inBits += reportSize * reportCount;
        else if (tag === 0x9) outBits += reportSize * reportCount;
      }
      localUsage = null;
    }
  }
  if (top === null) return null;
  return { ...top, inputReportSize: Math.ceil(inBits / 8), outputReportSize: Math.ceil(outBits / 8), hasReportIds };
}

/** True for a CTAPHID interface whose report sizes libfido2 would accept (8…64 bytes). */
export function isFidoDescriptor(summary: ReportDescriptorSummary | null): summary is ReportDescriptorSummary {
  return (
    summary !== null &&
    summary.usagePage === FIDO_USAGE_PAGE &&
    summary.usage === FIDO_USAGE_CTAPHID &&
    summary.inputReportSize >= 8 &&
    summary.inputReportSize <= 64 &&
    summary.outputReportSize >= 8 &&
    summary.outputReportSize <= 64
  );
}
