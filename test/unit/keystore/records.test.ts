import { describe, expect, it } from "vitest";
import {
  checkRecord,
  CLUSTER_DESCRIPTION,
  collectiveIds,
  HOST_STATE,
  idAllocState,
  LEASE_RECORD,
  NODE_NET_RECORD,
  recordOrUndefined,
  RNAT_PORT,
  VM_STATE,
  type NodeNetRecord,
} from "../../../src/keystore/layout.js";
import { PcoccError } from "../../../src/util/errors.js";

const KEY = "/pcocc/cluster/7/nat-rssh/0";

/** What net/plan.ts publishes for an L3 network with reverse NAT (two VMs on the node). */
const netRecord: NodeNetRecord = {
  "vm-0": {
    tap: "nat7t0",
    mac: "52:54:00:00:00:04",
    ip: "10.251.0.4",
    "ext-ip": "10.250.0.2",
    hostPort: 60222,
    "domain-name": "nat-rssh.pcocc",
  },
  "vm-3": { tap: "nat7t1", mac: "52:54:00:00:00:07" },
  global: { int_br_name: "nat7b", key_id: 1024, master: 0 },
};

describe("checkRecord", () => {
  it("returns the checked value", () => {
    expect(checkRecord(NODE_NET_RECORD, KEY, netRecord)).toEqual(netRecord);
    expect(checkRecord(RNAT_PORT, "/pcocc/cluster/7/rnat/0/22", 60222)).toBe(60222);
  });

  it("names the key and the offending field, never the value", () => {
    const evil = { ...netRecord, "vm-0": { ...netRecord["vm-0"], tap: "x; rm -rf /" } };
    let err: unknown;
    try {
      checkRecord(NODE_NET_RECORD, KEY, evil);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PcoccError);
    const msg = (err as Error).message;
    expect(msg).toContain(`keystore key ${KEY}: malformed network record (vm-0.tap)`);
    expect(msg).not.toContain("rm -rf");
  });

  it("calls a missing or non-JSON value what it is", () => {
    expect(() => checkRecord(LEASE_RECORD, "/k", undefined)).toThrow(
      "keystore key /k: lease record is missing or not JSON",
    );
  });
});

describe("network records", () => {
  it("refuse bad NICs, unknown entries and bad globals", () => {
    const bad: unknown[] = [
      { "vm-0": { tap: "nat7t0" } }, // no MAC
      { "vm-0": { tap: "a-name-longer-than-15", mac: "52:54:00:00:00:04" } },
      { "vm-0": { tap: "t", mac: "52:54:00:00:00:04", ip: "10.0.0.256" } },
      { "vm-0": { tap: "t", mac: "52:54:00:00:00:04", hostPort: 70000 } },
      { "vm-01": { tap: "t", mac: "52:54:00:00:00:04" } },
      { "../x": { tap: "t", mac: "52:54:00:00:00:04" } },
      { global: { int_br_name: "br/../x", master: 0 } },
      [],
      "nat7t0",
    ];
    for (const v of bad) expect(recordOrUndefined(NODE_NET_RECORD, v), JSON.stringify(v)).toBeUndefined();
  });
});

describe("rnat ports", () => {
  it("are TCP ports", () => {
    for (const v of [0, 65536, 22.5, "22", -1, null]) expect(recordOrUndefined(RNAT_PORT, v)).toBeUndefined();
  });
});

describe("lease records", () => {
  const rec = { lease: "1234567890123", userLease: "42", user: "alice", ttl: 120 };
  it("accept what beginJob writes", () => {
    expect(checkRecord(LEASE_RECORD, "/k", rec)).toEqual(rec);
  });
  it("refuse ids that are not positive int64 decimals, bad users and TTLs", () => {
    for (const over of [
      { lease: "0" },
      { lease: "0x1f" },
      { userLease: "12345678901234567890" },
      { lease: 5 },
      { user: "../root" },
      { user: "a b" },
      { ttl: 0 },
      { ttl: 1e9 },
      { ttl: "120" },
    ]) {
      expect(recordOrUndefined(LEASE_RECORD, { ...rec, ...over }), JSON.stringify(over)).toBeUndefined();
    }
  });
});

describe("host and VM states", () => {
  it("take the priority from the state table, not from the record", () => {
    const s = checkRecord(HOST_STATE, "/k", { state: "failed", priority: 99, desc: "boom" });
    expect(s).toMatchObject({ state: "failed", priority: -1, desc: "boom" });
  });
  it("cut overlong descriptions and console tails", () => {
    const s = checkRecord(VM_STATE, "/k", {
      state: "qemu-start",
      desc: "d".repeat(5000),
      consoleTail: "c".repeat(5000),
      since: 5,
      hostname: "vm0",
    });
    expect(s.desc).toHaveLength(1000);
    expect(s.consoleTail).toHaveLength(1000);
    expect(s).toMatchObject({ priority: 3, since: 5, hostname: "vm0" });
  });
  it("refuse unknown states and wrong types", () => {
    for (const v of [
      { state: "owned" },
      { state: "__proto__" },
      { state: "running", desc: 5 },
      { state: "running", since: "now" },
      null,
    ]) {
      expect(recordOrUndefined(VM_STATE, v), JSON.stringify(v)).toBeUndefined();
    }
    expect(recordOrUndefined(HOST_STATE, { state: "qemu-start" })).toBeUndefined();
  });
});

describe("allocator states", () => {
  it("keep ids inside the allocator's range", () => {
    expect(checkRecord(idAllocState(10), "/k", [{ id: 9, job: 3 }])).toEqual([{ id: 9, job: 3 }]);
    expect(() => checkRecord(idAllocState(10), "/k", [{ id: 10, job: 3 }])).toThrow(
      /keystore key \/k: malformed id allocator state \(0\.id\)/,
    );
    expect(recordOrUndefined(idAllocState(10), [{ id: 1 }])).toBeUndefined();
    expect(recordOrUndefined(collectiveIds(2, 10), [1, 2])).toEqual([1, 2]);
    expect(recordOrUndefined(collectiveIds(2, 10), [1])).toBeUndefined();
    expect(recordOrUndefined(collectiveIds(1, 10), [10])).toBeUndefined();
  });
});

describe("cluster descriptions", () => {
  const c = { definition: "lab-tiny:3", nodes: ["node1", "node2"], rankMap: [0, 1, 1] };
  it("accept what the launcher writes", () => {
    expect(checkRecord(CLUSTER_DESCRIPTION, "/k", c)).toEqual(c);
  });
  it("refuse VMs on nodes the job lacks, odd node names and missing parts", () => {
    for (const over of [
      { rankMap: [0, 2] },
      { rankMap: [-1] },
      { nodes: ["node1", "a b"] },
      { nodes: [] },
      { definition: undefined },
    ]) {
      expect(recordOrUndefined(CLUSTER_DESCRIPTION, { ...c, ...over }), JSON.stringify(over)).toBeUndefined();
    }
  });
});
