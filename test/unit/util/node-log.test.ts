import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loggedSetupPhase } from "../../../src/cli/setup-log.js";
import {
  createHypervisorLog,
  hypervisorLogger,
  hypervisorLogPath,
  sealHypervisorLog,
  setupLogger,
  setupLogPath,
} from "../../../src/util/index.js";

const root = mkdtempSync(join(tmpdir(), "pcocc-nodelog-"));
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

/** Whether uid NOBODY can append to `file` (a shell run with that uid). */
function nobodyCanAppend(file: string): boolean {
  return (
    spawnSync("sh", ["-c", `echo forged >> '${file}'`], { uid: NOBODY, gid: NOBODY, stdio: "ignore" })
      .status === 0
  );
}

const lines = (file: string) =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe.runIf(isRoot)("node logs in /var/log/pcocc (here a temporary directory)", () => {
  it("give a job's user its hypervisor log during the job only, one JSON line per state", async () => {
    const dir = join(root, "hv");
    // a file an earlier job of the same id left, made a symlink to something of root's
    mkdirSync(dir, { mode: 0o755 });
    const precious = join(root, "precious");
    writeFileSync(precious, "root's\n");
    symlinkSync(precious, hypervisorLogPath(42, dir));
    await createHypervisorLog({ jobId: 42, uid: NOBODY, gid: NOBODY }, dir);
    const file = hypervisorLogPath(42, dir);
    const st = lstatSync(file);
    expect([st.isFile(), st.uid, st.gid, st.mode & 0o777, st.size]).toEqual([true, NOBODY, NOBODY, 0o640, 0]);
    expect(readFileSync(precious, "utf8")).toBe("root's\n");

    const logger = await hypervisorLogger(42, { vm: "vm1" }, dir);
    logger!.info({ state: "running" }, "vm1 running");
    logger!.flush();
    expect(lines(file)[0]).toMatchObject({
      component: "hypervisor",
      jobId: 42,
      vm: "vm1",
      state: "running",
      msg: "vm1 running",
    });
    expect(typeof lines(file)[0]!.time).toBe("string");
    expect(nobodyCanAppend(file)).toBe(true);

    await sealHypervisorLog(42, dir);
    expect(lstatSync(file).uid).toBe(0);
    expect(nobodyCanAppend(file)).toBe(false);
    // never created by the hypervisor's side
    expect(await hypervisorLogger(43, { vm: "vm0" }, dir)).toBeUndefined();
  });

  it("write one setup line per phase with its facts, failures with the reason", async () => {
    const dir = join(root, "setup");
    const logger = await setupLogger(dir);
    logger.info({ phase: "create", jobId: 7, vms: ["vm0", "vm1"] }, "setup create done");
    logger.flush();
    expect(lstatSync(setupLogPath(dir)).mode & 0o777).toBe(0o640);
    expect(lines(setupLogPath(dir))).toEqual([
      expect.objectContaining({ component: "setup", phase: "create", jobId: 7, vms: ["vm0", "vm1"] }),
    ]);
    expect(() => execFileSync("chmod", ["0777", dir])).not.toThrow();
    await expect(setupLogger(dir)).rejects.toThrow(
      `${dir} must be a directory owned by root and writable by root only`,
    );
  });
});

describe.runIf(isRoot)("setup phases", () => {
  it("log their facts and failure, and still run when the log cannot be written", async () => {
    const dir = join(root, "phases");
    const fail = (facts: Record<string, unknown>) => {
      facts.jobId = 9;
      return Promise.reject(new Error("boom"));
    };
    await expect(loggedSetupPhase("create", fail, dir)).rejects.toThrow("boom");
    expect(lines(setupLogPath(dir))).toEqual([
      expect.objectContaining({
        level: 50,
        phase: "create",
        jobId: 9,
        error: "boom",
        msg: "setup create failed",
      }),
    ]);
    // a file where the directory should be: the phase runs all the same
    const notDir = join(root, "not-a-dir");
    writeFileSync(notDir, "");
    let ran = false;
    await loggedSetupPhase("init", async () => void (ran = true), notDir);
    expect(ran).toBe(true);
  });
});
