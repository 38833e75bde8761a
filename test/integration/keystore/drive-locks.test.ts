import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/index.js";
import {
  claimDrives,
  ensureUserPassword,
  ensureUserRole,
  openKeystore,
  roleName,
  type Keystore,
  type KeystoreConfig,
} from "../../../src/keystore/index.js";
import { useLab } from "../../support/lab.js";

// the lab's etcd is shared: an etcd user of this file's own, removed at the end
const tag = Math.floor(Math.random() * 1e6);
const USER = `pdl${tag}`;
const path = (name: string): string => `/shared/pd-${tag}/${name}.raw`;
const holder = (jobId: number, vm = "vm0") => ({ jobId, vm, host: "node1", user: USER });

let root: Keystore;
let ks: Keystore;

beforeAll(async () => {
  const lab = await useLab({ images: false });
  const config: KeystoreConfig = await loadConfig({ systemDir: lab.pcoccConfDir, user: false });
  root = await openKeystore({ config, as: "root" });
  const userDir = await mkdtemp(join(tmpdir(), "pdl-"));
  await ensureUserRole(root, USER, await ensureUserPassword(userDir));
  ks = await openKeystore({ config: { ...config, userDir }, as: "user", user: USER });
});

afterAll(async () => {
  await ks?.close();
  if (root) {
    await root.deletePrefix(`/pcocc/global/users/${USER}/`);
    await root.etcd.auth.userDelete({ name: USER }).catch(() => {});
    await root.etcd.auth.roleDelete({ role: roleName(USER) }).catch(() => {});
    await root.close();
  }
});

describe("persistent drive claims (multi-mount protection)", () => {
  it("of two clusters claiming a drive at once, exactly one gets it; the other is told which", async () => {
    const drive = { path: path("race"), shared: false };
    const results = await Promise.allSettled([
      claimDrives(ks, holder(1001), [drive]),
      claimDrives(ks, holder(1002), [drive]),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect([won.length, lost.length]).toEqual([1, 1]);
    const winner = results[0]!.status === "fulfilled" ? 1001 : 1002;
    expect(String(lost[0]!.reason)).toContain(
      `persistent drive ${drive.path}: drive file is already used in cluster ${winner} (vm0 on node1, user ${USER})`,
    );
    await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    const again = await claimDrives(ks, holder(1003), [drive]);
    await again.release();
  });

  it("mmp: cluster shares a drive within one job only; mmp: yes not even there", async () => {
    const shared = { path: path("shared"), shared: true };
    const a = await claimDrives(ks, holder(2001, "vm0"), [shared]);
    const b = await claimDrives(ks, holder(2001, "vm1"), [shared]);
    await expect(claimDrives(ks, holder(2002), [shared])).rejects.toThrow(/already used in cluster 2001/);
    await Promise.all([a.release(), b.release()]);

    const own = { path: path("own"), shared: false };
    const c = await claimDrives(ks, holder(2003, "vm0"), [own]);
    await expect(claimDrives(ks, holder(2003, "vm1"), [own])).rejects.toThrow(
      /drive file is already used in this cluster \(by vm0 on node1\)/,
    );
    await c.release();
  });

  it("claims all of a VM's drives or none", async () => {
    const held = await claimDrives(ks, holder(3001), [{ path: path("b"), shared: false }]);
    await expect(
      claimDrives(ks, holder(3002), [
        { path: path("a"), shared: false },
        { path: path("b"), shared: false },
      ]),
    ).rejects.toThrow(/already used in cluster 3001/);
    // the refused VM's claim on `a` went with it
    const a = await claimDrives(ks, holder(3003), [{ path: path("a"), shared: false }]);
    await Promise.all([held.release(), a.release()]);
  });
});
