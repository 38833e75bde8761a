import { describe, expect, it } from "vitest";
import { parseClusterFacts, substituteFacts, type ClusterFacts } from "../../../src/cluster/index.js";

const facts: ClusterFacts = {
  version: 1,
  jobId: 42,
  self: 1,
  secret: "ab".repeat(32),
  user: { name: "alice", uid: 1001, gid: 1002 },
  vms: [
    { name: "vm0", index: 0, template: "head", ip: "10.0.0.1", natIp: "10.9.0.1", networks: {} },
    { name: "vm1", index: 1, template: "node", ip: "10.0.0.2", natIp: "10.9.0.2", networks: {} },
    { name: "vm2", index: 2, template: "node", networks: {} },
  ],
};

describe("cluster facts substitution", () => {
  it("fills this VM, any VM, the job and the roles", () => {
    expect(substituteFacts("%{vm.name} %{vm.index} %{vm.template} %{vm.ip} %{vm.nat_ip}", facts)).toBe(
      "vm1 1 node 10.0.0.2 10.9.0.2",
    );
    expect(substituteFacts("head=%{vm0.ip} job=%{job.id} n=%{cluster.size}", facts)).toBe(
      "head=10.0.0.1 job=42 n=3",
    );
    expect(substituteFacts("%{job.secret}", facts)).toBe(facts.secret);
    expect(substituteFacts("%{job.user}:%{job.uid}:%{job.gid}", facts)).toBe("alice:1001:1002");
    expect(substituteFacts("%{cluster.names}|%{role:node.names}|%{role:node.count}", facts)).toBe(
      "vm0 vm1 vm2|vm1 vm2|2",
    );
    expect(substituteFacts("%{role:head.first} %{role:head.ips}", facts)).toBe("vm0 10.0.0.1");
  });

  it("keeps %%{ and foreign %{...} as they are", () => {
    expect(substituteFacts("%%{vm.name} printf '%{foo}'", facts)).toBe("%{vm.name} printf '%{foo}'");
  });

  it("refuses unknown fields of its own names and addresses a VM lacks", () => {
    expect(() => substituteFacts("%{vm.colour}", facts)).toThrow(/unknown variable %\{vm.colour\}/);
    expect(() => substituteFacts("%{vm7.ip}", facts)).toThrow(/the cluster has no vm7/);
    expect(() => substituteFacts("%{vm2.ip}", facts)).toThrow(/vm2 has no such address/);
    expect(() => substituteFacts("%{job.name}", facts)).toThrow(/unknown variable/);
    expect(() => substituteFacts("%{role:none.first}", facts)).toThrow(/no VM of template none/);
  });
});

describe("cluster facts record", () => {
  it("accepts a well-formed record and names the bad field otherwise", () => {
    expect(parseClusterFacts(facts, "spec")).toEqual(facts);
    expect(() => parseClusterFacts({ ...facts, secret: "short" }, "spec")).toThrow(/\(secret\)/);
    expect(() => parseClusterFacts({ ...facts, self: 3 }, "spec")).toThrow(/include self/);
  });
});
