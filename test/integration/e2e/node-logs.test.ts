import { lstatSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import type { LabInfo } from "../../../src/lab/index.js";
import { hypervisorLogPath, setupLogPath } from "../../../src/util/index.js";
import { e2eSetup, expectJobGone, jobIdFrom, spawnPcocc, TINY } from "./support.js";

type Line = Record<string, unknown>;
const read = (file: string): Line[] =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line);

describe("node-side logs in /var/log/pcocc (the lab's nodes share it)", () => {
  let info: LabInfo;
  beforeAll(async () => {
    ({ info } = await e2eSetup());
  });

  it("have one setup line per phase and node, and one hypervisor line per VM state, sealed after the job", async () => {
    // job ids start again at 1 with each lab: only this run's lines count
    const since = new Date().toISOString();
    const run = spawnPcocc(info, ["alloc", "-N2", "-c1", "-E", "true", `${TINY}:2`]);
    const code = await run.exited;
    const jobId = jobIdFrom(run.out.stderr);
    expect(code, run.out.stderr).toBe(0);
    await expectJobGone(info, jobId!);

    const setup = read(setupLogPath()).filter((l) => l.jobId === jobId && String(l.time) >= since);
    const creates = setup.filter((l) => l.phase === "create");
    expect(creates.map((l) => [l.hostname, l.nodeRank, l.vms, l.level, l.user]).sort()).toEqual(
      info.nodes.map((n, rank) => [n.name, rank, [`vm${rank}`], 30, info.user.name]).sort(),
    );
    const deletes = setup.filter((l) => l.phase === "delete");
    expect(deletes.map((l) => l.hostname).sort()).toEqual(info.nodes.map((n) => n.name).sort());
    for (const l of setup)
      expect(l).toMatchObject({ component: "setup", msg: `setup ${String(l.phase)} done` });

    for (const [rank, node] of info.nodes.entries()) {
      const file = hypervisorLogPath(jobId!, undefined, node.name);
      const states = read(file).map((l) => [l.component, l.jobId, l.vm, l.state]);
      expect(states).toContainEqual(["hypervisor", jobId, `vm${rank}`, "qemu-start"]);
      expect(states).toContainEqual(["hypervisor", jobId, `vm${rank}`, "running"]);
      // the user wrote it during the job; after it, it is root's again
      const st = lstatSync(file);
      expect([st.uid, st.mode & 0o777]).toEqual([0, 0o640]);
    }
  });
});
