import { existsSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { userExec, type LabInfo } from "../../../src/lab/index.js";
import {
  e2eSetup,
  etcdAsUser,
  expectJobGone,
  expectNoJobKeys,
  expectNodesClean,
  jobIdFrom,
  jobKeys,
  spawnPcocc,
  TINY,
  waitUntil,
  writeUserScript,
  type NodeSnapshot,
} from "./support.js";

// The run token tells this run's output from a stale pcocc_<id>.out of an earlier lab life that reused the
// job id: SLURM truncates that file only once the job starts.
const RUN = `run-${process.pid}-${Date.now()}`;
const HOST_SCRIPT = `#!/bin/bash
echo "BATCH start ${RUN} job=$SLURM_JOB_ID alloc=$PCOCC_ALLOCATION"
while [ ! -e ~/e2e-batch-release ]; do sleep 0.5; done
echo "BATCH done"
`;

describe("pcocc batch, pcocc ps and keystore isolation", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let userData: string;

  beforeAll(async () => {
    ({ info, userData, baseline } = await e2eSetup({ secondUser: true }));
  });

  it("runs a host script to completion while ps lists the cluster and another user cannot touch its keys", async () => {
    // the second user needs a keystore account of their own: one short job gives them one
    const other = spawnPcocc(info, ["alloc", "-N1", "-c1", "-E", "true", `${TINY}:1`], { user: info.user2 });
    expect(await other.exited, other.out.stderr).toBe(0);

    await userExec(info, ["rm", "-f", `${info.user.home}/e2e-batch-release`]);
    const script = await writeUserScript(info, "e2e-batch-host.sh", HOST_SCRIPT);
    const sub = await userExec(info, [
      "pcocc",
      "batch",
      "-N1",
      "-c1",
      "-E",
      script,
      "--user-data",
      userData,
      `${TINY}:1`,
    ]);
    expect(sub.code, sub.stderr).toBe(0);
    const jobId = jobIdFrom(sub.stdout);
    expect(jobId, sub.stdout).toBeDefined();
    const out = `${info.user.home}/pcocc_${jobId}.out`;
    await waitUntil(
      "the host script to start",
      async () => existsSync(out) && readFileSync(out, "utf8").includes(`BATCH start ${RUN}`),
      300_000,
    );

    const ps = await userExec(info, ["pcocc", "ps", "--json"]);
    expect(ps.code, ps.stderr).toBe(0);
    const rows = JSON.parse(ps.stdout) as Array<{
      id: number;
      user: string;
      name: string;
      definition?: string;
    }>;
    expect(rows).toContainEqual(
      expect.objectContaining({ id: jobId, user: info.user.name, name: "pcocc", definition: `${TINY}:1` }),
    );
    const table = await userExec(info, ["pcocc", "ps"]);
    expect(table.stdout).toMatch(new RegExp(`^${jobId}\\s+pcocc\\s+${info.user.name}\\s`, "m"));

    const userPrefix = `/pcocc/cluster/users/${info.user.name}/${jobId}/`;
    expect((await jobKeys(info, jobId!)).some((k) => k.startsWith(userPrefix))).toBe(true);
    const read = await etcdAsUser(info, info.user2, ["get", "--prefix", userPrefix]);
    expect(read.stdout, "user2 read user1's job keys").toBe("");
    expect(read.stderr).toMatch(/permission denied/);
    const write = await etcdAsUser(info, info.user2, ["put", `${userPrefix}definition`, "evil:9"]);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/permission denied/);
    const del = await etcdAsUser(info, info.user2, ["del", "--prefix", userPrefix]);
    expect(del.code).not.toBe(0);

    await userExec(info, ["touch", `${info.user.home}/e2e-batch-release`]);
    await expectJobGone(info, jobId!, 180_000);
    const text = readFileSync(out, "utf8");
    expect(text).toContain(`BATCH start ${RUN} job=${jobId} alloc=1`);
    expect(text).toContain("BATCH done");
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId!);
  });

  it("scancel of a running batch cluster stops it once, in order, and leaves every node clean", async () => {
    const script = await writeUserScript(
      info,
      "e2e-batch-sleep.sh",
      `#!/bin/bash\necho "BATCH sleeping ${RUN}"\nsleep 600\n`,
    );
    const sub = await userExec(info, ["pcocc", "batch", "-N2", "-c1", "-E", script, `${TINY}:2`]);
    expect(sub.code, sub.stderr).toBe(0);
    const jobId = jobIdFrom(sub.stdout)!;
    const out = `${info.user.home}/pcocc_${jobId}.out`;
    const err = `${info.user.home}/pcocc_${jobId}.err`;
    await waitUntil(
      "the host script to start",
      async () => existsSync(out) && readFileSync(out, "utf8").includes(`BATCH sleeping ${RUN}`),
      300_000,
    );
    const c = await userExec(info, ["scancel", String(jobId)]);
    expect(c.code, c.stderr).toBe(0);
    await expectJobGone(info, jobId, 120_000);
    const log = readFileSync(err, "utf8");
    // one orderly stop: a second SIGINT to srun within a second would kill the hypervisors outright
    expect(log.match(/Terminating the cluster/g), log).toHaveLength(1);
    expect(log).not.toMatch(/Forcibly killing/);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  });
});
