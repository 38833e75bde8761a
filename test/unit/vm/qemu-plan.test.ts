import { describe, expect, it } from "vitest";
import { vmStatePaths } from "../../../src/vm/paths.js";
import { INCOMING_FD, planQemu, virtiofsSockets } from "../../../src/vm/qemu-plan.js";
import type { VmSpec } from "../../../src/vm/spec.js";

const paths = vmStatePaths("/run/pcocc/vm-state/job-7/vm1");
const spec: VmSpec = {
  rank: 1,
  name: "vm1",
  hostname: "vm1",
  template: {},
  nics: [{ tap: "pcocc7t0", mac: "52:54:00:00:00:01" }],
  vcpus: 2,
  memoryMiB: 256,
  stateDir: paths.dir,
};
const facts = { accel: "tcg" as const, diskBase: "/img/top.qcow2", paths, mounts: [], vhostNet: true };

describe("planQemu", () => {
  it("fills pcocc's defaults and points every socket and disk into the state directory", () => {
    const plan = planQemu(spec, facts);
    expect(plan).toMatchObject({
      binary: "qemu-system-x86_64",
      name: "vm1",
      accel: "tcg",
      machine: "pc",
      memoryMiB: 256,
      vcpus: 2,
      disk: { path: paths.overlay, model: "virtio", cache: "unsafe" },
      seedPath: paths.seed,
      controlQmpSocket: paths.controlQmpSocket,
      qmpSocket: paths.qmpSocket,
      serialSocket: paths.serialSocket,
      agentSocket: paths.agentQemuSocket,
      customArgs: [],
      vhostNet: true,
    });
    expect(plan.kernel).toBeUndefined();
    expect(plan.incomingFd).toBeUndefined();
    expect(plan.nics[0]?.model).toBeUndefined();
  });

  it("takes the template's settings over the defaults", () => {
    const plan = planQemu(
      {
        ...spec,
        template: {
          "qemu-bin": "/opt/qemu",
          "machine-type": "q35",
          "cpu-model": "max",
          "nic-model": "e1000",
          "disk-model": "ide",
          "disk-cache": "none",
          "custom-args": ["-no-hpet"],
          kernel: "/k",
          initrd: "/i",
        },
      },
      facts,
    );
    expect(plan).toMatchObject({
      binary: "/opt/qemu",
      machine: "q35",
      cpuModel: "max",
      customArgs: ["-no-hpet"],
    });
    expect(plan.disk).toEqual({ path: paths.overlay, model: "ide", cache: "none" });
    expect(plan.nics[0]?.model).toBe("e1000");
    expect(plan.kernel).toEqual({ path: "/k", initrd: "/i", args: "console=ttyS0 root=/dev/vda" });
  });

  it("has no disk without a base layer, no vhost-net without NICs, and reads a checkpoint from fd 3", () => {
    const plan = planQemu(
      { ...spec, nics: [], restore: { memory: "/ck/vm1" } },
      { ...facts, diskBase: undefined },
    );
    expect(plan.disk).toBeUndefined();
    expect(plan.vhostNet).toBe(false);
    expect(plan.incomingFd).toBe(INCOMING_FD);
  });
});

describe("virtiofsSockets", () => {
  it("gives each virtio-fs mount a socket in the state directory and leaves 9p mounts alone", () => {
    const mounts = virtiofsSockets(
      [
        { tag: "a", path: "/x" },
        { tag: "b", path: "/y", type: "virtio-fs" },
      ],
      paths.dir,
    );
    expect(mounts).toEqual([
      { tag: "a", path: "/x" },
      { tag: "b", path: "/y", type: "virtio-fs", virtiofsSocket: `${paths.dir}/virtio_fsd_1` },
    ]);
  });
});
