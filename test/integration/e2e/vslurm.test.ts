import { beforeAll, describe, expect, it } from "vitest";
import { userExec, type LabInfo } from "../../../src/lab/index.js";
import {
  e2eSetup,
  expectJobGone,
  expectNoJobKeys,
  expectNodesClean,
  jobIdFrom,
  spawnPcocc,
  writeUserScript,
  type NodeSnapshot,
} from "./support.js";

/** Runs only once every gate passed: SLURM inside the VMs, then MPI over the two node VMs. */
const PROBE = `#!/bin/bash
echo "PROBE states=$(pcocc exec -i 0 -- sinfo -h -N -o '%N:%T' | sort | tr '\\n' ' ')"
echo "PROBE sinfo=$(pcocc exec -i 0 -- sinfo -h -o %T)"
echo "PROBE srun=$(pcocc exec -i 0 -- srun -N2 hostname | sort | tr '\\n' ' ')"
echo "PROBE user=$(pcocc exec -i 0 -u $USER -- srun -N2 id -u | sort -u | tr '\\n' ' ')"
pcocc exec -i 0 -- salloc -N2 -n3 mpirun --allow-run-as-root --mca btl_tcp_if_include eth0 \\
  --mca oob_tcp_if_include eth0 python3 -m mpi4py.bench helloworld | sed 's/^/PROBE mpi: /'
`;

/** The vslurm recipe on the lab: pcocc alloc -N2 --wait -E probe vslurm-head:1,vslurm-node:2. */
describe("vslurm recipe (SLURM + munge + Open MPI inside the VMs)", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];

  beforeAll(async () => {
    ({ info, baseline } = await e2eSetup());
  });

  it("template list shows the recipe's templates as such", async () => {
    const r = await userExec(info, ["pcocc", "template", "list"]);
    expect(r.code, r.stderr).toBe(0);
    const recipes = r.stdout.split("Recipes:\n")[1] ?? "";
    expect(recipes).toMatch(/^vslurm-head +vslurm +SLURM controller/m);
    expect(recipes).toMatch(/^vslurm-node +vslurm +SLURM compute node/m);
  });

  it("boots a SLURM cluster gated on every slurmd registered: 2 idle nodes, srun -N2, MPI over 3 ranks", async () => {
    const probe = await writeUserScript(info, "e2e-vslurm-probe.sh", PROBE);
    const run = spawnPcocc(info, [
      "alloc",
      "-N2",
      "-c1",
      "--wait",
      "-E",
      probe,
      "vslurm-head:1,vslurm-node:2",
    ]);
    const code = await run.exited;
    const jobId = jobIdFrom(run.out.stderr);
    const transcript = `stdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
    expect(code, transcript).toBe(0);
    expect(run.out.stderr).toMatch(/vm0 \(vslurm-head\): ready in \d+ s/);
    expect(run.out.stdout, transcript).toContain("PROBE states=vm1:idle vm2:idle ");
    expect(run.out.stdout).toContain("PROBE sinfo=idle");
    expect(run.out.stdout).toContain("PROBE srun=vm1 vm2 ");
    // the job's user has their account inside, with their host uid, and SLURM runs their jobs
    expect(run.out.stdout).toContain(`PROBE user=${info.user.uid} `);
    const ranks = [...run.out.stdout.matchAll(/PROBE mpi: Hello, World! I am process (\d) of 3 on (vm\d)/g)];
    expect(ranks.map((m) => m[1]).sort(), transcript).toEqual(["0", "1", "2"]);
    expect(new Set(ranks.map((m) => m[2]))).toEqual(new Set(["vm1", "vm2"]));
    await expectJobGone(info, jobId!);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId!);
  }, 1_800_000);
});
