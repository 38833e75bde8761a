import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { guests, startVm, stopVm, waitForConsole, type RunningVm } from "./support.js";

describe("real cloud-init guest", () => {
  let vm: RunningVm | undefined;
  let work: string | undefined;
  afterAll(async () => {
    await stopVm(vm);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("reads the in-process ISO seed: hostname from meta-data, runcmd from user-data", async () => {
    const g = await guests();
    work = await mkdtemp(join(tmpdir(), "pcocc-vm-cloud-"));
    const marker = `cloud-runcmd-${process.pid}-${Date.now()}`;
    vm = await startVm({
      rank: 5,
      name: "vm5",
      hostname: "vm5.cloud.test",
      stateDir: join(work, ".pcocc_cloud_vm_5"),
      imagePath: g.cloud.disk,
      nics: [],
      vcpus: 2,
      memoryMiB: 768,
      template: {
        kernel: g.cloud.kernel,
        initrd: g.cloud.initrd,
        "kernel-args": g.cloud.kernelArgs,
        "machine-type": "q35",
        "user-data": { runcmd: [`echo ${marker} > /dev/ttyS0`] },
      },
    });
    const log = await waitForConsole(vm, /pcocc-guest: ready hostname=vm5/, 600_000);
    expect(log).toContain(marker);
    vm.child.kill("SIGTERM");
    expect((await vm.exited).code).toBe(0);
  });
});
