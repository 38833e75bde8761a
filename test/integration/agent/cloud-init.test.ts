import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../../../src/agent/index.js";
import { guests, startVm, stopVm, waitForConsole, type RunningVm } from "../vm/support.js";
import { agentOf, run } from "./support.js";

describe("guest agent on the Debian guest (real cloud-init 22.4)", () => {
  let vm: RunningVm | undefined;
  let agent: AgentClient | undefined;
  let work: string | undefined;
  afterAll(async () => {
    agent?.close();
    await stopVm(vm);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("starts from bootcmd merged into the user's own #cloud-config, which still runs", async () => {
    const g = await guests();
    work = await mkdtemp(join(tmpdir(), "pcocc-agent-cloud-"));
    const stateDir = join(work, "vm6");
    const tag = `${process.pid}-${Date.now()}`;
    const userData = join(work, "user-data");
    await writeFile(
      userData,
      `#cloud-config\n# the user's own\nbootcmd:\n  - echo user-bootcmd-${tag} > /dev/ttyS0\n` +
        `write_files:\n  - path: /etc/user-file\n    content: kept-${tag}\nruncmd:\n  - echo user-runcmd-${tag} > /dev/ttyS0\n`,
    );
    vm = await startVm({
      rank: 6,
      name: "vm6",
      hostname: "vm6",
      stateDir,
      imagePath: g.cloud.disk,
      nics: [],
      vcpus: 2,
      memoryMiB: 768,
      userDataFile: userData,
      template: {
        kernel: g.cloud.kernel,
        initrd: g.cloud.initrd,
        "kernel-args": g.cloud.kernelArgs,
        "machine-type": "q35",
      },
    });
    agent = await agentOf(vm, stateDir, "vm6");
    expect((await agent.ping()).hostname).toBe("vm6");
    const log = await waitForConsole(vm, /pcocc-guest: ready hostname=vm6/, 600_000);
    expect(log).toContain(`user-bootcmd-${tag}`);
    expect(log).toContain(`user-runcmd-${tag}`);
    expect((await run(agent, ["cat", "/etc/user-file"])).stdout).toBe(`kept-${tag}`);
    // the agent came from the seed, started by cloud-init (its parent chain), not from the image
    const who = await run(agent, ["sh", "-c", "readlink /proc/$PPID/exe"]);
    expect(who.stdout.trim()).toMatch(/^\/run\/pcocc\/agent$/);

    // the root file system is ext4 on virtio: a real freeze/thaw round trip
    const frozen = await agent.freeze(30);
    expect(frozen).toBeGreaterThanOrEqual(1);
    expect(await agent.thaw()).toBe(frozen);
    expect(
      (await run(agent, ["sh", "-c", "echo ok > /root/after-thaw && sync && cat /root/after-thaw"])).stdout,
    ).toBe("ok\n");
  });
});
