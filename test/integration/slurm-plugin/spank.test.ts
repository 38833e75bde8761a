import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec } from "../../../src/lab/index.js";
import type { LabInfo } from "../../../src/lab/index.js";
import { useLab } from "../../support/lab.js";

/*
 * The real plugin in the real lab slurmd/slurmstepd, with `pcocc=` pointing at a recording stub: this
 * tests the plugin's exec contract (who runs what, as whom, with which argv and environment, and what the
 * user sees), not `pcocc internal setup` itself. The stub only acts for this file's resource sets
 * (`spank*`); any other job that runs during the test is handed to the real bin/pcocc unchanged.
 */
const repo = process.cwd();
const plugin = join(repo, "slurm-plugin", "build", "spank_pcocc.so");
const CRED = "0123456789abcdef0123456789abcdef";
const SETUP_TIMEOUT = 20;

let lab: LabInfo;
let dir: string;
let plugstack: string;
let savedPlugstack: string;
let ourPlugstack: string;

interface StubRecord {
  argv: string[];
  env: NodeJS.ProcessEnv;
  uid: number;
  host: string;
  cwd: string;
  job: string;
  action: string;
}

function stubSource(recordDir: string): string {
  return `#!/usr/bin/env node
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
const setup = process.env.SPANK_PCOCC_SETUP ?? "";
const action = process.argv[4];
if (!/^spank/.test(setup)) {
  const r = spawnSync(${JSON.stringify(join(repo, "bin", "pcocc"))}, process.argv.slice(2), { stdio: "inherit" });
  process.exit(r.status ?? 1);
}
const job = process.env.SLURM_JOB_ID;
const rec = { argv: process.argv.slice(1), env: process.env, uid: process.getuid(), host: hostname(),
  cwd: process.cwd(), job, action };
writeFileSync(${JSON.stringify(recordDir)} + "/rec-" + job + "-" + hostname() + "-" + action + "-" + process.pid + ".json",
  JSON.stringify(rec));
if (setup.startsWith("spankfail") && action === "create") {
  console.error("simulated failure: network \\x1b[31mnat\\x1b[0m unavailable");
  process.exit(3);
}
if (setup.startsWith("spankhang") && action === "create") setInterval(() => {}, 1000);
`;
}

function records(job: string): StubRecord[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(`rec-${job}-`))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as StubRecord);
}

const actions = (recs: StubRecord[]) =>
  recs
    .map((r) => `${r.host}:${r.action}`)
    .sort()
    .join(" ");

/** Test-side wait for the asynchronous step end (delete runs after srun returned); bounded. */
async function eventually<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  what: string,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function srun(args: string[], env: Record<string, string> = {}) {
  // the timeout only guards the test run against a hang; the assertions are about what srun reports
  return userExec(lab, ["srun", ...args], { env, timeoutMs: 120_000 });
}

function jobIdOf(stdout: string): string {
  const id = stdout.trim().split("\n")[0]?.trim() ?? "";
  expect(id).toMatch(/^\d+$/);
  return id;
}

beforeAll(async () => {
  lab = await useLab({ images: false });
  execFileSync("make", ["-s", "-C", join(repo, "slurm-plugin")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "spank-test-"));
  chmodSync(dir, 0o755);
  const stub = join(dir, "pcocc-stub.mjs");
  writeFileSync(stub, stubSource(dir), { mode: 0o755 });
  plugstack = join(lab.dir, "etc", "slurm", "plugstack.conf");
  savedPlugstack = readFileSync(plugstack, "utf8");
  const others = savedPlugstack.split("\n").filter((l) => l && !l.includes("spank_pcocc.so"));
  const ours = `required ${plugin} pcocc=${stub} conf=${lab.pcoccConfDir} timeout=${SETUP_TIMEOUT}`;
  // slurmstepd and srun read plugstack.conf at every step: no restart needed, and restored afterwards
  ourPlugstack = [...others, ours, ""].join("\n");
  writeFileSync(plugstack, ourPlugstack);
});

afterAll(() => {
  // unless the lab was re-created meanwhile (then its fresh plugstack.conf stays)
  if (ourPlugstack && readFileSync(plugstack, "utf8") === ourPlugstack)
    writeFileSync(plugstack, savedPlugstack);
});

describe("SPANK plugin", () => {
  it("runs setup create once per node as root with a clean, validated environment, and delete at step end", async () => {
    const r = await srun(["--vm", "spanktest:2", "-N2", "printenv", "SLURM_JOB_ID"], {
      PCOCC_REQUEST_CRED: CRED,
      // a user cannot steer the root command through the environment
      LD_PRELOAD: "/tmp/evil.so",
      PCOCC_SYSTEM_CONF_DIR: "/tmp/evil",
      NODE_OPTIONS: "--require /tmp/evil.js",
    });
    expect(r.stderr).not.toMatch(/pcocc:/);
    expect(r.code, r.stderr).toBe(0);
    const job = jobIdOf(r.stdout);

    // a node's delete may already have run: the step is over once srun returns
    const setup = records(job).filter((x) => x.action !== "delete");
    expect(actions(setup)).toBe("node1:create node2:create");
    const deletes = await eventually(() => {
      const d = records(job).filter((x) => x.action === "delete");
      return d.length === 2 ? d : undefined;
    }, "setup delete on both nodes");
    expect(deletes.map((d) => d.host).sort()).toEqual(["node1", "node2"]);

    for (const rec of [...setup, ...deletes]) {
      expect(rec.uid).toBe(0);
      expect(rec.cwd).toBe("/");
      expect(rec.argv).toEqual([join(dir, "pcocc-stub.mjs"), "internal", "setup", rec.action]);
      expect(rec.env).toEqual({
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        SLURM_JOB_ID: job,
        SLURM_STEP_ID: "0",
        SLURM_JOB_UID: String(lab.user.uid),
        SLURM_JOB_GID: String(lab.user.gid),
        SLURM_JOB_USER: lab.user.name,
        SLURM_NODEID: rec.host === "node1" ? "0" : "1",
        SLURM_STEP_NUM_NODES: "2",
        PCOCC_STEP_LOCAL_TASKS: "1",
        PCOCC_STEP_TOTAL_TASKS: "2",
        SLURM_JOB_NODELIST: "node[1-2]",
        SLURM_TASKS_PER_NODE: "1(x2)",
        SLURM_STEP_TASKS_PER_NODE: "1(x2)",
        SPANK_PCOCC_SETUP: "spanktest:2",
        SPANK_PCOCC_REQUEST_CRED: CRED,
        PCOCC_SYSTEM_CONF_DIR: lab.pcoccConfDir,
      });
    }

    // job_epilog drops the per-job record on every node
    for (const node of lab.nodes) {
      await eventually(async () => {
        const ls = await nodeExec(node, ["ls", "/run/pcocc"]);
        return ls.stdout.includes(`stepid_${job}`) ? undefined : true;
      }, `stepid_${job} removal on ${node.name}`);
    }
  });

  it("sets up only in the job's first --vm step; later steps reuse it", async () => {
    const script = "srun --vm spanktest:1 printenv SLURM_JOB_ID; srun --vm spanktest:1 true; srun true";
    const r = await userExec(lab, ["salloc", "-N1", "sh", "-c", script], {
      env: { PCOCC_REQUEST_CRED: CRED },
      timeoutMs: 120_000,
    });
    expect(r.code).toBe(0);
    const job = jobIdOf(r.stdout);
    await eventually(() => (records(job).some((x) => x.action === "delete") ? true : undefined), "delete");
    const recs = records(job);
    expect(recs.map((x) => x.action).sort()).toEqual(["create", "delete"]);
    expect(recs.every((x) => x.env.SLURM_STEP_ID === "0")).toBe(true);
  });

  it("leaves a batch script's own step alone and sets up in its --vm srun", async () => {
    const out = join(lab.user.home, `spank-test-${process.pid}.out`);
    const wrap = "srun --vm spanktest:1 printenv SLURM_JOB_ID";
    const r = await userExec(
      lab,
      ["sbatch", "--wait", "-N1", "--vm", "spanktest:1", "-o", out, "--wrap", wrap],
      {
        env: { PCOCC_REQUEST_CRED: CRED },
        timeoutMs: 120_000,
      },
    );
    rmSync(out, { force: true });
    expect(r.code).toBe(0);
    const job = /Submitted batch job (\d+)/.exec(r.stdout)?.[1] ?? "";
    const recs = await eventually(() => {
      const all = records(job);
      return all.some((x) => x.action === "delete") ? all : undefined;
    }, "delete of the srun step");
    expect(recs.map((x) => `${x.action}:${x.env.SLURM_STEP_ID}`).sort()).toEqual(["create:0", "delete:0"]);
  });

  it("refuses hostile --vm values with a clear message, without running anything", async () => {
    const before = readdirSync(dir).length;
    for (const value of ["x;rm -rf /", `default:1,${"a".repeat(2000)}:1`, "../etc:1", "vm:", "a:1,"]) {
      const r = await srun(["--vm", value, "-N1", "true"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/pcocc: invalid --vm value/);
    }
    // the same value smuggled past srun's own check straight into slurmstepd's option environment
    const r = await srun(["-N2", "true"], { _SLURM_SPANK_OPTION_pcocc_vm: "x;rm -rf /" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/pcocc: invalid --vm value/);
    expect(r.stderr).toMatch(/pcocc: host setup failed on this node/);
    expect(readdirSync(dir).length).toBe(before);
  });

  it("refuses a malformed keystore credential", async () => {
    const r = await srun(["--vm", "spanktest:1", "-N1", "true"], { PCOCC_REQUEST_CRED: "$(reboot)" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/PCOCC_REQUEST_CRED is not a pcocc credential/);
  });

  it("a failing setup fails the step with the reason on srun's stderr, and cleans up", async () => {
    const r = await srun(["--vm", "spankfail:2", "-N2", "printenv", "SLURM_JOB_ID"], {
      PCOCC_REQUEST_CRED: CRED,
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout.trim()).toBe("");
    for (const node of ["node1", "node2"]) {
      expect(r.stderr).toContain(`pcocc: setup create on node ${node} (job `);
    }
    expect(r.stderr).toMatch(/simulated failure: network .*nat.* unavailable/);
    expect(r.stderr).toMatch(/failed \(exit status 3\)/);
    expect(r.stderr).not.toContain("\x1b");
    const job = /\(job (\d+)\)/.exec(r.stderr)?.[1] ?? "";
    const recs = await eventually(() => {
      const all = records(job);
      return all.filter((x) => x.action === "delete").length === 2 ? all : undefined;
    }, "delete after the failed create");
    expect(actions(recs)).toBe("node1:create node1:delete node2:create node2:delete");
  });

  it("a setup that never finishes is killed after timeout= and the step fails instead of hanging", async () => {
    const r = await srun(["--vm", "spankhang:1", "-N1", "true"], { PCOCC_REQUEST_CRED: CRED });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`no result after ${SETUP_TIMEOUT} s, killed`);
  });
});
