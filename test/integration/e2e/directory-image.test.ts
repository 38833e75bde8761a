import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userExec, type LabInfo } from "../../../src/lab/index.js";
import {
  e2eSetup,
  expectJobGone,
  expectNodesClean,
  jobIdFrom,
  spawnPcocc,
  TINY,
  waitUntil,
  type NodeSnapshot,
} from "./support.js";

const RUN = `${process.pid}-${Date.now()}`;
const TEMPLATE = "dirimg-tiny";

/**
 * Issue 12: pcocc's deprecated directory images. A template whose `image:` is a directory boots its highest
 * `image-revN` (else `image`); `pcocc save` of such a VM writes `image-rev<N+1>`, a qcow2 layer backed by the
 * booted file (absolute path), and the next cluster of the template boots it.
 */
describe("directory images (lab-tiny)", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let dir: string;
  let templates: string;
  const jobs: number[] = [];

  const pcocc = (args: string[]) => userExec(info, ["pcocc", ...args]);
  const asUser = (script: string) => userExec(info, ["sh", "-c", script]);

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
    pcocc(["exec", "-j", String(jobId), "-i", "0", "--", "sh", "-c", script]);

  async function endCluster(jobId: number): Promise<void> {
    await userExec(info, ["scancel", String(jobId)]);
    await expectJobGone(info, jobId, 120_000);
  }

  beforeAll(async () => {
    ({ info, baseline } = await e2eSetup());
    dir = `${info.user.home}/dirimg-${RUN}`;
    templates = `${info.user.home}/.pcocc/templates.yaml`;
    const exists = await asUser(`test -e ${templates}`);
    expect(exists.code, `${templates} exists already: this test would replace it`).not.toBe(0);
    // the directory image: the lab-tiny image's disk as one standalone qcow2, owned by the user
    const mk = await asUser(`mkdir -p ~/.pcocc ${dir}`);
    expect(mk.code, mk.stderr).toBe(0);
    const exp = await pcocc(["image", "export", TINY, `qcow2:${dir}/image`]);
    expect(exp.code, exp.stderr).toBe(0);
    const doc = `${TEMPLATE}:\n  inherits: ${TINY}\n  image: ${dir}\nempty-dir:\n  inherits: ${TINY}\n  image: ${dir}/none\n`;
    const w = await userExec(info, ["sh", "-c", `mkdir -p ${dir}/none && cat > ${templates}`], {
      input: doc,
    });
    expect(w.code, w.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    for (const j of jobs) await userExec(info, ["scancel", String(j)]);
    for (const j of jobs) await expectJobGone(info, j, 180_000);
    await asUser(`rm -rf ${dir} ${templates}`);
    await expectNodesClean(info, baseline);
  }, 300_000);

  it("a directory without an image is refused before SLURM is asked, in pcocc's words", async () => {
    const r = await pcocc(["alloc", "-c1", "-E", "true", "empty-dir:1"]);
    expect(r.code).toBe(255);
    expect(r.stderr).toBe("pcocc: template 'empty-dir' image directory has no image\n");
    expect(r.stderr).not.toMatch(/salloc|Granted/);
  });

  it("boots image, saves image-rev1 backed by it, and the next cluster boots image-rev1", async () => {
    const first = await holdCluster();
    const w = await inGuest(first, `echo DIRIMG-${RUN} > /data/mark && sync`);
    expect(w.code, w.stderr).toBe(0);
    const save = await pcocc(["save", "-j", String(first), "vm0"]);
    expect(save.code, save.stderr).toBe(0);
    expect(save.stdout).toContain(`vm0 disk successfully saved to ${dir} revision 1`);
    const info1 = await asUser(`qemu-img info --output=json ${dir}/image-rev1`);
    expect(info1.code, info1.stderr).toBe(0);
    const header = JSON.parse(info1.stdout) as { format: string; "backing-filename"?: string };
    expect(header.format).toBe("qcow2");
    expect(header["backing-filename"]).toBe(`${dir}/image`);
    const left = await asUser(`ls -A ${dir}`);
    expect(left.stdout.split("\n").filter(Boolean).sort()).toEqual(["image", "image-rev1", "none"]);
    await endCluster(first);

    const show = await pcocc(["template", "show", TEMPLATE]);
    expect(show.stdout).toMatch(/image-revision\s.*\b1 \(/);
    const second = await holdCluster();
    const r = await inGuest(second, "cat /data/mark");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`DIRIMG-${RUN}`);
    await endCluster(second);
  }, 900_000);
});
