import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec, type LabInfo, type LabNode } from "../../../src/lab/index.js";
import { defaultVmStateDir } from "../../../src/vm/index.js";
import {
  e2eSetup,
  etcdRoot,
  expectJobGone,
  expectNodesClean,
  jobIdFrom,
  spawnPcocc,
  TINY,
  waitUntil,
  type NodeSnapshot,
} from "./support.js";

const RUN = `${process.pid}-${Date.now()}`;
const TEMPLATE = "pd-tiny";
const SECTORS = 16384; // 8 MiB: how the guest tells the drive from its boot disk and seed
/** The persistent drive inside a lab-tiny guest: the virtio disk of the drive's size. */
const FIND_DRIVE = `for b in /sys/block/vd*; do [ "$(cat $b/size)" = ${SECTORS} ] && d=/dev/\${b##*/}; done; [ -n "$d" ]`;

/**
 * Issue 12: `persistent-drives` with multi-mount protection. A drive written in one cluster is read in the
 * next; a second cluster asking for it while the first holds it is refused with the holder named; the claim
 * dies with its hypervisor, even one killed with SIGKILL; `save -i 1` saves the drive.
 */
describe("persistent drives across clusters (lab-tiny)", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let drive: string;
  let templates: string;
  let saved: string | undefined;
  const jobs: number[] = [];

  const pcocc = (args: string[]) => userExec(info, ["pcocc", ...args]);
  const holdersPrefix = (): string => `/pcocc/global/users/${info.user.name}/mmp/`;
  const holders = async (): Promise<string[]> => {
    const r = await etcdRoot(info, ["get", "--prefix", "--keys-only", holdersPrefix()]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.split("\n").filter((l) => l.trim() !== "");
  };

  /** An allocation that stays until cancelled, once its VM's agent answers. */
  async function holdCluster(): Promise<number> {
    const run = spawnPcocc(info, ["alloc", "-c1", "-E", "echo CLUSTER-UP; sleep 900", `${TEMPLATE}:1`]);
    const jobId = await waitUntil("the allocation", async () => jobIdFrom(run.out.stderr), 60_000);
    jobs.push(jobId);
    await waitUntil("the cluster", async () => run.out.stdout.includes("CLUSTER-UP"), 300_000);
    const ping = await pcocc(["agent", "ping", "-j", String(jobId), "-t", "300"]);
    expect(ping.code, `${ping.stderr}\n${run.out.stderr}`).toBe(0);
    return jobId;
  }

  const inGuest = (jobId: number, script: string) =>
    pcocc(["exec", "-j", String(jobId), "-i", "0", "--", "sh", "-c", `${FIND_DRIVE} && ${script}`]);

  async function nodeOf(jobId: number): Promise<LabNode> {
    const name = (await userExec(info, ["squeue", "-h", "-j", String(jobId), "-o", "%N"])).stdout.trim();
    return info.nodes.find((n) => n.name === name)!;
  }

  beforeAll(async () => {
    ({ info, baseline } = await e2eSetup());
    drive = `${info.user.home}/pd-${RUN}.raw`;
    templates = `${info.user.home}/.pcocc/templates.yaml`;
    expect(existsSync(templates), `${templates} exists already: this test would replace it`).toBe(false);
    const doc =
      `${TEMPLATE}:\n  inherits: ${TINY}\n  persistent-drives:\n    - ${drive}\n` +
      `pd-missing:\n  inherits: ${TINY}\n  persistent-drives:\n    - ${drive}.%{vm_rank}\n`;
    const w = await userExec(
      info,
      ["sh", "-c", `mkdir -p ~/.pcocc && truncate -s ${SECTORS * 512} ${drive} && cat > ${templates}`],
      { input: doc },
    );
    expect(w.code, w.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    for (const j of jobs) await userExec(info, ["scancel", String(j)]);
    for (const j of jobs) await expectJobGone(info, j, 180_000);
    await userExec(info, ["rm", "-f", drive, templates]);
    if (saved) await pcocc(["image", "delete", saved]);
    await expectNodesClean(info, baseline);
  }, 300_000);

  it("a drive that is not there is refused before SLURM is asked, with the VM's own path", async () => {
    const r = await pcocc(["alloc", "-c1", "-E", "true", "pd-missing:1"]);
    expect(r.code).toBe(255);
    expect(r.stderr).toBe(
      `pcocc: template 'pd-missing': persistent-drives[0] '${drive}.0': cannot use it read-write (ENOENT)\n`,
    );
  });

  it("is refused to a second cluster while one holds it, and free again after kill -9 of the holder", async () => {
    const first = await holdCluster();
    const w = await inGuest(first, `echo PD-MARK-${RUN} | dd of=$d conv=fsync 2>/dev/null`);
    expect(w.code, w.stderr).toBe(0);
    expect(await holders()).toHaveLength(1);

    const second = spawnPcocc(info, ["alloc", "-c1", "-E", "true", `${TEMPLATE}:1`]);
    const status = await second.exited;
    const id = jobIdFrom(second.out.stderr);
    if (id) jobs.push(id);
    expect(status, second.out.stderr).not.toBe(0);
    const node = await nodeOf(first);
    expect(second.out.stderr).toContain(
      `drive file is already used in cluster ${first} (vm0 on ${node.name}, user ${info.user.name})`,
    );

    // the holder dies without cleaning up: its claim must go with it
    const vmJson = await nodeExec(node, ["cat", `${defaultVmStateDir(first, 0)}/vm.json`]);
    const { pid } = JSON.parse(vmJson.stdout) as { pid: number };
    expect((await nodeExec(node, ["kill", "-9", String(pid)])).code).toBe(0);
    await waitUntil("the dead holder's claim to expire", async () => (await holders()).length === 0, 60_000);

    const next = await holdCluster();
    const r = await inGuest(next, `head -c ${`PD-MARK-${RUN}`.length} $d`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`PD-MARK-${RUN}`);

    // pcocc save -i 1: drive 0 is the boot disk, 1 the persistent drive; always a full copy
    saved = `user:pd-saved-${RUN}`;
    const save = await pcocc(["save", "-j", String(next), "-i", "1", "-d", saved, "vm0"]);
    expect(save.code, save.stderr).toBe(0);
    expect(save.stdout).toContain(`vm0 disk successfully saved to ${saved}`);
    const out = `${info.user.home}/pd-export-${RUN}.raw`;
    const exp = await pcocc(["image", "export", saved, `raw:${out}`]);
    expect(exp.code, exp.stderr).toBe(0);
    expect(readFileSync(out).subarray(0, 64).toString("latin1")).toContain(`PD-MARK-${RUN}`);
    await userExec(info, ["rm", "-f", out]);
    const bad = await pcocc(["save", "-j", String(next), "-i", "2", "vm0"]);
    expect(bad.code).toBe(255);
    expect(bad.stderr).toContain("vm0 has no drive with index 2 (2 drives)");

    // an orderly end releases it at once (the lease is revoked, not left to expire)
    await userExec(info, ["scancel", String(next)]);
    await expectJobGone(info, next, 120_000);
    expect(await holders()).toEqual([]);
  }, 900_000);
});
