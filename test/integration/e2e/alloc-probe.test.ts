import { beforeAll, describe, expect, it } from "vitest";
import { userExec, type LabInfo } from "../../../src/lab/index.js";
import {
  e2eSetup,
  expectJobGone,
  expectNoJobKeys,
  expectNodesClean,
  jobIdFrom,
  privateIp,
  spawnPcocc,
  TINY,
  writeUserScript,
  type NodeSnapshot,
} from "./support.js";

/** Runs inside the allocation (-E): waits for ssh on both VMs, then proves the private network and ssh. */
const PROBE = `#!/bin/bash
echo "PROBE env job=$SLURM_JOB_ID pcocc_job=$PCOCC_JOB_ID alloc=$PCOCC_ALLOCATION"
end=$((SECONDS + 300))
for vm in vm0 vm1; do
  until pcocc ssh -- -o ConnectTimeout=5 $vm true 2>/dev/null || [ $SECONDS -ge $end ]; do sleep 1; done
done
ip1=$(pcocc ssh vm1 "ip -4 -o addr show dev eth0" | awk '{print $4}' | cut -d/ -f1)
echo "PROBE vm1-ip=$ip1"
pcocc ssh vm0 "ping -c 2 -W 5 $ip1" >/dev/null && echo "PROBE ping-ok"
pcocc ssh vm0 "ping -c 2 -W 5 ${privateIp(1)}" >/dev/null && echo "PROBE private-ping-ok"
echo "PROBE hostname=$(pcocc ssh vm1 hostname)"
# vm1 runs on the other node: the dump runs there, into the shared home
rm -f ~/e2e-dump-vm1.core
pcocc dump vm1 e2e-dump-vm1.core 2>/dev/null && echo "PROBE dump-magic=$(head -c 4 ~/e2e-dump-vm1.core | tail -c 3)"
rm -f ~/e2e-dump-vm1.core
echo "PROBE monitor-running=$(pcocc monitor-cmd 'vm[0-1]' info status | grep -c 'VM status: running')"
`;

describe("pcocc alloc -E on two nodes", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let userData: string;

  beforeAll(async () => {
    ({ info, userData, baseline } = await e2eSetup());
  });

  it("boots both VMs, vm0 pings vm1, ssh reaches vm1, and the job leaves every node clean", async () => {
    const probe = await writeUserScript(info, "e2e-probe.sh", PROBE);
    const run = spawnPcocc(info, ["alloc", "-N2", "-c1", "-E", probe, "--user-data", userData, `${TINY}:2`]);
    const code = await run.exited;
    const jobId = jobIdFrom(run.out.stderr);
    const transcript = `stdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
    expect(jobId, transcript).toBeDefined();
    expect(code, transcript).toBe(0);
    expect(run.out.stdout).toContain(`PROBE env job=${jobId} pcocc_job=${jobId} alloc=1`);
    expect(run.out.stdout).toMatch(/PROBE vm1-ip=10\.\d+\.\d+\.\d+/);
    expect(run.out.stdout).toContain("PROBE ping-ok");
    expect(run.out.stdout).toContain("PROBE private-ping-ok");
    expect(run.out.stdout).toContain("PROBE hostname=vm1");
    expect(run.out.stdout).toContain("PROBE dump-magic=ELF");
    expect(run.out.stdout).toContain("PROBE monitor-running=2");
    expect(run.out.stderr).toMatch(/configuring hosts 2\/2/);
    expect(run.out.stderr).toMatch(/starting VMs 2\/2/);
    await expectJobGone(info, jobId!);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId!);
  });
  it("--image boots a template's VMs from another image, and save writes a revision of that image", async () => {
    const copy = "user:e2e-image-override";
    await userExec(info, ["pcocc", "image", "delete", copy]);
    const cp = await userExec(info, ["pcocc", "image", "copy", TINY, copy]);
    expect(cp.code, cp.stderr).toBe(0);
    try {
      const run = spawnPcocc(info, [
        "alloc",
        "-N1",
        "-c1",
        "-E",
        "pcocc save vm0",
        "--image",
        `${TINY}=${copy}`,
        `${TINY}:1`,
      ]);
      const code = await run.exited;
      const transcript = `stdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
      expect(code, transcript).toBe(0);
      expect(run.out.stdout, transcript).toContain(`vm0 disk successfully saved to ${copy}@1 revision 1`);
      const jobId = jobIdFrom(run.out.stderr)!;
      await expectJobGone(info, jobId);
      await expectNodesClean(info, baseline);
      await expectNoJobKeys(info, jobId);
      // the template's own image was left alone
      const show = await userExec(info, ["pcocc", "image", "show", TINY]);
      expect(show.stdout).toMatch(new RegExp(`URI:\\s+\\S+:${TINY}@0\\n`));
    } finally {
      await userExec(info, ["pcocc", "image", "delete", copy]);
    }
  });

  it("refuses a bad --image before asking SLURM for anything", async () => {
    const r = await userExec(info, [
      "pcocc",
      "alloc",
      "-E",
      "true",
      "--image",
      `${TINY}=user:no-such-image`,
      `${TINY}:1`,
    ]);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/template '[^']+': --image 'user:no-such-image': Image no-such-image not found/);
    expect(r.stderr).not.toMatch(/salloc/);
  });
});
