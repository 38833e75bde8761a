import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

const TEMPLATES = `e2e-ready:
  inherits: ${TINY}
  readiness: [ssh, cloud-init, "exec:test -s /etc/pcocc/cluster.json", "tcp:22"]
e2e-never:
  inherits: ${TINY}
  readiness: [ssh, "tcp:9"]
  readiness-timeout: 25
`;

/** Runs once the gate let it: the gated VM already listens on 22 and finished booting; ps shows it ready. */
const PROBE = `#!/bin/bash
echo "PROBE start"
pcocc exec -i 0 -t 2 --no-prefix -- sh -c 'grep -qE ":0016 [0-9A-F]+:0000 0A " /proc/net/tcp && test -e /var/lib/cloud/instance/boot-finished && echo PROBE vm0-up'
pcocc ps --json > ~/e2e-ready-ps.json
`;

/** `--wait` gates on lab-tiny VMs: a gate that passes, one that never can, and bad input refused early. */
describe("readiness gates (pcocc alloc --wait)", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let tplFile: string;
  let badFile: string;

  beforeAll(async () => {
    ({ info, baseline } = await e2eSetup());
    tplFile = `${info.user.home}/.pcocc/templates.d/e2e-readiness.yaml`;
    badFile = `${info.user.home}/.pcocc/templates.d/e2e-readiness-bad.yaml`;
    const w = await userExec(info, ["sh", "-c", `mkdir -p ~/.pcocc/templates.d && cat > ${tplFile}`], {
      input: TEMPLATES,
    });
    expect(w.code, w.stderr).toBe(0);
  });

  afterAll(() => {
    rmSync(tplFile, { force: true });
    rmSync(badFile, { force: true });
  });

  it("--wait=ROLE starts the script once that role's checks passed, with progress; ps --json shows readiness", async () => {
    const probe = await writeUserScript(info, "e2e-ready-probe.sh", PROBE);
    // vm1 (e2e-never) can never pass: gating on e2e-ready alone must not wait for it
    const run = spawnPcocc(info, [
      "alloc",
      "-N2",
      "-c1",
      "--wait=e2e-ready",
      "-E",
      probe,
      "e2e-ready:1,e2e-never:1",
    ]);
    const code = await run.exited;
    const jobId = jobIdFrom(run.out.stderr);
    const transcript = `stdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
    expect(code, transcript).toBe(0);
    expect(run.out.stdout).toContain("PROBE vm0-up");
    expect(run.out.stderr).toMatch(
      /vm0 \(e2e-ready\): waiting for (the guest agent|ssh|cloud-init|exec:|tcp:22)/,
    );
    expect(run.out.stderr).toMatch(/vm0 \(e2e-ready\): ready in \d+ s/);
    expect(run.out.stderr).not.toMatch(/vm1 \(e2e-never\)/);
    const ps = await userExec(info, ["cat", `${info.user.home}/e2e-ready-ps.json`]);
    const rows = JSON.parse(ps.stdout) as Array<{
      id: number;
      readiness?: Record<string, { state: string }>;
    }>;
    const row = rows.find((r) => r.id === jobId);
    expect(row?.readiness, ps.stdout).toEqual({ vm0: expect.objectContaining({ state: "ready" }) });
    await expectJobGone(info, jobId!);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId!);
  }, 600_000);

  it("a gate that can never pass fails within its timeout with the VM, the check and the console tail", async () => {
    const marker = `${info.user.home}/e2e-never-ran`;
    await userExec(info, ["rm", "-f", marker]);
    const run = spawnPcocc(info, ["alloc", "-N1", "-c1", "--wait", "-E", `touch ${marker}`, "e2e-never:1"]);
    const code = await run.exited;
    const jobId = jobIdFrom(run.out.stderr);
    const transcript = `stdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
    expect(code, transcript).not.toBe(0);
    expect(run.out.stderr).toMatch(/vm0 \(e2e-never\): waiting for tcp:9, \d+ s/);
    expect(run.out.stderr).toMatch(
      /vm0 \(e2e-never\): readiness check tcp:9 did not pass within 25 s \(last: exit 1\)/,
    );
    // the console tail: the tiny guest's last boot line
    expect(run.out.stderr).toMatch(/vm0 console \(last lines\):\n(.*\n)*.*pcocc-guest: ready hostname=vm0/);
    expect((await userExec(info, ["test", "-e", marker])).code, "the script ran").not.toBe(0);
    await expectJobGone(info, jobId!);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId!);
  }, 600_000);

  it("refuses a bad check (config check: file, line, value) and an unknown --wait role before SLURM", async () => {
    const bad = await userExec(info, ["sh", "-c", `cat > ${badFile}`], {
      input: `e2e-bad:\n  inherits: ${TINY}\n  readiness:\n    - ssh\n    - "tcp:99999"\n`,
    });
    expect(bad.code).toBe(0);
    const check = await userExec(info, ["pcocc", "config", "check"]);
    expect(check.code).toBe(255);
    expect(check.stdout).toContain(`${badFile}:5`);
    expect(check.stdout).toContain("invalid port '99999'");
    const alloc = await userExec(info, ["pcocc", "alloc", "-N1", "--wait", "-E", "true", "e2e-bad:1"]);
    expect(alloc.code).toBe(255);
    expect(alloc.stderr).toMatch(/^pcocc: .*tcp:99999|^pcocc: .*99999/m);
    expect(alloc.stderr).not.toMatch(/Granted job allocation|salloc/);
    rmSync(badFile, { force: true });
    const role = await userExec(info, [
      "pcocc",
      "alloc",
      "-N1",
      "--wait=nosuch",
      "-E",
      "true",
      "e2e-ready:1",
    ]);
    expect(role.code).toBe(255);
    expect(role.stderr.trim()).toBe(
      "pcocc: --wait=nosuch: no VM of the cluster is of template 'nosuch' (templates: e2e-ready)",
    );
  });
});
