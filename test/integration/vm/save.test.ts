import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importImage, resolveImage, type ReposConfig } from "../../../src/image/index.js";
import type { GuestImages } from "../../../src/lab/guest/index.js";
import {
  guests,
  PCOCC,
  pcocc,
  scratchConfig,
  startVm,
  stopVm,
  tinySpec,
  waitForConsole,
  type RunningVm,
} from "./support.js";

const exec = promisify(execFile);

/** Polls `probe` (every 5 ms: the copy it waits for is short) until it holds. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every revision of `name` opens with its whole backing chain and passes qemu-img check. */
async function assertLoadable(config: ReposConfig, name: string, revisions: number): Promise<void> {
  for (let rev = 0; rev < revisions; rev++) {
    const img = await resolveImage(config, `test:${name}@${rev}`);
    await exec("qemu-img", ["info", "--backing-chain", img.topPath]);
    for (const layer of img.layers) await exec("qemu-img", ["check", "-q", layer]);
  }
}

describe("pcocc save on a running tiny guest", () => {
  let g: GuestImages;
  let cfg: Awaited<ReturnType<typeof scratchConfig>>;
  let config: ReposConfig;
  let vm: RunningVm | undefined;
  let vm2: RunningVm | undefined;
  let vm3: RunningVm | undefined;
  let stateDir: string;
  const token = `saved-${randomBytes(6).toString("hex")}`;
  /** How long a whole `pcocc save` took here: kills are spread over that span. */
  let saveMs = 2000;

  beforeAll(async () => {
    g = await guests();
    cfg = await scratchConfig();
    config = { repos: [{ name: "test", path: cfg.repo }] };
    // A base with real content (48 MiB file in the guest's ext4) so "much smaller" means something.
    const raw = join(cfg.dir, "base.raw");
    const filler = join(cfg.dir, "filler");
    await exec("qemu-img", ["convert", "-O", "raw", g.tiny.disk!, raw]);
    await writeFile(filler, new Uint8Array(randomBytes(48 << 20)));
    await exec("debugfs", ["-w", "-R", `write ${filler} filler.bin`, raw]);
    const base = join(cfg.dir, "base.qcow2");
    await exec("qemu-img", ["convert", "-O", "qcow2", raw, base]);
    await rm(raw);
    await importImage(config, base, "test:tiny");
    stateDir = join(cfg.dir, ".pcocc_save_vm_0");
  });
  afterAll(async () => {
    await stopVm(vm);
    await stopVm(vm2);
    await stopVm(vm3);
    await rm(cfg.dir, { recursive: true, force: true });
  });

  it("saves only what the VM wrote as revision 1", async () => {
    const rev0 = await resolveImage(config, "test:tiny");
    vm = await startVm(
      tinySpec(g, {
        rank: 0,
        stateDir,
        imagePath: rev0.topPath,
        imageUri: "test:tiny",
        template: {
          "user-data": {
            runcmd: [`echo ${token} > /data/saved.txt`, "sync", "echo data-written > /dev/console"],
          },
        },
      }),
    );
    await waitForConsole(vm, /pcocc-guest: ready hostname=vm0/);
    await waitForConsole(vm, /^data-written/m);
    const t0 = Date.now();
    const r = await pcocc(["save", "--state-dir", stateDir], cfg.env);
    saveMs = Date.now() - t0;
    expect(r.stderr).not.toMatch(/pcocc:/);
    expect(r.stdout).toContain("vm0 disk successfully saved to test:tiny@1 revision 1");
    const rev1 = await resolveImage(config, "test:tiny@1");
    expect(rev1.layers).toHaveLength(2);
    expect(rev1.layers[0]).toBe(rev0.topPath);
    const baseSize = (await stat(rev1.layers[0]!)).size;
    const layerSize = (await stat(rev1.layers[1]!)).size;
    expect(baseSize).toBeGreaterThan(48 << 20);
    expect(layerSize * 8).toBeLessThan(baseSize);
  });

  it("leaves every earlier revision loadable when saves are killed at random points", async () => {
    let revisions = 2;
    for (let run = 0; run < 6; run++) {
      const child = spawn(process.execPath, [PCOCC, "save", "--state-dir", stateDir], {
        env: { ...process.env, ...cfg.env },
        stdio: "ignore",
      });
      const exited = new Promise((r) => child.on("exit", r));
      // CLI start-up, config, QMP, copy and commit all happen within this span
      await new Promise((r) => setTimeout(r, Math.random() * saveMs));
      child.kill("SIGKILL");
      await exited;
      await assertLoadable(config, "tiny", revisions);
      // a save that reached its commit before the kill is a complete revision like any other
      const latest = (await resolveImage(config, "test:tiny")).revision;
      expect(latest === revisions - 1 || latest === revisions).toBe(true);
      revisions = latest + 1;
    }
    const r = await pcocc(["save", "--state-dir", stateDir], cfg.env);
    expect(r.stdout).toContain(`revision ${revisions}`);
    await assertLoadable(config, "tiny", revisions + 1);
  });

  it("a save killed during its copy ends the block job and leaves neither staging nor a revision", async () => {
    const before = (await resolveImage(config, "test:tiny")).revision;
    const dir = join(cfg.dir, ".pcocc_save_vm_2");
    vm3 = await startVm(
      tinySpec(g, {
        rank: 2,
        stateDir: dir,
        imagePath: (await resolveImage(config, "test:tiny@0")).topPath,
        imageUri: "test:tiny",
        template: {
          "user-data": {
            runcmd: [
              "dd if=/dev/urandom of=/data/big bs=1M count=48",
              "sync",
              "echo big-written > /dev/console",
            ],
          },
        },
      }),
    );
    await waitForConsole(vm3, /^big-written/m);
    const { qemuPid } = JSON.parse(await readFile(join(dir, "vm.json"), "utf8")) as { qemuPid: number };
    const tmp = join(cfg.repo, ".tmp");
    const child = spawn(process.execPath, [PCOCC, "save", "--state-dir", dir], {
      env: { ...process.env, ...cfg.env },
      stdio: "ignore",
    });
    const exited = new Promise((r) => child.on("exit", r));
    // the copy runs once the staging layer grows past its header: freeze QEMU there, so the save dies
    // with its block job unfinished
    let entry = "";
    await until("the copy to start", async () => {
      for (const e of await readdir(tmp)) {
        const st = await stat(join(tmp, e, "save.qcow2")).catch(() => undefined);
        if (st && st.size > 1 << 20) entry = e;
      }
      return entry !== "";
    });
    process.kill(qemuPid, "SIGSTOP");
    child.kill("SIGKILL");
    await exited;
    process.kill(qemuPid, "SIGCONT");
    await until("its staging entry to go", async () => !(await readdir(tmp)).includes(entry));
    const jobs = await pcocc(["monitor-cmd", "--state-dir", dir, "vm2", "info", "block-jobs"]);
    expect(jobs.stdout + jobs.stderr).toMatch(/No active jobs/);
    expect((await resolveImage(config, "test:tiny")).revision).toBe(before);
    // the hypervisor dropped the dead save's target: the next save of this VM works
    const r = await pcocc(["save", "--state-dir", dir], cfg.env);
    expect(r.stdout, r.stderr).toContain(`revision ${before + 1}`);
    await stopVm(vm3);
  });

  it("--full writes a single-layer revision", async () => {
    const r = await pcocc(["save", "--full", "--state-dir", stateDir], cfg.env);
    const m = /saved to (test:tiny@(\d+)) revision (\d+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    const full = await resolveImage(config, m![1]!);
    expect(full.layers).toHaveLength(1);
    const info = JSON.parse((await exec("qemu-img", ["info", "--output=json", full.topPath])).stdout) as {
      "backing-filename"?: string;
    };
    expect(info["backing-filename"]).toBeUndefined();
  });

  it("-d saves into a new image that shares the source's layers", async () => {
    // incremental saves sit on the source image's latest revision (rebased safely if the VM booted older)
    const src = await resolveImage(config, "test:tiny");
    const r = await pcocc(["save", "-d", "test:copy", "--state-dir", stateDir], cfg.env);
    expect(r.stdout).toContain("vm0 disk successfully saved to test:copy@0 revision 0");
    const copy = await resolveImage(config, "test:copy");
    expect(copy.layers.slice(0, -1)).toEqual(src.layers);
    expect((await pcocc(["save", "-d", "test:copy", "--state-dir", stateDir], cfg.env)).stderr).toMatch(
      /already exists/,
    );
    vm!.child.kill("SIGTERM");
    expect((await vm!.exited).code).toBe(0);
  });

  it("a new VM booted from revision 1 sees the data", async () => {
    const rev1 = await resolveImage(config, "test:tiny@1");
    const dir = join(cfg.dir, ".pcocc_save_vm_1");
    vm2 = await startVm(
      tinySpec(g, {
        rank: 1,
        stateDir: dir,
        imagePath: rev1.topPath,
        template: { "user-data": { runcmd: ["sed 's/^/seen-/' /data/saved.txt > /dev/console"] } },
      }),
    );
    await waitForConsole(vm2, new RegExp(`^seen-${token}`, "m"));
    vm2.child.kill("SIGTERM");
    expect((await vm2.exited).code).toBe(0);
  });
});
