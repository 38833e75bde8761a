import { describe, expect, it } from "vitest";
import { backoffMs, probeArgv } from "../../../src/slurm/readiness-probe.js";
import { checkGate } from "../../../src/slurm/preflight.js";

const cluster = {
  resourceDefinition: "cluster:3",
  vms: [
    { rank: 0, name: "vm0", template: "head", resourceSet: "cluster" },
    { rank: 1, name: "vm1", template: "node", resourceSet: "cluster" },
  ],
};

describe("readiness probes", () => {
  it("looks for a listening socket in the kernel's tables, by hex port", () => {
    expect(probeArgv({ kind: "tcp", port: 6818, label: "tcp:6818" })[2]).toContain(
      ":1AA2 [0-9A-F]+:0000 0A ",
    );
    expect(probeArgv({ kind: "tcp", port: 22, label: "ssh" })[2]).toContain(":0016 ");
    expect(probeArgv({ kind: "cloud-init", label: "cloud-init" })).toEqual([
      "test",
      "-e",
      "/var/lib/cloud/instance/boot-finished",
    ]);
    expect(probeArgv({ kind: "exec", command: "true", label: "exec:true" })).toEqual(["sh", "-c", "true"]);
  });
  it("backs off from 0.2 s to 2 s", () => {
    expect([0, 1, 2, 3, 4, 10].map(backoffMs)).toEqual([200, 400, 800, 1600, 2000, 2000]);
  });
  it("accepts --wait=all or a template of the cluster, nothing else", () => {
    expect(() => checkGate(cluster, "all")).not.toThrow();
    expect(() => checkGate(cluster, "node")).not.toThrow();
    expect(() => checkGate(cluster, "nosuch")).toThrow(
      "--wait=nosuch: no VM of the cluster is of template 'nosuch' (templates: head, node)",
    );
  });
});
