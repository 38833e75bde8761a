import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userExec, type LabInfo } from "../../../src/lab/index.js";
import { e2eSetup, expectJobGone, expectNodesClean, expectNoJobKeys, type NodeSnapshot } from "./support.js";

/*
 * Attack (issue 10, hole 4): the job's user forges the shape of their step in the environment root setup
 * sees. srun writes SLURM_STEP_TASKS_PER_NODE itself, so a user who wants to lie has to change their own
 * srun; here an LD_PRELOAD shim (compiled below, used by the unprivileged lab user) rewrites the values
 * srun puts in the step's environment, exactly what a patched srun would send. Root must refuse the step
 * with one line naming the variable and both values, and leave the node as it was.
 */
const SHIM = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*fmt_fn)(char ***, const char *, const char *, ...);

static const char *forged(const char *name)
{
    if (strcmp(name, "SLURM_STEP_TASKS_PER_NODE") == 0)
        return getenv("FORGE_STEP_TASKS_PER_NODE");
    if (strcmp(name, "SLURM_JOB_NODELIST") == 0)
        return getenv("FORGE_JOB_NODELIST");
    return NULL;
}

/* libslurmfull's ways of setting a variable of the step's environment, all through the PLT */
#define FORWARD_FMT(fn)                                                    \
    int fn(char ***envp, const char *name, const char *fmt, ...)          \
    {                                                                      \
        static fmt_fn real;                                                \
        if (!real)                                                         \
            real = (fmt_fn)dlsym(RTLD_NEXT, #fn);                          \
        char value[65536];                                                 \
        va_list ap;                                                        \
        va_start(ap, fmt);                                                 \
        vsnprintf(value, sizeof(value), fmt, ap);                          \
        va_end(ap);                                                        \
        const char *f = forged(name);                                      \
        return real(envp, name, "%s", f ? f : value);                      \
    }
FORWARD_FMT(setenvf)
FORWARD_FMT(env_array_overwrite_fmt)

typedef int (*plain_fn)(char ***, const char *, const char *);
int env_array_overwrite(char ***envp, const char *name, const char *value)
{
    static plain_fn real;
    if (!real)
        real = (plain_fn)dlsym(RTLD_NEXT, "env_array_overwrite");
    const char *f = forged(name);
    return real(envp, name, f ? f : value);
}
`;

describe("a forged step environment is refused by root setup", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let dir: string;
  let shim: string;

  beforeAll(async () => {
    ({ info, baseline } = await e2eSetup());
    dir = mkdtempSync(join(tmpdir(), "forged-env-"));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, "shim.c"), SHIM);
    shim = join(dir, "forge.so");
    execFileSync("cc", ["-shared", "-fPIC", "-O2", "-o", shim, join(dir, "shim.c"), "-ldl"]);
    chmodSync(shim, 0o755);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A 1-task, 1-node `--vm` step as the lab user, through the shim. */
  const step = (forge: Record<string, string>) =>
    userExec(info, ["srun", "-N1", "-n1", "--vm", "default:1", "printenv", "SLURM_JOB_ID"], {
      env: { LD_PRELOAD: shim, ...forge },
      timeoutMs: 180_000,
    });

  it("the same step through the shim, without forging, is set up and runs", async () => {
    const r = await step({});
    expect(r.stderr).not.toMatch(/pcocc:/);
    expect(r.code, r.stderr).toBe(0);
    const jobId = Number(r.stdout.trim());
    expect(jobId).toBeGreaterThan(0);
    await expectJobGone(info, jobId);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  });

  it.each([
    [
      "tasks per node",
      { FORGE_STEP_TASKS_PER_NODE: "20000" },
      "this node's entry of SLURM_STEP_TASKS_PER_NODE is 20000 but slurmstepd says 1 (PCOCC_STEP_LOCAL_TASKS): refusing the step",
    ],
    [
      "node list",
      // set both ways: whether srun rewrites the variable or passes the user's value on
      { FORGE_JOB_NODELIST: "node[1-2]", SLURM_JOB_NODELIST: "node[1-2]" },
      "the node count of SLURM_JOB_NODELIST is 2 but slurmstepd says 1 (SLURM_STEP_NUM_NODES): refusing the step",
    ],
  ])("a forged %s", async (_what, forge, line) => {
    const r = await step(forge);
    expect(r.code).not.toBe(0);
    expect(r.stdout.trim()).toBe("");
    const refusals = r.stderr.split("\n").filter((l) => l.includes(line));
    expect(refusals, r.stderr).toHaveLength(1);
    expect(refusals[0]).toMatch(/^pcocc: setup create on node \S+ \(job \d+\): pcocc: /);
    expect(r.stderr).toContain("pcocc: host setup failed on this node: the step cannot run here");
    const jobId = Number(/\(job (\d+)\)/.exec(refusals[0]!)![1]);
    await expectJobGone(info, jobId);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  });
});
