import { existsSync, readFileSync, readdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { labDown, labStatus, labUp, nodeExec, userExec } from "../../../src/lab/index.js";
import type { LabInfo } from "../../../src/lab/index.js";
import { labPaths } from "../../../src/lab/layout.js";
import { poll, run } from "../../../src/lab/procs.js";
import { readLabState } from "../../../src/lab/state.js";
import { useLab } from "../../support/lab.js";

let lab: LabInfo;
beforeAll(async () => {
  lab = await useLab({ images: false });
});

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\S+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/** Live processes whose command line mentions the lab directory. */
function processesMentioningLab(dir: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(dir) && alive(Number(e))) found.push(`${e}: ${cmd}`);
    } catch {
      /* exited */
    }
  }
  return found;
}

describe("lab down", () => {
  it("leaves no lab process, namespace, bridge, OVS or nftables table behind, even with jobs running", async () => {
    const paths = labPaths(lab.dir);
    const options = readLabState(paths)?.options;
    const [node1] = lab.nodes;

    // a running job, an OVS bridge and an nftables table inside a node, as pcocc jobs leave them
    const job = await userExec(lab, ["sbatch", "--parsable", "-N2", "--wrap", "srun sleep 600"]);
    expect(job.code, job.stderr).toBe(0);
    const jobId = job.stdout.trim();
    const env = { SLURM_CONF: lab.slurmConf };
    const running = await poll(async () => {
      const r = await run(["squeue", "-h", "-j", jobId, "-o", "%T"], { env: { ...process.env, ...env } });
      return r.stdout.trim() === "RUNNING";
    }, 30_000);
    expect(running).toBe(true);
    const sleepers = await poll(
      async () => (await nodeExec(node1!, ["pgrep", "-x", "sleep"])).code === 0,
      30_000,
    );
    expect(sleepers).toBe(true);
    const table = `labdown${process.pid}`;
    expect((await nodeExec(node1!, ["nft", "add", "table", "inet", table])).code).toBe(0);
    expect(
      (
        await nodeExec(node1!, [
          "ovs-vsctl",
          "--timeout=10",
          "add-br",
          "brdown",
          "--",
          "set",
          "bridge",
          "brdown",
          "datapath_type=netdev",
        ])
      ).code,
    ).toBe(0);

    const labPids = [...lab.nodes.map((n) => n.pid), ...Object.values(readLabState(paths)!.daemons)];
    for (const n of lab.nodes) {
      for (const f of ["ovsdb-server.pid", "ovs-vswitchd.pid"]) {
        labPids.push(Number(readFileSync(`${paths.node(n.name).ovsRun}/${f}`, "utf8")));
      }
    }
    expect(labPids.every(alive)).toBe(true);

    try {
      await labDown();

      expect(await labStatus()).toBeNull();
      expect(labPids.filter(alive)).toEqual([]);
      expect(processesMentioningLab(lab.dir)).toEqual([]);
      const netns = existsSync("/run/netns") ? readdirSync("/run/netns") : [];
      expect(netns.filter((n) => n.startsWith("pcocclab-"))).toEqual([]);
      expect(existsSync("/sys/class/net/pcocclab0")).toBe(false);
      expect(readdirSync("/sys/class/net").filter((l) => l.startsWith("plab-"))).toEqual([]);
      const tables = await run(["nft", "list", "tables"]);
      expect(tables.stdout).not.toContain(table);
      expect(existsSync(paths.nodes)).toBe(false);
      expect(existsSync(paths.node(node1!.name).ovsDb)).toBe(false);
    } finally {
      // templates stay in place: the guest images need no rebuild
      lab = await labUp({ ...options, images: false });
    }
    // the lab is usable again
    const again = await run(["srun", "-N2", "hostname"], { env: { ...process.env, ...env } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split("\n").sort()).toEqual(lab.nodes.map((n) => n.name).sort());
  });
});
