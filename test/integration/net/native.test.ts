import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { listLinks, nft, runOps, spawnIn, type NetOp } from "../../../src/net/native.js";

// Real kernel objects in namespaces this test creates through the addon itself; `ip`/`nft` only observe.
const ns = `pcocctest-${process.pid}`;
const ns2 = `${ns}-b`;
const ns3 = `${ns}-c`;

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8" });
}

afterAll(async () => {
  await runOps([
    { op: "netnsDel", name: ns, ifExists: true },
    { op: "netnsDel", name: ns2, ifExists: true },
    { op: "netnsDel", name: ns3, ifExists: true },
  ]);
});

describe("native network addon", () => {
  it("creates and deletes namespaces visible to iproute2", async () => {
    await runOps([
      { op: "netnsAdd", name: ns },
      { op: "netnsAdd", name: ns2 },
      { op: "netnsAdd", name: ns2, mayExist: true },
    ]);
    expect(ip("netns", "list")).toContain(ns);
    await runOps([{ op: "linkSet", name: "lo", up: true }], ns);
    const links = await listLinks(ns);
    expect(links.map((l) => l.name)).toEqual(["lo"]);
    expect(links[0]!.up).toBe(true);
    await expect(runOps([{ op: "netnsAdd", name: ns }])).rejects.toThrow(/File exists/);
  });

  it("takes over the empty placeholder a setup killed before its mount left, and refuses any other file", async () => {
    writeFileSync(`/run/netns/${ns3}`, "");
    await runOps([{ op: "netnsAdd", name: ns3 }]);
    expect((await listLinks(ns3)).map((l) => l.name)).toEqual(["lo"]);
    await runOps([{ op: "netnsDel", name: ns3 }]);
    writeFileSync(`/run/netns/${ns3}`, "not a namespace");
    await expect(runOps([{ op: "netnsAdd", name: ns3 }])).rejects.toThrow(/File exists/);
    expect(readFileSync(`/run/netns/${ns3}`, "utf8")).toBe("not a namespace");
    rmSync(`/run/netns/${ns3}`);
  });

  it("builds bridge, tap, veth across namespaces, vxlan with flood entries, addresses and routes", async () => {
    await runOps(
      [
        { op: "linkAdd", kind: "bridge", name: "tbr0", mtu: 1450, up: true },
        { op: "tapAdd", name: "ttap0", uid: 4242, master: "tbr0", mtu: 1450, up: true },
        {
          op: "linkAdd",
          kind: "veth",
          name: "tv0",
          peer: "tv0p",
          peerNetns: `/run/netns/${ns2}`,
          master: "tbr0",
          up: true,
        },
        {
          op: "linkAdd",
          kind: "vxlan",
          name: "tvx0",
          vni: 4242,
          local: "10.77.0.1",
          master: "tbr0",
          up: true,
        },
        { op: "fdbAppend", name: "tvx0", dst: "10.77.0.2" },
        { op: "fdbAppend", name: "tvx0", dst: "10.77.0.3" },
        { op: "addrAdd", dev: "tbr0", address: "10.77.0.1/24" },
        { op: "routeAdd", dst: "10.78.0.0/16", via: "10.77.0.254" },
        { op: "routeAdd", dst: "default", via: "10.77.0.254", dev: "tbr0", onlink: true },
      ],
      ns,
    );
    const links = await listLinks(ns);
    const br = links.find((l) => l.name === "tbr0")!;
    expect(br.kind).toBe("bridge");
    for (const n of ["ttap0", "tv0", "tvx0"]) expect(links.find((l) => l.name === n)?.master).toBe(br.index);
    const tap = JSON.parse(ip("-n", ns, "-d", "-j", "link", "show", "ttap0")) as Array<{
      linkinfo: { info_kind: string; info_data: { user: number; persist: boolean } };
    }>;
    expect(tap[0]!.linkinfo.info_data.user).toBe(4242);
    expect(tap[0]!.linkinfo.info_data.persist).toBe(true);
    expect(execFileSync("bridge", ["-n", ns, "fdb", "show", "dev", "tvx0"], { encoding: "utf8" })).toMatch(
      /00:00:00:00:00:00 dst 10\.77\.0\.2[^]*00:00:00:00:00:00 dst 10\.77\.0\.3/,
    );
    expect(ip("-n", ns, "-4", "addr", "show", "tbr0")).toContain("10.77.0.1/24");
    const routes = ip("-n", ns, "route");
    expect(routes).toContain("10.78.0.0/16 via 10.77.0.254");
    expect(routes).toMatch(/default via 10\.77\.0\.254 dev tbr0 .*onlink/);
    expect((await listLinks(ns2)).map((l) => l.name)).toContain("tv0p");
    // Idempotent re-creation, and a failure that names the object.
    await runOps([{ op: "linkAdd", kind: "bridge", name: "tbr0", mayExist: true, up: true }], ns);
    await expect(runOps([{ op: "linkAdd", kind: "bridge", name: "tbr0" }], ns)).rejects.toMatchObject({
      errno: 17,
      message: expect.stringContaining("tbr0"),
    });
    await runOps(
      [
        { op: "linkDel", name: "ttap0" },
        { op: "linkDel", name: "nope0", ifExists: true },
      ],
      ns,
    );
    expect((await listLinks(ns)).map((l) => l.name)).not.toContain("ttap0");
  });

  it("gives a tap an owner and group past 2^31, and never makes a tap without an owner", async () => {
    const sys = (tap: string, attr: string): string =>
      execFileSync("ip", ["netns", "exec", ns, "cat", `/sys/class/net/${tap}/${attr}`], {
        encoding: "utf8",
      }).trim();
    await runOps([{ op: "tapAdd", name: "tbig0", uid: 3_000_000_000, gid: 4_294_967_294 }], ns);
    expect(sys("tbig0", "owner")).toBe("3000000000");
    expect(sys("tbig0", "group")).toBe("4294967294");
    await runOps([{ op: "linkDel", name: "tbig0" }], ns);

    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /add tap tnone0: no owner uid given/],
      [{ uid: -1 }, /uid must be an id from 0 to 4294967294/],
      [{ uid: 4_294_967_295 }, /uid must be an id/],
      [{ uid: 2 ** 32 }, /uid must be an id/],
      [{ uid: 1.5 }, /uid must be an id/],
      [{ uid: "1000" }, /uid must be an id/],
      [{ uid: 1000, gid: -5 }, /gid must be an id/],
    ];
    for (const [ids, message] of refused) {
      const op = { op: "tapAdd", name: "tnone0", ...ids } as unknown as NetOp;
      await expect(runOps([op], ns)).rejects.toThrow(message);
      expect((await listLinks(ns)).map((l) => l.name)).not.toContain("tnone0");
    }
  });

  it("deletes a whole device group in one request", async () => {
    await runOps(
      [
        { op: "linkAdd", kind: "bridge", name: "tg1", group: 4242 },
        { op: "tapAdd", name: "tg2", uid: 4242, group: 4242 },
        { op: "linkAdd", kind: "veth", name: "tg3", peer: "tg3p", group: 4242 },
        { op: "linkAdd", kind: "bridge", name: "tg4", group: 77 },
      ],
      ns,
    );
    await runOps([{ op: "linkDelGroup", group: 4242 }], ns);
    const names = (await listLinks(ns)).map((l) => l.name);
    for (const n of ["tg1", "tg2", "tg3", "tg3p"]) expect(names).not.toContain(n);
    expect(names).toContain("tg4");
    await runOps([{ op: "linkDelGroup", group: 4242 }], ns);
  });

  it("applies nftables JSON atomically inside a namespace", async () => {
    await nft(
      {
        nftables: [
          { add: { table: { family: "ip", name: "t" } } },
          {
            add: {
              chain: {
                family: "ip",
                table: "t",
                name: "c",
                type: "filter",
                hook: "input",
                prio: 0,
                policy: "accept",
              },
            },
          },
          {
            add: {
              rule: {
                family: "ip",
                table: "t",
                chain: "c",
                expr: [
                  {
                    match: { op: "==", left: { payload: { protocol: "udp", field: "dport" } }, right: 4789 },
                  },
                  { drop: null },
                ],
              },
            },
          },
        ],
      },
      ns,
    );
    const listed = execFileSync("ip", ["netns", "exec", ns, "nft", "list", "table", "ip", "t"], {
      encoding: "utf8",
    });
    expect(listed).toContain("udp dport 4789 drop");
    // A bad rule in the middle: nothing of the batch is applied.
    await expect(
      nft(
        {
          nftables: [
            { add: { table: { family: "ip", name: "t2" } } },
            { add: { rule: { family: "ip", table: "t2", chain: "missing", expr: [{ drop: null }] } } },
          ],
        },
        ns,
      ),
    ).rejects.toThrow(/nftables/);
    expect(
      execFileSync("ip", ["netns", "exec", ns, "nft", "list", "tables"], { encoding: "utf8" }),
    ).not.toContain("t2");
    // The host's own ruleset is untouched by the namespaced batch.
    expect(execFileSync("nft", ["list", "tables"], { encoding: "utf8" })).not.toMatch(/table ip t$/m);
  });

  it("writes per-namespace sysctls and runs a program inside the namespace", async () => {
    await runOps([{ op: "sysctl", path: "/proc/sys/net/ipv4/ip_forward", value: "1" }], ns);
    const r = await spawnIn(ns, [
      "/bin/sh",
      "-c",
      "cat /proc/sys/net/ipv4/ip_forward >&2; ls /sys/class/net >/dev/null; exit 3",
    ]);
    expect(r.status).toBe(3);
    expect(r.stderr.trim()).toBe("1");
    const own = await spawnIn(undefined, ["/bin/sh", "-c", "readlink /proc/self/ns/net >&2"]);
    expect(own.stderr.trim()).toBe(
      execFileSync("readlink", ["/proc/self/ns/net"], { encoding: "utf8" }).trim(),
    );
    await expect(runOps([{ op: "sysctl", path: "/etc/passwd", value: "x" }])).rejects.toThrow(/refusing/);
  });

  it("deletes namespaces", async () => {
    await runOps([
      { op: "netnsDel", name: ns },
      { op: "netnsDel", name: ns2 },
    ]);
    expect(existsSync(`/run/netns/${ns}`)).toBe(false);
    expect(ip("netns", "list")).not.toContain(ns);
  });
});
