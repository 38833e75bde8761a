import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { makeConfigDirs } from "../config/fixture.js";
import { runPcocc } from "./run-pcocc.js";

// each case spawns the real CLI, which takes seconds on a loaded machine
vi.setConfig({ testTimeout: 60_000 });

/**
 * salloc and sbatch replaced by scripts, first on PATH, that record their arguments and fail: a refused
 * launch must leave no record, a valid one must reach them.
 */
const root = mkdtempSync(join(tmpdir(), "pcocc-launch-refusal-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const binDir = join(root, "bin");
const record = join(root, "batch-manager-calls");
mkdirSync(binDir);
for (const cmd of ["salloc", "sbatch"]) {
  const path = join(binDir, cmd);
  writeFileSync(path, `#!/bin/sh\necho "${cmd} $*" >> '${record}'\nexit 1\n`);
  chmodSync(path, 0o755);
}

const NETWORKS = `nat-rssh:
  type: ethernet
  settings:
    dev-prefix: nat
host-br:
  type: bridged
  settings:
    host-bridge: br0
    tap-prefix: brtap
legacy-pv:
  type: pv
  settings:
    bridge-prefix: pvbr
    tap-prefix: pvtap
`;
const RESOURCES =
  "default:\n  networks: [nat-rssh]\n  default: true\nseed:\n  networks: [nat-rssh, host-br]\n" +
  "pv:\n  networks: [nat-rssh, legacy-pv]\n";
const TEMPLATES =
  "ok: {}\nseed:\n  resource-set: seed\npv:\n  resource-set: pv\nold:\n  image: /shared/vms/centos\n";
const SYSTEM = { "networks.yaml": NETWORKS, "resources.yaml": RESOURCES, "templates.yaml": TEMPLATES };
const LOCAL_BATCH =
  "type: local\nsettings:\n  etcd-servers: [etcd]\n  etcd-client-port: 2379\n  etcd-protocol: http\n  etcd-auth-type: none\n";

async function launch(verb: "alloc" | "batch", definition: string, system: Record<string, string> = SYSTEM) {
  rmSync(record, { force: true });
  const dirs = makeConfigDirs(system);
  const r = await runPcocc([verb, definition], {
    ...dirs,
    cacheDir: join(root, "cache"),
    extra: { PATH: `${binDir}:${process.env.PATH ?? ""}` },
  });
  return { ...r, dirs, called: existsSync(record) ? readFileSync(record, "utf8") : "" };
}

describe("alloc and batch refuse what this installation cannot run, before SLURM is asked", () => {
  it("a cluster whose templates use only supported networks reaches salloc and sbatch", async () => {
    expect((await launch("alloc", "ok:2")).called).toMatch(/^salloc /);
    expect((await launch("batch", "ok:2")).called).toMatch(/^sbatch /);
    // pcocc's deprecated pv (and nat) are built here
    expect((await launch("alloc", "ok:1,pv:2")).called).toMatch(/^salloc /);
  });
  it("a resource set with a bridged network: refused with the network, its file and line", async () => {
    for (const verb of ["alloc", "batch"] as const) {
      const r = await launch(verb, "ok:1,seed:2");
      expect(r.called).toBe("");
      expect(r.status).toBe(255);
      expect(r.stderr).toBe(
        `pcocc: ${r.dirs.systemDir}/networks.yaml:6: host-br.type: ` +
          "network 'host-br': type bridged is not supported by this installation\n",
      );
    }
  });
  it("type: local in batch.yaml: refused instead of running as slurm", async () => {
    const r = await launch("alloc", "ok:1", { ...SYSTEM, "batch.yaml": LOCAL_BATCH });
    expect(r.called).toBe("");
    expect(r.status).toBe(255);
    expect(r.stderr).toBe(
      `pcocc: ${r.dirs.systemDir}/batch.yaml:1: type: ` +
        "type local (a single host without SLURM) is not supported by this installation\n",
    );
  });
  it("a directory image that cannot be read: refused before SLURM with pcocc's message", async () => {
    const r = await launch("batch", "old:1");
    expect(r.called).toBe("");
    expect(r.status).toBe(255);
    expect(r.stderr).toMatch(
      /^pcocc: template 'old' image directory is invalid: ENOENT: .*'\/shared\/vms\/centos'\n$/,
    );
  });
});
