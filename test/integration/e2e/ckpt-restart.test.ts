import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { userExec, type LabInfo } from "../../../src/lab/index.js";
import {
  e2eSetup,
  expectJobGone,
  expectNoJobKeys,
  expectNodesClean,
  jobIdFrom,
  spawnPcocc,
  TINY,
  writeUserScript,
  type NodeSnapshot,
} from "./support.js";

const WAIT_SSH = `end=$((SECONDS + 300))
for vm in vm0 vm1; do
  until pcocc ssh -- -o ConnectTimeout=2 $vm true 2>/dev/null || [ $SECONDS -ge $end ]; do sleep 1; done
done`;

describe("pcocc ckpt, then alloc -r on two nodes", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let userData: string;
  const token = randomBytes(6).toString("hex");
  let dir: string;

  beforeAll(async () => {
    ({ info, userData, baseline } = await e2eSetup());
    dir = `${info.user.home}/e2e-ckpt-${process.pid}`;
    await userExec(info, ["rm", "-rf", dir]);
  });

  it("checkpoints both VMs and ends the cluster", async () => {
    const script = await writeUserScript(
      info,
      "e2e-ckpt.sh",
      `#!/bin/bash
${WAIT_SSH}
# only in vm1's memory: the tiny guest's /tmp is its initramfs
pcocc ssh vm1 "echo ${token} > /tmp/marker" && echo "CKPT marker-written"
pcocc ckpt ${dir}
sleep 60
`,
    );
    const run = spawnPcocc(info, ["alloc", "-N2", "-c1", "-E", script, "--user-data", userData, `${TINY}:2`]);
    await run.exited;
    const transcript = `stdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
    const jobId = jobIdFrom(run.out.stderr)!;
    expect(run.out.stdout, transcript).toContain("CKPT marker-written");
    expect(run.out.stderr, transcript).toContain(`Checkpoint of 2 VMs written to ${dir}`);
    // the tiny guests' /data (ext4) was frozen through their agents before anything was written
    expect(run.out.stderr, transcript).toMatch(/^vm0: 1 file system\(s\) frozen$/m);
    expect(run.out.stderr, transcript).toMatch(/^vm1: 1 file system\(s\) frozen$/m);
    // the VMs quit after their checkpoint: the cluster ends without waiting for the script
    expect(run.out.stderr, transcript).toContain("The cluster has shut down");
    expect(readdirSync(dir).sort()).toEqual([
      "cluster.json",
      "disk-vm0",
      "disk-vm1",
      "memory-vm0",
      "memory-vm1",
      "vm0.json",
      "vm1.json",
    ]);
    await expectJobGone(info, jobId);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  });

  it("refuses a restart with another cluster definition before asking SLURM", async () => {
    const r = await userExec(info, ["pcocc", "alloc", "-r", dir, "-E", "true", `${TINY}:1`]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain(
      `this is a checkpoint of cluster '${TINY}:2'; restart it with that definition`,
    );
    expect(r.stderr).not.toMatch(/salloc/);
  });

  it("resumes both VMs where they were: vm1 still holds what was only in its memory", async () => {
    expect(existsSync(dir)).toBe(true);
    const script = await writeUserScript(
      info,
      "e2e-restart.sh",
      `#!/bin/bash
${WAIT_SSH}
echo "RESTART marker=$(pcocc ssh vm1 cat /tmp/marker)"
echo "RESTART hostname=$(pcocc ssh vm1 hostname)"
# the restored agents answer again, and their /data takes writes: the guests were thawed
pcocc exec -i all -- timeout 60 sh -c 'echo thawed > /data/after-restart && sync && cat /data/after-restart'
`,
    );
    const run = spawnPcocc(info, [
      "alloc",
      "-N2",
      "-c1",
      "-r",
      dir,
      "-E",
      script,
      "--user-data",
      userData,
      `${TINY}:2`,
    ]);
    const code = await run.exited;
    const transcript = `stdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
    expect(code, transcript).toBe(0);
    expect(run.out.stdout, transcript).toContain(`RESTART marker=${token}`);
    expect(run.out.stdout, transcript).toContain("RESTART hostname=vm1");
    expect(run.out.stdout, transcript).toMatch(/^vm0: thawed$/m);
    expect(run.out.stdout, transcript).toMatch(/^vm1: thawed$/m);
    // the restored guests came back frozen; their hypervisors reached the agents and thawed them
    expect(run.out.stderr, transcript).not.toContain("restored guest not thawed");
    const jobId = jobIdFrom(run.out.stderr)!;
    await expectJobGone(info, jobId);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
    await userExec(info, ["rm", "-rf", dir]);
  });
});
