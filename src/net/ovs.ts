import { OvsdbError, type OvsdbClient, type OvsdbOp } from "./ovsdb.js";

/**
 * Open vSwitch objects through OVSDB transactions (what `ovs-vsctl add-br/add-port/del-br` do, without a
 * process per object). Ports of type "" are existing kernel devices (taps, veths, VXLAN devices) that
 * vswitchd opens itself; "vxlan" ports are OVS tunnels (`remote_ip`, `key`).
 */
export interface OvsPortSpec {
  name: string;
  type: "" | "internal" | "vxlan";
  options?: Record<string, string>;
  /** Protected ports do not exchange traffic with each other (OVS NORMAL honours it): split horizon. */
  protected?: boolean;
}

export interface OvsBridgeSpec {
  name: string;
  datapathType: "system" | "netdev";
  ports: OvsPortSpec[];
}

export interface OvsBridgeInfo {
  name: string;
  datapathType: string;
  ports: string[];
}

const map = (o: Record<string, string> = {}): unknown => ["map", Object.entries(o)];
const set = (items: unknown[]): unknown => ["set", items];

function portOps(ports: OvsPortSpec[], tag: string): { ops: OvsdbOp[]; refs: unknown[] } {
  const ops: OvsdbOp[] = [];
  const refs: unknown[] = [];
  ports.forEach((p, i) => {
    ops.push({
      op: "insert",
      table: "Interface",
      "uuid-name": `${tag}i${i}`,
      row: { name: p.name, type: p.type, options: map(p.options) },
    });
    ops.push({
      op: "insert",
      table: "Port",
      "uuid-name": `${tag}p${i}`,
      row: { name: p.name, interfaces: ["named-uuid", `${tag}i${i}`], protected: p.protected ?? false },
    });
    refs.push(["named-uuid", `${tag}p${i}`]);
  });
  return { ops, refs };
}

/** Asks vswitchd to acknowledge the transaction (like ovs-vsctl's wait on cur_cfg). */
const bumpCfg: OvsdbOp[] = [
  { op: "mutate", table: "Open_vSwitch", where: [], mutations: [["next_cfg", "+=", 1]] },
  { op: "select", table: "Open_vSwitch", where: [], columns: ["next_cfg"] },
];

function nextCfgOf(results: Array<Record<string, unknown>>): number {
  const rows = results[results.length - 1]!.rows as Array<{ next_cfg: number }>;
  return rows[0]!.next_cfg;
}

async function waitApplied(c: OvsdbClient, cfg: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [r] = await c.transact([{ op: "select", table: "Open_vSwitch", where: [], columns: ["cur_cfg"] }]);
    const cur = (r!.rows as Array<{ cur_cfg: number }>)[0]?.cur_cfg ?? 0;
    if (cur >= cfg) return;
    if (Date.now() > deadline)
      throw new OvsdbError(`ovs-vswitchd did not apply configuration ${cfg} in time`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ApplyOpts {
  /** Wait until ovs-vswitchd has applied the change (ports opened). */
  wait?: boolean;
  timeoutMs?: number;
}

async function commit(
  c: OvsdbClient,
  ops: OvsdbOp[],
  opts: ApplyOpts,
): Promise<Array<Record<string, unknown>>> {
  const results = await c.transact(opts.wait ? [...ops, ...bumpCfg] : ops);
  if (opts.wait) await waitApplied(c, nextCfgOf(results), opts.timeoutMs ?? 10_000);
  return results;
}

/** Creates a bridge with its ports in one transaction; fails if a bridge of that name exists. */
export async function addBridge(c: OvsdbClient, spec: OvsBridgeSpec, opts: ApplyOpts = {}): Promise<void> {
  const { ops, refs } = portOps(spec.ports, "n");
  await commit(
    c,
    [
      {
        op: "wait",
        table: "Bridge",
        where: [["name", "==", spec.name]],
        columns: ["name"],
        until: "==",
        rows: [],
        timeout: 0,
      },
      ...ops,
      {
        op: "insert",
        table: "Bridge",
        "uuid-name": "br",
        row: { name: spec.name, datapath_type: spec.datapathType, ports: set(refs) },
      },
      {
        op: "mutate",
        table: "Open_vSwitch",
        where: [],
        mutations: [["bridges", "insert", set([["named-uuid", "br"]])]],
      },
    ],
    opts,
  );
}

async function bridgeRows(
  c: OvsdbClient,
): Promise<Array<{ _uuid: unknown; name: string; datapath_type: string; ports: unknown }>> {
  const [r] = await c.transact([
    { op: "select", table: "Bridge", where: [], columns: ["_uuid", "name", "datapath_type", "ports"] },
  ]);
  return r!.rows as Array<{ _uuid: unknown; name: string; datapath_type: string; ports: unknown }>;
}

/** OVSDB encodes a one-element set as the element itself. */
function uuids(v: unknown): string[] {
  const a = v as [string, unknown];
  if (a[0] === "uuid") return [a[1] as string];
  return (a[1] as Array<[string, string]>).map((u) => u[1]);
}

export async function listBridges(c: OvsdbClient): Promise<OvsBridgeInfo[]> {
  const [bridges, [portRes]] = await Promise.all([
    bridgeRows(c),
    c.transact([{ op: "select", table: "Port", where: [], columns: ["_uuid", "name"] }]),
  ]);
  const portName = new Map(
    (portRes!.rows as Array<{ _uuid: [string, string]; name: string }>).map((p) => [p._uuid[1], p.name]),
  );
  return bridges
    .map((b) => ({
      name: b.name,
      datapathType: b.datapath_type,
      ports: uuids(b.ports)
        .map((u) => portName.get(u) ?? u)
        .sort(),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Deletes a bridge (its ports and interfaces go with it); returns false if it did not exist. */
export async function deleteBridge(c: OvsdbClient, name: string, opts: ApplyOpts = {}): Promise<boolean> {
  const [r] = await c.transact([
    { op: "select", table: "Bridge", where: [["name", "==", name]], columns: ["_uuid"] },
  ]);
  const row = (r!.rows as Array<{ _uuid: unknown }>)[0];
  if (!row) return false;
  await commit(
    c,
    [
      {
        op: "mutate",
        table: "Open_vSwitch",
        where: [],
        mutations: [["bridges", "delete", set([row._uuid])]],
      },
      { op: "delete", table: "Bridge", where: [["_uuid", "==", row._uuid]] },
    ],
    opts,
  );
  return true;
}
