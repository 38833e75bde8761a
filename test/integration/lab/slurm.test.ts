import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { labEnv, userExec } from "../../../src/lab/index.js";
import type { LabInfo } from "../../../src/lab/index.js";
import { useLab } from "../../support/lab.js";

let lab: LabInfo;
beforeAll(async () => {
  lab = await useLab({ images: false });
});

function slurmAsRoot(argv: string[]) {
  const [cmd, ...args] = argv;
  return promisify(execFile)(cmd!, args, { env: { ...labEnv(lab), HOME: "/root" }, timeout: 60_000 });
}

function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

describe("lab SLURM", () => {
  it("runs srun -N2 hostname on both nodes", async () => {
    const { stdout } = await slurmAsRoot(["srun", "-N2", "hostname"]);
    expect(lines(stdout).sort()).toEqual(lab.nodes.map((n) => n.name).sort());
  });

  it("gives each node its own address: srun reports the nodes' IPs", async () => {
    const { stdout } = await slurmAsRoot(["srun", "-N2", "-l", "sh", "-c", "hostname -I"]);
    const ips = lines(stdout).map((l) => l.split(/\s+/)[1]);
    expect(ips.sort()).toEqual(lab.nodes.map((n) => n.ip).sort());
  });

  it("runs salloc -N2 srun hostname as the unprivileged lab user", async () => {
    const r = await userExec(lab, ["salloc", "-N2", "srun", "sh", "-c", 'echo "$(hostname) $(id -un)"'], {
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout).sort()).toEqual(lab.nodes.map((n) => `${n.name} ${lab.user.name}`).sort());
  });

  it("runs an sbatch --wrap job as the lab user and writes its output in the user's home", async () => {
    const out = `sbatch-test-${process.pid}-${Date.now()}.out`;
    const r = await userExec(
      lab,
      ["sbatch", "--wait", "-N2", "-o", out, "--wrap", "echo batch-on-$(hostname); srun hostname | sort"],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const file = join(lab.user.home, out);
    expect(existsSync(file)).toBe(true);
    const text = readFileSync(file, "utf8");
    rmSync(file);
    expect(text).toMatch(/^batch-on-node\d+$/m);
    for (const n of lab.nodes) expect(lines(text)).toContain(n.name);
  });

  it("`pcocc-lab exec` runs the command as the lab user from its home and returns its exit status", async () => {
    const bin = join(import.meta.dirname, "../../../bin/pcocc-lab");
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(bin, args, { env: { ...process.env, PCOCC_LAB_DIR: lab.dir } }, (err, stdout) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
        );
      });
    const ok = await run(["exec", "--", "sh", "-c", 'echo "$(id -un) $PWD $SLURM_CONF $PCOCC_LAB_USER"']);
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe(`${lab.user.name} ${lab.user.home} ${lab.slurmConf} ${lab.user.name}`);
    expect((await run(["exec", "--", "sh", "-c", "exit 7"])).code).toBe(7);
  });
});
