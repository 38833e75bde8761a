import { execFile } from "node:child_process";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importImage, resolveImage, type ReposConfig } from "../../../src/image/index.js";
import type { GuestImages } from "../../../src/lab/guest/index.js";
import type { VmSpec } from "../../../src/vm/index.js";
import {
  guests,
  pcocc,
  scratchConfig,
  startVm,
  stopVm,
  tinySpec,
  waitForConsole,
  type RunningVm,
} from "./support.js";

const exec = promisify(execFile);

/** The guest counts on its console: a resumed VM goes on counting, a rebooted one starts again. */
const TICKS = "(i=0; while true; do i=$((i+1)); echo tick-$i > /dev/console; sleep 1; done) &";

const lastTick = (log: string): number =>
  Math.max(0, ...[...log.matchAll(/^tick-(\d+)/gm)].map((m) => Number(m[1])));

describe("pcocc ckpt and restart of a tiny guest", () => {
  let g: GuestImages;
  let cfg: Awaited<ReturnType<typeof scratchConfig>>;
  let config: ReposConfig;
  let vm: RunningVm | undefined;
  let resumed: RunningVm | undefined;
  let spec: VmSpec;
  let ckpt: string;
  /** The last count seen before the checkpoint. */
  let before = 0;

  beforeAll(async () => {
    g = await guests();
    cfg = await scratchConfig();
    config = { repos: [{ name: "test", path: cfg.repo }] };
    await importImage(config, g.tiny.disk!, "test:tiny");
    const image = await resolveImage(config, "test:tiny");
    spec = tinySpec(g, {
      rank: 0,
      stateDir: join(cfg.dir, ".pcocc_ckpt_vm_0"),
      imagePath: image.topPath,
      imageUri: "test:tiny",
      template: { "user-data": { runcmd: ["echo on-disk > /data/ckpt.txt", "sync", TICKS] } },
    });
    ckpt = join(cfg.dir, "ckpt");
  });
  afterAll(async () => {
    await stopVm(vm);
    await stopVm(resumed);
    await rm(cfg.dir, { recursive: true, force: true });
  });

  it("writes the VM's disk layer and memory, and the VM ends in order", async () => {
    vm = await startVm(spec);
    before = lastTick(await waitForConsole(vm, /^tick-3/m));
    const r = await pcocc(["ckpt", "--state-dir", spec.stateDir, ckpt], cfg.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("vm0: checkpointed");
    expect(await vm.exited).toEqual({ code: 0, signal: null });

    expect((await stat(join(ckpt, "memory-vm0"))).size).toBeGreaterThan(1 << 20);
    const info = JSON.parse(
      (await exec("qemu-img", ["info", "--output=json", join(ckpt, "disk-vm0")])).stdout,
    ) as { "full-backing-filename"?: string };
    expect(info["full-backing-filename"]).toBe(spec.imagePath);
    expect(JSON.parse(await readFile(join(ckpt, "vm0.json"), "utf8"))).toEqual({ memoryMiB: 256, vcpus: 1 });
  });

  it("refuses to overwrite a checkpoint without -F", async () => {
    const r = await pcocc(["ckpt", "--state-dir", spec.stateDir, ckpt], cfg.env);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/already exists \(use -F/);
  });

  it("resumes where it stopped instead of booting", async () => {
    resumed = await startVm({
      ...spec,
      stateDir: join(cfg.dir, ".pcocc_resumed_vm_0"),
      restore: { memory: join(ckpt, "memory-vm0"), disk: join(ckpt, "disk-vm0") },
    });
    const log = await waitForConsole(resumed, new RegExp(`^tick-${before + 2}\\b`, "m"));
    expect(log).not.toMatch(/^tick-1\b/m);
    expect(log).not.toMatch(/pcocc-guest: ready/);
  });

  it("refuses a machine shape that differs from the checkpoint's", async () => {
    await stopVm(resumed);
    const other = await startVm({
      ...spec,
      memoryMiB: 512,
      stateDir: join(cfg.dir, ".pcocc_bad_vm_0"),
      restore: { memory: join(ckpt, "memory-vm0"), disk: join(ckpt, "disk-vm0") },
    });
    const exit = await other.exited;
    expect(exit.code).not.toBe(0);
    expect(other.stderr()).toMatch(/unable to restore vm0 from .*memory-vm0: qemu exited .*: .+/);
  });
});
