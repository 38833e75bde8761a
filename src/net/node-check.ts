import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { nft } from "./native.js";
import { DNSMASQ } from "./plan-dhcp.js";
import { DEFAULT_OVSDB_SOCKET, OvsdbClient } from "./ovsdb.js";

/**
 * What node setup talks to, tried the way it uses them (`pcocc config check --node`, as root on a compute
 * node): the native addon with libnftables and netlink (a read-only table listing), and Open vSwitch's
 * database (an echo), and dnsmasq. One line per problem, naming the component.
 */
export async function nodeNetworkProblems(ovsdbSocket = DEFAULT_OVSDB_SOCKET): Promise<string[]> {
  const problems: string[] = [];
  await access(DNSMASQ, constants.X_OK).catch((err: NodeJS.ErrnoException) => {
    problems.push(`dnsmasq: ${DNSMASQ}: ${err.code ?? err.message} (Debian package dnsmasq-base)`);
  });
  await nft({ nftables: [{ list: { tables: {} } }] }).catch((err: Error) => {
    problems.push(`nftables (native addon): ${err.message}`);
  });
  const ovs = await OvsdbClient.open(ovsdbSocket, { timeoutMs: 3000 }).catch((err: Error) => {
    problems.push(`Open vSwitch: ${err.message}`);
    return undefined;
  });
  if (ovs) {
    await ovs.echo().catch((err: Error) => problems.push(`Open vSwitch: ${err.message}`));
    ovs.close();
  }
  return problems;
}
