/**
 * Where keytap's system files are installed, and which file of the source tree / package each
 * comes from, so fixes name both exactly. The udev rule and sysusers file are H4's
 * (`systemd/`); the polkit rule's text lives here (and in docs/doctor.md) until a
 * `systemd/` file exists for it.
 */
import { join } from 'node:path';

/** The udev rule in the source tree (GROUP="keytap", MODE="0660" on ID_SECURITY_TOKEN hidraw nodes). */
export const UDEV_RULE_SOURCE = 'systemd/70-keytap.rules';
/** Where an administrator installs it (packages use /usr/lib/udev/rules.d). */
export const UDEV_RULE_ETC = '/etc/udev/rules.d/70-keytap.rules';
export const UDEV_RULE_PATHS = [UDEV_RULE_ETC, '/usr/lib/udev/rules.d/70-keytap.rules', '/lib/udev/rules.d/70-keytap.rules'];
/** systemd's rule that sets ID_SECURITY_TOKEN=1 from the HID descriptor (systemd ≥ 244); keytap's rule matches on it. */
export const FIDO_ID_RULE_PATHS = ['/usr/lib/udev/rules.d/60-fido-id.rules', '/lib/udev/rules.d/60-fido-id.rules', '/etc/udev/rules.d/60-fido-id.rules'];

export const SYSUSERS_SOURCE = 'systemd/keytap.sysusers';

export const SYSTEM_UNIT_PATHS = ['/etc/systemd/system/keytap.service', '/usr/lib/systemd/system/keytap.service', '/lib/systemd/system/keytap.service'];
/** The system service's socket and token file (systemd/keytap.service sets them). */
export const SYSTEM_SOCKET = '/run/keytap/keytap.sock';
export const SYSTEM_TOKEN_FILE = '/run/keytap/tokens.json';
/** The account the system service runs as. */
export const SERVICE_USER = 'keytap';

export const POLKIT_RULES_DIRS = ['/etc/polkit-1/rules.d', '/usr/share/polkit-1/rules.d'];
export const POLKIT_RULE_ETC = '/etc/polkit-1/rules.d/60-keytap-pcscd.rules';
/** readers.md §5: both pcsc-lite actions, for the service account only. */
export const POLKIT_RULE_TEXT = [
  'polkit.addRule(function (action, subject) {',
  '  if ((action.id == "org.debian.pcsc-lite.access_pcsc" || action.id == "org.debian.pcsc-lite.access_card") &&',
  '      subject.user == "keytap") {',
  '    return polkit.Result.YES;',
  '  }',
  '});',
];

export const PCSCD_SOCKET = '/run/pcscd/pcscd.comm';
export const PCSCD_BINARIES = ['/usr/sbin/pcscd', '/usr/bin/pcscd', '/sbin/pcscd'];

/** `<root>/<rel>` for messages. */
export function sourcePath(packageRoot: string, rel: string): string {
  return join(packageRoot, rel);
}
