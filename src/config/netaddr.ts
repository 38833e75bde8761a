/** Parsing of the address-like values found in networks.yaml; pure, no dependencies. */

const IPV4_PART = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;

export function parseIPv4(value: string): number | undefined {
  const parts = value.split(".");
  if (parts.length !== 4 || !parts.every((p) => IPV4_PART.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export interface Cidr {
  address: number;
  prefix: number;
}

/** `a.b.c.d/n`; host bits must be zero so that `10.200.0.1/16` (almost certainly a typo) is caught. */
export function parseCidr(value: string): Cidr | undefined {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(value);
  if (!m) return undefined;
  const address = parseIPv4(m[1] ?? "");
  const prefix = Number(m[2]);
  if (address === undefined || prefix > 32) return undefined;
  const hostBits = 2 ** (32 - prefix);
  if (address % hostBits !== 0) return undefined;
  return { address, prefix };
}

export const MAC_PREFIX = /^([0-9a-fA-F]{2}:){0,3}[0-9a-fA-F]{2}$/;
export const MAC_ADDRESS = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;
export const PCI_ADDRESS = /^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;
