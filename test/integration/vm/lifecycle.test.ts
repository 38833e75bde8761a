import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GuestImages } from "../../../src/lab/guest/index.js";
import type { VmInfo } from "../../../src/vm/index.js";
import {
  alive,
  guests,
  PCOCC,
  pcocc,
  startVm,
  stopVm,
  tinySpec,
  waitForConsole,
  type RunningVm,
} from "./support.js";

describe("hypervisor lifecycle on the tiny guest", () => {
  let g: GuestImages;
  let work: string;
  let stateDir: string;
  let vm: RunningVm | undefined;
  const marker = `runcmd-marker-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    g = await guests();
    work = await mkdtemp(join(tmpdir(), "pcocc-vm-life-"));
    stateDir = join(work, ".pcocc_test_vm_3");
  });
  afterAll(async () => {
    await stopVm(vm);
    await rm(work, { recursive: true, force: true });
  });

  it("boots with the seed's hostname and runs user-data runcmd", async () => {
    vm = await startVm(
      tinySpec(g, {
        rank: 3,
        stateDir,
        imagePath: g.tiny.disk,
        instanceId: "life-1",
        template: { "user-data": { runcmd: [`echo ${marker} > /dev/console`] } },
      }),
    );
    const log = await waitForConsole(vm, /pcocc-guest: ready hostname=vm3/);
    expect(log).toContain(marker);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    expect(await readFile(join(stateDir, "meta-data"), "utf8")).toBe(
      "instance-id: life-1\nlocal-hostname: vm3\n",
    );
  });

  it("attaches the console through a pty and detaches on three Ctrl-C", async () => {
    const { spawn } = await import("node-pty");
    const pty = spawn(process.execPath, [PCOCC, "console", "--state-dir", stateDir, "vm3"], {
      name: "xterm",
      cols: 120,
      rows: 30,
      env: process.env as Record<string, string>,
    });
    let out = "";
    pty.onData((d) => (out += d));
    const exit = new Promise<number>((r) => pty.onExit((e) => r(e.exitCode)));
    const until = async (re: RegExp): Promise<void> => {
      const deadline = Date.now() + 60_000;
      while (!re.test(out)) {
        if (Date.now() > deadline) throw new Error(`pty never showed ${re}: ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // the guest's getty answers a carriage return with a fresh login prompt
    pty.write("\r");
    await until(/login:/);
    pty.write("\x03");
    pty.write("\x03");
    pty.write("\x03");
    await until(/Detaching \.\.\./);
    expect(await exit).toBe(0);
    const status = await pcocc(["monitor-cmd", "--state-dir", stateDir, "vm3", "info", "status"]);
    expect(status.stdout).toContain("VM status: running");
  });

  it("prints the console log, dumps memory and resets the VM", async () => {
    const log = await pcocc(["console", "-l", "--state-dir", stateDir, "vm3"]);
    expect(log.code).toBe(0);
    expect(log.stdout).toContain(marker);

    const dumpFile = join(work, "vm3.core");
    const dump = await pcocc(["dump", "--state-dir", stateDir, "vm3", dumpFile]);
    expect(dump.stderr + dump.stdout).not.toMatch(/error/i);
    const core = await readFile(dumpFile);
    expect(core.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
    expect(core.length).toBeGreaterThan(256 * 1024 * 1024);
    await rm(dumpFile);

    const reset = await pcocc(["reset", "--state-dir", stateDir, "vm3"]);
    expect(reset.stdout).toMatch(/^1 VMs reset in \d+\.\d\ds$/m);
    // a second boot prints the ready line again (the disk state and seed are kept)
    await waitForConsole(vm!, /pcocc-guest: ready hostname=vm3/, 300_000, 2);
  });

  it("quits QEMU and removes the state directory on SIGTERM", async () => {
    const info = JSON.parse(await readFile(join(stateDir, "vm.json"), "utf8")) as VmInfo;
    expect(alive(info.qemuPid)).toBe(true);
    vm!.child.kill("SIGTERM");
    const { code } = await vm!.exited;
    expect(code).toBe(0);
    expect(alive(info.qemuPid)).toBe(false);
    await expect(stat(stateDir)).rejects.toThrow(/ENOENT/);
  });
});

describe("hypervisor failures", () => {
  let g: GuestImages;
  let work: string;
  beforeAll(async () => {
    g = await guests();
    work = await mkdtemp(join(tmpdir(), "pcocc-vm-fail-"));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it("reports a QEMU crash with its status and cleans up", async () => {
    const stateDir = join(work, "crash");
    const vm = await startVm(tinySpec(g, { rank: 0, stateDir, imagePath: g.tiny.disk }));
    try {
      // the guest's first words on the console mean QEMU is running
      await waitForConsole(vm, /\S/);
      const info = JSON.parse(await readFile(join(stateDir, "vm.json"), "utf8")) as VmInfo;
      process.kill(info.qemuPid!, "SIGKILL");
      const { code } = await vm.exited;
      expect(code).toBe(128 + 9);
      expect(vm.stderr()).toMatch(/qemu exited with signal SIGKILL/);
      await expect(stat(stateDir)).rejects.toThrow(/ENOENT/);
    } finally {
      await stopVm(vm);
    }
  });

  it("refuses a missing image with pcocc's message and leaves nothing behind", async () => {
    const stateDir = join(work, "noimage");
    const vm = await startVm(tinySpec(g, { rank: 0, stateDir, imagePath: join(work, "missing.qcow2") }));
    const { code } = await vm.exited;
    expect(code).toBe(255);
    expect(vm.stderr()).toMatch(/Unable to handle image: failed to create temporary disk/);
    await expect(stat(stateDir)).rejects.toThrow(/ENOENT/);
  });
});
